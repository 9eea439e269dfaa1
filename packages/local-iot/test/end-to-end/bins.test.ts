import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/synthesized-stack';

// The two bins as a user runs them from the repository after `npm ci` (whose `prepare` builds dist/ and
// links the workspaces' bins into node_modules/.bin): through npx, with the registry set to a closed port
// and --offline, so a lookup in the registry would fail the test instead of passing silently.
// Needs the build (`npx tsc -b tsconfig.build.json`, which `npm test` runs first).

const BINS = {
  'local-iot': { target: 'packages/local-iot/dist/cli.js', usage: /^Usage: local-iot \[options\]/ },
  'iot-custom-auth-connect': {
    target: 'packages/client/dist/cli.js',
    usage: /^Usage: npm run connect -w client -- \[flags\]\n {7}iot-custom-auth-connect \[flags\]/,
  },
} as const;

function npx(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_registry: 'http://127.0.0.1:9/',
    NODE_NO_WARNINGS: '1',
  };
  return new Promise((resolve) => {
    execFile('npx', [...args], { cwd: REPO_ROOT, env, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    );
  });
}

describe.each(Object.entries(BINS))('the %s bin', (name, { target, usage }) => {
  it('is a built, executable node script linked into node_modules/.bin', () => {
    const file = join(REPO_ROOT, target);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(() => accessSync(file, constants.X_OK)).not.toThrow();
    expect(readFileSync(join(REPO_ROOT, 'node_modules', '.bin', name), 'utf8')).toBe(
      readFileSync(file, 'utf8'),
    );
  });

  it.each([[['--offline', '--no', '--', name, '--help']], [['--offline', name, '-h']]])(
    'prints its usage with npx %j, without the registry',
    async (args) => {
      const run = await npx(args);
      expect(run.stdout).toMatch(usage);
      expect(run.code).toBe(0);
    },
  );
});
