import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCertificates, type TestCertificates } from './fixtures/certificates';
import { REPO_ROOT, runCli, type CliRun } from './fixtures/run-cli';
import { AWS_LIKE_CONNACK_PROPERTIES, TestGateway } from './fixtures/test-gateway';

// The real connect CLI (and diagnose, storm) as a child process against a real MQTT gateway on 127.0.0.1:
// a secret from an environment variable, a file or stdin reaches the server and never any output.

const PASSWORD = 'pw-from-a-safe-place-7d1f3c';

let certs: TestCertificates;
let dir: string;
let server: TestGateway;

beforeAll(async () => {
  certs = await createTestCertificates();
});

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'client-secret-cli-'));
  writeFileSync(join(dir, 'ca.pem'), certs.caCert);
  server = await TestGateway.start({
    transport: 'mqtt',
    behaviour: { connack: 0, properties: AWS_LIKE_CONNACK_PROPERTIES },
    cert: certs.serverCert,
    key: certs.serverKey,
  });
});

afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The upstream sample's flags, without the password. */
function connectFlags(): string[] {
  return [
    '--endpoint',
    'localhost',
    '--port',
    String(server.port),
    '--ca_file',
    'ca.pem',
    '--custom_auth_authorizer_name',
    'Unsigned',
    '--custom_auth_username',
    'device-1',
    '--client_id',
    'test-secret',
  ];
}

function passwordFile(mode: number, text = `${PASSWORD}\n`): string {
  const file = join(dir, 'password.txt');
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
  return file;
}

async function passwordTheServerSaw(): Promise<string | undefined> {
  await server.closedConnections(1);
  return server.connections[0]?.connect?.password?.toString('utf8');
}

function expectNoSecretIn(run: CliRun): void {
  expect(run.stdout).not.toContain(PASSWORD);
  expect(run.stderr).not.toContain(PASSWORD);
}

const WARNING =
  /^Warning: --custom_auth_password on the command line is visible to other processes \(ps\) and in npm's banner and logs \(~\/\.npm\/_logs\); use IOT_CUSTOM_AUTH_PASSWORD or --custom_auth_password_file <file> \(chmod 600, or - for stdin\) instead\.$/m;

describe('secrets off the command line, real CLI process', () => {
  it.each([[[]], [['--json']]])(
    'IOT_CUSTOM_AUTH_PASSWORD reaches the server and no output (flags %j), without a warning',
    async (extra) => {
      const run = await runCli([...connectFlags(), ...extra], {
        cwd: dir,
        env: { IOT_CUSTOM_AUTH_PASSWORD: PASSWORD },
      });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(await passwordTheServerSaw()).toBe(PASSWORD);
      expectNoSecretIn(run);
      if (extra.length > 0) expect(JSON.parse(run.stdout)).toMatchObject({ ok: true });
      else expect(run.stdout).toContain(`from IOT_CUSTOM_AUTH_PASSWORD`);
    },
  );

  it.each([[[]], [['--json']]])(
    '--custom_auth_password_file with mode 600 reaches the server and no output (flags %j)',
    async (extra) => {
      const file = passwordFile(0o600);
      const run = await runCli([...connectFlags(), '--custom_auth_password_file', file, ...extra], {
        cwd: dir,
      });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(await passwordTheServerSaw()).toBe(PASSWORD);
      expectNoSecretIn(run);
    },
  );

  it('--custom_auth_password_file - reads stdin', async () => {
    const run = await runCli([...connectFlags(), '--custom_auth_password_file', '-', '--json'], {
      cwd: dir,
      stdin: `${PASSWORD}\n`,
    });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await passwordTheServerSaw()).toBe(PASSWORD);
    expectNoSecretIn(run);
  });

  it('refuses a mode 644 file with exit 2 and one line naming the file and chmod 600; nothing is sent', async () => {
    const file = passwordFile(0o644);
    const run = await runCli([...connectFlags(), '--custom_auth_password_file', file], { cwd: dir });
    expect(run).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `Error: --custom_auth_password_file ${file} is readable by other users (mode 644): run chmod 600 ${file}\n`,
    });
    expect(server.connections).toHaveLength(0);
  });

  it('with --json, a mode 644 file is one configuration error object on stdout', async () => {
    const file = passwordFile(0o644);
    const run = await runCli([...connectFlags(), '--custom_auth_password_file', file, '--json'], {
      cwd: dir,
    });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      error: {
        kind: 'configuration',
        message: `--custom_auth_password_file ${file} is readable by other users (mode 644): run chmod 600 ${file}`,
      },
    });
    expectNoSecretIn(run);
  });

  it('a password given as a flag still works and warns exactly once, without the value', async () => {
    const run = await runCli([...connectFlags(), '--custom_auth_password', PASSWORD, '--json'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(await passwordTheServerSaw()).toBe(PASSWORD);
    expect(run.stderr).toMatch(WARNING);
    expect(run.stderr.match(/Warning:/g)).toHaveLength(1);
    expectNoSecretIn(run);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true });
  });

  it('the flag wins over the environment variable; a flag and its file flag together are a usage error', async () => {
    const flagWins = await runCli([...connectFlags(), '--custom_auth_password', PASSWORD], {
      cwd: dir,
      env: { IOT_CUSTOM_AUTH_PASSWORD: 'not-this-one' },
    });
    expect(flagWins.code).toBe(0);
    expect(await passwordTheServerSaw()).toBe(PASSWORD);

    const both = await runCli(
      [
        ...connectFlags(),
        '--custom_auth_password',
        PASSWORD,
        '--custom_auth_password_file',
        passwordFile(0o600),
      ],
      { cwd: dir },
    );
    expect(both).toMatchObject({
      code: 2,
      stderr:
        'Error: --custom_auth_password and --custom_auth_password_file both give the same secret: give one (--custom_auth_password_file keeps it off the command line)\nRun with --help for usage.\n',
    });
    expectNoSecretIn(both);
  });

  it.each([['diagnose/cli.ts'], ['storm/storm-cli.ts']])(
    '%s takes the same secret flags: a mode 644 file is refused with exit 2',
    async (script) => {
      const file = passwordFile(0o644);
      const run = await runCli(
        [
          ...connectFlags().filter((flag) => flag !== '--client_id' && flag !== 'test-secret'),
          '--custom_auth_password_file',
          file,
          '--json',
        ],
        {
          cwd: dir,
          script,
        },
      );
      expect(run.code).toBe(2);
      const report = JSON.parse(run.stdout) as { ok: boolean; error: { kind: string; message: string } };
      expect(report).toMatchObject({ ok: false, error: { kind: 'configuration' } });
      expect(report.error.message).toContain(`run chmod 600 ${file}`);
      expect(server.connections).toHaveLength(0);
    },
  );
});

/** `npm run connect -w client -- args` from the repository root, with npm's debug logs in `logsDir`. */
function runThroughNpm(
  args: readonly string[],
  logsDir: string,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(npm_|INIT_CWD$|AWS_)/.test(key)) env[key] = value;
  }
  Object.assign(env, {
    NODE_NO_WARNINGS: '1',
    npm_config_logs_dir: logsDir,
    npm_config_update_notifier: 'false',
    ...extraEnv,
  });
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'connect', '-w', 'client', '--', ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Everything npm wrote into its debug logs. */
function npmLogs(logsDir: string): string {
  return readdirSync(logsDir)
    .map((name) => readFileSync(join(logsDir, name), 'utf8'))
    .join('\n');
}

describe('secrets and npm, real npm run', () => {
  /** connectFlags() with the CA as an absolute path: npm runs the script in packages/client. */
  const absoluteFlags = (): string[] =>
    connectFlags().map((flag) => (flag === 'ca.pem' ? join(dir, 'ca.pem') : flag));

  it('a password from a file or IOT_CUSTOM_AUTH_PASSWORD is in neither npm banner nor npm debug log', async () => {
    const logsDir = join(dir, 'npm-logs');
    const fromFile = await runThroughNpm(
      [...absoluteFlags(), '--custom_auth_password_file', passwordFile(0o600)],
      logsDir,
    );
    const fromEnv = await runThroughNpm(absoluteFlags(), logsDir, { IOT_CUSTOM_AUTH_PASSWORD: PASSWORD });
    expect([fromFile.code, fromEnv.code]).toEqual([0, 0]);
    await server.closedConnections(2);
    expect(server.connections.map((seen) => seen.connect?.password?.toString('utf8'))).toEqual([
      PASSWORD,
      PASSWORD,
    ]);
    const logs = npmLogs(logsDir);
    expect(logs).toContain('verbose argv'); // npm did log the command lines
    for (const text of [fromFile.stdout, fromFile.stderr, fromEnv.stdout, fromEnv.stderr, logs]) {
      expect(text).not.toContain(PASSWORD);
    }
  });

  it('a password given as a flag is in npm banner and debug log, which is what the warning says', async () => {
    const logsDir = join(dir, 'npm-logs');
    const run = await runThroughNpm([...absoluteFlags(), '--custom_auth_password', PASSWORD], logsDir);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(PASSWORD);
    expect(npmLogs(logsDir)).toContain(PASSWORD);
    expect(run.stderr).toMatch(WARNING);
  });
});
