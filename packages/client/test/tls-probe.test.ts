import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { createServer as createTlsServer } from 'node:tls';
import { probeTls, type TlsProbeRequest } from '../src/tls-probe';
import { createTestCertificates, type TestCertificates } from './fixtures/certificates';

let certs: TestCertificates;
const servers: Server[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  certs = await createTestCertificates();
});

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function tlsServer(cert: string, key: string, alpn?: string[]): Promise<number> {
  const server = createTlsServer({ cert, key, ...(alpn === undefined ? {} : { ALPNProtocols: alpn }) });
  server.on('tlsClientError', () => {});
  return listen(server);
}

const request = (port: number, extra: Partial<TlsProbeRequest> = {}): TlsProbeRequest => ({
  host: 'localhost',
  port,
  alpn: ['mqtt'],
  caPem: certs.caCert,
  timeoutMs: 2000,
  ...extra,
});

describe('probeTls', () => {
  it('finds nothing wrong with a trusted certificate for the host and ALPN mqtt accepted', async () => {
    const port = await tlsServer(certs.serverCert, certs.serverKey, ['mqtt']);
    expect(await probeTls(request(port))).toEqual({ outcome: 'ok' });
  });

  it('leaves the server no failed handshake when it succeeds (closed with close_notify, not a reset)', async () => {
    const server = createTlsServer({ cert: certs.serverCert, key: certs.serverKey, ALPNProtocols: ['mqtt'] });
    const handshakeErrors: string[] = [];
    const probes = 20;
    // Each probe's connection ends on the server either closed after its handshake or as a failed handshake.
    let ended = 0;
    let allEnded: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (allEnded = resolve));
    const countEnd = (): void => {
      ended += 1;
      if (ended === probes) allEnded();
    };
    server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
      handshakeErrors.push(String(error.code));
      countEnd();
    });
    server.on('secureConnection', (socket) => {
      // As a gateway does with a connection that ends before CONNECT: close its side too.
      socket.once('close', countEnd);
      socket.on('error', () => socket.destroy());
      socket.on('end', () => socket.end());
    });
    const port = await listen(server);
    for (let i = 0; i < probes; i++) expect(await probeTls(request(port))).toEqual({ outcome: 'ok' });
    await closed;
    expect(handshakeErrors).toEqual([]);
  });

  it('needs no ALPN for WebSockets', async () => {
    const port = await tlsServer(certs.serverCert, certs.serverKey);
    const { alpn: _alpn, ...withoutAlpn } = request(port);
    expect(await probeTls(withoutAlpn)).toEqual({ outcome: 'ok' });
  });

  it('names an untrusted certificate', async () => {
    const port = await tlsServer(certs.untrustedCert, certs.untrustedKey, ['mqtt']);
    expect(await probeTls(request(port))).toEqual({
      outcome: 'untrusted',
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
  });

  it('names a certificate for another host (the endpoint name is the SNI)', async () => {
    const port = await tlsServer(certs.otherHostCert, certs.otherHostKey, ['mqtt']);
    expect(await probeTls(request(port))).toEqual({
      outcome: 'name-mismatch',
      detail: 'the certificate is not valid for localhost (it is for DNS:gateway.example.com)',
    });
  });

  it('names an ALPN the server refuses', async () => {
    const port = await tlsServer(certs.serverCert, certs.serverKey, ['x-amzn-mqtt-ca']);
    expect(await probeTls(request(port))).toEqual({
      outcome: 'alpn-refused',
      detail: 'the server refused ALPN mqtt',
      refused: true,
    });
  });

  it('names an ALPN the server ignores', async () => {
    const port = await tlsServer(certs.serverCert, certs.serverKey);
    expect(await probeTls(request(port))).toEqual({
      outcome: 'alpn-refused',
      detail: 'the server did not select ALPN mqtt',
    });
  });

  it('presents the client certificate it is given, as the SDK does for CUSTOM_AUTH_X509', async () => {
    const server = createTlsServer({
      cert: certs.serverCert,
      key: certs.serverKey,
      ALPNProtocols: ['mqtt'],
      requestCert: true,
      // The test only looks at what was presented; whether the server trusts it is not the probe's business.
      rejectUnauthorized: false,
      // In TLS 1.3 the client's handshake ends before the server has read its certificate, and the probe
      // closes right then; in TLS 1.2 the server has it before it sends its Finished.
      maxVersion: 'TLSv1.2',
    });
    const presented = new Promise<string>((resolve) =>
      server.once('secureConnection', (socket) => resolve(socket.getPeerCertificate().fingerprint256)),
    );
    const port = await listen(server);
    const clientCertificate = { certPem: certs.untrustedCert, keyPem: certs.untrustedKey };
    expect(await probeTls(request(port, { clientCertificate }))).toEqual({ outcome: 'ok' });
    expect(await presented).toBe(new X509Certificate(certs.untrustedCert).fingerprint256);
  });

  it('reports a closed port as a TCP error', async () => {
    const port = await listen(createNetServer());
    await new Promise((resolve) => servers.pop()?.close(resolve));
    expect(await probeTls(request(port))).toEqual({ outcome: 'tcp-error', code: 'ECONNREFUSED' });
  });

  it('reports a server that is not TLS as a TLS error', async () => {
    const port = await listen(createNetServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const result = await probeTls(request(port));
    expect(result.outcome).toBe('tls-error');
  });

  it('gives up after its time budget when the server never answers', async () => {
    const port = await listen(createNetServer(() => {}));
    const started = Date.now();
    expect(await probeTls(request(port, { timeoutMs: 300 }))).toEqual({ outcome: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
