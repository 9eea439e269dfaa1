import { generateKeyPairSync } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { decodeToken, deriveDevicePassword, verifyTokenSignature } from '@iot-custom-auth/protocol';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsTarget } from '../src/aws-clients';
import { AwsCredentialSource } from '../src/credentials';
import { ConfigError, RuntimeError } from '../src/errors';
import { rejectionOf } from './fixtures/caught';
import { inMemoryFiles } from './fixtures/in-memory-files';
import { getSecretValueCall, LoopbackSecretsManager } from './fixtures/loopback-secrets-manager';
import { rsaSigningKeyPair } from './fixtures/signing-keys';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-AbCdEf';
const MASTER_KEY = 'client-test-master-key-0123456789abcdef';
const MASTER_SECRET = { masterKey: MASTER_KEY, revokedDevices: {} };
const DEVICE_ID = 'test-dev-1';
const DEVICE = { username: DEVICE_ID, password: deriveDevicePassword(MASTER_KEY, DEVICE_ID) };
const noFiles = inMemoryFiles();

describe('AwsCredentialSource.deviceCredentials (mocked Secrets Manager)', () => {
  let secretsManager: ReturnType<typeof mockClient>;
  beforeEach(() => {
    secretsManager = mockClient(SecretsManagerClient);
  });
  afterEach(() => secretsManager.restore());

  it("derives the device's password from the master secret, in the requested region", async () => {
    secretsManager
      .on(GetSecretValueCommand, { SecretId: SECRET_ARN })
      .resolves({ SecretString: JSON.stringify(MASTER_SECRET) });
    const source = new AwsCredentialSource({ readFile: noFiles });
    expect(
      await source.deviceCredentials({
        secretArn: SECRET_ARN,
        target: { region: 'eu-west-1' },
        deviceId: DEVICE_ID,
      }),
    ).toEqual(DEVICE);
    expect(
      await source.deviceCredentials({ secretArn: SECRET_ARN, target: {}, deviceId: 'test-dev-2' }),
    ).toEqual({ username: 'test-dev-2', password: deriveDevicePassword(MASTER_KEY, 'test-dev-2') });
    const client = secretsManager.call(0).thisValue as SecretsManagerClient;
    expect(await client.config.region()).toBe('eu-west-1');
  });

  it.each([
    [
      'a missing secret',
      Object.assign(new Error("Secrets Manager can't find the specified secret."), {
        name: 'ResourceNotFoundException',
        $metadata: { httpStatusCode: 400 },
      }),
      ConfigError,
      `reading the master secret ${SECRET_ARN} from Secrets Manager failed: ResourceNotFoundException: Secrets Manager can't find the specified secret. Use credentials allowed secretsmanager:GetSecretValue on it and the region of the stack, or pass --custom_auth_password`,
    ],
    [
      'missing AWS credentials',
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
      ConfigError,
      `reading the master secret ${SECRET_ARN} from Secrets Manager failed: CredentialsProviderError: Could not load credentials from any providers. Use credentials allowed secretsmanager:GetSecretValue on it and the region of the stack, or pass --custom_auth_password`,
    ],
    [
      'a network failure',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      RuntimeError,
      `reading the master secret ${SECRET_ARN} from Secrets Manager failed: connect ECONNREFUSED 127.0.0.1:1. Check the network and try again.`,
    ],
    [
      'throttling',
      Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      }),
      RuntimeError,
      `reading the master secret ${SECRET_ARN} from Secrets Manager failed: ThrottlingException: Rate exceeded. Check the network and try again.`,
    ],
  ])('turns %s into the right error class', async (_name, failure, errorClass, message) => {
    secretsManager.on(GetSecretValueCommand).rejects(failure);
    const error = await rejectionOf(
      new AwsCredentialSource({ readFile: noFiles }).deviceCredentials({
        secretArn: SECRET_ARN,
        target: {},
        deviceId: DEVICE_ID,
      }),
    );
    expect(error).toBeInstanceOf(errorClass);
    expect(error.message).toBe(message);
  });

  it.each([
    ['not JSON', 'hunter2', 'the SecretString is not JSON'],
    [
      'of the old shared-password shape',
      JSON.stringify({ username: 'device', password: 'hunter2' }),
      '"masterKey" must be a string',
    ],
    [
      'with a short key',
      JSON.stringify({ masterKey: 'hunter2' }),
      '"masterKey" must be at least 32 characters (it has 7)',
    ],
  ])('rejects a secret %s without echoing its value', async (_name, secretString, problem) => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: secretString });
    const error = await rejectionOf(
      new AwsCredentialSource({ readFile: noFiles }).deviceCredentials({
        secretArn: SECRET_ARN,
        target: {},
        deviceId: DEVICE_ID,
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `reading the master secret ${SECRET_ARN} from Secrets Manager: ${problem}; redeploy the stack, or put a value of the shape the authorizer-lambda README describes`,
    );
    expect(error.message).not.toContain('hunter2');
  });
});

describe('AwsCredentialSource.deviceCredentials (real SDK, loopback Secrets Manager)', () => {
  let server: LoopbackSecretsManager;
  const saved = { ...process.env };

  beforeEach(async () => {
    server = await LoopbackSecretsManager.start({ [SECRET_ARN]: JSON.stringify(MASTER_SECRET) });
  });
  afterEach(async () => {
    process.env = { ...saved };
    await server.close();
  });

  /** What a connection file beside the outputs points the client at. */
  const connectionFileTarget = (): AwsTarget => ({
    region: 'us-east-1',
    endpoint: server.url,
    credentials: { accessKeyId: 'LOCAL', secretAccessKey: 'x' },
  });

  it('honours AWS_ENDPOINT_URL_SECRETS_MANAGER, the SDK’s standard override', async () => {
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: server.url,
      AWS_ACCESS_KEY_ID: 'AKIDENV',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    const source = new AwsCredentialSource({ readFile: noFiles });
    expect(
      await source.deviceCredentials({
        secretArn: SECRET_ARN,
        target: { region: 'ap-south-1' },
        deviceId: DEVICE_ID,
      }),
    ).toEqual(DEVICE);
    expect(server.calls).toEqual([getSecretValueCall(SECRET_ARN, 'AKIDENV', 'ap-south-1')]);
  });

  it('uses the endpoint and credentials of a connection file', async () => {
    const source = new AwsCredentialSource({ readFile: noFiles });
    const target = connectionFileTarget();
    expect(await source.deviceCredentials({ secretArn: SECRET_ARN, target, deviceId: DEVICE_ID })).toEqual(
      DEVICE,
    );
    expect(server.calls).toEqual([getSecretValueCall(SECRET_ARN, 'LOCAL', 'us-east-1')]);
  });

  it('reports a secret the service does not have as a configuration error', async () => {
    const source = new AwsCredentialSource({ readFile: noFiles });
    const target = connectionFileTarget();
    const error = await rejectionOf(
      source.deviceCredentials({
        secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:other',
        target,
        deviceId: DEVICE_ID,
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(
      /^reading the master secret arn:aws:secretsmanager:us-east-1:123456789012:secret:other from Secrets Manager failed: ResourceNotFoundException: /,
    );
  });
});

describe('AwsCredentialSource.signedToken', () => {
  const rsa = rsaSigningKeyPair();
  const source = new AwsCredentialSource({
    readFile: inMemoryFiles({
      '/k/rsa.pem': rsa.privateKeyPem,
      '/k/ec.pem': generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      '/k/garbage.pem': 'not a key',
    }),
  });

  it('creates a token bound to the client id with the lifetime asked for, signed so AWS IoT verifies it', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const { token, signature } = await source.signedToken({
      clientId: 'test-1',
      keyFile: '/k/rsa.pem',
      now,
      lifetimeSeconds: 300,
    });
    expect(decodeToken(token)).toEqual({
      ok: true,
      claims: { clientId: 'test-1', iat: 1893456000, exp: 1893456300 },
    });
    expect(verifyTokenSignature(token, signature, [rsa.publicKeyPem])).toBe(true);
  });

  it('names the missing key file and how to create it', async () => {
    const error = await rejectionOf(
      source.signedToken({ clientId: 'c', keyFile: '/k/none.pem', now: new Date(), lifetimeSeconds: 300 }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      'cannot read the token-signing private key /k/none.pem: ENOENT. The first `npx cdk synth` creates .keys/token-signing-private.pem at the repository root; or pass --token-signing-key FILE',
    );
  });

  it.each([
    [
      '/k/ec.pem',
      'the token-signing key /k/ec.pem: cannot sign the token: the private key is a ec key; AWS IoT verifies RSA (PKCS#1 v1.5, SHA-256) signatures',
    ],
    [
      '/k/garbage.pem',
      'the token-signing key /k/garbage.pem: cannot sign the token: the private key is not a readable RSA PEM key',
    ],
  ])('refuses %s as a configuration error', async (keyFile, message) => {
    const error = await rejectionOf(
      source.signedToken({ clientId: 'c', keyFile, now: new Date(), lifetimeSeconds: 300 }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(message);
  });
});
