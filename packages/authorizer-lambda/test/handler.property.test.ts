import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { authorizerResponseProblems, clientIdProblem, createToken } from '@iot-custom-auth/protocol';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { DeviceCredentialsCache, createHandler, loadConfig, type AuthorizerHandler } from '../src';
import {
  CONTEXT,
  DEVICE_SECRET,
  DEVICE_SECRET_STRING,
  EXPECTED_POLICIES,
  SECRET_ARN,
  base64,
} from './support/events';

const NOW = new Date('2026-03-01T12:00:00Z');
const PREFIX = 'test-';
const CORRECT_PASSWORD = base64(DEVICE_SECRET.password);
const WRONG_PASSWORD = base64(DEVICE_SECRET.password.replace(/.$/, 'X'));
const VALID_TOKEN = createToken({ clientId: 'test-p1', lifetimeSeconds: 600, now: NOW });
const EXPIRED_TOKEN = createToken({
  clientId: 'test-p1',
  lifetimeSeconds: 600,
  now: new Date(NOW.getTime() - 7200_000),
});
const FOREIGN_TOKEN = createToken({ clientId: 'prod-p1', lifetimeSeconds: 600, now: NOW });

const DENIED = {
  isAuthenticated: false,
  principalId: 'denied',
  disconnectAfterInSeconds: 86_400,
  refreshAfterInSeconds: 300,
  policyDocuments: [],
};

/** `fc.anything()` with every kind of value turned on: boxed values, null prototypes, Maps, BigInts... */
const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withTypedArray: true,
  withObjectString: true,
});

let secretsManager: AwsClientStub<SecretsManagerClient>;
let handler: AuthorizerHandler;

beforeAll(() => {
  secretsManager = mockClient(SecretsManagerClient);
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: DEVICE_SECRET_STRING });
  const config = loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN });
  handler = createHandler({
    config,
    credentials: new DeviceCredentialsCache({
      client: new SecretsManagerClient({ region: 'eu-west-1' }),
      secretId: SECRET_ARN,
      ttlSeconds: 300,
    }),
    log: () => undefined,
    now: () => NOW,
  });
});
afterAll(() => secretsManager.restore());

/** Invokes and checks what must hold for every input: no exception, a valid response, allow or deny exactly. */
async function invoke(event: unknown, context: unknown = CONTEXT): Promise<boolean> {
  const result = await handler(event, context as typeof CONTEXT);
  expect(authorizerResponseProblems(result)).toEqual([]);
  if (result.isAuthenticated) {
    expect(result.policyDocuments).toEqual(EXPECTED_POLICIES);
    expect(result.principalId).toMatch(/^[0-9a-f]{32}$/);
  } else {
    expect(result).toEqual(DENIED);
  }
  return result.isAuthenticated;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ownField(value: unknown, key: string): unknown {
  return isRecord(value) && Object.hasOwn(value, key) ? value[key] : undefined;
}

/**
 * Written from the rules, independently of the handler: whether the event carries valid credentials
 * (the valid token in signed mode, the device user and password in unsigned mode) in a well-formed event.
 */
function carriesValidCredentials(event: unknown): boolean {
  if (!isRecord(event)) return false;
  const protocolData = ownField(event, 'protocolData');
  if (protocolData !== undefined && !isRecord(protocolData)) return false;
  const mqtt = ownField(protocolData, 'mqtt');
  if (mqtt !== undefined && !isRecord(mqtt)) return false;
  const clientId = ownField(mqtt, 'clientId');
  // Only safety matters here: a safe client id outside the prefix is authenticated, and the returned connect
  // policy (client/<prefix>*) is what refuses it.
  if (
    clientId !== undefined &&
    (typeof clientId !== 'string' || clientIdProblem(clientId, '') !== undefined)
  ) {
    return false;
  }
  if (ownField(event, 'signatureVerified') === true) {
    return ownField(event, 'token') === VALID_TOKEN && (clientId === undefined || clientId === 'test-p1');
  }
  const username = ownField(mqtt, 'username');
  return (
    typeof username === 'string' &&
    username.split('?')[0] === DEVICE_SECRET.username &&
    ownField(mqtt, 'password') === CORRECT_PASSWORD
  );
}

/** Mostly the field's meaningful values, sometimes anything at all, sometimes absent. */
const field = <T>(meaningful: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { arbitrary: meaningful, weight: 6 },
    { arbitrary: anything, weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );

/** Events shaped like AWS IoT's, every field drawn from right, wrong, hostile and absent values. */
const structuredEvent = fc
  .record(
    {
      token: field(
        fc.oneof(
          fc.constantFrom(VALID_TOKEN, EXPIRED_TOKEN, FOREIGN_TOKEN, `${VALID_TOKEN}x`, ''),
          fc.string(),
          fc.base64String(),
        ),
      ),
      signatureVerified: field(fc.oneof(fc.boolean(), fc.constantFrom('true', 1, null))),
      protocols: field(fc.subarray(['tls', 'http', 'mqtt'])),
      protocolData: field(
        fc.record(
          {
            mqtt: field(
              fc.record(
                {
                  username: field(
                    fc.oneof(
                      fc.constantFrom(
                        'device',
                        'device?x-amz-customauthorizer-name=a&SDK=IoTDeviceSDK/JS',
                        'Device',
                      ),
                      fc.string().map((query) => `device?${query}`),
                      fc.string(),
                    ),
                  ),
                  password: field(
                    fc.oneof(
                      { arbitrary: fc.constant(CORRECT_PASSWORD), weight: 3 },
                      fc.constantFrom(WRONG_PASSWORD, `${CORRECT_PASSWORD}\n`, ''),
                      fc.base64String(),
                      fc.string(),
                    ),
                  ),
                  clientId: field(
                    fc.oneof(
                      fc.constantFrom('test-p1', 'test-p2', 'prod-1', 'test-+', 'test-#', 'test-a/b', ''),
                      fc.stringMatching(/^test-[A-Za-z0-9_.:-]{0,20}$/),
                      fc.string().map((rest) => `${PREFIX}${rest}`),
                    ),
                  ),
                },
                { requiredKeys: [] },
              ),
            ),
            tls: anything,
            http: anything,
          },
          { requiredKeys: [] },
        ),
      ),
      connectionMetadata: field(fc.record({ id: fc.uuid() })),
    },
    { requiredKeys: [] },
  )
  .chain((event) =>
    fc.dictionary(fc.string(), anything, { maxKeys: 3 }).map((extra) => ({ ...extra, ...event })),
  );

describe('handler properties', () => {
  it('never throws, always answers validly and never allows arbitrary values', async () => {
    await fc.assert(
      fc.asyncProperty(anything, fc.oneof(fc.constant(CONTEXT), anything), async (event, context) => {
        expect(await invoke(event, context)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('allows exactly the well-formed events that carry valid credentials', async () => {
    let allowedCount = 0;
    await fc.assert(
      fc.asyncProperty(structuredEvent, async (event) => {
        const allowed = await invoke(event);
        expect(allowed).toBe(carriesValidCredentials(event));
        if (allowed) allowedCount += 1;
      }),
      { numRuns: 1000 },
    );
    // The property is not vacuous: some generated events were allowed.
    expect(allowedCount).toBeGreaterThan(0);
  });

  it('allows any safe client id under the prefix with the right password or a token issued for it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^test-[A-Za-z0-9_.:-]{1,123}$/), async (clientId) => {
        const unsigned = {
          signatureVerified: false,
          protocolData: { mqtt: { username: 'device?SDK=x', password: CORRECT_PASSWORD, clientId } },
        };
        const token = createToken({ clientId, lifetimeSeconds: 60, now: NOW });
        const signed = { token, signatureVerified: true, protocolData: { mqtt: { clientId } } };
        expect(await invoke(unsigned)).toBe(true);
        expect(await invoke(signed)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
