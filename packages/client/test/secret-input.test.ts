import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseArgs } from '../src/args';
import { ConfigError, UsageError } from '../src/errors';
import { processSecretInput, resolveSecrets, SECRET_SPECS, type SecretInput } from '../src/secret-input';

// resolveSecrets with real files (their real modes) and a recorded environment, stdin and warning sink.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'client-secret-input-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Recorded extends SecretInput {
  readonly warnings: string[];
  stdinReads: number;
}

function input(env: Record<string, string> = {}, stdin = ''): Recorded {
  const recorded: Recorded = {
    ...processSecretInput(),
    env,
    readStdin: () => {
      recorded.stdinReads++;
      return stdin;
    },
    warn: (text) => recorded.warnings.push(text),
    warnings: [],
    stdinReads: 0,
  };
  return recorded;
}

function secretFile(name: string, text: string, mode = 0o600): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode });
  chmodSync(file, mode); // the umask may have narrowed the mode writeFileSync was given
  return file;
}

const flags = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries(entries));

describe('resolveSecrets', () => {
  it('reads each secret from its environment variable without a warning', () => {
    const recorded = input({
      IOT_CUSTOM_AUTH_PASSWORD: 'env-password',
      IOT_CUSTOM_AUTH_TOKEN: 'env-token',
      IOT_CUSTOM_AUTH_SIGNATURE: 'env-signature',
    });
    expect(resolveSecrets(flags({}), recorded)).toEqual({
      password: 'env-password',
      tokenValue: 'env-token',
      signature: 'env-signature',
      secretOrigins: {
        password: 'IOT_CUSTOM_AUTH_PASSWORD',
        tokenValue: 'IOT_CUSTOM_AUTH_TOKEN',
        signature: 'IOT_CUSTOM_AUTH_SIGNATURE',
      },
    });
    expect(recorded.warnings).toEqual([]);
  });

  it('ignores an empty environment variable, as if it were unset', () => {
    expect(resolveSecrets(flags({}), input({ IOT_CUSTOM_AUTH_PASSWORD: '' }))).toEqual({});
  });

  it('reads a 0600 file and drops one trailing newline (LF or CRLF), no more', () => {
    const password = secretFile('password', 'file-password\n');
    const token = secretFile('token', 'line1\n\n', 0o400);
    const signature = secretFile('signature', 'sig\r\n');
    const recorded = input();
    expect(
      resolveSecrets(
        flags({
          custom_auth_password_file: password,
          custom_auth_token_value_file: token,
          custom_auth_authorizer_signature_file: signature,
        }),
        recorded,
      ),
    ).toMatchObject({ password: 'file-password', tokenValue: 'line1\n', signature: 'sig' });
    expect(recorded.warnings).toEqual([]);
  });

  it.each([0o644, 0o640, 0o604])('refuses a file with mode %o, naming the file and chmod 600', (mode) => {
    const file = secretFile('open', 'secret-in-open-file', mode);
    const error = catchError(() => resolveSecrets(flags({ custom_auth_password_file: file }), input()));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `--custom_auth_password_file ${file} is readable by other users (mode ${mode.toString(8)}): run chmod 600 ${file}`,
    );
    expect(error.message).not.toContain('secret-in-open-file');
  });

  it('says which file cannot be read', () => {
    const missing = join(dir, 'missing');
    const error = catchError(() => resolveSecrets(flags({ custom_auth_token_value_file: missing }), input()));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `--custom_auth_token_value_file ${missing} cannot be read (ENOENT): give a file that exists and that you can read`,
    );
  });

  it('refuses an empty file or an empty stdin', () => {
    const empty = secretFile('empty', '\n');
    expect(() => resolveSecrets(flags({ custom_auth_password_file: empty }), input())).toThrow(
      `--custom_auth_password_file: ${empty} is empty: put the secret in it (one line)`,
    );
    expect(() => resolveSecrets(flags({ custom_auth_password_file: '-' }), input({}, ''))).toThrow(
      '--custom_auth_password_file: stdin is empty: put the secret in it (one line)',
    );
  });

  it('reads stdin for a file flag given -, once', () => {
    const recorded = input({}, 'stdin-signature\n');
    expect(resolveSecrets(flags({ custom_auth_authorizer_signature_file: '-' }), recorded)).toEqual({
      signature: 'stdin-signature',
      secretOrigins: { signature: '--custom_auth_authorizer_signature_file - (stdin)' },
    });
    expect(recorded.stdinReads).toBe(1);
  });

  it('refuses - on two file flags: stdin holds one secret', () => {
    const recorded = input({}, 'x');
    const error = catchError(() =>
      resolveSecrets(flags({ custom_auth_password_file: '-', custom_auth_token_value_file: '-' }), recorded),
    );
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toContain(
      '--custom_auth_password_file and --custom_auth_token_value_file both read stdin',
    );
    expect(recorded.stdinReads).toBe(0);
  });

  it('precedence: the flag, then the file flag, then the environment variable', () => {
    const file = secretFile('password', 'from-file');
    const env = { IOT_CUSTOM_AUTH_PASSWORD: 'from-env' };
    expect(resolveSecrets(flags({ custom_auth_password: 'from-flag' }), input(env)).password).toBe(
      'from-flag',
    );
    expect(resolveSecrets(flags({ custom_auth_password_file: file }), input(env)).password).toBe('from-file');
    expect(resolveSecrets(flags({}), input(env)).password).toBe('from-env');
  });

  it.each(SECRET_SPECS.map((spec) => [spec.flag, spec.fileFlag]))(
    '--%s and --%s together are a usage error naming both',
    (flag, fileFlag) => {
      const file = secretFile('secret', 'from-file');
      const error = catchError(() =>
        resolveSecrets(flags({ [flag]: 'from-flag', [fileFlag]: file }), input()),
      );
      expect(error).toBeInstanceOf(UsageError);
      expect(error.message).toBe(
        `--${flag} and --${fileFlag} both give the same secret: give one (--${fileFlag} keeps it off the command line)`,
      );
    },
  );

  it('warns once, naming every flag-given secret and its replacements, never a value', () => {
    const recorded = input();
    resolveSecrets(
      flags({
        custom_auth_password: 'pw-value-1',
        custom_auth_token_value: 'token-value-2',
        custom_auth_authorizer_signature: 'signature-value-3',
      }),
      recorded,
    );
    expect(recorded.warnings).toHaveLength(1);
    const [warning] = recorded.warnings as [string];
    for (const spec of SECRET_SPECS) {
      expect(warning).toContain(`--${spec.flag}`);
      expect(warning).toContain(spec.envVar);
      expect(warning).toContain(`--${spec.fileFlag}`);
    }
    expect(warning).toMatch(/visible to other processes \(ps\) and in npm's banner and logs/);
    expect(warning).not.toMatch(/pw-value-1|token-value-2|signature-value-3/);
  });

  it('no error or warning ever contains the secret (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 6, maxLength: 40 }).filter((text) => /^[!-~]+$/.test(text)),
        fc.constantFrom(0o600, 0o644, 0o640),
        fc.boolean(),
        (secret, mode, alsoFlag) => {
          const file = secretFile('prop', `${secret}\n`, mode);
          const recorded = input({ IOT_CUSTOM_AUTH_PASSWORD: secret });
          const given: Record<string, string> = alsoFlag ? { custom_auth_token_value: secret } : {};
          let message = '';
          try {
            resolveSecrets(flags({ ...given, custom_auth_password_file: file }), recorded);
          } catch (error) {
            message = (error as Error).message;
          }
          return ![message, ...recorded.warnings].some((text) => text.includes(secret));
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('processSecretInput', () => {
  it('resolves a relative file where the user typed npm run (INIT_CWD), not in the package directory', () => {
    secretFile('password', 'typed-here');
    const npmInput = processSecretInput({ npm_package_name: 'client', INIT_CWD: dir }, tmpdir());
    expect(npmInput.readSecretFile('password').text).toBe('typed-here');
    const plainInput = processSecretInput({}, dir);
    expect(plainInput.readSecretFile('password').text).toBe('typed-here');
  });
});

describe('parseArgs with secrets', () => {
  it('takes the token and signature from files and checks them as if they were flags', () => {
    const token = secretFile('token', 'my-token\n');
    const signature = secretFile('signature', 'ab+/cd==\n');
    const recorded = input();
    const config = parseArgs(
      [
        '--custom_auth_token_key_name',
        'tok',
        '--custom_auth_token_value_file',
        token,
        '--custom-auth-authorizer-signature-file',
        signature,
      ],
      recorded,
    );
    expect(config).toMatchObject({ tokenValue: 'my-token', signature: encodeURIComponent('ab+/cd==') });
    expect(recorded.warnings).toEqual([]);
  });

  it('applies the all-or-none token rule to secrets from the environment', () => {
    expect(() =>
      parseArgs(['--custom_auth_token_key_name', 'tok'], input({ IOT_CUSTOM_AUTH_TOKEN: 't' })),
    ).toThrow(/missing --custom_auth_authorizer_signature/);
  });

  it('reads nothing for --help', () => {
    const recorded = input({}, 'never read');
    expect(parseArgs(['--custom_auth_password_file', '-', '--help'], recorded).help).toBe(true);
    expect(recorded.stdinReads).toBe(0);
  });
});

function catchError(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
