import { createToken, deriveDevicePassword } from '@iot-custom-auth/protocol';
import fc from 'fast-check';
import { DECISION_REASONS } from '../src';
import { CONTEXT, FIXTURE_SIGNATURE, SECRET_ARN, base64, captureOutput, fixture } from './support/events';
import { FakeSecretsManager } from './support/fake-secrets-manager';

type HandlerModule = typeof import('../src/handler');

// Distinctive values, so that finding any of them in the output can only mean a leak.
const MASTER_KEY = 'Zq9-Leaky-Master-Key-Only-Here-0123456789';
/** The device id is the user name: it is logged (deviceId), so it is not among the secrets. */
const USERNAME = 'test-log-1';
const PASSWORD = deriveDevicePassword(MASTER_KEY, USERNAME);
const WRONG_PASSWORD_SAME_LENGTH = PASSWORD.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
const WRONG_PASSWORD_LONGER = `${PASSWORD}-plus-typo`;
const SECRET_STRING = JSON.stringify({ masterKey: MASTER_KEY, revokedDevices: {} });
const SIGNATURE = FIXTURE_SIGNATURE;
const ENCODED_SIGNATURE = encodeURIComponent(SIGNATURE);
const METRICS = 'SDK=IoTDeviceSDK/JS&Platform=Unix&Metadata=(CRTVersion=1.33.1;IoTSDKMetricsVersion=1)';
const UNSIGNED_USERNAME = `${USERNAME}?x-amz-customauthorizer-name=Leaky-Authorizer-Name&${METRICS}`;

const VALID_TOKEN = createToken({ clientId: 'test-log-1', lifetimeSeconds: 600 });
const EXPIRED_TOKEN = createToken({
  clientId: 'test-log-1',
  lifetimeSeconds: 600,
  now: new Date(Date.now() - 3 * 3600_000),
});
const FOREIGN_TOKEN = createToken({ clientId: 'test-log-2', lifetimeSeconds: 600 });
const LONG_TOKEN = createToken({ clientId: 'test-log-1', lifetimeSeconds: 7200 });

/** Everything that must never reach a log, as it would be written in any encoding we could produce. */
const SECRETS = [
  MASTER_KEY,
  PASSWORD,
  base64(PASSWORD),
  WRONG_PASSWORD_SAME_LENGTH,
  base64(WRONG_PASSWORD_SAME_LENGTH),
  WRONG_PASSWORD_LONGER,
  base64(WRONG_PASSWORD_LONGER),
  VALID_TOKEN,
  EXPIRED_TOKEN,
  FOREIGN_TOKEN,
  LONG_TOKEN,
  SIGNATURE,
  ENCODED_SIGNATURE,
  // Pieces of the username's query: the raw username is never logged.
  'Leaky-Authorizer-Name',
  'x-amz-customauthorizer-name',
  'IoTDeviceSDK',
  'CRTVersion',
];

function unsigned(username: unknown, password: unknown, clientId?: unknown): Record<string, unknown> {
  return {
    signatureVerified: false,
    protocols: ['tls', 'mqtt'],
    protocolData: {
      mqtt: { username, password, ...(clientId === undefined ? {} : { clientId }) },
    },
    connectionMetadata: { id: '7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f' },
  };
}

function signed(token: unknown, clientId?: string): Record<string, unknown> {
  return {
    token,
    signatureVerified: true,
    protocols: ['tls', 'http', 'mqtt'],
    protocolData: {
      http: {
        headers: { 'x-amz-customauthorizer-signature': SIGNATURE, token: String(token) },
        queryString: `?token=${String(token)}&x-amz-customauthorizer-signature=${ENCODED_SIGNATURE}`,
      },
      mqtt: {
        username: `?x-amz-customauthorizer-name=Leaky-Authorizer-Name&token=${String(token)}&x-amz-customauthorizer-signature=${ENCODED_SIGNATURE}&${METRICS}`,
        password: base64(PASSWORD),
        ...(clientId === undefined ? {} : { clientId }),
      },
    },
    connectionMetadata: { id: '8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1a' },
  };
}

/** Allow and deny cases of every kind, each carrying secrets in the fields a device controls. */
function cases(): unknown[] {
  const b64 = base64(PASSWORD);
  const listed: unknown[] = [
    unsigned(UNSIGNED_USERNAME, b64, 'test-log-1'),
    unsigned(UNSIGNED_USERNAME, b64),
    unsigned(USERNAME, b64, 'test-log-1'),
    unsigned(UNSIGNED_USERNAME, base64(WRONG_PASSWORD_SAME_LENGTH), 'test-log-1'),
    unsigned(UNSIGNED_USERNAME, base64(WRONG_PASSWORD_LONGER), 'test-log-1'),
    unsigned(`${PASSWORD}?${METRICS}`, b64, 'test-log-1'),
    unsigned(UNSIGNED_USERNAME, PASSWORD, 'test-log-1'),
    unsigned(UNSIGNED_USERNAME, `${b64}!`, 'test-log-1'),
    unsigned(UNSIGNED_USERNAME, b64, `test-${PASSWORD}/x`),
    unsigned(UNSIGNED_USERNAME, b64, `prod/${PASSWORD}`),
    unsigned(UNSIGNED_USERNAME, b64, 42),
    unsigned(UNSIGNED_USERNAME, undefined, 'test-log-1'),
    unsigned(UNSIGNED_USERNAME.repeat(5000), b64, 'test-log-1'),
    signed(VALID_TOKEN, 'test-log-1'),
    signed(VALID_TOKEN),
    signed(EXPIRED_TOKEN, 'test-log-1'),
    signed(FOREIGN_TOKEN, 'test-log-1'),
    signed(LONG_TOKEN, 'test-log-1'),
    signed(PASSWORD, 'test-log-1'),
    signed(`${VALID_TOKEN}.${SIGNATURE}`, 'test-log-1'),
    signed(undefined, 'test-log-1'),
    { token: VALID_TOKEN, signatureVerified: true, protocols: [] },
    { ...signed(VALID_TOKEN), protocolData: PASSWORD },
    fixture('aws-doc-example'),
  ];
  // Then random recombinations of the same secret-bearing pieces.
  const piece = fc.constantFrom<unknown>(
    PASSWORD,
    base64(PASSWORD),
    base64(WRONG_PASSWORD_SAME_LENGTH),
    UNSIGNED_USERNAME,
    USERNAME,
    VALID_TOKEN,
    EXPIRED_TOKEN,
    SIGNATURE,
    ENCODED_SIGNATURE,
    undefined,
  );
  const random = fc.sample(
    fc.record({
      token: piece,
      signatureVerified: fc.boolean(),
      protocolData: fc.record({
        mqtt: fc.record({
          username: piece,
          password: piece,
          clientId: fc.constantFrom('test-log-1', 'x/y', undefined),
        }),
        http: fc.record({
          headers: fc.dictionary(fc.constantFrom('token', 'x-amz-customauthorizer-signature'), piece),
        }),
      }),
    }),
    { numRuns: 150, seed: 42 },
  );
  return [...listed, ...random];
}

const ENV = [
  'DEVICE_SECRET_ARN',
  'AWS_LAMBDA_LOG_FORMAT',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
];
const savedEnv = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
let fake: FakeSecretsManager;

beforeEach(async () => {
  fake = await FakeSecretsManager.start();
  fake.behaviour = { kind: 'secret', secretString: SECRET_STRING };
  for (const name of ENV) delete process.env[name];
  Object.assign(process.env, {
    DEVICE_SECRET_ARN: SECRET_ARN,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: fake.url,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret-key',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  });
});

afterEach(async () => {
  for (const name of ENV) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  await fake.stop();
});

describe('log output', () => {
  it.each(['Text', 'JSON'])(
    'never contains a password, token, signature or raw username (%s log format), one line per decision',
    async (format) => {
      process.env.AWS_LAMBDA_LOG_FORMAT = format;
      const output = captureOutput();
      let invocations = 0;
      let allowed = 0;
      try {
        let handler: HandlerModule['handler'] | undefined;
        jest.isolateModules(() => {
          handler = jest.requireActual<HandlerModule>('../src/handler').handler;
        });
        if (handler === undefined) throw new Error('the handler did not load');
        for (const event of cases()) {
          const result = await handler(event, CONTEXT);
          invocations += 1;
          if (result.isAuthenticated && result.principalId !== 'unverified') allowed += 1;
        }
        // Secrets Manager failing, and a secret of the wrong shape, with a fresh cache each.
        for (const behaviour of [
          { kind: 'error', status: 500, type: 'InternalServiceError', message: 'try again' },
          { kind: 'secret', secretString: JSON.stringify({ password: PASSWORD }) },
          { kind: 'secret', secretString: PASSWORD },
          {
            kind: 'secret',
            secretString: JSON.stringify({ masterKey: MASTER_KEY, revokedDevices: [PASSWORD] }),
          },
          { kind: 'secret', secretString: JSON.stringify({ masterKey: MASTER_KEY.slice(0, 20) }) },
        ] as const) {
          fake.behaviour = behaviour;
          jest.isolateModules(() => {
            handler = jest.requireActual<HandlerModule>('../src/handler').handler;
          });
          await handler(unsigned(UNSIGNED_USERNAME, base64(PASSWORD), 'test-log-1'), CONTEXT);
          invocations += 1;
        }
      } finally {
        output.restore();
      }

      const text = output.text();
      for (const secret of SECRETS) {
        expect({ secret, found: text.includes(secret) }).toEqual({ secret, found: false });
      }
      const decisionLines = output.entries.filter((entry) => entry.channel.startsWith('console.'));
      expect(decisionLines).toHaveLength(invocations);
      expect(allowed).toBeGreaterThanOrEqual(5);
      for (const line of decisionLines) {
        const entry = (format === 'JSON' ? line.args[0] : JSON.parse(line.args[0] as string)) as Record<
          string,
          unknown
        >;
        expect(Object.keys(entry).every((key) => ALLOWED_LOG_FIELDS.has(key))).toBe(true);
        expect(entry).toMatchObject({
          decision: expect.stringMatching(/^(ALLOW|DENY)$/) as unknown,
          reason: expect.stringMatching(
            new RegExp(`^(${Object.keys(DECISION_REASONS).join('|')})$`),
          ) as unknown,
          durationMs: expect.any(Number) as unknown,
        });
      }
    },
  );
});

const ALLOWED_LOG_FIELDS = new Set([
  'decision',
  'reason',
  'mode',
  'clientId',
  'deviceId',
  'connectionId',
  'principalId',
  'durationMs',
  'detail',
]);
