import { ProtocolError } from './errors';

/** Where IoT resources live. Values may be CDK tokens (e.g. `Aws.REGION`): they are only concatenated. */
export interface IotArnContext {
  /** @default 'aws' */
  readonly partition?: string;
  readonly region: string;
  readonly account: string;
}

/** `arn:<partition>:iot:<region>:<account>:client/<clientId>`: the resource of `iot:Connect`. */
export function clientArn(context: IotArnContext, clientId: string): string {
  return iotArn(context, `client/${clientId}`);
}

/** `...:topic/<topic>`: the resource of `iot:Publish`, `iot:Receive` and `iot:RetainPublish`. */
export function topicArn(context: IotArnContext, topic: string): string {
  return iotArn(context, `topic/${topic}`);
}

/** `...:topicfilter/<filter>`: the resource of `iot:Subscribe`. */
export function topicFilterArn(context: IotArnContext, filter: string): string {
  return iotArn(context, `topicfilter/${filter}`);
}

function iotArn(context: IotArnContext, resource: string): string {
  return `arn:${context.partition ?? 'aws'}:iot:${context.region}:${context.account}:${resource}`;
}

/**
 * Reads partition, region and account from any ARN, such as a Lambda's `invokedFunctionArn`
 * (`arn:aws:lambda:eu-west-1:123456789012:function:name`).
 * @throws ProtocolError when the ARN does not have those parts.
 */
export function arnContextOf(arn: string): Required<IotArnContext> {
  const parts = arn.split(':');
  const [prefix, partition, , region, account] = parts;
  if (
    parts.length < 6 ||
    prefix !== 'arn' ||
    !partition ||
    !region ||
    !account ||
    !/^\d{12}$/.test(account)
  ) {
    throw new ProtocolError(
      `'${arn}' is not an ARN with a partition, region and 12-digit account (arn:aws:lambda:eu-west-1:123456789012:function:name)`,
    );
  }
  return { partition, region, account };
}

/**
 * The region an ARN names, or `undefined` when `arn` is missing or not an ARN (a plain secret name, say):
 * callers then leave the SDK's default region in place.
 */
export function regionOfArn(arn: string | undefined): string | undefined {
  if (arn === undefined) return undefined;
  try {
    return arnContextOf(arn).region;
  } catch {
    return undefined;
  }
}
