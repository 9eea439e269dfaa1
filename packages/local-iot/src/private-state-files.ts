import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  createWriteStream,
  fchmodSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { LocalIotError } from './errors';

/** Mode of the state directory (`.local-iot/` or `--state-dir`): only its owner may list or enter it. */
export const PRIVATE_DIRECTORY_MODE = 0o700;

/** Mode of every file local-iot writes in the state directory: only its owner may read or write it. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `directory` (and missing parents) and sets it to mode 0700. `mkdir`'s mode is masked by the umask
 * and an existing directory keeps whatever mode it had, so the mode is always set explicitly: the result is
 * 0700 whatever the umask (0 or 0277) and whatever mode an earlier version or the user left. Parents that
 * have to be created get the umask's usual mode; they are the user's directories, not local-iot's.
 *
 * @throws LocalIotError naming the directory when it cannot be created or its mode cannot be set (e.g. a
 *   file of that name exists, or the directory belongs to another user).
 */
export function ensurePrivateDirectory(directory: string): void {
  try {
    mkdirSync(directory, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  } catch (error) {
    throw stateFileError('could not create the state directory', directory, error);
  }
  restrictMode(directory, PRIVATE_DIRECTORY_MODE);
}

/**
 * Writes `content` to `file` with mode 0600 whatever the umask. The content goes to a new temporary file
 * (created exclusively with mode 0600, so it is never readable by others, not even while being written)
 * that is then renamed over `file`: an existing `file` with a looser mode is replaced, not reused, and a
 * reader never sees half a file.
 *
 * @throws LocalIotError naming the file when it cannot be written.
 */
export function writePrivateFile(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // 'wx': never follows or reuses anything already at the temporary path.
    writeFileSync(temporary, content, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    chmodSync(temporary, PRIVATE_FILE_MODE);
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw stateFileError('could not write', file, error);
  }
}

/**
 * Sets an existing state file (one local-iot reuses rather than rewrites, e.g. `secrets.json` or
 * `server-key.pem` from an earlier run) back to mode 0600, in case an older version or the user loosened it.
 *
 * @throws LocalIotError naming the file when its mode cannot be set.
 */
export function keepFilePrivate(file: string): void {
  restrictMode(file, PRIVATE_FILE_MODE);
}

/**
 * Opens `file` for writing from its start (truncated), mode 0600 even when it already existed with a looser
 * mode (the mode of `open` applies only to a file it creates), and returns its descriptor. For logs such as
 * `lambda.log`, which are written while local-iot runs. A symbolic link at `file` is refused rather than
 * followed. The caller closes the descriptor.
 *
 * @throws LocalIotError naming the file when it cannot be opened.
 */
export function openPrivateLogFile(file: string): number {
  let fd: number;
  try {
    fd = openSync(
      file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      PRIVATE_FILE_MODE,
    );
  } catch (error) {
    throw stateFileError('could not open', file, error);
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } catch (error) {
    closeSync(fd);
    throw stateFileError(`could not set mode 0${PRIVATE_FILE_MODE.toString(8)} on`, file, error);
  }
  return fd;
}

/**
 * {@link openPrivateLogFile} as a stream, for a log written asynchronously line by line (`npm start`'s
 * `gateway.log`). The stream closes the descriptor when it ends.
 *
 * @throws LocalIotError naming the file when it cannot be opened.
 */
export function createPrivateWriteStream(file: string): WriteStream {
  return createWriteStream(file, { fd: openPrivateLogFile(file) });
}

/**
 * The error for a state file or directory that cannot be read or written: what failed, the path, the
 * system's code, and the fix.
 */
export function stateFileError(what: string, file: string, cause: unknown): LocalIotError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new LocalIotError(
    `${what} '${file}'${code ? ` (${code})` : ''}; check the directory's permissions or pass another state directory`,
    { cause },
  );
}

function restrictMode(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch (error) {
    throw stateFileError(`could not set mode 0${mode.toString(8)} on`, path, error);
  }
}
