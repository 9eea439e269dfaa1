import { ConfigError } from './errors';

/**
 * Reads a file as UTF-8; rejects with a Node.js error (`code` ENOENT, EACCES, ...). Every file the client
 * reads goes through one of these, so that tests pass an in-memory one.
 */
export type ReadTextFile = (path: string) => Promise<string>;

/** Words a failed read for the user: what the file is, why it failed, and the fix. */
export type ReadFailureMessage = (error: NodeJS.ErrnoException) => string;

/**
 * Reads a file the configuration needs (a flag's file, the key, the CA). A file that cannot be read is a
 * configuration error (exit 2), not a bug: the message comes from `describe`, the Node.js error is its cause.
 * @throws ConfigError when the file cannot be read.
 */
export async function readConfigFile(
  readFile: ReadTextFile,
  path: string,
  describe: ReadFailureMessage,
): Promise<string> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ConfigError(describe(error as NodeJS.ErrnoException), { cause: error });
  }
}

/**
 * Reads a file the client uses when it is there (the default outputs file, the connection file beside the
 * outputs): `undefined` when it does not exist; any other failure (EACCES, EISDIR, ...) is reported rather
 * than taken for absence, since the user would otherwise wonder why the file was ignored.
 * @throws ConfigError when the file exists but cannot be read.
 */
export async function readConfigFileIfPresent(
  readFile: ReadTextFile,
  path: string,
  describe: ReadFailureMessage,
): Promise<string | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(describe(error as NodeJS.ErrnoException), { cause: error });
  }
}
