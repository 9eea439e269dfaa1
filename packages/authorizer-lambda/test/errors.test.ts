import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { AuthorizerError, ConfigError, CredentialsUnavailableError } from '../src/errors';

const REPO = join(__dirname, '..', '..', '..');

describe('authorizer errors', () => {
  it.each([
    [AuthorizerError, 'AuthorizerError'],
    [ConfigError, 'ConfigError'],
  ])('%p is an AuthorizerError named after its class that keeps its cause', (ErrorClass, name) => {
    const cause = new Error('the root problem');
    const error = new ErrorClass('DEVICE_SECRET_ARN is not set', { cause });
    expect(error).toBeInstanceOf(AuthorizerError);
    expect(error.name).toBe(name);
    expect(String(error)).toBe(`${name}: DEVICE_SECRET_ARN is not set`);
    expect(error.cause).toBe(cause);
  });

  it('CredentialsUnavailableError carries its reason and cause', () => {
    const cause = new Error('timeout');
    const error = new CredentialsUnavailableError('SECRET_UNAVAILABLE', 'Secrets Manager timed out', {
      cause,
    });
    expect(error).toBeInstanceOf(AuthorizerError);
    expect(error.name).toBe('CredentialsUnavailableError');
    expect(error.reason).toBe('SECRET_UNAVAILABLE');
    expect(error.cause).toBe(cause);
  });

  it('keeps every name in a minified bundle, as the Lambda is deployed', () => {
    // The same esbuild settings that matter here as packages/infra and the `bundle` script: --minify.
    const { outputFiles } = buildSync({
      stdin: {
        contents: "export * from './errors'; export { ProtocolError } from '@iot-custom-auth/protocol';",
        resolveDir: join(__dirname, '..', 'src'),
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      tsconfig: join(REPO, 'tsconfig.json'),
      write: false,
      logLevel: 'silent',
    });
    const code = outputFiles[0]?.text ?? '';
    // Minification does rename the classes: only the names they state survive.
    expect(code).not.toMatch(
      /class (AuthorizerError|ConfigError|CredentialsUnavailableError|ProtocolError)\b/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'authorizer-errors-'));
    try {
      const file = join(dir, 'errors.js');
      writeFileSync(file, code);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const bundled = require(file) as Record<string, new (...args: never[]) => Error>;
      const names = Object.entries(bundled).map(([exported, ErrorClass]) => {
        const error =
          exported === 'CredentialsUnavailableError'
            ? new (ErrorClass as unknown as typeof CredentialsUnavailableError)('SECRET_INVALID', 'm')
            : new (ErrorClass as unknown as typeof AuthorizerError)('m');
        return [exported, error.name];
      });
      expect(Object.fromEntries(names)).toEqual({
        AuthorizerError: 'AuthorizerError',
        ConfigError: 'ConfigError',
        CredentialsUnavailableError: 'CredentialsUnavailableError',
        ProtocolError: 'ProtocolError',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
