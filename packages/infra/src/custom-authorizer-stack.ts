import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as iot from 'aws-cdk-lib/aws-iot';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { buildConnectPolicy, STACK_OUTPUTS, type StackOutputKey } from '@iot-custom-auth/protocol';
import { IotCustomAuthorizer } from './iot-custom-authorizer';
import { IotDataEndpoint } from './iot-data-endpoint';
import { physicalName } from './physical-name';

/** Name of the signed authorizer's public key in `TokenSigningPublicKeys`. */
export const TOKEN_SIGNING_PUBLIC_KEY_NAME = 'TokenSigningKey';

/** AWS IoT's longest policy name. */
const POLICY_NAME_MAX_LENGTH = 128;

/** Properties of a {@link CustomAuthorizerStack}. */
export interface CustomAuthorizerStackProps extends StackProps {
  /** The RSA public key (PEM, at least 2048 bits) the signed authorizer verifies token signatures with. */
  readonly tokenSigningPublicKeyPem: string;
  /** @default DEFAULTS.clientIdPrefix ('test-') */
  readonly clientIdPrefix?: string;
  /** @default DEFAULTS.topicRoot ('devices') */
  readonly topicRoot?: string;
  /** @default DEFAULTS.tokenKeyName ('token') */
  readonly tokenKeyName?: string;
  /** @default DEFAULTS.refreshAfterSeconds (300) */
  readonly refreshAfterSeconds?: number;
  /** @default DEFAULTS.disconnectAfterSeconds (86400) */
  readonly disconnectAfterSeconds?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Everything a device needs to connect to AWS IoT Core through a custom authorizer: the authorizers, their
 * Lambda and the device credentials ({@link IotCustomAuthorizer}), the `test-*` connect policy, and stack
 * outputs (named by the protocol's `STACK_OUTPUTS`) with everything the client reads: endpoint, region,
 * authorizer names, token key name, secret ARN, policy name and client id prefix.
 */
export class CustomAuthorizerStack extends Stack {
  public readonly authorizer: IotCustomAuthorizer;
  /** The `test-*` connect policy: the same document the authorizer returns for `iot:Connect`. */
  public readonly connectPolicy: iot.CfnPolicy;
  /** Name of {@link connectPolicy}. */
  public readonly connectPolicyName: string;
  public readonly dataEndpoint: IotDataEndpoint;

  constructor(scope: Construct, id: string, props: CustomAuthorizerStackProps) {
    super(scope, id, {
      ...props,
      description:
        props.description ??
        'AWS IoT Core custom authentication: unsigned and signed authorizers, their Lambda, device credentials and the test-* connect policy',
    });

    this.authorizer = new IotCustomAuthorizer(this, 'CustomAuthorizer', {
      tokenSigningPublicKeys: { [TOKEN_SIGNING_PUBLIC_KEY_NAME]: props.tokenSigningPublicKeyPem },
      clientIdPrefix: props.clientIdPrefix,
      topicRoot: props.topicRoot,
      tokenKeyName: props.tokenKeyName,
      refreshAfterSeconds: props.refreshAfterSeconds,
      disconnectAfterSeconds: props.disconnectAfterSeconds,
      logRetention: props.logRetention,
    });

    this.connectPolicyName = physicalName(this, 'ConnectPolicy', {
      maxLength: POLICY_NAME_MAX_LENGTH,
      allowedChars: '\\w+=,.@-',
    });
    this.connectPolicy = new iot.CfnPolicy(this, 'ConnectPolicy', {
      policyName: this.connectPolicyName,
      policyDocument: buildConnectPolicy({
        partition: Aws.PARTITION,
        region: Aws.REGION,
        account: Aws.ACCOUNT_ID,
        clientIdPrefix: this.authorizer.clientIdPrefix,
      }),
    });

    this.dataEndpoint = new IotDataEndpoint(this, 'DataEndpoint', { logRetention: props.logRetention });

    const outputs: { readonly [K in StackOutputKey]: { value: string; description: string } } = {
      endpoint: {
        value: this.dataEndpoint.address,
        description: 'AWS IoT Core ATS data endpoint devices connect to (port 443, ALPN mqtt or WebSockets)',
      },
      region: { value: Aws.REGION, description: 'Region of the endpoint and the device credentials secret' },
      unsignedAuthorizerName: {
        value: this.authorizer.unsignedAuthorizerName,
        description: 'Authorizer for MQTT user name and password (signing disabled)',
      },
      signedAuthorizerName: {
        value: this.authorizer.signedAuthorizerName,
        description: 'Authorizer for tokens signed with the token-signing private key',
      },
      tokenKeyName: {
        value: this.authorizer.tokenKeyName,
        description: 'Name of the query parameter or header carrying the token for the signed authorizer',
      },
      deviceSecretArn: {
        value: this.authorizer.deviceSecret.secretArn,
        description: 'Secrets Manager secret with the device user name and password',
      },
      connectPolicyName: {
        value: this.connectPolicyName,
        description: 'IoT policy allowing iot:Connect for client ids with the prefix',
      },
      clientIdPrefix: {
        value: this.authorizer.clientIdPrefix,
        description: 'Client ids must start with this to connect',
      },
    };
    for (const key of Object.keys(outputs) as StackOutputKey[]) {
      new CfnOutput(this, STACK_OUTPUTS[key], { key: STACK_OUTPUTS[key], ...outputs[key] });
    }
  }
}
