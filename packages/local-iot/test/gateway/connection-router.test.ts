import type { Duplex } from 'node:stream';
import type { ConnectionInfo } from '../../src/gateway/connect-authorization';
import { ConnectionRouter } from '../../src/gateway/connection-router';
import { createLogger } from '../../src/gateway/gateway-log';
import { listenTls, type TlsListener } from '../../src/gateway/tls-listener';
import { RawClient, RecordedLog, removeTestCa, testCa } from '../support/gateway-harness';
import { ManualClock } from '../support/manual-clock';
import { testListenerOptions } from '../support/test-listener-options';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface StartedSession {
  readonly stream: Duplex;
  readonly connection: ConnectionInfo;
  readonly connectDeadlineMs: number;
}

interface Setup {
  readonly router: ConnectionRouter;
  readonly log: RecordedLog;
  readonly clock: ManualClock;
  readonly sessions: StartedSession[];
}

let listener: TlsListener | undefined;
let current: Setup | undefined;
const raws: RawClient[] = [];

/** A router behind a real TLS listener; sessions are recorded instead of run. */
async function start(): Promise<Setup> {
  const log = new RecordedLog();
  const clock = new ManualClock();
  const sessions: StartedSession[] = [];
  const router = new ConnectionRouter({
    endpointHost: 'localhost',
    clock,
    connectDeadlineMs: 10_000,
    log: createLogger(log.sink),
    startSession: (stream, connection, connectDeadlineMs) =>
      sessions.push({ stream, connection, connectDeadlineMs }),
  });
  listener = await listenTls(
    await testListenerOptions(log, { onSecureConnection: (socket) => router.route(socket) }),
  );
  current = { router, log, clock, sessions };
  return current;
}

async function raw(options: Parameters<typeof RawClient.connect>[2] = {}): Promise<RawClient> {
  const { ca } = await testCa();
  const client = await RawClient.connect((listener as TlsListener).port, ca, options);
  raws.push(client);
  return client;
}

afterEach(async () => {
  for (const client of raws.splice(0)) client.destroy();
  for (const session of current?.sessions ?? []) session.stream.destroy();
  current?.router.endPendingHttp();
  await listener?.close();
  current?.router.close();
  listener = undefined;
  current = undefined;
});

afterAll(removeTestCa);

describe('ConnectionRouter', () => {
  it('starts MQTT on the TLS socket itself for ALPN mqtt, with the whole CONNECT deadline', async () => {
    const { log, sessions } = await start();
    await raw();
    const routed = await log.waitFor('tls-connection');
    expect(routed).toMatchObject({ serverName: 'localhost', alpn: 'mqtt', route: 'mqtt' });
    expect(sessions).toMatchObject([
      {
        connection: {
          connectionId: routed.connectionId,
          transport: 'mqtt',
          alpn: 'mqtt',
          serverName: 'localhost',
        },
        connectDeadlineMs: 10_000,
      },
    ]);
    expect(routed.connectionId).toMatch(UUID);
  });

  it('closes a connection without SNI', async () => {
    const { log, sessions } = await start();
    const client = await raw({ servername: null });
    await client.closed;
    expect((await log.waitFor('tls-refused')).reason).toMatch(/^the client sent no SNI/);
    expect(sessions).toEqual([]);
  });

  it('closes MQTT sent without ALPN mqtt, without starting a session', async () => {
    const { log, sessions } = await start();
    const client = await raw({ alpn: [] });
    client.sendConnect();
    await client.closed;
    expect((await log.waitFor('http-refused')).reason).toMatch(
      /^not a valid HTTP request \(HPE_INVALID_METHOD\) on a TLS connection with no ALPN: direct MQTT with custom authentication needs ALPN 'mqtt'/,
    );
    expect(sessions).toEqual([]);
  });

  it('ends the connections still on the HTTP side at shutdown, and their deadline with them', async () => {
    const { router, log, clock } = await start();
    const client = await raw({ alpn: ['http/1.1'] });
    expect(await log.waitFor('tls-connection')).toMatchObject({ route: 'http' });
    router.endPendingHttp();
    await client.closed;
    clock.advance(10_000);
    expect(log.entries.filter((entry) => entry.event === 'http-refused')).toEqual([]);
  });
});
