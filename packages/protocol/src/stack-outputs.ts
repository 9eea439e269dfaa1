/**
 * Names of the CloudFormation outputs the stack writes and the client reads (`cdk deploy --outputs-file`
 * writes `{ "<StackName>": { "<OutputName>": "value" } }`; local-iot writes the same shape).
 */
export const STACK_OUTPUTS = {
  endpoint: 'IotEndpoint',
  region: 'Region',
  unsignedAuthorizerName: 'UnsignedAuthorizerName',
  signedAuthorizerName: 'SignedAuthorizerName',
  tokenKeyName: 'TokenKeyName',
  deviceSecretArn: 'DeviceSecretArn',
  connectPolicyName: 'ConnectPolicyName',
  clientIdPrefix: 'ClientIdPrefix',
  /** The authorizer Lambda's name (for `lambda:GetPolicy`; `DescribeAuthorizer` gives its ARN too). */
  authorizerFunctionName: 'AuthorizerFunctionName',
  /** The CloudWatch Logs group the authorizer Lambda writes its decision lines to. */
  authorizerLogGroupName: 'AuthorizerLogGroupName',
  /**
   * The AWS IoT log level this stack sets (account-wide, `-c iotLogging=...`), or `NOT_MANAGED` when the
   * stack leaves AWS IoT logging alone (it may still be on for the account). Entries go to `AWSIotLogsV2`.
   */
  iotLogLevel: 'IotLogLevel',
} as const;

/** The `IotLogLevel` output's value when the stack does not configure AWS IoT logging. */
export const IOT_LOGGING_NOT_MANAGED = 'NOT_MANAGED';

export type StackOutputKey = keyof typeof STACK_OUTPUTS;

/** The stack's outputs as the client uses them. */
export type StackOutputValues = { readonly [K in StackOutputKey]: string };

/** Default stack name (`bin/app.ts`) and outputs file (`cdk.json`), both overridable. */
export const DEFAULT_STACK_NAME = 'IotCustomAuthorizerStack';
export const DEFAULT_OUTPUTS_FILE = 'cdk-outputs.json';
