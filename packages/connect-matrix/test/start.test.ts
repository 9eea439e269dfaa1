import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../local-iot/test/support/synthesized-stack';

// `npm start`'s own command line, as a process from source: --help and a bad argument answer before the
// synth (whose "» Synthesizing" step line is the first thing a run prints), so they cost no synth and no
// state directory.

const START = join(REPO_ROOT, 'packages', 'connect-matrix', 'src', 'start.ts');

function runStart(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [require.resolve('tsx/cli'), '--tsconfig', join(REPO_ROOT, 'tsconfig.json'), START, ...args],
      { cwd: REPO_ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
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

it('--help prints the usage and runs nothing', async () => {
  const run = await runStart(['-c', 'clientIdPrefix=dev-', '--help']);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/^Usage: npm start \[-- -c KEY=VALUE \.\.\.\]/);
  expect(run.stdout).toContain('.local-iot/runs/<id>');
  expect(run.stdout).not.toContain('Synthesizing');
});

it.each([
  [['--bogus'], "Unknown option '--bogus'; npm start takes only -c KEY=VALUE (npm start -- --help)"],
  [
    ['-c', 'clientIdPrefix'],
    "-c takes KEY=VALUE (as cdk synth -c), e.g. -c clientIdPrefix=dev-, but 'clientIdPrefix' was given",
  ],
])('refuses %j before any synth, saying why', async (args, message) => {
  const run = await runStart(args);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`npm start: ${message}\n`);
  expect(run.stdout).toBe('');
});
