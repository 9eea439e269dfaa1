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
  /**
   * Custom authentication with X.509 client certificates (`CUSTOM_AUTH_X509`): the domain name of the
   * stack's domain configuration. Devices connect to it with SNI = this name (required by AWS IoT) and a client
   * certificate AWS IoT has registered; the X.509 authorizer is its default authorizer.
   */
  x509Endpoint: 'X509Endpoint',
  /** The domain configuration's name (`aws iot describe-domain-configuration --domain-configuration-name`). */
  x509DomainConfigurationName: 'X509DomainConfigurationName',
  /** The authorizer the X.509 domain configuration invokes (same Lambda, signing disabled). */
  x509AuthorizerName: 'X509AuthorizerName',
  /**
   * The id of the demo device certificate the stack registers (`AWS::IoT::Certificate`, `SNI_ONLY`, `ACTIVE`);
   * its PEM and private key are `.keys/<ClientIdPrefix>mtls-demo-cert.pem` and `-key.pem`
   * ({@link demoDeviceCertificateFiles} of the `ClientIdPrefix` output). Absent when the user brings their own
   * certificate or CA.
   */
  demoCertificateId: 'DemoCertificateId',
} as const;

/** The `IotLogLevel` output's value when the stack does not configure AWS IoT logging. */
export const IOT_LOGGING_NOT_MANAGED = 'NOT_MANAGED';

export type StackOutputKey = keyof typeof STACK_OUTPUTS;

/** The stack's outputs as the client uses them. */
export type StackOutputValues = { readonly [K in StackOutputKey]: string };

/** Default stack name (`bin/app.ts`) and outputs file (`cdk.json`), both overridable. */
export const DEFAULT_STACK_NAME = 'IotCustomAuthorizerStack';
export const DEFAULT_OUTPUTS_FILE = 'cdk-outputs.json';
