import { createToken } from '@iot-custom-auth/protocol';
import type { IoTCustomAuthorizerResult } from 'aws-lambda';
import {
  CONTEXT,
  DEVICE_SECRET_STRING,
  EXPECTED_POLICIES,
  SECRET_ARN,
  devicePolicies,
  captureOutput,
  fixture,
  signedEvent,
  type CapturedOutput,
} from './support/events';
import { FakeSecretsManager } from './support/fake-secrets-manager';
import { certificateEvent, createDeviceCertificate, newKeys } from './support/certificates';

type HandlerModule = typeof import('../src/handler');

/**
 * The exported `handler` as the Lambda runtime loads it: a fresh module registry (a cold start) reading
 * `process.env`, with the real Secrets Manager client reaching the fake through AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
function coldStart(): HandlerModule['handler'] {
  let loaded: HandlerModule | undefined;
  jest.isolateModules(() => {
    loaded = jest.requireActual<HandlerModule>('../src/handler');
  });
  if (loaded === undefined) throw new Error('the handler module did not load');
  return loaded.handler;
}

/** The error a cold start throws. */
function coldStartError(): Error {
  try {
    coldStart();
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('the cold start did not throw');
}

const MANAGED_ENV = [
  'DEVICE_SECRET_ARN',
  'CLIENT_ID_PREFIX',
  'TOPIC_ROOT',
  'REFRESH_AFTER_SECONDS',
  'DISCONNECT_AFTER_SECONDS',
  'SECRET_CACHE_TTL_SECONDS',
  'TOKEN_MAX_LIFETIME_SECONDS',
  'TOKEN_CLOCK_SKEW_SECONDS',
  'X509_TRUSTED_CERTIFICATE_FINGERPRINTS',
  'AWS_LAMBDA_LOG_FORMAT',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
];

let fake: FakeSecretsManager;
let output: CapturedOutput;
const savedEnv: Record<string, string | undefined> = {};

function setEnv(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

beforeEach(async () => {
  for (const name of MANAGED_ENV) savedEnv[name] = process.env[name];
  fake = await FakeSecretsManager.start();
  fake.behaviour = { kind: 'secret', secretString: DEVICE_SECRET_STRING };
  setEnv(Object.fromEntries(MANAGED_ENV.map((name) => [name, undefined])));
  setEnv({
    DEVICE_SECRET_ARN: SECRET_ARN,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: fake.url,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret-key',
    // Keep any developer configuration on this machine out of the SDK's way.
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  setEnv(savedEnv);
  await fake.stop();
});

const DENIED: IoTCustomAuthorizerResult = {
  isAuthenticated: false,
  principalId: 'denied',
  disconnectAfterInSeconds: 86_400,
  refreshAfterInSeconds: 300,
  policyDocuments: [],
};

/** An authenticated deny-all: the authorizer could not check the credentials (AWS IoT answers 0x87). */
const REFUSED: IoTCustomAuthorizerResult = {
  isAuthenticated: true,
  principalId: 'unverified',
  disconnectAfterInSeconds: 86_400,
  refreshAfterInSeconds: 300,
  policyDocuments: [
    {
      Version: '2012-10-17',
      Statement: [{ Sid: 'AuthorizerUnavailable', Effect: 'Deny', Action: 'iot:*', Resource: '*' }],
    },
  ],
};

/** A signed allow (the prefix policies). */
const ALLOWED: IoTCustomAuthorizerResult = {
  isAuthenticated: true,
  principalId: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
  disconnectAfterInSeconds: 86_400,
  refreshAfterInSeconds: 300,
  policyDocuments: EXPECTED_POLICIES,
};

/** The unsigned allow of the direct fixture's device. */
const ALLOWED_DIRECT: IoTCustomAuthorizerResult = {
  ...ALLOWED,
  policyDocuments: devicePolicies('test-direct-1'),
};

/** The decision lines written (text log format: one JSON string per console call). */
function decisions(): Record<string, unknown>[] {
  return output.entries
    .filter((entry) => entry.channel.startsWith('console.') && typeof entry.args[0] === 'string')
    .map((entry) => JSON.parse(entry.args[0] as string) as Record<string, unknown>);
}

describe('cold start', () => {
  it('throws a ConfigError naming DEVICE_SECRET_ARN when it is not set', () => {
    setEnv({ DEVICE_SECRET_ARN: undefined });
    const error = coldStartError();
    expect(error.name).toBe('ConfigError');
    expect(error.message).toMatch(
      /^`DEVICE_SECRET_ARN` is not set: set it to the ARN of the Secrets Manager master secret/,
    );
  });

  it('throws a ConfigError for a TTL outside 300..86400', () => {
    setEnv({ REFRESH_AFTER_SECONDS: '10' });
    const error = coldStartError();
    expect(error.name).toBe('ConfigError');
    expect(error.message).toBe(
      "`REFRESH_AFTER_SECONDS` must be an integer between 300 and 86400, but '10' was provided",
    );
  });

  it('throws a ConfigError for a fingerprint in X509_TRUSTED_CERTIFICATE_FINGERPRINTS that is not SHA-256', () => {
    setEnv({ X509_TRUSTED_CERTIFICATE_FINGERPRINTS: 'ab:cd' });
    const error = coldStartError();
    expect(error.name).toBe('ConfigError');
    expect(error.message).toMatch(
      /^`X509_TRUSTED_CERTIFICATE_FINGERPRINTS` must be a comma-separated list of SHA-256/,
    );
  });
});

describe('handler: X.509 mode', () => {
  it('pins certificates from X509_TRUSTED_CERTIFICATE_FINGERPRINTS and never calls Secrets Manager', async () => {
    const keys = await newKeys();
    const listed = await createDeviceCertificate(keys, { commonName: 'test-mtls-demo' });
    const other = await createDeviceCertificate(keys, { commonName: 'test-mtls-demo' });
    setEnv({
      X509_TRUSTED_CERTIFICATE_FINGERPRINTS: listed.certificateId.toUpperCase().match(/../g)!.join(':'),
    });
    const handler = coldStart();
    await expect(handler(certificateEvent(listed), CONTEXT)).resolves.toMatchObject({
      isAuthenticated: true,
      principalId: listed.certificateId,
      policyDocuments: devicePolicies('test-mtls-demo'),
    });
    await expect(handler(certificateEvent(other), CONTEXT)).resolves.toMatchObject({
      isAuthenticated: false,
      policyDocuments: [],
    });
    expect(decisions().map((line) => [line.decision, line.reason, line.mode, line.certificateId])).toEqual([
      ['ALLOW', 'X509_OK', 'x509', listed.certificateId],
      ['DENY', 'X509_CERTIFICATE_NOT_TRUSTED', 'x509', other.certificateId],
    ]);
    expect(fake.requests).toEqual([]);
  });
});

describe('handler', () => {
  it('allows the JS SDK direct and WebSocket events with the TTLs from the environment', async () => {
    setEnv({ REFRESH_AFTER_SECONDS: '600', DISCONNECT_AFTER_SECONDS: '7200' });
    const handler = coldStart();
    const ttls = { refreshAfterInSeconds: 600, disconnectAfterInSeconds: 7200 };
    await expect(handler(fixture('sdk-direct-unsigned'), CONTEXT)).resolves.toEqual({
      ...ALLOWED_DIRECT,
      ...ttls,
    });
    await expect(handler(fixture('sdk-websocket-unsigned'), CONTEXT)).resolves.toEqual({
      ...ALLOWED,
      ...ttls,
      policyDocuments: devicePolicies('test-websocket-1'),
    });
    expect(fake.requests).toEqual([
      { target: 'secretsmanager.GetSecretValue', secretId: SECRET_ARN, signed: true, region: 'eu-west-1' },
    ]);
    expect(decisions().map((line) => [line.decision, line.reason, line.clientId])).toEqual([
      ['ALLOW', 'PASSWORD_OK', 'test-direct-1'],
      ['ALLOW', 'PASSWORD_OK', 'test-websocket-1'],
    ]);
  });

  it("calls Secrets Manager in the secret ARN's region, whatever the function's region", async () => {
    setEnv({ AWS_REGION: 'us-east-1' });
    await expect(coldStart()(fixture('sdk-direct-unsigned'), CONTEXT)).resolves.toEqual(ALLOWED_DIRECT);
    expect(fake.requests.map((request) => request.region)).toEqual(['eu-west-1']);
  });

  it('allows a fresh signed token and denies an expired one', async () => {
    const handler = coldStart();
    const fresh = createToken({ clientId: 'test-signed-1', lifetimeSeconds: 600 });
    const expired = createToken({
      clientId: 'test-signed-1',
      lifetimeSeconds: 600,
      now: new Date(Date.now() - 2 * 3600_000),
    });
    await expect(handler(signedEvent(fresh, 'test-signed-1'), CONTEXT)).resolves.toEqual(ALLOWED);
    await expect(handler(signedEvent(expired, 'test-signed-1'), CONTEXT)).resolves.toEqual(DENIED);
    await expect(handler({ token: fresh, signatureVerified: true, protocols: [] }, CONTEXT)).resolves.toEqual(
      ALLOWED,
    );
    expect(decisions().map((line) => line.reason)).toEqual(['TOKEN_OK', 'TOKEN_EXPIRED', 'TOKEN_OK']);
    expect(fake.requests).toEqual([]);
  });

  it('makes one Secrets Manager call for concurrent cold invocations, and none while cached', async () => {
    const handler = coldStart();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => handler(fixture('sdk-direct-unsigned'), CONTEXT)),
    );
    expect(results).toEqual(Array.from({ length: 20 }, () => ALLOWED_DIRECT));
    expect(fake.requests).toHaveLength(1);
    await handler(fixture('sdk-websocket-unsigned'), CONTEXT);
    expect(fake.requests).toHaveLength(1);
  });

  it('reads the secret for every connection with SECRET_CACHE_TTL_SECONDS=0', async () => {
    setEnv({ SECRET_CACHE_TTL_SECONDS: '0' });
    const handler = coldStart();
    await handler(fixture('sdk-direct-unsigned'), CONTEXT);
    await handler(fixture('sdk-direct-unsigned'), CONTEXT);
    expect(fake.requests).toHaveLength(2);
  });

  it('refuses (deny-all, 0x87), and logs at ERROR, when Secrets Manager is down', async () => {
    const handler = coldStart();
    await fake.stop();
    await expect(handler(fixture('sdk-direct-unsigned'), CONTEXT)).resolves.toEqual(REFUSED);
    const [entry] = output.entries.filter((e) => e.channel === 'console.error');
    expect(JSON.parse(entry?.args[0] as string)).toMatchObject({
      decision: 'DENY',
      reason: 'SECRET_UNAVAILABLE',
      mode: 'unsigned',
      clientId: 'test-direct-1',
      deviceId: 'test-direct-1',
      detail: expect.stringMatching(/^cannot read the master secret from Secrets Manager: /) as unknown,
    });
    fake = await FakeSecretsManager.start();
  });

  it('refuses when Secrets Manager answers with an error', async () => {
    fake.behaviour = {
      kind: 'error',
      status: 400,
      type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    };
    await expect(coldStart()(fixture('sdk-direct-unsigned'), CONTEXT)).resolves.toEqual(REFUSED);
    expect(decisions()[0]).toMatchObject({
      reason: 'SECRET_UNAVAILABLE',
      detail:
        "cannot read the master secret from Secrets Manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.",
    });
  });

  it('refuses after its 2 s fetch timeout when Secrets Manager is slow, and recovers on the next connection', async () => {
    fake.behaviour = { kind: 'hang' };
    const handler = coldStart();
    const started = Date.now();
    await expect(handler(fixture('sdk-direct-unsigned'), CONTEXT)).resolves.toEqual(REFUSED);
    const elapsed = Date.now() - started;
    // It waited for its own 2 s fetch timeout (well inside AWS IoT's 5 s invoke limit), not for Secrets Manager.
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(decisions()[0]).toMatchObject({
      reason: 'SECRET_UNAVAILABLE',
      detail: 'Secrets Manager did not return the master secret within 2000 ms',
    });
    fake.behaviour = { kind: 'secret', secretString: DEVICE_SECRET_STRING };
    await expect(handler(fixture('sdk-direct-unsigned'), CONTEXT)).resolves.toEqual(ALLOWED_DIRECT);
  });

  it('passes the decision as an object under the JSON log format', async () => {
    setEnv({ AWS_LAMBDA_LOG_FORMAT: 'JSON' });
    await coldStart()(fixture('sdk-direct-unsigned'), CONTEXT);
    const consoleCalls = output.entries.filter((entry) => entry.channel.startsWith('console.'));
    expect(consoleCalls.map((entry) => [entry.channel, entry.args])).toEqual([
      [
        'console.info',
        [
          {
            decision: 'ALLOW',
            reason: 'PASSWORD_OK',
            mode: 'unsigned',
            clientId: 'test-direct-1',
            deviceId: 'test-direct-1',
            connectionId: '0b6d5a6e-3f41-4f0f-9c59-2a6f1c7e8d01',
            principalId: expect.stringMatching(/^[0-9a-f]{32}$/) as unknown,
            durationMs: expect.any(Number) as unknown,
          },
        ],
      ],
    ]);
  });
});
