import {
  chmodSync,
  closeSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  createPrivateWriteStream,
  ensurePrivateDirectory,
  keepFilePrivate,
  openPrivateLogFile,
  writePrivateFile,
} from '../src/private-state-files';
import { removeDir, tempDir } from './fixtures/assembly';
import { expectLocalIotError } from './support/gateway-harness';
import { modeOf, useUmask } from './support/permissive-umask';

let root: string;

beforeEach(() => {
  root = tempDir('private');
});

afterEach(() => removeDir(root));

describe.each([
  ['a permissive umask (000)', 0o000],
  ['a restrictive umask (277)', 0o277],
])('under %s', (_name, umask) => {
  useUmask(umask);

  it('creates the state directory (and missing parents) with mode 0700', () => {
    const dir = join(root, 'a', 'b', '.local-iot');
    ensurePrivateDirectory(dir);
    expect(modeOf(dir)).toBe(0o700);
  });

  it('writes a new file with mode 0600', () => {
    const file = join(root, 'secrets.json');
    writePrivateFile(file, '{"a":1}\n');
    expect(modeOf(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n');
  });
});

describe('with a permissive umask', () => {
  useUmask(0o000);

  it('tightens a state directory that already exists with a looser mode', () => {
    const dir = join(root, '.local-iot');
    mkdirSync(dir, { mode: 0o755 });
    expect(modeOf(dir)).toBe(0o755);
    ensurePrivateDirectory(dir);
    expect(modeOf(dir)).toBe(0o700);
  });

  it('replaces a file that exists with a looser mode, leaving no temporary file behind', () => {
    const file = join(root, 'connection.json');
    writeFileSync(file, 'old', { mode: 0o666 });
    writePrivateFile(file, 'new');
    expect(modeOf(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(readdirSync(root)).toEqual(['connection.json']);
  });

  it('sets a reused file back to 0600', () => {
    const file = join(root, 'server-key.pem');
    writeFileSync(file, 'key', { mode: 0o644 });
    keepFilePrivate(file);
    expect(modeOf(file)).toBe(0o600);
  });

  it('opens a log file 0600 and truncated, also over a looser existing log', () => {
    const file = join(root, 'gateway.log');
    writeFileSync(file, 'the previous run, much longer than this one\n', { mode: 0o666 });
    const fd = openPrivateLogFile(file);
    expect(modeOf(file)).toBe(0o600);
    writeSync(fd, 'line\n');
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe('line\n');
    expect(modeOf(file)).toBe(0o600);
  });

  it('opens a log stream the same way', async () => {
    const file = join(root, 'lambda.log');
    writeFileSync(file, 'the previous run, much longer than this one\n', { mode: 0o666 });
    const stream = createPrivateWriteStream(file);
    expect(modeOf(file)).toBe(0o600);
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.end('line\n', resolve);
    });
    expect(readFileSync(file, 'utf8')).toBe('line\n');
  });
});

/** `action` as a promise, so a synchronous throw becomes its rejection. */
const attempt = (action: () => unknown): Promise<unknown> => Promise.resolve().then(action);

describe('errors', () => {
  it('names the path and the fix when the state directory is a file', async () => {
    const file = join(root, 'not-a-dir');
    writeFileSync(file, '');
    await expectLocalIotError(
      attempt(() => ensurePrivateDirectory(file)),
      `could not create the state directory '${file}' (EEXIST); check the directory's permissions or pass another state directory`,
    );
  });

  it('refuses to write a log through a symbolic link', async () => {
    const target = join(root, 'elsewhere.txt');
    writeFileSync(target, 'untouched');
    chmodSync(target, 0o644);
    const link = join(root, 'lambda.log');
    symlinkSync(target, link);
    await expectLocalIotError(
      attempt(() => openPrivateLogFile(link)),
      `could not open '${link}' (ELOOP); check the directory's permissions or pass another state directory`,
    );
    expect(readFileSync(target, 'utf8')).toBe('untouched');
    expect(modeOf(target)).toBe(0o644);
  });

  it('names the file when it cannot be written (its directory is missing)', async () => {
    const file = join(root, 'missing', 'outputs.json');
    await expectLocalIotError(
      attempt(() => writePrivateFile(file, '{}')),
      `could not write '${file}' (ENOENT); check the directory's permissions or pass another state directory`,
    );
  });
});
