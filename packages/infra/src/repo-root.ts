import * as path from 'node:path';
import { findWorkspaceRoot } from '@iot-custom-auth/protocol';
import { InfraError } from './errors';

/** The root lock file, which bundling needs. */
const LOCK_FILE = 'package-lock.json';

/**
 * The repository root (the npm workspaces root at or above `fromDir`). Resolved by walking up rather than by a
 * fixed `../..`, because this module runs both from `src/` (tsx, Jest) and from `dist/src/` (compiled).
 * @throws InfraError when `fromDir` is not inside a checkout of this repository.
 */
export function findRepoRoot(fromDir: string = __dirname): string {
  const root = findWorkspaceRoot(fromDir);
  if (root === undefined) {
    throw new InfraError(
      `cannot find the repository root (a package.json declaring workspaces) above ${fromDir}: run from a checkout of this repository after \`npm ci\``,
    );
  }
  return root;
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
    depsLockFilePath: path.join(repoRoot, LOCK_FILE),
    tsconfig: path.join(repoRoot, 'tsconfig.json'),
  };
}
