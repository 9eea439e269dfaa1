import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import {
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
  writeDemoAssembly,
  FUNCTIONS_DIR,
} from './fixtures/assembly';
import { x509Template } from './fixtures/x509-assembly';
import { testCertificate } from './support/x509-certificates';
import { REPO_ROOT } from './support/synthesized-stack';

// The local-iot CLI as a process (through tsx, from source): the fast paths that must print at once and
// start nothing, and the messages that name the exact command fixing the problem. An `npx` on PATH that
// records its arguments stands in for `npx cdk synth`, so a test sees whether a synth was started.

const CLI = join(REPO_ROOT, 'packages', 'local-iot', 'src', 'cli.ts');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let scratch: string;
let marker: string;

beforeEach(() => {
  scratch = tempDir('cli');
  // A workspace root of its own, so --synth finds "the repository" here and never the real one.
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', workspaces: [] }));
  mkdirSync(join(scratch, 'bin'));
  marker = join(scratch, 'npx-was-run');
  const fakeNpx = join(scratch, 'bin', 'npx');
  writeFileSync(fakeNpx, `#!/bin/sh\necho "$@" > '${marker}'\necho 'cdk says: boom' >&2\nexit 3\n`);
  chmodSync(fakeNpx, 0o755);
});

afterEach(() => removeDir(scratch));

function runCli(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [require.resolve('tsx/cli'), '--tsconfig', join(REPO_ROOT, 'tsconfig.json'), CLI, ...args],
      {
        cwd: scratch,
        env: {
          ...process.env,
          PATH: `${join(scratch, 'bin')}:${process.env.PATH ?? ''}`,
          NODE_NO_WARNINGS: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

it('--help prints the usage and starts no synth, whatever else is on the line', async () => {
  const run = await runCli(['--watch', '-c', 'clientIdPrefix=dev-', '--help', '--no-such-flag']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/^Usage: local-iot \[options\]/);
  expect(run.stdout).toContain('--watch');
  expect(run.stdout).toContain('-c, --context KEY=VALUE');
  expect(run.stdout).toContain('--time-scale N');
  expect(existsSync(marker)).toBe(false);
  expect(existsSync(join(scratch, 'cdk.out'))).toBe(false);
});

it('--synth runs npx --no -- cdk synth with the -c context, and a failed synth serves nothing', async () => {
  const run = await runCli(['--synth', '-c', 'clientIdPrefix=dev-', '-c', 'refreshAfterSeconds=60']);
  expect(readFileSync(marker, 'utf8').trim()).toBe(
    `--no -- cdk synth --quiet --output ${join(scratch, 'cdk.out')} -c clientIdPrefix=dev- -c refreshAfterSeconds=60`,
  );
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('local-iot: the synth failed, nothing is served:\ncdk says: boom');
  expect(run.stderr).toContain('exited with code 3');
});

it('a mistyped flag gets "did you mean" and one pointer to --help, before any synth', async () => {
  const run = await runCli(['--wacth']);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(
    "local-iot: unknown option '--wacth': did you mean --watch?\nRun local-iot --help (npm run local -- --help) for usage.\n",
  );
  expect(existsSync(marker)).toBe(false);
});

it('-c without a synth to reach says how to give it one', async () => {
  const run = await runCli(['-c', 'clientIdPrefix=dev-']);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('-c only reaches a synth: add --watch (as npm run local does) or --synth');
});

describe('a busy gateway port', () => {
  let server: Server;
  beforeEach(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('names the npm run local -- --port command that avoids it', async () => {
    const { port } = server.address() as AddressInfo;
    const cdkOut = writeDemoAssembly(scratch, 'BusyStack', { bundle: join(FUNCTIONS_DIR, 'behaviours') });
    const run = await runCli([
      '--cdk-out',
      cdkOut,
      '--state-dir',
      join(scratch, 'state'),
      '--port',
      `${port}`,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `local-iot: port ${port} is already in use (another \`npm run local\`?): stop that process, or serve on another port: npm run local -- --port ${port + 1} (or --port 0 for any free one)\n`,
    );
  });
});

describe('a busy X.509 listener port', () => {
  let server: Server;
  beforeEach(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('names the npm run local -- --x509-port command that avoids it', async () => {
    const { port } = server.address() as AddressInfo;
    const template = x509Template({
      stackName: 'BusyX509Stack',
      publicKeyPem: rsaKeyPair().publicKey,
      certificatePem: (await testCertificate()).certPem,
    });
    const cdkOut = writeAssembly(join(scratch, 'cdk.out'), 'BusyX509Stack', template, {
      fn: join(FUNCTIONS_DIR, 'behaviours'),
    });
    const run = await runCli([
      ...['--cdk-out', cdkOut, '--state-dir', join(scratch, 'state'), '--port', '0'],
      ...['--x509-port', `${port}`],
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `local-iot: X.509 listener port ${port} is already in use (another \`npm run local\`?): stop that process, or serve on another port: npm run local -- --x509-port ${port + 1} (or --x509-port 0 for any free one)\n`,
    );
  });
});
