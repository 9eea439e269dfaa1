/**
 * The project's real stack, synthesized by the real `npx cdk synth` (the real infra app, Lambda bundle and
 * token-signing keys), for the tests that serve it with local-iot. Suites asking for the same `-c` context in
 * one Jest run share one synth (see `run-cache.ts`); it is never written to while served.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { findWorkspaceRoot, TOKEN_SIGNING_KEY_FILES } from '@iot-custom-auth/protocol';
import { buildOnce, runCacheDirectory } from './run-cache';
import { serveStack, type AssemblySource, type ServeOptions, type ServedStack } from './served-stack';

export type { ServedStack } from './served-stack';

/** The repository root: synth runs there, with the real cdk.json, infra app and .keys/. */
export const REPO_ROOT = findWorkspaceRoot(__dirname) as string;

/** `-c` context of a synth (`{}`: the project's defaults). */
export type SynthContext = Readonly<Record<string, string>>;

/** A real `npx cdk synth` of the project's stack into `out`, with `-c` context. */
function synth(out: string, context: SynthContext): Promise<void> {
  const contextArgs = Object.entries(context).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  return new Promise((resolve, reject) => {
    execFile(
      path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'),
      ['synth', '--quiet', '--output', out, ...contextArgs],
      { cwd: REPO_ROOT, timeout: 120_000 },
      (error, _stdout, stderr) => (error ? reject(new Error(`cdk synth failed: ${stderr}`)) : resolve()),
    );
  });
}

/**
 * The synthesized stack with `context`: the run's shared synth for that context, or, outside the
 * repository's Jest configuration, a synth of its own in the served stack's temporary directory.
 */
export function synthesizedAssembly(context: SynthContext = {}): AssemblySource {
  return async (scratch) => {
    const cache = runCacheDirectory();
    if (cache === undefined) {
      const out = path.join(scratch, 'cdk.out');
      await synth(out, context);
      return out;
    }
    const sorted = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
    return buildOnce(cache, `cdk.out-${key}`, (into) => synth(into, context));
  };
}

/**
 * Serves the synthesized stack on an ephemeral port with its own state directory; `options` adds to (or
 * overrides) what `startLocalIot` gets, e.g. a clock.
 */
export function serveSynthesizedStack(
  options: ServeOptions = {},
  context: SynthContext = {},
): Promise<ServedStack> {
  return serveStack(synthesizedAssembly(context), options);
}

/** The private key the synthesized signed authorizer trusts (`.keys/`, created by the first synth). */
export function tokenSigningPrivateKey(): string {
  return readFileSync(
    path.join(REPO_ROOT, TOKEN_SIGNING_KEY_FILES.directory, TOKEN_SIGNING_KEY_FILES.privateKey),
    'utf8',
  );
}
