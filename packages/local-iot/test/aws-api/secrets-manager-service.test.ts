import { join } from 'node:path';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { LocalAwsApi, type TestInvoker } from '../../src/aws-api/local-aws-api';
import { generateLocalAwsCredentials } from '../../src/aws-api/local-aws-credentials';
import { LoopbackListener } from '../../src/aws-api/loopback-listener';
import { loadLocalDeployment, type LocalDeployment } from '../../src/deployment/local-deployment';
import {
  demoTemplate,
  FUNCTIONS_DIR,
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
} from '../fixtures/assembly';

// Versions and staging labels as Secrets Manager keeps them, reached through the real SDK client (which
// signs every call and fills in ClientRequestToken), as the provisioning CLI and the Lambda reach it.

const unusedInvoker: TestInvoker = {
  testInvoke: () => Promise.reject(new Error('not used')),
};
const credentials = generateLocalAwsCredentials();
let root: string;
let deployment: LocalDeployment;
let api: LocalAwsApi;
let client: SecretsManagerClient;

beforeEach(async () => {
  root = tempDir('secrets');
  const cdkOut = writeAssembly(
    join(root, 'cdk.out'),
    'SecretsTest',
    demoTemplate({ asset: 'fn', publicKeyPem: rsaKeyPair().publicKey }),
    { fn: join(FUNCTIONS_DIR, 'behaviours') },
  );
  deployment = loadLocalDeployment({ cdkOut, stateDir: join(root, 'state'), endpointHost: 'localhost' });
  api = new LocalAwsApi({
    deployment,
    listener: await LoopbackListener.bind(),
    testInvoker: unusedInvoker,
    credentials,
  });
  client = new SecretsManagerClient({ region: deployment.region, endpoint: api.url, credentials });
});

afterEach(async () => {
  client.destroy();
  await api.close();
  removeDir(root);
});

const arn = (): string => (deployment.secrets[0] as { arn: string }).arn;
const generated = (): string => (deployment.secrets[0] as { secretString: string }).secretString;

describe('Secrets Manager PutSecretValue and staging labels', () => {
  it('makes the new value AWSCURRENT and the one it replaces AWSPREVIOUS', async () => {
    const put = await client.send(new PutSecretValueCommand({ SecretId: arn(), SecretString: '{"v":2}' }));
    expect(put).toMatchObject({ ARN: arn(), VersionStages: ['AWSCURRENT'] });
    expect(put.VersionId).toMatch(/^[0-9a-f-]{36}$/);

    const current = await client.send(new GetSecretValueCommand({ SecretId: arn() }));
    expect(current).toMatchObject({
      SecretString: '{"v":2}',
      VersionId: put.VersionId,
      VersionStages: ['AWSCURRENT'],
    });
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: arn(), VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous).toMatchObject({ SecretString: generated(), VersionStages: ['AWSPREVIOUS'] });

    await client.send(new PutSecretValueCommand({ SecretId: arn(), SecretString: '{"v":3}' }));
    const [now, before] = await Promise.all([
      client.send(new GetSecretValueCommand({ SecretId: arn() })),
      client.send(new GetSecretValueCommand({ SecretId: arn(), VersionStage: 'AWSPREVIOUS' })),
    ]);
    expect([now.SecretString, before.SecretString]).toEqual(['{"v":3}', '{"v":2}']);
    // The first value has no label any more, but is still there by its VersionId.
    const first = await client.send(
      new GetSecretValueCommand({ SecretId: arn(), VersionId: deployment.secrets[0]?.versionId }),
    );
    expect(first).toMatchObject({ SecretString: generated(), VersionStages: [] });
  });

  it('treats a repeated ClientRequestToken as a retry, and refuses it with another value', async () => {
    const token = 'a'.repeat(32);
    const first = await client.send(
      new PutSecretValueCommand({ SecretId: arn(), SecretString: '{"v":2}', ClientRequestToken: token }),
    );
    const retry = await client.send(
      new PutSecretValueCommand({ SecretId: arn(), SecretString: '{"v":2}', ClientRequestToken: token }),
    );
    expect(retry.VersionId).toBe(first.VersionId);
    expect(first.VersionId).toBe(token);
    await expect(
      client.send(
        new PutSecretValueCommand({ SecretId: arn(), SecretString: '{"v":9}', ClientRequestToken: token }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceExistsException' });
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: arn(), VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous.SecretString).toBe(generated());
  });

  it('refuses an unknown secret, a missing value and a value over 64 KiB as Secrets Manager does', async () => {
    await expect(
      client.send(new PutSecretValueCommand({ SecretId: 'nope', SecretString: '{}' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });
    await expect(client.send(new PutSecretValueCommand({ SecretId: arn() }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'You must provide either SecretString or SecretBinary.',
    });
    await expect(
      client.send(new PutSecretValueCommand({ SecretId: arn(), SecretString: 'x'.repeat(65_537) })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    // Nothing was stored by the refusals.
    await expect(
      client.send(new GetSecretValueCommand({ SecretId: arn(), VersionStage: 'AWSPREVIOUS' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
    });
  });
});
