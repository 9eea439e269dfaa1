import { ConfigError } from '../src/errors';
import { readConfigFile, readConfigFileIfPresent } from '../src/read-config-file';
import { rejectionOf } from './fixtures/caught';
import { inMemoryFiles } from './fixtures/in-memory-files';

const DENIED = Object.assign(new Error("EACCES: permission denied, open '/etc/key.pem'"), { code: 'EACCES' });
const FILES = inMemoryFiles({ '/etc/ca.pem': 'PEM', '/etc/key.pem': DENIED });
const describeFailure = (error: NodeJS.ErrnoException): string =>
  `cannot read the file: ${error.code ?? 'no code'} (${error.message})`;

describe('readConfigFile', () => {
  it('returns the text of a readable file', async () => {
    expect(await readConfigFile(FILES, '/etc/ca.pem', describeFailure)).toBe('PEM');
  });

  it.each([
    ['is missing', '/etc/none.pem', 'ENOENT', "ENOENT: no such file or directory, open '/etc/none.pem'"],
    ['cannot be read', '/etc/key.pem', 'EACCES', "EACCES: permission denied, open '/etc/key.pem'"],
  ])(
    'turns a file that %s into a ConfigError worded by the caller, keeping the cause',
    async (_name, path, code, nodeMessage) => {
      const error = await rejectionOf(readConfigFile(FILES, path, describeFailure));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(`cannot read the file: ${code} (${nodeMessage})`);
      expect(error.cause).toMatchObject({ code, message: nodeMessage });
    },
  );
});

describe('readConfigFileIfPresent', () => {
  it('returns the text of a readable file', async () => {
    expect(await readConfigFileIfPresent(FILES, '/etc/ca.pem', describeFailure)).toBe('PEM');
  });

  it('returns undefined, without wording an error, when the file does not exist', async () => {
    const never = (): string => {
      throw new Error('a missing file is not a failure');
    };
    expect(await readConfigFileIfPresent(FILES, '/etc/none.pem', never)).toBeUndefined();
  });

  it('reports a file that exists but cannot be read instead of taking it for absent', async () => {
    const error = await rejectionOf(readConfigFileIfPresent(FILES, '/etc/key.pem', describeFailure));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      "cannot read the file: EACCES (EACCES: permission denied, open '/etc/key.pem')",
    );
    expect(error.cause).toBe(DENIED);
  });
});
