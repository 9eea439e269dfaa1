import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createDeviceCertificate } from './support/device-certificates';
import { runCli } from './fixtures/run-cli';

// The real CLI (a process of its own) with a bad client certificate or bad certificate flags: one line on
// stderr, exit 2, and no network call (the endpoint named is one nothing could answer on: the run ends before
// any connect), with --json a single configuration or usage error object.

let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'client-mtls-cli-'));
  const day = 86_400_000;
  const [good, expired, other] = await Promise.all([
    createDeviceCertificate({ commonName: 'test-cli-good' }),
    createDeviceCertificate({
      commonName: 'test-cli-expired',
      notBefore: new Date(Date.now() - 10 * day),
      notAfter: new Date(Date.now() - day),
    }),
    createDeviceCertificate({ commonName: 'test-cli-other' }),
  ]);
  const write = (name: string, text: string): void =>
    writeFileSync(path.join(scratch, name), text, { mode: 0o600 });
  write('good-cert.pem', good.certPem);
  write('good-key.pem', good.keyPem);
  write('expired-cert.pem', expired.certPem);
  write('expired-key.pem', expired.keyPem);
  write('other-key.pem', other.keyPem);
}, 60_000);

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

// A reserved name (RFC 2606): were the client to connect, DNS would fail with another message.
const NOWHERE = ['--endpoint', 'x509.invalid'];

it.each([
  [
    'an expired certificate',
    ['--cert', 'expired-cert.pem', '--key', 'expired-key.pem'],
    /^Error: --cert .*expired-cert\.pem \(certificate id [0-9a-f]{64}\) expired on .*AWS IoT refuses it in the TLS handshake/,
  ],
  [
    "another certificate's key",
    ['--cert', 'good-cert.pem', '--key', 'other-key.pem'],
    /^Error: --key .*other-key\.pem is not the private key of --cert .*good-cert\.pem/,
  ],
  [
    'the files swapped',
    ['--cert', 'good-key.pem', '--key', 'good-cert.pem'],
    /^Error: --cert .*good-key\.pem is not a PEM certificate \(it holds a private key: are --cert and --key swapped\?\)/,
  ],
  [
    'a missing key file',
    ['--cert', 'good-cert.pem', '--key', 'nope.pem'],
    /^Error: cannot read --key .*nope\.pem: ENOENT/,
  ],
])('stops on %s with one line and exit 2, before any connect', async (_, args, message) => {
  const run = await runCli([...NOWHERE, ...args], { cwd: scratch });
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(message);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).not.toContain('BEGIN');
});

it('reports a usage error once with --help, and as one JSON object with --json', async () => {
  const text = await runCli(['--cert', 'good-cert.pem'], { cwd: scratch });
  expect(text).toMatchObject({ code: 2, stdout: '' });
  expect(text.stderr).toBe(
    'Error: --cert needs --key: give the private key of the certificate with --key <file> (or use --mtls for the demo certificate)\nRun with --help for usage.\n',
  );
  const json = await runCli([...NOWHERE, '--cert', 'good-cert.pem', '--key', 'other-key.pem', '--json'], {
    cwd: scratch,
  });
  expect(json.code).toBe(2);
  expect(JSON.parse(json.stdout)).toEqual({
    ok: false,
    error: {
      kind: 'configuration',
      message: expect.stringMatching(/is not the private key of --cert/) as string,
    },
  });
});
