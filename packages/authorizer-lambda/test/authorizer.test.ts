import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { authorizerResponseProblems, createToken } from '@iot-custom-auth/protocol';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import type { IoTCustomAuthorizerResult } from 'aws-lambda';
import {
  DENIED_PRINCIPAL_ID,
  DENY_EVERYTHING_POLICY,
  MasterSecretCache,
  UNVERIFIED_PRINCIPAL_ID,
  createHandler,
  loadConfig,
  type AuthorizerConfig,
  type MasterSecretSource,
  type DecisionLogEntry,
} from '../src';
import {
  CONTEXT,
  DEVICE_SECRET,
  DEVICE_SECRET_STRING,
  EXPECTED_POLICIES,
  FIXTURE_TOKEN_ISSUED_AT,
  MASTER_SECRET,
  SECRET_ARN,
  base64,
  devicePassword,
  devicePolicies,
  fixture,
  signedEvent,
  unsignedEvent,
} from './support/events';

/** Ten minutes into the signed fixtures' one-hour tokens. */
const FIXTURE_NOW = new Date(FIXTURE_TOKEN_ISSUED_AT.getTime() + 10 * 60_000);
/** The device of the hand-written unsigned events, and its password (base64, as AWS IoT sends it). */
const DEVICE = 'test-1';
const PASSWORD_B64 = base64(devicePassword(DEVICE));

/** An unsigned event of DEVICE with its own password and client id, with `fields` changed. */
function deviceEvent(fields: { username?: unknown; password?: unknown; clientId?: unknown } = {}) {
  return unsignedEvent({ username: DEVICE, password: PASSWORD_B64, clientId: DEVICE, ...fields });
}

/** The refusal of an internal failure: authenticated, every action explicitly denied (AWS IoT: 0x87). */
const REFUSED: IoTCustomAuthorizerResult = {
  isAuthenticated: true,
  principalId: UNVERIFIED_PRINCIPAL_ID,
  disconnectAfterInSeconds: 86_400,
  refreshAfterInSeconds: 300,
  policyDocuments: [DENY_EVERYTHING_POLICY],
};

const DENIED: IoTCustomAuthorizerResult = {
  isAuthenticated: false,
  principalId: DENIED_PRINCIPAL_ID,
  disconnectAfterInSeconds: 86_400,
  refreshAfterInSeconds: 300,
  policyDocuments: [],
};

/** An allow: for one device (unsigned), or the signed authorizer's prefix policies. */
function allowed(deviceId?: string): IoTCustomAuthorizerResult {
  return {
    isAuthenticated: true,
    principalId: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
    disconnectAfterInSeconds: 86_400,
    refreshAfterInSeconds: 300,
    policyDocuments: deviceId === undefined ? EXPECTED_POLICIES : devicePolicies(deviceId),
  };
}

let secretsManager: AwsClientStub<SecretsManagerClient>;

beforeAll(() => {
  secretsManager = mockClient(SecretsManagerClient);
});
beforeEach(() => {
  secretsManager.reset();
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: DEVICE_SECRET_STRING });
});
afterAll(() => secretsManager.restore());

function secretFetches(): number {
  return secretsManager.commandCalls(GetSecretValueCommand).length;
}

/** The authorizer built as handler.ts builds it, with a clock and a log recorder. */
function build(
  options: { config?: Partial<AuthorizerConfig>; now?: Date; masterSecret?: MasterSecretSource } = {},
) {
  const entries: DecisionLogEntry[] = [];
  const config = { ...loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN }), ...options.config };
  const handler = createHandler({
    config,
    masterSecret:
      options.masterSecret ??
      new MasterSecretCache({
        client: new SecretsManagerClient({ region: 'eu-west-1' }),
        secretId: config.deviceSecretArn,
        ttlSeconds: config.secretCacheTtlSeconds,
      }),
    log: (entry) => entries.push(entry),
    now: () => options.now ?? new Date(),
  });
  /** Invokes and holds every result to AWS IoT's response rules. */
  const invoke = async (event: unknown, context: unknown = CONTEXT): Promise<IoTCustomAuthorizerResult> => {
    const result = await handler(event, context as typeof CONTEXT);
    expect(authorizerResponseProblems(result)).toEqual([]);
    return result;
  };
  return { handler, invoke, entries };
}

describe('recorded events', () => {
  it('denies the AWS documentation example as sent (signed, with the placeholder token "aToken")', async () => {
    const { invoke, entries } = build();
    await expect(invoke(fixture('aws-doc-example'))).resolves.toEqual(DENIED);
    expect(entries).toEqual([
      {
        decision: 'DENY',
        reason: 'TOKEN_MALFORMED',
        mode: 'signed',
        clientId: 'test-1',
        connectionId: 'e56f08c3-c559-490f-aa9f-7e8427d0f57b',
        principalId: 'denied',
        durationMs: expect.any(Number) as number,
        detail: 'token is not base64url-encoded JSON',
      },
    ]);
  });

  it('denies the AWS documentation example through the unsigned path as UNKNOWN_DEVICE (alice is not under the prefix)', async () => {
    const { invoke, entries } = build();
    await expect(invoke({ ...fixture('aws-doc-example'), signatureVerified: false })).resolves.toEqual(
      DENIED,
    );
    expect(entries[0]).toMatchObject({
      decision: 'DENY',
      reason: 'UNKNOWN_DEVICE',
      mode: 'unsigned',
    });
    expect(entries[0]).not.toHaveProperty('deviceId');
    expect(secretFetches()).toBe(0);
  });

  it.each([
    ['sdk-direct-unsigned', 'unsigned', 'PASSWORD_OK', 'test-direct-1'],
    ['sdk-websocket-unsigned', 'unsigned', 'PASSWORD_OK', 'test-websocket-1'],
    ['sdk-direct-signed', 'signed', 'TOKEN_OK', 'test-signed-direct-1'],
    ['sdk-websocket-signed', 'signed', 'TOKEN_OK', 'test-signed-websocket-1'],
    ['test-invoke-authorizer-mqtt-context', 'unsigned', 'PASSWORD_OK', 'test-smoke-1'],
  ])('allows the JS SDK / CLI event %s with the exact policies', async (name, mode, reason, clientId) => {
    const { invoke, entries } = build({ now: FIXTURE_NOW });
    const event = fixture(name);
    await expect(invoke(event)).resolves.toEqual(allowed(mode === 'unsigned' ? clientId : undefined));
    expect(entries).toEqual([
      {
        decision: 'ALLOW',
        reason,
        mode,
        clientId,
        deviceId: clientId,
        connectionId: (event.connectionMetadata as { id: string }).id,
        principalId: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
        durationMs: expect.any(Number) as number,
      },
    ]);
    expect(secretFetches()).toBe(mode === 'unsigned' ? 1 : 0);
  });

  it('allows a TestInvokeAuthorizer event with only a token (no protocolData), logging no client id', async () => {
    const { invoke, entries } = build({ now: FIXTURE_NOW });
    await expect(invoke(fixture('test-invoke-authorizer-token-only'))).resolves.toEqual(allowed());
    expect(entries[0]).toEqual({
      decision: 'ALLOW',
      reason: 'TOKEN_OK',
      mode: 'signed',
      deviceId: 'test-invoke-1',
      connectionId: '2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a',
      principalId: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
      durationMs: expect.any(Number) as number,
    });
  });

  it('denies an unsigned TestInvokeAuthorizer event without protocolData', async () => {
    const { invoke, entries } = build();
    const event = fixture('test-invoke-authorizer-token-only');
    await expect(invoke({ ...event, signatureVerified: false })).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({ reason: 'MISSING_CREDENTIALS', mode: 'unsigned' });
    expect(secretFetches()).toBe(0);
  });
});

describe('principalId', () => {
  it('is a stable alphanumeric pseudonym per device, never the user name', async () => {
    const { invoke } = build();
    const a1 = await invoke(deviceEvent({ username: `${DEVICE}?x=1` }));
    const a2 = await invoke(deviceEvent());
    const withoutClientId = await invoke(unsignedEvent({ username: DEVICE, password: PASSWORD_B64 }));
    const b = await invoke(
      unsignedEvent({ username: 'test-2', password: base64(devicePassword('test-2')), clientId: 'test-2' }),
    );
    expect(a1.principalId).toBe(a2.principalId);
    expect(withoutClientId.principalId).toBe(a1.principalId);
    expect(b.principalId).not.toBe(a1.principalId);
    for (const result of [a1, b]) {
      expect(result.principalId).toMatch(/^[0-9a-f]{32}$/);
      expect(result.principalId).not.toContain('test');
    }
  });
});

describe('signed mode', () => {
  const token = (clientId: string, lifetimeSeconds = 3600, now = FIXTURE_TOKEN_ISSUED_AT): string =>
    createToken({ clientId, lifetimeSeconds, now });
  const at = (secondsAfterIssue: number): Date =>
    new Date(FIXTURE_TOKEN_ISSUED_AT.getTime() + secondsAfterIssue * 1000);

  it('allows a token bound to the connecting client id and does not read the secret', async () => {
    const { invoke } = build({ now: at(1) });
    await expect(invoke(signedEvent(token('test-7'), 'test-7'))).resolves.toEqual(allowed());
    expect(secretFetches()).toBe(0);
  });

  it.each([
    ['expired beyond the clock skew', at(3600 + 61), 'TOKEN_EXPIRED', 'token has expired'],
    [
      'issued in the future beyond the clock skew',
      at(-61),
      'TOKEN_NOT_YET_VALID',
      'token is issued in the future',
    ],
  ])('denies a token %s', async (_label, now, reason, detail) => {
    const { invoke, entries } = build({ now });
    await expect(invoke(signedEvent(token('test-7'), 'test-7'))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      decision: 'DENY',
      reason,
      mode: 'signed',
      clientId: 'test-7',
      detail,
    });
  });

  it.each([
    ['just expired, within the clock skew', at(3600 + 60)],
    ['issued just ahead, within the clock skew', at(-60)],
  ])('allows a token %s', async (_label, now) => {
    const { invoke } = build({ now });
    await expect(invoke(signedEvent(token('test-7'), 'test-7'))).resolves.toEqual(allowed());
  });

  it('honours TOKEN_CLOCK_SKEW_SECONDS', async () => {
    const { invoke, entries } = build({ now: at(3600 + 6), config: { tokenClockSkewSeconds: 5 } });
    await expect(invoke(signedEvent(token('test-7'), 'test-7'))).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe('TOKEN_EXPIRED');
  });

  it('denies a token living longer than the maximum lifetime', async () => {
    const { invoke, entries } = build({ now: at(1) });
    await expect(invoke(signedEvent(token('test-7', 3601), 'test-7'))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      reason: 'TOKEN_LIFETIME_TOO_LONG',
      detail: 'token lifetime 3601s exceeds the maximum of 3600s',
    });
  });

  it('denies a token issued for another client id', async () => {
    const { invoke, entries } = build({ now: at(1) });
    await expect(invoke(signedEvent(token('test-7'), 'test-8'))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({ reason: 'TOKEN_CLIENT_ID_MISMATCH', clientId: 'test-8' });
  });

  it.each([
    ['outside the prefix', 'prod-7', "token claim: client id does not start with 'test-'"],
    [
      'with a wildcard',
      'test-#',
      'token claim: client id contains "#"; only A-Z a-z 0-9 _ . : - are allowed',
    ],
  ])(
    'denies a token whose own client id is %s when the event has no client id',
    async (_label, claim, detail) => {
      const { invoke, entries } = build({ now: at(1) });
      await expect(invoke({ token: token(claim), signatureVerified: true })).resolves.toEqual(DENIED);
      expect(entries[0]).toMatchObject({ reason: 'TOKEN_CLIENT_ID_NOT_ALLOWED', detail });
    },
  );

  it.each([
    ['no token', undefined, 'TOKEN_MISSING'],
    ['an empty token', '', 'TOKEN_MISSING'],
    ['a number', 42, 'TOKEN_MALFORMED'],
    ['base64url that is not JSON', 'bm90IGpzb24', 'TOKEN_MALFORMED'],
    ['JSON without claims', Buffer.from('{"a":1}').toString('base64url'), 'TOKEN_MALFORMED'],
    ['standard base64 padding', `${token('test-7')}==`, 'TOKEN_MALFORMED'],
    ['a huge token', 'A'.repeat(100_000), 'TOKEN_MALFORMED'],
    [
      'exp before iat',
      Buffer.from('{"clientId":"test-7","iat":1767225600,"exp":1767225500}').toString('base64url'),
      'TOKEN_MALFORMED',
    ],
  ])('denies %s', async (_label, value, reason) => {
    const { invoke, entries } = build({ now: at(1) });
    await expect(invoke(signedEvent(value, 'test-7'))).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe(reason);
  });

  it('ignores a correct password: signed mode decides on the token only', async () => {
    const { invoke, entries } = build({ now: at(1) });
    const event = signedEvent('not-a-token', 'test-7');
    (event.protocolData as { mqtt: Record<string, unknown> }).mqtt.password = PASSWORD_B64;
    (event.protocolData as { mqtt: Record<string, unknown> }).mqtt.username = 'device';
    await expect(invoke(event)).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe('TOKEN_MALFORMED');
  });

  it('is only chosen by signatureVerified === true: a valid token with signatureVerified false needs the password', async () => {
    const { invoke, entries } = build({ now: at(1) });
    for (const signatureVerified of [false, 'true', 1, undefined]) {
      await expect(invoke({ ...signedEvent(token('test-7'), 'test-7'), signatureVerified })).resolves.toEqual(
        DENIED,
      );
    }
    expect(entries.map((entry) => [entry.mode, entry.reason])).toEqual(
      Array.from({ length: 4 }, () => ['unsigned', 'MISSING_CREDENTIALS']),
    );
  });
});

describe('unsigned mode', () => {
  it('uses only the user part before "?" of the username as the device id', async () => {
    const { invoke } = build();
    for (const username of [
      DEVICE,
      `${DEVICE}?`,
      `${DEVICE}?x-amz-customauthorizer-name=a?b&SDK=x&Metadata=(a=b;c)`,
    ]) {
      await expect(invoke(deviceEvent({ username }))).resolves.toEqual(allowed(DEVICE));
    }
  });

  it("returns that device's policies alone and logs the device id, never the password", async () => {
    const { invoke, entries } = build();
    await expect(invoke(deviceEvent())).resolves.toEqual(allowed(DEVICE));
    expect(entries[0]).toMatchObject({ decision: 'ALLOW', reason: 'PASSWORD_OK', deviceId: DEVICE });
    expect(JSON.stringify(entries)).not.toContain(devicePassword(DEVICE));
  });

  it.each([
    ['of equal length', base64(devicePassword(DEVICE).replace(/^./, (c) => (c === 'A' ? 'B' : 'A')))],
    ['of different length', base64('short')],
    ['of the password base64-encoded twice', base64(PASSWORD_B64)],
    ['of another device', base64(devicePassword('test-2'))],
    [
      'derived from another master key',
      base64(devicePassword(DEVICE, 'another-master-key-0123456789abcdef')),
    ],
  ])('denies a wrong password %s with BAD_PASSWORD', async (_label, password) => {
    const { invoke, entries } = build();
    await expect(invoke(deviceEvent({ password }))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      decision: 'DENY',
      reason: 'BAD_PASSWORD',
      clientId: DEVICE,
      deviceId: DEVICE,
    });
    expect(entries[0]).not.toHaveProperty('detail');
  });

  it("denies a device's password sent with another device's user name", async () => {
    const { invoke, entries } = build();
    await expect(invoke(deviceEvent({ username: 'test-2', clientId: 'test-2' }))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({ reason: 'BAD_PASSWORD', deviceId: 'test-2' });
  });

  it.each([
    ['nothing before "?"', '?x-amz-customauthorizer-name=a', 'MALFORMED_USERNAME'],
    ['empty', '', 'MALFORMED_USERNAME'],
    ['a wildcard', 'test-#', 'USERNAME_NOT_CLIENT_ID'],
    ['a slash', 'test-a/b', 'USERNAME_NOT_CLIENT_ID'],
    ['percent-encoding', 'test-%31', 'USERNAME_NOT_CLIENT_ID'],
    ['longer than 128 bytes', `test-${'x'.repeat(124)}`, 'USERNAME_NOT_CLIENT_ID'],
    ['outside the prefix', 'device', 'UNKNOWN_DEVICE'],
    ['in another case', 'Test-1', 'UNKNOWN_DEVICE'],
  ])('denies a user name that is %s with %s, before reading the secret', async (_label, username, reason) => {
    const { invoke, entries } = build();
    await expect(invoke(deviceEvent({ username }))).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe(reason);
    expect(entries[0]).not.toHaveProperty('deviceId');
    expect(secretFetches()).toBe(0);
  });

  it('denies a revoked device with DEVICE_REVOKED, and only that device', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        ...DEVICE_SECRET,
        revokedDevices: { [DEVICE]: '2026-01-01T00:00:00.000Z' },
      }),
    });
    const { invoke, entries } = build();
    await expect(invoke(deviceEvent())).resolves.toEqual(DENIED);
    await expect(
      invoke(
        unsignedEvent({ username: 'test-2', password: base64(devicePassword('test-2')), clientId: 'test-2' }),
      ),
    ).resolves.toEqual(allowed('test-2'));
    expect(entries.map((entry) => entry.reason)).toEqual(['DEVICE_REVOKED', 'PASSWORD_OK']);
  });

  it('tells a revoked device nothing a wrong password would not: a bad password of a revoked device is BAD_PASSWORD', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        ...DEVICE_SECRET,
        revokedDevices: { [DEVICE]: '2026-01-01T00:00:00.000Z' },
      }),
    });
    const { invoke, entries } = build();
    await expect(invoke(deviceEvent({ password: base64('x'.repeat(43)) }))).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe('BAD_PASSWORD');
  });

  it('accepts the previous master key until the end of the grace period, then only the current one', async () => {
    const oldKey = 'the-previous-master-key-0123456789abcdef';
    secretsManager.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        ...DEVICE_SECRET,
        previousMasterKey: oldKey,
        previousMasterKeyValidUntil: '2026-02-01T00:00:00.000Z',
      }),
    });
    const oldPassword = base64(devicePassword(DEVICE, oldKey));
    const during = build({ now: new Date('2026-01-31T23:59:59Z') });
    await expect(during.invoke(deviceEvent({ password: oldPassword }))).resolves.toEqual(allowed(DEVICE));
    await expect(during.invoke(deviceEvent())).resolves.toEqual(allowed(DEVICE));
    const after = build({ now: new Date('2026-02-01T00:00:00Z') });
    await expect(after.invoke(deviceEvent({ password: oldPassword }))).resolves.toEqual(DENIED);
    await expect(after.invoke(deviceEvent())).resolves.toEqual(allowed(DEVICE));
    expect(after.entries.map((entry) => entry.reason)).toEqual(['BAD_PASSWORD', 'PASSWORD_OK']);
  });

  it.each([
    ['not base64 at all', 'not base64!'],
    ['base64url', Buffer.from('\u00ff\u00fe\u00fd', 'latin1').toString('base64url')],
    ['unpadded', PASSWORD_B64.replace(/=+$/, '') + 'A'],
    ['with a line break', `${PASSWORD_B64.slice(0, 8)}\n${PASSWORD_B64.slice(8)}`],
  ])(
    'denies a password that is %s with PASSWORD_NOT_BASE64, before reading the secret',
    async (_label, password) => {
      const { invoke, entries } = build();
      await expect(invoke(deviceEvent({ password }))).resolves.toEqual(DENIED);
      expect(entries[0]?.reason).toBe('PASSWORD_NOT_BASE64');
      expect(secretFetches()).toBe(0);
    },
  );

  it.each([
    ['no username', { password: PASSWORD_B64 }],
    ['no password', { username: DEVICE }],
    ['an empty password', { username: DEVICE, password: '' }],
    ['a numeric password', { username: DEVICE, password: 1234 }],
    ['a username array', { username: [DEVICE], password: PASSWORD_B64 }],
  ])('denies %s with MISSING_CREDENTIALS', async (_label, fields) => {
    const { invoke, entries } = build();
    await expect(invoke(unsignedEvent({ ...fields, clientId: DEVICE }))).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe('MISSING_CREDENTIALS');
  });

  it.each([
    ['username', { username: 'd'.repeat(65_536), password: PASSWORD_B64 }],
    ['password', { username: DEVICE, password: 'A'.repeat(87_384) }],
  ])('denies a %s longer than MQTT allows with CREDENTIALS_TOO_LONG', async (_label, fields) => {
    const { invoke, entries } = build();
    await expect(invoke(unsignedEvent(fields))).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe('CREDENTIALS_TOO_LONG');
  });

  it("allows without a client id (the connect policy still allows only the device's own)", async () => {
    const { invoke, entries } = build();
    await expect(invoke(unsignedEvent({ username: DEVICE, password: PASSWORD_B64 }))).resolves.toEqual(
      allowed(DEVICE),
    );
    expect(entries[0]).not.toHaveProperty('clientId');
    expect(entries[0]).toMatchObject({ deviceId: DEVICE });
  });

  it('refuses with SECRET_UNAVAILABLE, as an authenticated deny-all (0x87, not 0x86), when Secrets Manager fails', async () => {
    secretsManager.on(GetSecretValueCommand).rejects(new Error('connect ECONNREFUSED 10.0.0.1:443'));
    const { invoke, entries } = build();
    await expect(invoke(fixture('sdk-direct-unsigned'))).resolves.toEqual(REFUSED);
    expect(entries[0]).toMatchObject({
      decision: 'DENY',
      reason: 'SECRET_UNAVAILABLE',
      principalId: UNVERIFIED_PRINCIPAL_ID,
      detail: 'cannot read the master secret from Secrets Manager: Error: connect ECONNREFUSED 10.0.0.1:443',
    });
  });

  it.each([
    ['not JSON', 'plain-password'],
    ['the old shared-password shape', '{"username":"device","password":"x"}'],
    ['a short master key', '{"masterKey":"short"}'],
  ])('refuses with SECRET_INVALID (deny-all) when the secret is %s', async (_label, secretString) => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: secretString });
    const { invoke, entries } = build();
    await expect(invoke(fixture('sdk-direct-unsigned'))).resolves.toEqual(REFUSED);
    expect(entries[0]?.reason).toBe('SECRET_INVALID');
    expect(entries[0]?.detail).toMatch(/^the master secret is unusable: /);
  });

  it('refuses with SECRET_UNAVAILABLE, naming only the error class, when a secret source fails oddly', async () => {
    const { invoke, entries } = build({
      masterSecret: { get: () => Promise.reject(new TypeError(`boom ${DEVICE_SECRET.masterKey}`)) },
    });
    await expect(invoke(fixture('sdk-direct-unsigned'))).resolves.toEqual(REFUSED);
    expect(entries[0]).toMatchObject({ reason: 'SECRET_UNAVAILABLE', detail: 'TypeError' });
  });

  it('refuses in time when Secrets Manager is slow', async () => {
    secretsManager.on(GetSecretValueCommand).callsFake(() => new Promise(() => undefined));
    const config = loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN });
    const entries: DecisionLogEntry[] = [];
    const handler = createHandler({
      config,
      masterSecret: new MasterSecretCache({
        client: new SecretsManagerClient({ region: 'eu-west-1' }),
        secretId: SECRET_ARN,
        ttlSeconds: 300,
        fetchTimeoutMs: 150,
      }),
      log: (entry) => entries.push(entry),
    });
    await expect(handler(fixture('sdk-direct-unsigned'), CONTEXT)).resolves.toEqual(REFUSED);
    expect(entries[0]).toMatchObject({
      reason: 'SECRET_UNAVAILABLE',
      detail: 'Secrets Manager did not return the master secret within 150 ms',
    });
  });

  it('makes one Secrets Manager call for concurrent cold invocations', async () => {
    const { invoke } = build();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => invoke(fixture('sdk-direct-unsigned'))),
    );
    expect(results).toEqual(Array.from({ length: 20 }, () => allowed('test-direct-1')));
    expect(secretFetches()).toBe(1);
  });
});

describe('client ids', () => {
  it.each([
    ['+', 'test-+'],
    ['#', 'test-#'],
    ['/', 'test-a/b'],
    ['*', 'test-*'],
    ['?', 'test-?'],
    ['$', 'test-$aws'],
    ['a NUL', 'test-\u0000'],
    ['a newline', 'test-a\nb'],
    ['a space', 'test- a'],
    ['a non-ASCII letter', 'test-é'],
    ['the policy variable', 'test-${iot:ClientId}'],
  ])(
    'denies a client id with %s as UNSAFE_CLIENT_ID, in both modes, without reading the secret',
    async (_l, id) => {
      const { invoke, entries } = build({ now: FIXTURE_NOW });
      await expect(invoke(deviceEvent({ clientId: id }))).resolves.toEqual(DENIED);
      await expect(
        invoke(signedEvent(createToken({ clientId: id, lifetimeSeconds: 60 }), id)),
      ).resolves.toEqual(DENIED);
      expect(entries.map((entry) => [entry.mode, entry.reason])).toEqual([
        ['unsigned', 'UNSAFE_CLIENT_ID'],
        ['signed', 'UNSAFE_CLIENT_ID'],
      ]);
      // An unvalidated client id never reaches the log.
      expect(entries[0]).not.toHaveProperty('clientId');
      expect(secretFetches()).toBe(0);
    },
  );

  it.each([
    ['empty', '', 'client id is empty'],
    ['longer than 128 bytes', `test-${'x'.repeat(124)}`, 'client id is longer than 128 bytes'],
    ['huge', 'x'.repeat(1_000_000), 'client id is longer than 128 bytes'],
  ])('denies a client id that is %s as UNSAFE_CLIENT_ID', async (_label, id, detail) => {
    const { invoke, entries } = build();
    await expect(invoke(deviceEvent({ clientId: id }))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({ reason: 'UNSAFE_CLIENT_ID', detail });
  });

  it('accepts a device id and client id of exactly 128 bytes', async () => {
    const { invoke } = build();
    const id = `test-${'x'.repeat(123)}`;
    await expect(
      invoke(unsignedEvent({ username: id, password: base64(devicePassword(id)), clientId: id })),
    ).resolves.toEqual(allowed(id));
  });

  it.each([
    ["another device's", 'test-2'],
    ['outside the prefix', 'prod-1'],
  ])(
    "authenticates valid credentials with %s client id but returns only the device's own connect policy, logged as CLIENT_ID_NOT_DEVICE",
    async (_label, clientId) => {
      const { invoke, entries } = build();
      const result = await invoke(deviceEvent({ clientId }));
      expect(result).toEqual(allowed(DEVICE));
      expect(result.policyDocuments[0]?.Statement).toEqual([
        {
          Sid: 'ConnectAsDevice',
          Effect: 'Allow',
          Action: 'iot:Connect',
          Resource: `arn:aws:iot:eu-west-1:123456789012:client/${DEVICE}`,
        },
      ]);
      expect(entries[0]).toMatchObject({
        decision: 'ALLOW',
        reason: 'CLIENT_ID_NOT_DEVICE',
        clientId,
        deviceId: DEVICE,
      });
    },
  );

  it('authenticates a signed token with a client id outside the prefix only under the prefix policy, logged as CLIENT_ID_OUTSIDE_PREFIX', async () => {
    const { invoke, entries } = build({ now: FIXTURE_NOW });
    const token = createToken({ clientId: 'prod-1', lifetimeSeconds: 3600, now: FIXTURE_TOKEN_ISSUED_AT });
    await expect(invoke(signedEvent(token, 'prod-1'))).resolves.toEqual(allowed());
    expect(entries[0]).toMatchObject({
      decision: 'ALLOW',
      reason: 'CLIENT_ID_OUTSIDE_PREFIX',
      clientId: 'prod-1',
    });
  });

  it('still denies wrong credentials for another client id', async () => {
    const { invoke, entries } = build();
    const wrong = Buffer.from('nope').toString('base64');
    await expect(invoke(deviceEvent({ password: wrong, clientId: 'prod-1' }))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({ decision: 'DENY', reason: 'BAD_PASSWORD' });
  });

  it('denies a client id of the wrong type as MALFORMED_EVENT', async () => {
    const { invoke, entries } = build();
    await expect(invoke(deviceEvent({ clientId: 7 }))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      reason: 'MALFORMED_EVENT',
      detail: 'protocolData.mqtt.clientId is not a string',
    });
  });
});

describe('configuration and context', () => {
  it('builds the policies from the prefix, topic root, TTLs and the function ARN (partition, region, account)', async () => {
    const { invoke } = build({
      config: {
        clientIdPrefix: 'fleet-',
        topicRoot: 'plant/a',
        refreshAfterSeconds: 600,
        disconnectAfterSeconds: 3600,
      },
    });
    const event = unsignedEvent({
      username: 'fleet-9',
      password: base64(devicePassword('fleet-9')),
      clientId: 'fleet-9',
    });
    const result = await invoke(event, {
      invokedFunctionArn: 'arn:aws-cn:lambda:cn-north-1:210987654321:function:authorizer:live',
    });
    expect(result).toEqual({
      isAuthenticated: true,
      principalId: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
      disconnectAfterInSeconds: 3600,
      refreshAfterInSeconds: 600,
      policyDocuments: [
        {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'ConnectAsDevice',
              Effect: 'Allow',
              Action: 'iot:Connect',
              Resource: 'arn:aws-cn:iot:cn-north-1:210987654321:client/fleet-9',
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
                'arn:aws-cn:iot:cn-north-1:210987654321:topic/plant/a/fleet-9',
                'arn:aws-cn:iot:cn-north-1:210987654321:topic/plant/a/fleet-9/*',
              ],
            },
            {
              Sid: 'OwnTopicFilters',
              Effect: 'Allow',
              Action: 'iot:Subscribe',
              Resource: [
                'arn:aws-cn:iot:cn-north-1:210987654321:topicfilter/plant/a/fleet-9',
                'arn:aws-cn:iot:cn-north-1:210987654321:topicfilter/plant/a/fleet-9/*',
              ],
            },
          ],
        },
      ],
    });
    await expect(invoke({ signatureVerified: false }, CONTEXT)).resolves.toEqual({
      ...DENIED,
      disconnectAfterInSeconds: 3600,
      refreshAfterInSeconds: 600,
    });
  });

  it('keeps every policy document under 2,048 characters with the longest topic root and prefix', async () => {
    const { invoke } = build({
      config: { clientIdPrefix: 'p'.repeat(128), topicRoot: `${'t'.repeat(63)}/${'u'.repeat(64)}` },
    });
    const result = await invoke(
      unsignedEvent({
        username: 'p'.repeat(128),
        password: base64(devicePassword('p'.repeat(128))),
        clientId: 'p'.repeat(128),
      }),
      {
        invokedFunctionArn:
          'arn:aws-iso-b:lambda:us-isob-east-1:123456789012:function:a-very-long-function-name',
      },
    );
    expect(result.isAuthenticated).toBe(true);
  });

  it('reads the function ARN from any context object, including one with getters', async () => {
    const { invoke } = build();
    const context = {
      get invokedFunctionArn(): string {
        return CONTEXT.invokedFunctionArn;
      },
    };
    await expect(invoke(fixture('sdk-direct-unsigned'), context)).resolves.toEqual(allowed('test-direct-1'));
  });

  it.each([
    ['not an ARN', { invokedFunctionArn: 'authorizer' }],
    ['a short account', { invokedFunctionArn: 'arn:aws:lambda:eu-west-1:1234:function:x' }],
    ['missing', {}],
    ['not a string', { invokedFunctionArn: 42 }],
    ['a null context', null],
  ])('refuses with INVALID_FUNCTION_ARN (deny-all) when the function ARN is %s', async (_label, context) => {
    const { invoke, entries } = build();
    await expect(invoke(fixture('sdk-direct-unsigned'), context)).resolves.toEqual(REFUSED);
    expect(entries[0]).toMatchObject({ reason: 'INVALID_FUNCTION_ARN' });
    expect(secretFetches()).toBe(0);
  });
});

describe('malformed events', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'event'],
    ['an array', [fixture('sdk-direct-unsigned')]],
    ['protocolData as a string', { signatureVerified: false, protocolData: 'mqtt' }],
    ['protocolData null', { signatureVerified: false, protocolData: null }],
    ['mqtt as an array', { signatureVerified: false, protocolData: { mqtt: [] } }],
  ])('denies %s with MALFORMED_EVENT', async (_label, event) => {
    const { invoke, entries } = build();
    await expect(invoke(event)).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe('MALFORMED_EVENT');
  });

  it('ignores inherited properties: an event whose prototype holds credentials is not authenticated', async () => {
    const { invoke, entries } = build();
    const inherited = Object.create(fixture('sdk-direct-unsigned')) as object;
    await expect(invoke(inherited)).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe('MISSING_CREDENTIALS');
  });

  it('ignores unknown fields and does not log a connection id that is not one', async () => {
    const { invoke, entries } = build();
    const event = {
      ...fixture('sdk-direct-unsigned'),
      extra: { deeply: ['nested'] },
      connectionMetadata: { id: 'x'.repeat(65), more: 1 },
    };
    await expect(invoke(event)).resolves.toEqual(allowed('test-direct-1'));
    expect(entries[0]).not.toHaveProperty('connectionId');
  });

  it('never turns a logging failure into an exception', async () => {
    const handler = createHandler({
      config: loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN }),
      masterSecret: { get: () => Promise.resolve(MASTER_SECRET) },
      log: () => {
        throw new Error('EPIPE');
      },
    });
    await expect(handler(fixture('sdk-direct-unsigned'), CONTEXT)).resolves.toEqual(allowed('test-direct-1'));
  });
});
