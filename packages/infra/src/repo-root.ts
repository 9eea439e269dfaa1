import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { InfraError } from './errors';

/** The file that marks the repository root: the npm workspaces lock file, which bundling needs anyway. */
const ROOT_MARKER = 'package-lock.json';

/**
 * The repository root: the nearest directory at or above `fromDir` holding `package-lock.json`. Resolved by
 * walking up rather than by a fixed `../..`, because this module runs both from `src/` (tsx, Jest) and from
 * `dist/src/` (compiled).
 * @throws InfraError when no such directory exists.
 */
export function findRepoRoot(fromDir: string = __dirname): string {
  let dir = path.resolve(fromDir);
  for (;;) {
    if (existsSync(path.join(dir, ROOT_MARKER))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new InfraError(
        `cannot find the repository root (a directory with ${ROOT_MARKER}) above ${fromDir}: run from a checkout of this repository after \`npm ci\``,
      );
    }
    dir = parent;
  }
}

/** Where the authorizer Lambda's source lives inside the repository. */
export interface AuthorizerLambdaSource {
  /** The repository root, used as esbuild's project root. */
  readonly projectRoot: string;
  /** `packages/authorizer-lambda/src/handler.ts`, which exports `handler`. */
  readonly entry: string;
  /** The root lock file. */
  readonly depsLockFilePath: string;
  /** The root `tsconfig.json`, whose `paths` let esbuild bundle `@iot-custom-auth/*` from source. */
  readonly tsconfig: string;
}

/** The authorizer Lambda's entry point and build inputs under `repoRoot`. */
export function authorizerLambdaSource(repoRoot: string): AuthorizerLambdaSource {
  return {
    projectRoot: repoRoot,
    entry: path.join(repoRoot, 'packages', 'authorizer-lambda', 'src', 'handler.ts'),
    depsLockFilePath: path.join(repoRoot, ROOT_MARKER),
    tsconfig: path.join(repoRoot, 'tsconfig.json'),
  };
}
