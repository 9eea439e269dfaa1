import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, synthesizedAssembly } from '../../local-iot/test/support/synthesized-stack';

// scripts/e2e-after-deploy.sh is what e2e-aws.yml runs against AWS after `cdk deploy`; ci.yml runs it against
// local-iot through scripts/with-local-iot.sh. This runs that same ci.yml command line, so `npm test` exercises
// the script every push, not only GitHub's CI.

const SCRIPTS = join(REPO_ROOT, 'scripts');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], timeout: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      // GITHUB_ACTIONS unset: plain step lines, as a developer sees them.
      { cwd: REPO_ROOT, timeout, env: { ...process.env, GITHUB_ACTIONS: '' }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          stdout,
          stderr,
        }),
    );
  });
}

let scratch: string;
let cdkOut: string;
beforeAll(async () => {
  const ensured = await run(join(SCRIPTS, 'ensure-debian-packages.sh'), ['jq=jq'], 300_000);
  if (ensured.code !== 0) throw new Error(`jq is needed: ${ensured.stderr}`);
  scratch = mkdtempSync(join(tmpdir(), 'e2e-after-deploy-'));
  cdkOut = await synthesizedAssembly()(scratch);
}, 400_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('passes every after-deploy step against local-iot, started and stopped as ci.yml does', async () => {
  const state = join(scratch, 'after-deploy');
  const result = await run(
    join(SCRIPTS, 'with-local-iot.sh'),
    [cdkOut, state, '--', join(SCRIPTS, 'e2e-after-deploy.sh'), join(state, 'outputs.json')],
    600_000,
  );
  if (result.code !== 0) throw new Error(`exit ${result.code}\n${result.stdout}\n${result.stderr}`);
  const steps = result.stdout.split('\n').filter((line) => line.startsWith('--- '));
  expect(steps.map((line) => line.replace(/-local-\d+/g, '-local-N'))).toEqual([
    '--- 1. TestInvokeAuthorizer smoke check (unsigned authorizer)',
    '--- 2. connect over mqtt ',
    '--- 3. connect over mqtt --signed',
    '--- 4. connect over websockets --use_websockets true',
    '--- 5. connect over websockets --use_websockets true --signed',
    '--- 6. refusal NOT_AUTHENTICATED: --client_id test-e2e-password-local-N',
    '--- 7. refusal CONNECT_NOT_ALLOWED: --client_id prod-e2e-local-N --custom_auth_username test-e2e-device-local-N',
    '--- 8. refusal CONNECT_NOT_ALLOWED: --client_id test-e2e-victim-local-N --custom_auth_username test-e2e-attacker-local-N',
    '--- 9. diagnose ',
    '--- 10. diagnose --signed --use_websockets true',
    '--- 11. connect over mqtt --mtls',
    '--- 12. refusal NOT_AUTHENTICATED: --mtls --client_id test-e2e-not-the-cn-local-N',
  ]);
  expect(result.stdout).toContain('TestInvokeAuthorizer: authenticated, 2 policy documents');
  expect(result.stdout).toMatch(/explained: .*\(BAD_PASSWORD\)/);
  expect(result.stdout).toContain(
    `e2e-after-deploy: all 12 steps passed against ${join(state, 'outputs.json')}`,
  );
  // The smoke check's device password goes from device create to TestInvokeAuthorizer in the environment only.
  expect(`${result.stdout}${result.stderr}`).not.toContain('"password":');
  // local-iot was stopped: its log ends with no error, and its port no longer answers.
  const connection = JSON.parse(readFileSync(join(state, 'connection.json'), 'utf8')) as {
    awsEndpointUrl: string;
  };
  await expect(fetch(connection.awsEndpointUrl)).rejects.toThrow();
}, 660_000);

it('names the failing step and exits non-zero when a step fails (no local-iot behind the outputs file)', async () => {
  // The first test's state directory, after its local-iot stopped: connection.json names a closed port, so the
  // first step's device create fails.
  const dir = join(scratch, 'stale');
  const live = join(scratch, 'after-deploy');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(live, 'outputs.json'), join(dir, 'outputs.json'));
  copyFileSync(join(live, 'connection.json'), join(dir, 'connection.json'));
  const result = await run(join(SCRIPTS, 'e2e-after-deploy.sh'), [join(dir, 'outputs.json')], 120_000);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('local-iot is not running');
  expect(result.stderr).toContain('e2e-after-deploy: step 1 failed: device create');
}, 180_000);

it.each([
  [[], 'usage: scripts/e2e-after-deploy.sh OUTPUTS_FILE [STACK_NAME]'],
  [
    ['/nonexistent/cdk-outputs.json'],
    'e2e-after-deploy: cannot read the outputs file /nonexistent/cdk-outputs.json',
  ],
])('e2e-after-deploy.sh %j: a usage error (exit 2) saying what to do', async (args, message) => {
  const result = await run(join(SCRIPTS, 'e2e-after-deploy.sh'), args, 60_000);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(message);
  expect(result.stdout).toBe('');
});

it('with-local-iot.sh reports a local-iot that cannot start, with its output, and runs nothing', async () => {
  const bad = join(scratch, 'bad-assembly');
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, 'manifest.json'), '{}');
  const marker = join(scratch, 'ran');
  const result = await run(
    join(SCRIPTS, 'with-local-iot.sh'),
    [bad, join(scratch, 'bad-state'), '--', 'touch', marker],
    120_000,
  );
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('with-local-iot: local-iot did not start');
  expect(result.stderr).toContain('has no CloudFormation stack');
  expect(() => readFileSync(marker)).toThrow();
}, 180_000);
