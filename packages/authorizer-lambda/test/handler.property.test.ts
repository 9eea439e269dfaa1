import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  authorizerResponseProblems,
  clientIdProblem,
  createToken,
  evaluatePolicies,
} from '@iot-custom-auth/protocol';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import type { IoTCustomAuthorizerResult } from 'aws-lambda';
import {
  DENY_EVERYTHING_POLICY,
  MasterSecretCache,
  UNVERIFIED_PRINCIPAL_ID,
  createHandler,
  loadConfig,
  type AuthorizerHandler,
} from '../src';
import {
  CONTEXT,
  DEVICE_SECRET,
  EXPECTED_POLICIES,
  FUNCTION_ARN,
  SECRET_ARN,
  base64,
  devicePassword,
  devicePolicies,
} from './support/events';

const NOW = new Date('2026-03-01T12:00:00Z');
const PREFIX = 'test-';
/** Devices of the structured events; the last is revoked in the master secret. */
const DEVICES = ['test-p1', 'test-p2', 'test-revoked'] as const;
const REVOKED = 'test-revoked';
const MASTER_SECRET_STRING = JSON.stringify({
  ...DEVICE_SECRET,
  revokedDevices: { [REVOKED]: '2026-02-01T00:00:00.000Z' },
});
/** Each device's own password, base64 as AWS IoT sends it. */
const PASSWORDS = DEVICES.map((id) => base64(devicePassword(id)));
const WRONG_PASSWORD = base64(devicePassword('test-p1').replace(/.$/, 'X'));
const IOT_ARN = 'arn:aws:iot:eu-west-1:123456789012';
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
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: MASTER_SECRET_STRING });
  const config = loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN });
  handler = createHandler({
    config,
    masterSecret: new MasterSecretCache({
      client: new SecretsManagerClient({ region: 'eu-west-1' }),
      secretId: SECRET_ARN,
      ttlSeconds: 300,
    }),
    log: () => undefined,
    now: () => NOW,
  });
});
afterAll(() => secretsManager.restore());

const REFUSED = {
  ...DENIED,
  isAuthenticated: true,
  principalId: UNVERIFIED_PRINCIPAL_ID,
  policyDocuments: [DENY_EVERYTHING_POLICY],
};

/** The device id an unsigned event names (the user part of its username), if any. */
function userOf(event: unknown): string | undefined {
  const username = ownField(ownField(ownField(event, 'protocolData'), 'mqtt'), 'username');
  return typeof username === 'string' ? username.split('?')[0] : undefined;
}

/**
 * Invokes and checks what must hold for every input: no exception, a valid response, and exactly one of an
 * allow (for one device in unsigned mode, the prefix in signed mode), a deny, or an internal refusal.
 */
async function invoke(event: unknown, context: unknown = CONTEXT): Promise<boolean> {
  const result = await handler(event, context as typeof CONTEXT);
  expect(authorizerResponseProblems(result)).toEqual([]);
  if (result.principalId === UNVERIFIED_PRINCIPAL_ID) {
    expect(result).toEqual(REFUSED);
    return false;
  }
  if (result.isAuthenticated) {
    const signed = ownField(event, 'signatureVerified') === true;
    // An HTTPS event (no MQTT client id) gets the token's device's own policies; the valid token is test-p1's.
    const protocolData = ownField(event, 'protocolData');
    const overHttps =
      ownField(protocolData, 'http') !== undefined &&
      ownField(ownField(protocolData, 'mqtt'), 'clientId') === undefined;
    const signedPolicies = overHttps ? devicePolicies('test-p1') : EXPECTED_POLICIES;
    expect(result.policyDocuments).toEqual(signed ? signedPolicies : devicePolicies(userOf(event) ?? ''));
    expect(result.principalId).toMatch(/^[0-9a-f]{32}$/);
  } else {
    expect(result).toEqual(DENIED);
  }
  return result.isAuthenticated;
}

/** Whether the policies of `result` let a connection with `clientId` through AWS IoT's iot:Connect check. */
function connectAllowed(result: IoTCustomAuthorizerResult, clientId: string): boolean {
  if (!result.isAuthenticated) return false;
  return evaluatePolicies(result.policyDocuments, {
    action: 'iot:Connect',
    resource: `${IOT_ARN}:client/${clientId}`,
    variables: { 'iot:ClientId': clientId },
  }).allowed;
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
  const user = userOf(event);
  return (
    user !== undefined &&
    clientIdProblem(user, PREFIX) === undefined &&
    user !== REVOKED &&
    ownField(mqtt, 'password') === base64(devicePassword(user))
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
                        ...DEVICES,
                        'test-p1?x-amz-customauthorizer-name=a&SDK=IoTDeviceSDK/JS',
                        'Test-p1',
                        'device',
                        '',
                        'test-#',
                      ),
                      fc
                        .tuple(fc.constantFrom(...DEVICES), fc.string())
                        .map(([id, query]) => `${id}?${query}`),
                      fc.string(),
                    ),
                  ),
                  password: field(
                    fc.oneof(
                      { arbitrary: fc.constantFrom(...PASSWORDS), weight: 3 },
                      fc.constantFrom(WRONG_PASSWORD, `${PASSWORDS[0]}\n`, ''),
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

  it('allows any safe device id under the prefix with its own password, or a token issued for it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^test-[A-Za-z0-9_.:-]{1,123}$/), async (clientId) => {
        const unsigned = {
          signatureVerified: false,
          protocolData: {
            mqtt: { username: `${clientId}?SDK=x`, password: base64(devicePassword(clientId)), clientId },
          },
        };
        const token = createToken({ clientId, lifetimeSeconds: 60, now: NOW });
        const signed = { token, signatureVerified: true, protocolData: { mqtt: { clientId } } };
        expect(await invoke(unsigned)).toBe(true);
        expect(await invoke(signed)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("property: for two distinct devices, one's credentials never let anyone connect as the other", async () => {
    const deviceId = fc.stringMatching(/^test-[A-Za-z0-9_.:-]{1,60}$/);
    await fc.assert(
      fc.asyncProperty(
        deviceId,
        deviceId,
        fc.constantFrom('', '?SDK=IoTDeviceSDK/JS'),
        async (a, b, query) => {
          fc.pre(a !== b);
          const passwordOfA = base64(devicePassword(a));
          const event = (username: string, clientId: string) => ({
            signatureVerified: false,
            protocolData: { mqtt: { username: `${username}${query}`, password: passwordOfA, clientId } },
          });
          const asB = await handler(event(b, b), { invokedFunctionArn: FUNCTION_ARN });
          const aWithClientIdB = await handler(event(a, b), { invokedFunctionArn: FUNCTION_ARN });
          const own = await handler(event(a, a), { invokedFunctionArn: FUNCTION_ARN });
          expect(asB.isAuthenticated).toBe(false);
          expect(connectAllowed(aWithClientIdB, b)).toBe(false);
          expect(connectAllowed(own, a)).toBe(true);
          expect(connectAllowed(own, b)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: a revoked device is denied whatever else the event says', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('', '?SDK=x', '?x-amz-customauthorizer-name=Unsigned'),
        fc.option(fc.stringMatching(/^test-[A-Za-z0-9_.:-]{1,20}$/), { nil: undefined }),
        async (query, clientId) => {
          const event = {
            signatureVerified: false,
            protocolData: {
              mqtt: {
                username: `${REVOKED}${query}`,
                password: base64(devicePassword(REVOKED)),
                ...(clientId === undefined ? {} : { clientId }),
              },
            },
          };
          expect(await invoke(event)).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });
});
