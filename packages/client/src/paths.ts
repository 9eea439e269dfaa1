import { resolve } from 'node:path';
import { findWorkspaceRoot } from '@iot-custom-auth/protocol';

/** Where relative paths on the command line and the default files are resolved. */
export interface InvocationPaths {
  /** The directory the user ran the command in: relative flag values are resolved against it. */
  readonly invocationDir: string;
  /** The npm workspaces root (holds `cdk-outputs.json` and `.keys/`), or `invocationDir` outside the repository. */
  readonly repoRoot: string;
}

/**
 * Works out where the user is. `npm run connect -w client` runs the script with the package directory as
 * the working directory and sets `INIT_CWD` to where the user typed the command; only then (npm running this
 * package's own script, `npm_package_name` is ours) is `INIT_CWD` trusted, because a parent script may have
 * set it for another package. The repository root is the nearest directory at or above that one whose
 * package.json declares `workspaces`: `cdk deploy --outputs-file cdk-outputs.json` and `.keys/` live there.
 */
export function resolveInvocationPaths(
  cwd: string,
  env: Readonly<Record<string, string | undefined>>,
  packageName: string,
): InvocationPaths {
  const fromNpm = env.npm_package_name === packageName && env.INIT_CWD ? env.INIT_CWD : undefined;
  const invocationDir = resolve(fromNpm ?? cwd);
  return { invocationDir, repoRoot: findWorkspaceRoot(invocationDir) ?? invocationDir };
}
