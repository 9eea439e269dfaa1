import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import type { PolicyDocument } from 'aws-lambda';
import { deriveDevicePassword, type MasterSecret } from '@iot-custom-auth/protocol';

/** The Lambda's ARN in the tests: the policies must carry exactly this partition, region and account. */
export const FUNCTION_ARN =
  'arn:aws:lambda:eu-west-1:123456789012:function:IotCustomAuthorizerStack-Authorizer';
export const CONTEXT = { invokedFunctionArn: FUNCTION_ARN } as const;
export const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-credentials-AbCdEf';

/** The master secret the fixtures were recorded with (their passwords derive from its key). */
export const DEVICE_SECRET = fixture('device-secret') as {
  masterKey: string;
  revokedDevices: Record<string, string>;
};
export const DEVICE_SECRET_STRING = JSON.stringify(DEVICE_SECRET);
/** `DEVICE_SECRET` as `MasterSecretCache` returns it. */
export const MASTER_SECRET: MasterSecret = { masterKey: DEVICE_SECRET.masterKey, revokedDevices: new Map() };
/** The fixtures' device. */
export const DEVICE_ID = 'test-direct-1';

/** The password of `deviceId` under the fixtures' master key (or `masterKey`). */
export function devicePassword(deviceId: string, masterKey: string = DEVICE_SECRET.masterKey): string {
  return deriveDevicePassword(masterKey, deviceId);
}
/** The signature in the signed fixtures' usernames (AWS IoT verified it; the Lambda never needs it). */
export const FIXTURE_SIGNATURE = (fixture('signature') as { signature: string }).signature;
/** The signed fixtures' tokens were issued at 2026-01-01T00:00:00Z for one hour. */
export const FIXTURE_TOKEN_ISSUED_AT = new Date('2026-01-01T00:00:00Z');

export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** A fresh, mutable copy of `test/fixtures/<name>.json`. */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', `${name}.json`), 'utf8')) as Record<
    string,
    unknown
  >;
}

/** An unsigned event as AWS IoT sends it for an MQTT CONNECT. */
export function unsignedEvent(options: {
  username?: unknown;
  password?: unknown;
  clientId?: unknown;
}): Record<string, unknown> {
  const mqtt: Record<string, unknown> = {};
  for (const key of ['username', 'password', 'clientId'] as const) {
    if (options[key] !== undefined) mqtt[key] = options[key];
  }
  return {
    signatureVerified: false,
    protocols: ['tls', 'mqtt'],
    protocolData: { tls: { serverName: 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com' }, mqtt },
    connectionMetadata: { id: '4f5a6b7c-8d9e-4f0a-8b1c-2d3e4f5a6b7c' },
  };
}

/** A signed event (AWS IoT verified the signature) carrying `token`. */
export function signedEvent(token: unknown, clientId?: string): Record<string, unknown> {
  return {
    token,
    signatureVerified: true,
    protocols: ['tls', 'mqtt'],
    protocolData: {
      mqtt: {
        username: `?x-amz-customauthorizer-name=IotCustomAuthorizerStack-Signed&token=${String(token)}`,
        ...(clientId === undefined ? {} : { clientId }),
      },
    },
    connectionMetadata: { id: '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d' },
  };
}

/**
 * The exact policy documents of an unsigned allow for `deviceId` (default prefix and topic root, eu-west-1 /
 * 123456789012): connect as that client id only, that device's topics only.
 */
export function devicePolicies(deviceId: string): PolicyDocument[] {
  const arn = 'arn:aws:iot:eu-west-1:123456789012';
  return [
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ConnectAsDevice',
          Effect: 'Allow',
          Action: 'iot:Connect',
          Resource: `${arn}:client/${deviceId}`,
        },
      ],
    },
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'OwnTopics',
          Effect: 'Allow',
          Action: ['iot:Publish', 'iot:Receive', 'iot:RetainPublish'],
          Resource: [`${arn}:topic/devices/${deviceId}`, `${arn}:topic/devices/${deviceId}/*`],
        },
        {
          Sid: 'OwnTopicFilters',
          Effect: 'Allow',
          Action: 'iot:Subscribe',
          Resource: [`${arn}:topicfilter/devices/${deviceId}`, `${arn}:topicfilter/devices/${deviceId}/*`],
        },
      ],
    },
  ];
}

/** The exact policy documents of a signed allow for the default prefix and topic root in eu-west-1 / 123456789012. */
export const EXPECTED_POLICIES: PolicyDocument[] = [
  {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ConnectWithPrefix',
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: 'arn:aws:iot:eu-west-1:123456789012:client/test-*',
      },
    ],
  },
  {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OwnTopics',
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive', 'iot:RetainPublish'],
        Resource: [
          'arn:aws:iot:eu-west-1:123456789012:topic/devices/${iot:ClientId}',
          'arn:aws:iot:eu-west-1:123456789012:topic/devices/${iot:ClientId}/*',
        ],
      },
      {
        Sid: 'OwnTopicFilters',
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: [
          'arn:aws:iot:eu-west-1:123456789012:topicfilter/devices/${iot:ClientId}',
          'arn:aws:iot:eu-west-1:123456789012:topicfilter/devices/${iot:ClientId}/*',
        ],
      },
    ],
  },
];

/** Everything written through the console or straight to stdout/stderr while capturing. */
export interface CapturedOutput {
  /** Each console call and each raw write, serialized the way a log pipeline would see it. */
  readonly entries: { readonly channel: string; readonly args: unknown[]; readonly text: string }[];
  /** All of it as one string, to search for secrets. */
  text(): string;
  restore(): void;
}

/** Captures (and silences) console.* and process.stdout/stderr writes. */
export function captureOutput(): CapturedOutput {
  const entries: { channel: string; args: unknown[]; text: string }[] = [];
  const spies: jest.SpyInstance[] = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    spies.push(
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        entries.push({ channel: `console.${method}`, args, text: serialize(args) });
      }),
    );
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    spies.push(
      jest.spyOn(process[stream], 'write').mockImplementation((chunk: unknown) => {
        entries.push({ channel: stream, args: [chunk], text: String(chunk) });
        return true;
      }),
    );
  }
  return {
    entries,
    text: () => entries.map((entry) => entry.text).join('\n'),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

/** Both how the Lambda runtime serializes a logged object (JSON) and how Node prints it (inspect). */
function serialize(args: unknown[]): string {
  let json: string;
  try {
    json = JSON.stringify(args);
  } catch {
    json = '';
  }
  return `${json}\n${format(...args)}`;
}
