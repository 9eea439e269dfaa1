import { X509Certificate } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { CertificateRegistry } from '../../src/gateway/client-certificate-check';
import { RawClient, removeTestCa, startTestGateway, type TestGateway } from '../support/gateway-harness';
import { withTimeout } from '../support/wait';
import { testCertificate, type TestCertificate } from '../support/x509-certificates';

// The gateway's X.509 listener with a fake authorizer: what it hands the authorizer, what it shares with the
// gateway's port (client ids, shutdown), and what it refuses before any authorizer.

let device: TestCertificate;
let stranger: TestCertificate;
let registry: CertificateRegistry;
let served: TestGateway;
const clients: RawClient[] = [];

beforeAll(async () => {
  device = await testCertificate({ commonName: 'test-1' });
  stranger = await testCertificate({ commonName: 'test-1' });
  registry = {
    certificates: [
      { logicalId: 'Device', id: device.id, pem: device.certPem, status: 'ACTIVE', mode: 'SNI_ONLY' },
    ],
    caCertificates: [],
  };
});
beforeEach(async () => {
  served = await startTestGateway({ x509: { endpointHost: 'localhost', registry: () => registry } });
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await served.gateway.close();
});
afterAll(() => removeTestCa());

async function x509Client(certificate?: TestCertificate): Promise<RawClient> {
  const client = await RawClient.connect(served.gateway.x509?.port ?? 0, served.ca.ca, {
    ...(certificate && { certificate: { cert: certificate.certPem, key: certificate.keyPem } }),
  });
  clients.push(client);
  return client;
}

describe('the X.509 listener', () => {
  it('listens on a port of its own and hands the authorizer the verified certificate', async () => {
    expect(served.gateway.x509?.port).not.toBe(served.port);
    expect(served.log.matching('listening', { authentication: 'CUSTOM_AUTH_X509' })).toHaveLength(1);
    const client = await x509Client(device);
    expect(await client.handshake()).toMatchObject({ cmd: 'connack', reasonCode: 0 });
    expect(served.authorizer.attempts).toEqual([
      expect.objectContaining({
        transport: 'mqtt',
        serverName: 'localhost',
        clientId: 'test-1',
        clientCertificate: { id: device.id, pem: new X509Certificate(device.certPem).toString() },
      }),
    ]);
  });

  it('shares client ids with the gateway port: a connect on one takes the other over', async () => {
    const onGatewayPort = await RawClient.connect(served.port, served.ca.ca);
    clients.push(onGatewayPort);
    expect(await onGatewayPort.handshake()).toMatchObject({ reasonCode: 0 });
    expect(served.authorizer.attempts[0]?.clientCertificate).toBeUndefined();
    const onX509 = await x509Client(device);
    expect(await onX509.handshake()).toMatchObject({ reasonCode: 0 });
    expect(await onGatewayPort.nextPacket()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x8e });
  });

  it('refuses an unregistered certificate and none before the authorizer', async () => {
    for (const certificate of [stranger, undefined]) {
      const client = await x509Client(certificate);
      client.sendConnect();
      await withTimeout(client.closed, 'the refused connection to close');
    }
    expect(served.authorizer.attempts).toEqual([]);
    expect(served.log.matching('tls-refused', {}).map((entry) => entry.cause)).toEqual([
      'client-certificate-not-registered',
      'no-client-certificate',
    ]);
  });

  it('stops with the gateway', async () => {
    const port = served.gateway.x509?.port ?? 0;
    await served.gateway.close();
    const refused = await new Promise<string>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve('connected'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('serveX509 on a running gateway', () => {
  it('starts the listener later, with the same sessions and shutdown, and only once', async () => {
    const later = await startTestGateway();
    try {
      expect(later.gateway.x509).toBeUndefined();
      const endpoint = await later.gateway.serveX509({ endpointHost: 'LOCALHOST', registry: () => registry });
      expect(later.gateway.x509).toEqual(endpoint);
      expect(endpoint).toMatchObject({ endpointHost: 'localhost' });
      const client = await RawClient.connect(endpoint.port, later.ca.ca, {
        certificate: { cert: device.certPem, key: device.keyPem },
      });
      clients.push(client);
      expect(await client.handshake()).toMatchObject({ cmd: 'connack', reasonCode: 0 });
      expect(later.gateway.connectedClients).toBe(1);
      await expect(
        later.gateway.serveX509({ endpointHost: 'localhost', registry: () => registry }),
      ).rejects.toThrow(
        'the gateway already serves an X.509 listener (localhost): it serves one CUSTOM_AUTH_X509 domain configuration',
      );
      await later.gateway.close();
      expect(later.gateway.openConnections).toBe(0);
      await expect(
        later.gateway.serveX509({ endpointHost: 'localhost', registry: () => registry }),
      ).rejects.toThrow('the gateway is closing: it starts no X.509 listener');
    } finally {
      await later.gateway.close();
    }
  });
});
