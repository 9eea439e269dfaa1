import { clientArn, topicArn, topicFilterArn, type IotArnContext } from './arn';
import { DEFAULTS } from './constants';

/** An AWS IoT policy document, as the authorizer returns it and as `AWS::IoT::Policy` deploys it. */
export interface IotPolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly IotPolicyStatement[];
}

export interface IotPolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
}

/** The policy variable AWS IoT replaces with the connection's client id. */
export const CLIENT_ID_POLICY_VARIABLE = '${iot:ClientId}';

/** What the policies are built from. */
export interface DevicePolicyOptions extends IotArnContext {
  /** Client ids allowed to connect start with this. @default DEFAULTS.clientIdPrefix ('test-') */
  readonly clientIdPrefix?: string;
  /** A device's topics are `<topicRoot>/<clientId>` and below. @default DEFAULTS.topicRoot ('devices') */
  readonly topicRoot?: string;
  /**
   * The authenticated device (unsigned authorizer): the connect policy allows only `client/<deviceId>` and
   * the topic policy names `<topicRoot>/<deviceId>` literally, so neither depends on the client id sent.
   * Must be a safe client id (`clientIdProblem`): it is placed in ARNs as is.
   * @default undefined: `client/<prefix>*` and `${iot:ClientId}` (the stack's policy, the signed authorizer)
   */
  readonly deviceId?: string;
}

/**
 * The connect policy: `iot:Connect` on `client/<prefix>*`. The stack deploys it as the `test-*` connect
 * policy, and the authorizer returns the very same document.
 */
export function buildConnectPolicy(options: DevicePolicyOptions): IotPolicyDocument {
  const prefix = options.clientIdPrefix ?? DEFAULTS.clientIdPrefix;
  return {
    Version: '2012-10-17',
    Statement: [
      options.deviceId === undefined
        ? {
            Sid: 'ConnectWithPrefix',
            Effect: 'Allow',
            Action: 'iot:Connect',
            Resource: clientArn(options, `${prefix}*`),
          }
        : {
            Sid: 'ConnectAsDevice',
            Effect: 'Allow',
            Action: 'iot:Connect',
            Resource: clientArn(options, options.deviceId),
          },
    ],
  };
}

/**
 * The per-device topic policy: publish, receive and retain on `<topicRoot>/${iot:ClientId}` and below,
 * subscribe to the same as topic filters. `${iot:ClientId}` confines every device to its own topics, which is
 * why the authorizer refuses client ids with MQTT wildcards or `/`.
 */
export function buildTopicPolicy(options: DevicePolicyOptions): IotPolicyDocument {
  const root = `${options.topicRoot ?? DEFAULTS.topicRoot}/${options.deviceId ?? CLIENT_ID_POLICY_VARIABLE}`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OwnTopics',
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive', 'iot:RetainPublish'],
        Resource: [topicArn(options, root), topicArn(options, `${root}/*`)],
      },
      {
        Sid: 'OwnTopicFilters',
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: [topicFilterArn(options, root), topicFilterArn(options, `${root}/*`)],
      },
    ],
  };
}

/**
 * The policy documents an allowing authorizer returns: the connect policy and the topic policy (for one
 * device when `deviceId` is set).
 */
export function buildDevicePolicies(options: DevicePolicyOptions): IotPolicyDocument[] {
  return [buildConnectPolicy(options), buildTopicPolicy(options)];
}

/** The topic a device publishes to and subscribes on for a round trip: `<topicRoot>/<clientId>`. */
export function deviceTopic(clientId: string, topicRoot: string = DEFAULTS.topicRoot): string {
  return `${topicRoot}/${clientId}`;
}
