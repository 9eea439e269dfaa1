import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { AUTHORIZER_INVOKE_TIMEOUT_SECONDS } from '@iot-custom-auth/protocol';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import {
  CredentialsUnavailableError,
  DEFAULT_SECRET_FETCH_TIMEOUT_MS,
  MasterSecretCache,
  type MasterSecretCacheOptions,
} from '../src';
import { DEVICE_SECRET_STRING, MASTER_SECRET, SECRET_ARN } from './support/events';
import { FakeSecretsManager } from './support/fake-secrets-manager';

function cache(options: Partial<MasterSecretCacheOptions> = {}): MasterSecretCache {
  return new MasterSecretCache({
    client: new SecretsManagerClient({ region: 'eu-west-1' }),
    secretId: SECRET_ARN,
    ttlSeconds: 300,
    ...options,
  });
}

async function rejection(promise: Promise<unknown>): Promise<CredentialsUnavailableError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CredentialsUnavailableError) return error;
    throw error;
  }
  throw new Error('the promise resolved');
}

describe('MasterSecretCache', () => {
  let secretsManager: AwsClientStub<SecretsManagerClient>;

  beforeAll(() => {
    secretsManager = mockClient(SecretsManagerClient);
  });
  afterEach(() => secretsManager.reset());
  afterAll(() => secretsManager.restore());

  it('reads the secret by its ARN and parses the credentials', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: DEVICE_SECRET_STRING });
    await expect(cache().get()).resolves.toEqual(MASTER_SECRET);
    expect(secretsManager.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([
      { SecretId: SECRET_ARN },
    ]);
  });

  it('reuses the credentials for the TTL and fetches again once it has passed', async () => {
    let now = 1_000_000;
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: DEVICE_SECRET_STRING });
    const credentials = cache({ ttlSeconds: 300, now: () => now });
    await credentials.get();
    now += 299_999;
    await credentials.get();
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    now += 1;
    await expect(credentials.get()).resolves.toEqual(MASTER_SECRET);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('shares one in-flight fetch between concurrent callers', async () => {
    let release: (() => void) | undefined;
    secretsManager.on(GetSecretValueCommand).callsFake(
      () =>
        new Promise((resolve) => {
          release = () => resolve({ SecretString: DEVICE_SECRET_STRING });
        }),
    );
    const credentials = cache();
    const calls = Array.from({ length: 25 }, () => credentials.get());
    await new Promise(setImmediate);
    release?.();
    await expect(Promise.all(calls)).resolves.toEqual(Array.from({ length: 25 }, () => MASTER_SECRET));
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('fetches for every call with a TTL of 0, still one fetch at a time', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: DEVICE_SECRET_STRING });
    const credentials = cache({ ttlSeconds: 0 });
    await Promise.all([credentials.get(), credentials.get()]);
    await credentials.get();
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('fails with SECRET_UNAVAILABLE when Secrets Manager fails, and tries again on the next call', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejectsOnce(
        new ResourceNotFoundException({
          message: "Secrets Manager can't find the specified secret.",
          $metadata: {},
        }),
      )
      .resolves({ SecretString: DEVICE_SECRET_STRING });
    const credentials = cache();
    const error = await rejection(credentials.get());
    expect(error).toMatchObject({
      name: 'CredentialsUnavailableError',
      reason: 'SECRET_UNAVAILABLE',
      message:
        "cannot read the master secret from Secrets Manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.",
    });
    expect(error.cause).toBeInstanceOf(ResourceNotFoundException);
    await expect(credentials.get()).resolves.toEqual(MASTER_SECRET);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('does not fall back to expired credentials when the refresh fails (a rotated password stops working)', async () => {
    let now = 0;
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: DEVICE_SECRET_STRING })
      .rejects(new Error('socket hang up'));
    const credentials = cache({ ttlSeconds: 60, now: () => now });
    await credentials.get();
    now = 60_000;
    expect(await rejection(credentials.get())).toMatchObject({ reason: 'SECRET_UNAVAILABLE' });
  });

  it.each([
    [
      'that is not JSON',
      { SecretString: 'Fixture-Master-Key-7f3c9a1e5b2d8c4f6a0e9b3d' },
      'the SecretString is not JSON',
    ],
    [
      'without a master key',
      { SecretString: '{"username":"device","password":"Fixture-Master-Key-7f3c9a1e5b2d8c4f6a0e9b3d"}' },
      '"masterKey" must be a string',
    ],
    [
      'with a short master key',
      { SecretString: '{"masterKey":"Fixture"}' },
      '"masterKey" must be at least 32 characters (it has 7)',
    ],
    [
      'that is binary',
      { SecretBinary: new Uint8Array([1, 2, 3]) },
      'the secret has no SecretString (a binary secret?)',
    ],
  ])('fails with SECRET_INVALID for a secret %s, without echoing it', async (_label, output, problem) => {
    secretsManager.on(GetSecretValueCommand).resolves(output);
    const error = await rejection(cache().get());
    expect(error.reason).toBe('SECRET_INVALID');
    expect(error.message).toBe(
      `the master secret is unusable: ${problem}; put a value of the shape the authorizer-lambda README describes (PutSecretValue)`,
    );
    expect(error.message).not.toContain('Fixture-Master');
  });

  it('gives up after fetchTimeoutMs when Secrets Manager does not answer', async () => {
    secretsManager.on(GetSecretValueCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();
    const error = await rejection(cache({ fetchTimeoutMs: 100 }).get());
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({
      reason: 'SECRET_UNAVAILABLE',
      message: 'Secrets Manager did not return the master secret within 100 ms',
    });
    expect(elapsed).toBeGreaterThanOrEqual(95);
  });

  it('keeps the default fetch timeout well inside the AWS IoT invoke timeout', () => {
    expect(DEFAULT_SECRET_FETCH_TIMEOUT_MS).toBe(2000);
    expect(DEFAULT_SECRET_FETCH_TIMEOUT_MS).toBeLessThanOrEqual(
      (AUTHORIZER_INVOKE_TIMEOUT_SECONDS * 1000) / 2,
    );
  });
});

describe('MasterSecretCache with the real SDK against a local Secrets Manager endpoint', () => {
  let fake: FakeSecretsManager;

  beforeEach(async () => {
    fake = await FakeSecretsManager.start();
  });
  afterEach(async () => {
    await fake.stop();
  });

  function realClientCache(fetchTimeoutMs?: number): MasterSecretCache {
    return new MasterSecretCache({
      client: new SecretsManagerClient({
        region: 'eu-west-1',
        endpoint: fake.url,
        credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' },
      }),
      secretId: SECRET_ARN,
      ttlSeconds: 300,
      ...(fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs }),
    });
  }

  it('sends a signed GetSecretValue for the secret ARN', async () => {
    fake.behaviour = { kind: 'secret', secretString: DEVICE_SECRET_STRING };
    await expect(realClientCache().get()).resolves.toEqual(MASTER_SECRET);
    expect(fake.requests).toEqual([
      { target: 'secretsmanager.GetSecretValue', secretId: SECRET_ARN, signed: true, region: 'eu-west-1' },
    ]);
  });

  it('turns an AccessDeniedException into SECRET_UNAVAILABLE', async () => {
    fake.behaviour = {
      kind: 'error',
      status: 400,
      type: 'AccessDeniedException',
      message: 'User is not authorized to perform: secretsmanager:GetSecretValue',
    };
    expect(await rejection(realClientCache().get())).toMatchObject({
      reason: 'SECRET_UNAVAILABLE',
      message:
        'cannot read the master secret from Secrets Manager: AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue',
    });
  });

  it('turns a binary secret into SECRET_INVALID', async () => {
    fake.behaviour = { kind: 'binary' };
    expect(await rejection(realClientCache().get())).toMatchObject({ reason: 'SECRET_INVALID' });
  });

  it('aborts the HTTP request when the fetch times out', async () => {
    fake.behaviour = { kind: 'hang' };
    const started = Date.now();
    expect(await rejection(realClientCache(200).get())).toMatchObject({
      reason: 'SECRET_UNAVAILABLE',
      message: 'Secrets Manager did not return the master secret within 200 ms',
    });
    expect(Date.now() - started).toBeLessThan(1500);
    // The abort reaches the socket: the stuck request does not linger after the deny.
    await fake.abortedHang();
    expect(fake.requests).toHaveLength(1);
  });
});
