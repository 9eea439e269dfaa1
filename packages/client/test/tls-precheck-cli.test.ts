import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCertificates, type TestCertificates } from './fixtures/certificates';
import { runCli } from './fixtures/run-cli';
import { AWS_LIKE_CONNACK_PROPERTIES, TestGateway } from './fixtures/test-gateway';

// A TLS or certificate mistake is reported at once, by the client's TLS pre-check, and never retried: the
// real CLI process and SDK against a loopback TLS server that counts every TCP connection it accepts. Without
// the pre-check the SDK (s2n) withholds its certificate error for seconds (blinding) and the run ends as a
// timeout; here the one connection that reaches the server is the pre-check's, and the SDK never starts.

let certs: TestCertificates;
let dir: string;
const gateways: TestGateway[] = [];

beforeAll(async () => {
  certs = await createTestCertificates();
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'client-tls-precheck-'));
  writeFileSync(join(dir, 'ca.pem'), certs.caCert);
  writeFileSync(join(dir, 'password'), 'pw', { mode: 0o600 });
});

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function gateway(cert: string, key: string): Promise<TestGateway> {
  const started = await TestGateway.start({
    transport: 'mqtt',
    behaviour: { connack: 0, properties: AWS_LIKE_CONNACK_PROPERTIES },
    cert,
    key,
  });
  gateways.push(started);
  return started;
}

function flags(port: number, ...extra: string[]): string[] {
  return [
    '--endpoint',
    'localhost',
    '--port',
    String(port),
    '--custom_auth_password_file',
    join(dir, 'password'),
    // Long enough that a retried or withheld handshake would still be inside it: the outcome, not the clock, is asserted.
    '--timeout',
    '30',
    ...extra,
  ];
}

describe('a TLS mistake is reported at once, with one connection and no retry', () => {
  it('a --ca_file that did not issue the server certificate', async () => {
    const server = await gateway(certs.untrustedCert, certs.untrustedKey);
    const run = await runCli(flags(server.port, '--ca_file', 'ca.pem'), { cwd: dir });

    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')[0]).toMatch(/^Connecting to localhost:\d+ over direct MQTT\/TLS/);
    expect(run.stderr.split('\n').slice(0, 3)).toEqual([
      `TLS handshake with localhost:${server.port} failed: the server certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT)`,
      'Likely causes:',
      `  - the server certificate is not issued by the CA in ${join(dir, 'ca.pem')}: pass the right --ca_file`,
    ]);
    expect(server.acceptedSockets).toBe(1);
    expect(server.connections).toEqual([]);
  });

  it('no --ca_file for a server with a private CA, under --json', async () => {
    const server = await gateway(certs.serverCert, certs.serverKey);
    const run = await runCli(flags(server.port, '--json'), { cwd: dir });

    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { error: unknown; likelyCauses: string[] };
    expect(report.error).toEqual({
      kind: 'tls',
      message: `TLS handshake with localhost:${server.port} failed: the server certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    });
    expect(report.likelyCauses[0]).toBe(
      'the server uses a private CA: pass it with --ca_file (for the local gateway, its ca.pem)',
    );
    expect(server.acceptedSockets).toBe(1);
    expect(server.connections).toEqual([]);
  });

  it('a certificate for another host name (the endpoint is the SNI)', async () => {
    const server = await gateway(certs.otherHostCert, certs.otherHostKey);
    const run = await runCli(flags(server.port, '--ca_file', 'ca.pem'), { cwd: dir });

    expect(run.code).toBe(1);
    expect(run.stderr.split('\n')[0]).toBe(
      `TLS handshake with localhost:${server.port} failed: the certificate is not valid for localhost (it is for DNS:gateway.example.com)`,
    );
    expect(server.acceptedSockets).toBe(1);
  });

  it('a right --ca_file: the pre-check, then the one SDK connection', async () => {
    const server = await gateway(certs.serverCert, certs.serverKey);
    const run = await runCli(flags(server.port, '--ca_file', 'ca.pem', '--client_id', 'test-precheck'), {
      cwd: dir,
    });

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await server.closedConnections(1);
    expect(server.acceptedSockets).toBe(2);
    expect(server.connections.map((seen) => seen.connect?.clientId)).toEqual(['test-precheck']);
  });
});
