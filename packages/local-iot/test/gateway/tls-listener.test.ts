import { createServer as createNetServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { listenTls, type TlsListener, type TlsListenerOptions } from '../../src/gateway/tls-listener';
import {
  expectLocalIotError,
  RawClient,
  RecordedLog,
  removeTestCa,
  testCa,
  withTimeout,
} from '../support/gateway-harness';
import { testListenerOptions } from '../support/test-listener-options';

let listener: TlsListener | undefined;
const accepted: TLSSocket[] = [];
const raws: RawClient[] = [];

/** A listener on an ephemeral 127.0.0.1 port that records its log and the TLS sockets it hands over. */
async function start(
  options: Partial<TlsListenerOptions> = {},
): Promise<{ readonly listener: TlsListener; readonly log: RecordedLog }> {
  const log = new RecordedLog();
  listener = await listenTls(
    await testListenerOptions(log, { onSecureConnection: (socket) => accepted.push(socket), ...options }),
  );
  return { listener, log };
}

async function raw(options: Parameters<typeof RawClient.connect>[2] = {}): Promise<RawClient> {
  const { ca } = await testCa();
  const client = await RawClient.connect((listener as TlsListener).port, ca, options);
  raws.push(client);
  return client;
}

/** Resolves once the listener has handed over a TLS socket. */
async function nextAccepted(): Promise<TLSSocket> {
  return withTimeout(
    new Promise((resolve) => {
      const poll = (): void => (accepted[0] ? resolve(accepted[0]) : void setImmediate(poll));
      poll();
    }),
    'the secure connection',
  );
}

afterEach(async () => {
  for (const client of raws.splice(0)) client.destroy();
  for (const socket of accepted.splice(0)) socket.destroy();
  await listener?.close();
  listener = undefined;
});

afterAll(removeTestCa);

describe('listenTls', () => {
  it('hands over a TLS connection that names the endpoint and chose ALPN mqtt', async () => {
    await start();
    await raw();
    const socket = await nextAccepted();
    expect([socket.servername, socket.alpnProtocol]).toEqual(['localhost', 'mqtt']);
  });

  it('aborts the TLS handshake when SNI names another host', async () => {
    const { log } = await start();
    await expect(raw({ servername: 'evil.example' })).rejects.toThrow();
    expect(await log.waitFor('tls-refused')).toMatchObject({
      serverName: 'evil.example',
      reason: "SNI 'evil.example' does not match the local endpoint host 'localhost': connect to 'localhost'",
    });
    expect(accepted).toEqual([]);
  });

  it("refuses ALPN 'x-amzn-mqtt-ca' alone and says what this port speaks", async () => {
    const { log } = await start();
    await expect(raw({ alpn: ['x-amzn-mqtt-ca'] })).rejects.toMatchObject({
      code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
    });
    expect((await log.waitFor('tls-refused')).reason).toBe(
      "the client offered ALPN 'x-amzn-mqtt-ca'; this port speaks 'mqtt' (custom-auth MQTT) and 'http/1.1' (WebSockets) " +
        "('x-amzn-mqtt-ca' is X.509 client-certificate auth)",
    );
  });

  it('logs and closes a connection whose hand-over throws', async () => {
    const { log } = await start({
      onSecureConnection: () => {
        throw new Error('router bug');
      },
    });
    const client = await raw();
    await client.closed;
    expect((await log.waitFor('error')).reason).toBe('accepting a connection failed: router bug');
  });

  it('listens on [::1] on the same port too, when the machine has it', async () => {
    const ipv6 = await canBindIpv6Loopback();
    const { listener: started, log } = await start({ ipv6Loopback: true });
    const { port } = started;
    if (ipv6) {
      expect(started.addresses).toEqual([`127.0.0.1:${port}`, `[::1]:${port}`]);
      await raw({ host: '::1' });
      expect((await nextAccepted()).remoteAddress).toBe('::1');
    } else {
      expect(started.addresses).toEqual([`127.0.0.1:${port}`]);
      expect((await log.waitFor('error')).reason).toMatch(/^not listening on \[::1\]/);
    }
    expect(await log.waitFor('listening')).toMatchObject({
      addresses: started.addresses,
      port,
      endpointHost: 'localhost',
    });
  });

  it('reports a port in use with the fix', async () => {
    const { listener: first } = await start();
    await expectLocalIotError(
      listenTls(await testListenerOptions(new RecordedLog(), { port: first.port })),
      `cannot listen on 127.0.0.1:${first.port} (EADDRINUSE): stop the process using it or choose another port (--port)`,
    );
  });
});

async function canBindIpv6Loopback(): Promise<boolean> {
  const server = createNetServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}
