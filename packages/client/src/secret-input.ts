import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, UsageError } from './errors';
import { resolveInvocationPaths } from './paths';

/**
 * Where the client's secrets come from when they should not be on the command line: a command line is visible
 * to every process on the machine (`ps`), and npm prints it in its `> client@0.1.0 connect ...` banner and
 * writes it into `~/.npm/_logs/*-debug-0.log`. Each secret can come from a flag (still accepted, with a
 * warning), a file flag (mode checked; `-` reads stdin) or an environment variable. Precedence: the flag, then
 * the file flag, then the environment variable; the flag and the file flag together are a usage error.
 */

/** The `CliConfig` fields that hold a secret. */
export type SecretField = 'password' | 'tokenValue' | 'signature';

/** One secret and the three ways to give it. */
export interface SecretSpec {
  readonly field: SecretField;
  /** The flag that takes the value itself (visible to other processes). */
  readonly flag: string;
  /** The flag that names a file (or `-` for stdin) holding the value. */
  readonly fileFlag: string;
  readonly envVar: string;
}

export const SECRET_SPECS: readonly SecretSpec[] = [
  {
    field: 'password',
    flag: 'custom_auth_password',
    fileFlag: 'custom_auth_password_file',
    envVar: 'IOT_CUSTOM_AUTH_PASSWORD',
  },
  {
    field: 'tokenValue',
    flag: 'custom_auth_token_value',
    fileFlag: 'custom_auth_token_value_file',
    envVar: 'IOT_CUSTOM_AUTH_TOKEN',
  },
  {
    field: 'signature',
    flag: 'custom_auth_authorizer_signature',
    fileFlag: 'custom_auth_authorizer_signature_file',
    envVar: 'IOT_CUSTOM_AUTH_SIGNATURE',
  },
];

/** The secrets found, and where each that was not a flag came from (a file flag and its file, or a variable's name). */
export type ResolvedSecrets = Partial<Record<SecretField, string>> & {
  readonly secretOrigins?: Readonly<Partial<Record<SecretField, string>>>;
};

/** An opened secret file: its permission bits and its text. */
export interface SecretFile {
  readonly mode: number;
  readonly text: string;
}

/** What resolving the secrets reads and where its one warning goes. */
export interface SecretInput {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Opens `path` once and returns its mode and text (so the mode checked is the file read). */
  readonly readSecretFile: (path: string) => SecretFile;
  readonly readStdin: () => string;
  /** Whether the permission bits mean anything here (not on Windows). */
  readonly checkMode: boolean;
  readonly warn: (text: string) => void;
}

/**
 * The process's environment, files, stdin and stderr. A relative file path is resolved where the user typed
 * the command (`INIT_CWD` under `npm run ... -w client`, as every other path flag; see `paths.ts`).
 */
export function processSecretInput(
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): SecretInput {
  const { invocationDir } = resolveInvocationPaths(cwd, env, ownPackageName());
  return {
    env,
    readSecretFile: (path) => {
      const fd = openSync(resolve(invocationDir, path), 'r');
      try {
        return { mode: fstatSync(fd).mode, text: readFileSync(fd, 'utf8') };
      } finally {
        closeSync(fd);
      }
    },
    readStdin: () => readFileSync(0, 'utf8'),
    checkMode: process.platform !== 'win32',
    warn: (text) => process.stderr.write(text),
  };
}

/** This package's npm name, which `resolveInvocationPaths` needs to trust `INIT_CWD`. */
function ownPackageName(): string {
  try {
    const manifest: unknown = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
    const name = (manifest as { name?: unknown }).name;
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

/** Group or others may read the file. */
const READABLE_BY_OTHERS = 0o044;

/**
 * Resolves every secret from the parsed flags (`strings`, keyed by flag name with `_` separators), the files
 * they name and the environment, and prints one warning when any secret was given as a flag. Never puts a
 * value in a message.
 * @throws UsageError when a secret's flag and file flag are both given, or stdin is named twice;
 *         ConfigError when a file cannot be read, is readable by others, or is empty.
 */
export function resolveSecrets(strings: ReadonlyMap<string, string>, input: SecretInput): ResolvedSecrets {
  const stdinFlags = SECRET_SPECS.filter((spec) => strings.get(spec.fileFlag) === '-');
  if (stdinFlags.length > 1) {
    throw new UsageError(
      `${stdinFlags.map((spec) => `--${spec.fileFlag}`).join(' and ')} both read stdin (-): stdin holds one secret, so give the others as files or environment variables`,
    );
  }
  const resolved: Partial<Record<SecretField, string>> = {};
  const origins: Partial<Record<SecretField, string>> = {};
  const onCommandLine: SecretSpec[] = [];
  for (const spec of SECRET_SPECS) {
    const value = strings.get(spec.flag);
    const file = strings.get(spec.fileFlag);
    if (value !== undefined && file !== undefined) {
      throw new UsageError(
        `--${spec.flag} and --${spec.fileFlag} both give the same secret: give one (--${spec.fileFlag} keeps it off the command line)`,
      );
    }
    if (value !== undefined) {
      onCommandLine.push(spec);
      resolved[spec.field] = value;
    } else if (file !== undefined) {
      resolved[spec.field] = readSecret(spec, file, input);
      origins[spec.field] = file === '-' ? `--${spec.fileFlag} - (stdin)` : `--${spec.fileFlag} ${file}`;
    } else {
      const fromEnv = input.env[spec.envVar];
      if (fromEnv !== undefined && fromEnv.length > 0) {
        resolved[spec.field] = fromEnv;
        origins[spec.field] = spec.envVar;
      }
    }
  }
  if (onCommandLine.length > 0) input.warn(commandLineWarning(onCommandLine));
  // A flag-given secret has no entry: messages name its flag by default.
  return Object.keys(origins).length === 0 ? resolved : { ...resolved, secretOrigins: origins };
}

function commandLineWarning(specs: readonly SecretSpec[]): string {
  const flags = specs.map((spec) => `--${spec.flag}`).join(', ');
  const instead = specs.map((spec) => `${spec.envVar} or --${spec.fileFlag} <file>`).join('; ');
  return `Warning: ${flags} on the command line ${specs.length === 1 ? 'is' : 'are'} visible to other processes (ps) and in npm's banner and logs (~/.npm/_logs); use ${instead} (chmod 600, or - for stdin) instead.\n`;
}

/** Reads one secret file (or stdin), checks its mode and strips one trailing newline. */
function readSecret(spec: SecretSpec, file: string, input: SecretInput): string {
  const from = file === '-' ? 'stdin' : file;
  let text: string;
  if (file === '-') {
    text = input.readStdin();
  } else {
    let opened: SecretFile;
    try {
      opened = input.readSecretFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ConfigError(
        `--${spec.fileFlag} ${file} cannot be read (${code ?? (error as Error).message}): give a file that exists and that you can read`,
        { cause: error },
      );
    }
    if (input.checkMode && (opened.mode & READABLE_BY_OTHERS) !== 0) {
      throw new ConfigError(
        `--${spec.fileFlag} ${file} is readable by other users (mode ${(opened.mode & 0o777).toString(8).padStart(3, '0')}): run chmod 600 ${file}`,
      );
    }
    text = opened.text;
  }
  const value = text.replace(/\r?\n$/, '');
  if (value.length === 0) {
    throw new ConfigError(`--${spec.fileFlag}: ${from} is empty: put the secret in it (one line)`);
  }
  return value;
}
