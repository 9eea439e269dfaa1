import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isRecord } from './is-record';

/**
 * The repository root: the nearest directory at or above `start` whose package.json declares npm
 * `workspaces`. `cdk-outputs.json`, `.keys/`, `.local-iot/` and `cdk.out/` live there. `undefined` outside
 * a checkout of this repository.
 */
export function findWorkspaceRoot(start: string): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && declaresWorkspaces(manifest)) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function declaresWorkspaces(manifest: string): boolean {
  try {
    const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
    return isRecord(parsed) && 'workspaces' in parsed;
  } catch {
    // An unreadable package.json is just not the root we are looking for.
    return false;
  }
}
