import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { deriveDevicePassword, parseMasterSecret } from '@iot-custom-auth/protocol';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import type { AwsTarget } from '../../src/aws-clients';
import { runDevice, writePrivateFile } from '../../src/device/device-cli';
import type { DeviceDeps } from '../../src/device/device-main';
import type { LoadedOutputs, OutputsRequest } from '../../src/outputs';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-AbCdEf';
const MASTER_KEY = 'device-cli-test-master-key-0123456789abcdef';
const NOW = new Date('2026-06-01T12:00:00.000Z');
const OUTPUTS: LoadedOutputs = {
  source: '/repo/.local-iot/outputs.json',
  stackName: 'TestStack',
  values: {
    deviceSecretArn: SECRET_ARN,
    clientIdPrefix: 'test-',
    unsignedAuthorizerName: 'TestStack-Unsigned',
  },
  connection: {
    file: '/repo/.local-iot/connection.json',
    info: {
      endpoint: 'localhost',
      port: 8443,
      caFile: '/repo/.local-iot/ca.pem',
      awsEndpointUrl: 'http://127.0.0.1:4566',
      region: 'us-east-1',
      credentials: { accessKeyId: 'LOCAL', secretAccessKey: 'local' },
    },
  },
};

let secretsManager: AwsClientStub<SecretsManagerClient>;
let stored: string;
let dir: string;

beforeEach(() => {
  stored = JSON.stringify({ masterKey: MASTER_KEY, revokedDevices: {} });
  secretsManager = mockClient(SecretsManagerClient);
  secretsManager.on(GetSecretValueCommand).callsFake(() => ({ SecretString: stored, VersionId: 'v1' }));
  secretsManager.on(PutSecretValueCommand).callsFake((input: { SecretString: string }) => {
    stored = input.SecretString;
    return { VersionId: 'v2' };
  });
  dir = mkdtempSync(join(tmpdir(), 'device-cli-'));
});
afterEach(() => {
  secretsManager.restore();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the tool with fakes for the outputs and the clock, the SDK mocked; returns the exit code and output. */
async function device(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const reads: OutputsRequest[] = [];
  const targets: AwsTarget[] = [];
  const deps: DeviceDeps = {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    outputs: {
      read: (request) => {
        reads.push(request);
        return Promise.resolve(OUTPUTS);
      },
    },
    secretsManager: (target) => {
      targets.push(target);
      return new SecretsManagerClient({ region: 'us-east-1' });
    },
    writePrivateFile,
    now: () => NOW,
    paths: { invocationDir: dir, repoRoot: '/repo' },
  };
  const code = await runDevice(argv, deps);
  return { code, stdout: out.join(''), stderr: err.join(''), reads, targets };
}

const secretNow = () => {
  const parsed = parseMasterSecret(stored);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.secret;
};

describe('npm run device -- create', () => {
  it('prints one JSON object with username, password and clientId, the password derived for the device', async () => {
    const run = await device(['create', 'test-a', '--outputs', '.local-iot/outputs.json', '--json']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({
      deviceId: 'test-a',
      username: 'test-a',
      password: deriveDevicePassword(MASTER_KEY, 'test-a'),
      clientId: 'test-a',
      stack: 'TestStack',
      authorizerName: 'TestStack-Unsigned',
    });
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    // The outputs file given relative to where the user ran it, and the connection file's AWS API.
    expect(run.reads[0]).toMatchObject({ file: join(dir, '.local-iot/outputs.json'), required: true });
    expect(run.targets).toEqual([
      {
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:4566',
        credentials: { accessKeyId: 'LOCAL', secretAccessKey: 'local' },
      },
    ]);
    expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('"show" is create: the same password again, nothing stored', async () => {
    const first = await device(['create', 'test-a', '--json']);
    const again = await device(['show', 'test-a', '--json']);
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(first.stdout));
  });

  it('writes the credentials to --out with mode 0600 whatever the umask, and prints no password', async () => {
    const previous = process.umask(0o000);
    try {
      const run = await device(['create', 'test-b', '--out', 'b.json']);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toBe(
        `Wrote the credentials of device test-b to ${join(dir, 'b.json')} (mode 0600).\n`,
      );
      expect(statSync(join(dir, 'b.json')).mode & 0o777).toBe(0o600);
      const written = JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8')) as Record<string, string>;
      expect(written).toMatchObject({ username: 'test-b', clientId: 'test-b' });
      expect(written.password).toBe(deriveDevicePassword(MASTER_KEY, 'test-b'));
      expect(run.stdout).not.toContain(written.password);
    } finally {
      process.umask(previous);
    }
  });

  it('never writes over an existing file or through a symlink', async () => {
    writeFileSync(join(dir, 'taken.json'), 'keep');
    symlinkSync(join(dir, 'elsewhere.json'), join(dir, 'link.json'));
    for (const name of ['taken.json', 'link.json']) {
      const run = await device(['create', 'test-b', '--out', name]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`${join(dir, name)} exists: remove it or choose another --out`);
      expect(run.stderr).not.toContain(deriveDevicePassword(MASTER_KEY, 'test-b'));
    }
    expect(readFileSync(join(dir, 'taken.json'), 'utf8')).toBe('keep');
  });

  it.each([
    ['outside the prefix', 'prod-1', "device id 'prod-1': client id does not start with 'test-'"],
    ['with a wildcard', 'test-#', `device id 'test-#': client id contains "#"`],
  ])('refuses a device id %s with exit 2', async (_label, id, message) => {
    const run = await device(['create', id]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
  });

  it('refuses to hand out the credentials of a revoked device, naming the fix', async () => {
    await device(['revoke', 'test-a']);
    const run = await device(['create', 'test-a', '--json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `Error: device test-a is revoked (since ${NOW.toISOString()}): its credentials would be refused; run \`npm run device -w client -- restore test-a\` first\n`,
    );
    expect(run.stdout).toBe('');
  });
});

describe('npm run device -- revoke, restore, list', () => {
  it('revokes one device with one PutSecretValue, keeping the key and the other revocations', async () => {
    await device(['revoke', 'test-a']);
    const run = await device(['revoke', 'test-b', '--json']);
    expect(JSON.parse(run.stdout)).toEqual({ deviceId: 'test-b', revoked: true, changed: true });
    expect(secretNow()).toEqual({
      masterKey: MASTER_KEY,
      revokedDevices: new Map([
        ['test-a', NOW.toISOString()],
        ['test-b', NOW.toISOString()],
      ]),
    });
    expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(2);
    const input = secretsManager.commandCalls(PutSecretValueCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ SecretId: SECRET_ARN });
    expect(input?.ClientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('says so, and writes nothing, when the device is already revoked or not revoked', async () => {
    await device(['revoke', 'test-a']);
    expect((await device(['revoke', 'test-a'])).stdout).toBe(
      `Device test-a is already revoked (since ${NOW.toISOString()}).\n`,
    );
    expect((await device(['restore', 'test-z'])).stdout).toBe('Device test-z is not revoked.\n');
    expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(1);
  });

  it('restores a revoked device (unrevoke is the same verb)', async () => {
    await device(['revoke', 'test-a']);
    await device(['revoke', 'test-b']);
    const run = await device(['unrevoke', 'test-a']);
    expect(run.code).toBe(0);
    expect([...secretNow().revokedDevices.keys()]).toEqual(['test-b']);
  });

  it('lists the revoked devices and says there is no list of all devices', async () => {
    await device(['revoke', 'test-a']);
    const text = await device(['list']);
    expect(text.stdout).toBe(
      [
        'Revoked devices of stack TestStack: 1',
        `  test-a  (since ${NOW.toISOString()})`,
        "Every other device id starting with 'test-' has a password derived from the master key: there is no list of all devices to show.",
        '',
      ].join('\n'),
    );
    expect(JSON.parse((await device(['list', '--json'])).stdout)).toEqual({
      revoked: [{ deviceId: 'test-a', revokedAt: NOW.toISOString() }],
    });
  });
});

describe('npm run device -- rotate', () => {
  it('puts a new 256-bit key and keeps the old one valid for the grace period', async () => {
    const before = await device(['create', 'test-a', '--json']);
    const run = await device(['rotate', '--grace-hours', '2', '--json']);
    expect(JSON.parse(run.stdout)).toEqual({
      rotated: true,
      previousKeyValidUntil: '2026-06-01T14:00:00.000Z',
    });
    const secret = secretNow();
    expect(secret.masterKey).not.toBe(MASTER_KEY);
    expect(Buffer.from(secret.masterKey, 'base64url')).toHaveLength(32);
    expect(secret.previous).toEqual({
      masterKey: MASTER_KEY,
      validUntil: new Date('2026-06-01T14:00:00.000Z'),
    });
    const after = await device(['create', 'test-a', '--json']);
    expect((JSON.parse(after.stdout) as { password: string }).password).not.toBe(
      (JSON.parse(before.stdout) as { password: string }).password,
    );
    expect(run.stdout + run.stderr).not.toContain(secret.masterKey);
  });

  it('with --grace-hours 0 accepts only the new key', async () => {
    await device(['rotate', '--grace-hours', '0']);
    expect(secretNow().previous).toBeUndefined();
  });
});

describe('arguments', () => {
  it.each([
    [[], 'name a verb: create, revoke, restore, list or rotate'],
    [['delete', 'x'], "unknown verb 'delete': use create, show, revoke, restore, list or rotate"],
    [['create'], 'create needs a device id'],
    [['list', 'test-a'], "unexpected argument 'test-a'"],
    [['revoke', 'test-a', '--out', 'f'], '--out only goes with create'],
    [
      ['rotate', '--grace-hours', '-1'],
      "--grace-hours must be an integer between 0 and 720, but '-1' was given",
    ],
    [['create', 'test-a', '--verbose'], 'unknown option --verbose'],
  ])('%j exits 2: %s', async (argv, message) => {
    const run = await device(argv);
    expect(run).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `Error: ${message}\nRun with --help for usage.\n`,
    });
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('--help prints the usage', async () => {
    const run = await device(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: npm run device -w client -- <verb>/);
  });
});
