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

/**
 * The `authorizer-lambda` package directory, resolved through infra's declared dependency on it (a workspace
 * link), so the bundled source is the package npm installed rather than a path guessed from the layout.
 * @throws InfraError when it is not installed.
 */
export function authorizerLambdaPackageDir(): string {
  try {
    return path.dirname(require.resolve('authorizer-lambda/package.json'));
  } catch (error) {
    throw new InfraError(
      'cannot find the authorizer-lambda package, which infra depends on: run `npm ci` at the repository root',
      { cause: error },
    );
  }
}

/**
 * The authorizer Lambda's entry point and build inputs under `repoRoot`.
 * @param packageDir the `authorizer-lambda` package; by default where this repository's layout puts it
 */
export function authorizerLambdaSource(
  repoRoot: string,
  packageDir: string = path.join(repoRoot, 'packages', 'authorizer-lambda'),
): AuthorizerLambdaSource {
  return {
    projectRoot: repoRoot,
    entry: path.join(packageDir, 'src', 'handler.ts'),
    depsLockFilePath: path.join(repoRoot, LOCK_FILE),
    tsconfig: path.join(repoRoot, 'tsconfig.json'),
  };
}
