import { statSync } from 'node:fs';

/**
 * Runs every test of the calling `describe` (or file) under `umask` (default 0: every mode bit a `mkdir` or
 * `open` asks for is granted, the most permissive a user can set), restoring the previous umask after each.
 * Modes that are right only because the usual umask (022) masks them are caught this way.
 */
export function useUmask(umask = 0o000): void {
  let previous: number | undefined;
  beforeEach(() => {
    previous = process.umask(umask);
  });
  afterEach(() => {
    if (previous !== undefined) process.umask(previous);
  });
}

/** The permission bits of `path` (e.g. 0o600). */
export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}
