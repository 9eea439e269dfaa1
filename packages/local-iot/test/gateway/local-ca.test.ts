import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { ensureLocalCa, normalizeHosts } from '../../src/gateway/local-ca';
import { expectLocalIotError, withTimeout } from '../support/gateway-harness';
import { modeOf, useUmask } from '../support/permissive-umask';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-iot-ca-test-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;

describe('ensureLocalCa', () => {
  it('creates a CA and a server certificate for localhost, 127.0.0.1 and the endpoint host', async () => {
    const ca = await ensureLocalCa(dir, ['iot.local']);

    expect(ca).toMatchObject({
      caFile: join(dir, 'ca.pem'),
      certFile: join(dir, 'server.pem'),
      keyFile: join(dir, 'server-key.pem'),
      hosts: ['127.0.0.1', 'iot.local', 'localhost'],
      renewed: 'missing',
    });
    expect(await readFile(ca.caFile, 'utf8')).toBe(ca.ca);
    expect(await readFile(ca.certFile, 'utf8')).toBe(ca.cert);
    expect(await readFile(ca.keyFile, 'utf8')).toBe(ca.key);
    expect((await stat(ca.keyFile)).mode & 0o777).toBe(0o600);

    const root = new X509Certificate(ca.ca);
    const leaf = new X509Certificate(ca.cert);
    expect(root.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(root) && leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.checkPrivateKey(createPrivateKey(ca.key))).toBe(true);
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1, DNS:iot.local, DNS:localhost');
    expect(leaf.subject).toBe('CN=iot.local\nO=iot-custom-auth (local development only)');
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(leaf.validTo).getTime()).toBe(ca.notAfter.getTime() - (ca.notAfter.getTime() % 1000));
  });

  it('reuses the files on the next call with the same hosts', async () => {
    const first = await ensureLocalCa(dir, ['localhost']);
    const second = await ensureLocalCa(dir, ['LOCALHOST', '127.0.0.1']);
    expect(second.renewed).toBeUndefined();
    expect([second.ca, second.cert, second.key]).toEqual([first.ca, first.cert, first.key]);
  });

  it('makes new files when the hosts change', async () => {
    const first = await ensureLocalCa(dir, []);
    const second = await ensureLocalCa(dir, ['iot.local']);
    expect(second.renewed).toBe('hosts-changed');
    expect(second.cert).not.toBe(first.cert);
    expect(new X509Certificate(second.cert).subjectAltName).toContain('DNS:iot.local');
  });

  it('makes new files when the certificate expires within the renewal window', async () => {
    const start = Date.now();
    const first = await ensureLocalCa(dir, [], { validityDays: 30, now: () => new Date(start) });
    const stillValid = await ensureLocalCa(dir, [], {
      validityDays: 30,
      now: () => new Date(start + 22 * DAY),
    });
    expect(stillValid.renewed).toBeUndefined();
    const renewed = await ensureLocalCa(dir, [], { validityDays: 30, now: () => new Date(start + 24 * DAY) });
    expect(renewed.renewed).toBe('expiring');
    expect(renewed.cert).not.toBe(first.cert);
  });

  it.each([
    ['server.pem', 'not a certificate'],
    ['server-key.pem', 'not a key'],
    ['ca.pem', 'not a certificate'],
  ])('makes new files when %s holds garbage', async (file, content) => {
    await ensureLocalCa(dir, []);
    await writeFile(join(dir, file), content);
    expect((await ensureLocalCa(dir, [])).renewed).toBe('invalid');
  });

  it('makes new files when the server certificate is not issued by the CA', async () => {
    await ensureLocalCa(dir, []);
    const otherDir = await mkdtemp(join(tmpdir(), 'local-iot-ca-other-'));
    try {
      const other = await ensureLocalCa(otherDir, []);
      await writeFile(join(dir, 'ca.pem'), other.ca);
      expect((await ensureLocalCa(dir, [])).renewed).toBe('invalid');
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('makes new files when one is missing', async () => {
    await ensureLocalCa(dir, []);
    await rm(join(dir, 'server-key.pem'));
    expect((await ensureLocalCa(dir, [])).renewed).toBe('missing');
  });

  it('produces a certificate a TLS client verifies with ca.pem alone', async () => {
    const ca = await ensureLocalCa(dir, ['iot.local']);
    const server = createServer({ cert: ca.cert, key: ca.key }, (socket) => socket.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      for (const servername of ['localhost', 'iot.local']) {
        const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername, ca: ca.ca });
        const authorized = await withTimeout(
          new Promise<boolean>((resolve, reject) => {
            socket.once('secureConnect', () => resolve(socket.authorized));
            socket.once('error', reject);
          }),
          'TLS handshake',
        );
        socket.destroy();
        expect(authorized).toBe(true);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses a host that is neither a DNS name nor an IP address', async () => {
    await expectLocalIotError(
      ensureLocalCa(dir, ['bad_host!']),
      "endpoint host 'bad_host!' is not a DNS name or an IP address; use a name such as 'localhost' or 'iot.local'",
    );
  });

  it('refuses a renewal window as long as the validity', async () => {
    await expectLocalIotError(
      ensureLocalCa(dir, [], { validityDays: 7, renewBeforeDays: 7 }),
      'renewBeforeDays must be an integer from 0 to validityDays - 1 (6), but 7 was provided',
    );
  });

  describe('with a permissive umask', () => {
    useUmask(0o000);

    it('makes the state directory 0700 and every file 0600, also over looser ones that exist', async () => {
      const stateDir = join(dir, 'state');
      await mkdir(stateDir, { mode: 0o755 });
      await writeFile(join(stateDir, 'server-key.pem'), 'not a key', { mode: 0o644 });
      const ca = await ensureLocalCa(stateDir, []);
      expect(ca.renewed).toBe('missing');
      expect([stateDir, ca.caFile, ca.certFile, ca.keyFile].map(modeOf)).toEqual([
        0o700, 0o600, 0o600, 0o600,
      ]);
    });

    it('sets reused files back to 0600 when something loosened them', async () => {
      const first = await ensureLocalCa(dir, []);
      for (const file of [first.caFile, first.certFile, first.keyFile]) await chmod(file, 0o666);
      const second = await ensureLocalCa(dir, []);
      expect(second.renewed).toBeUndefined();
      expect([second.caFile, second.certFile, second.keyFile].map(modeOf)).toEqual([0o600, 0o600, 0o600]);
    });
  });

  it('names the file and the fix when the state directory cannot be used', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    const stateDir = join(file, 'state');
    await expectLocalIotError(
      ensureLocalCa(stateDir, []),
      `could not read '${join(stateDir, 'ca.pem')}' (ENOTDIR); check the directory's permissions or pass another state directory`,
    );
  });
});

describe('normalizeHosts', () => {
  it('always includes localhost and 127.0.0.1, lower-cases names, keeps IPs, sorts and de-duplicates', () => {
    expect(normalizeHosts(['IoT.Local', '::1', 'localhost', '10.0.0.1'])).toEqual([
      '10.0.0.1',
      '127.0.0.1',
      '::1',
      'iot.local',
      'localhost',
    ]);
  });
});
