import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

/**
 * Writes `content` to `file` with `mode` unless `file` exists; returns whether it wrote. The content goes to a
 * temporary file first and is hard-linked into place: atomic (a reader never sees a half-written key), and it
 * never replaces an existing file, so two processes racing to create the same key (tests and `cdk synth`) end
 * with one of the two keys, never a mix.
 */
export function writeFileIfAbsent(file: string, content: string, mode: number): boolean {
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temporary, content, { mode, flag: 'wx' });
  try {
    // The umask may have cleared bits of `mode` on creation, never added any; chmod makes the mode exact.
    fs.chmodSync(temporary, mode);
    fs.linkSync(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}
