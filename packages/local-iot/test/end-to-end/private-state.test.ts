// "State is private" end to end: startLocalIot under the most permissive umask, over a state directory an
// older version left world-readable, keeps it 0700 with every file 0600; the credentials connection.json
// hands out (new each run) are the only ones the local AWS API accepts, and the Lambda functions have them.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseLocalConnectionInfo, STACK_OUTPUTS, type LocalConnectionInfo } from '@iot-custom-auth/protocol';
import { startLocalIot, type LocalIot } from '../../src/local-iot';
import { demoStackNames, FUNCTIONS_DIR, removeDir, tempDir, writeDemoAssembly } from '../fixtures/assembly';
import { modeOf, useUmask } from '../support/permissive-umask';

const STACK = 'PrivateStateStack';

let root: string;
let cdkOut: string;
let stateDir: string;

beforeAll(() => {
  root = tempDir('private-state');
  cdkOut = writeDemoAssembly(root, STACK, { bundle: join(FUNCTIONS_DIR, 'secret-reader') });
  stateDir = join(root, 'state');
});

afterAll(() => removeDir(root));

/** Starts local-iot on the shared state directory, runs `check`, closes it. */
async function withLocalIot(check: (local: LocalIot) => Promise<void> | void): Promise<void> {
  const local = await startLocalIot({
    cdkOut,
    stateDir,
    port: 0,
    log: () => undefined,
    functionLog: () => undefined,
  });
  try {
    await check(local);
  } finally {
    await local.close();
  }
}

function readConnection(file: string): LocalConnectionInfo {
  const connection = parseLocalConnectionInfo(readFileSync(file, 'utf8'));
  if (typeof connection === 'string') throw new Error(`connection.json ${connection}`);
  return connection;
}

describe('startLocalIot with a permissive umask', () => {
  useUmask(0o000);

  it('makes a world-readable state directory 0700 and every file in it 0600', async () => {
    mkdirSync(stateDir, { mode: 0o755 });
    writeFileSync(join(stateDir, 'connection.json'), '{}', { mode: 0o666 });
    writeFileSync(join(stateDir, 'outputs.json'), '{}', { mode: 0o644 });
    await withLocalIot(() => {
      expect(modeOf(stateDir)).toBe(0o700);
      const files = readdirSync(stateDir).sort();
      expect(files).toEqual([
        'ca.pem',
        'connection.json',
        'logs',
        'outputs.json',
        'secrets.json',
        'server-key.pem',
        'server.pem',
      ]);
      const logsDir = join(stateDir, 'logs');
      const stateFiles = files.filter((file) => file !== 'logs').map((file) => join(stateDir, file));
      const logFiles = readdirSync(logsDir).map((file) => join(logsDir, file));
      expect(logFiles.length).toBeGreaterThan(0);
      expect(modeOf(logsDir)).toBe(0o700);
      expect([...stateFiles, ...logFiles].map((file) => [file, modeOf(file)])).toEqual(
        [...stateFiles, ...logFiles].map((file) => [file, 0o600]),
      );
    });
  });

  it('hands out new credentials each run, which the local AWS API and the functions share', async () => {
    const seen: string[] = [];
    for (let run = 0; run < 2; run++) {
      await withLocalIot(async (local) => {
        const connection = readConnection(local.connectionFile);
        expect(connection.credentials).toEqual(local.runtime.awsApi.credentials);
        expect(connection.credentials.accessKeyId).toMatch(/^LOCAL[A-Z2-7]{15}$/);
        expect(connection.credentials.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
        seen.push(connection.credentials.accessKeyId, connection.credentials.secretAccessKey);
        const secretId = local.runtime.outputs[STACK_OUTPUTS.deviceSecretArn];

        // The client's way: the SDK signing with connection.json's credentials.
        const client = new SecretsManagerClient({
          region: connection.region,
          endpoint: connection.awsEndpointUrl,
          credentials: connection.credentials,
        });
        try {
          const secret = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
          expect(secret.Name).toBe(`${STACK}-DeviceSecret`);
        } finally {
          client.destroy();
        }
        // The Lambda's way: the SDK's default chain, from the environment the runner gave the function.
        const { authorizerFunction } = demoStackNames(STACK);
        expect(await local.runtime.runner.invoke(authorizerFunction, { secretId })).toMatchObject({
          ok: true,
          value: { name: `${STACK}-DeviceSecret` },
        });
        // Any other local process, without them.
        const unsigned = await fetch(`${connection.awsEndpointUrl}/`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'secretsmanager.GetSecretValue',
          },
          body: JSON.stringify({ SecretId: secretId }),
        });
        expect(unsigned.status).toBe(400);
        expect(await unsigned.json()).toEqual({
          __type: 'MissingAuthenticationTokenException',
          message: 'Missing Authentication Token',
        });
      });
    }
    expect(new Set(seen).size).toBe(4);
  });
});
