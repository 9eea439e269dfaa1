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
} as const;

export type StackOutputKey = keyof typeof STACK_OUTPUTS;

/** The stack's outputs as the client uses them. */
export type StackOutputValues = { readonly [K in StackOutputKey]: string };

/** Default stack name (`bin/app.ts`) and outputs file (`cdk.json`), both overridable. */
export const DEFAULT_STACK_NAME = 'IotCustomAuthorizerStack';
export const DEFAULT_OUTPUTS_FILE = 'cdk-outputs.json';
