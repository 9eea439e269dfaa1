import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import { WebSocket } from 'ws';
import { startGateway } from '../../src/gateway/gateway';
import { refuseAllMessages } from '../../src/gateway/message-handler';
import { scaledClock } from '../../src/gateway/gateway-clock';
import {
  allowed,
  expectLocalIotError,
  RawClient,
  refused,
  removeTestCa,
  startTestGateway,
  testCa,
  withTimeout,
  type TestGateway,
} from '../support/gateway-harness';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** CONNACK properties AWS IoT Core sends on success (spec section 5), with a given server keep alive. */
function awsConnackProperties(serverKeepAlive: number): NonNullable<IConnackPacket['properties']> {
  return {
    maximumQoS: 1,
    retainAvailable: true,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: false,
    sharedSubscriptionAvailable: true,
    topicAliasMaximum: 8,
    // A 128 KB payload plus 16 KiB for its headers; Receive Maximum is AWS IoT's 100 in-flight inbound messages.
    maximumPacketSize: 147456,
    receiveMaximum: 100,
    serverKeepAlive,
  };
}

let current: TestGateway | undefined;
const clients: MqttClient[] = [];
const raws: RawClient[] = [];

async function gateway(options: Parameters<typeof startTestGateway>[0] = {}): Promise<TestGateway> {
  current = await startTestGateway(options);
  return current;
}

/** An `mqtt` (npm) client that has received CONNACK 0x00; rejects with the client's error otherwise. */
async function mqttClient(
  url: string,
  options: IClientOptions,
): Promise<MqttClient & { readonly connack: IConnackPacket }> {
  const { ca } = await testCa();
  const client = connect(url, { protocolVersion: 5, ca, reconnectPeriod: 0, ...options });
  clients.push(client);
  const connack = await withTimeout(
    new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    }),
    `CONNACK on ${url}`,
  );
  return Object.assign(client, { connack });
}

async function raw(options: Parameters<typeof RawClient.connect>[2] = {}): Promise<RawClient> {
  const { ca } = await testCa();
  const client = await RawClient.connect((current as TestGateway).port, ca, options);
  raws.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  for (const client of raws.splice(0)) client.destroy();
  await current?.gateway.close();
  current = undefined;
});

afterAll(removeTestCa);

describe('direct MQTT over TLS (ALPN mqtt)', () => {
  it('passes the CONNECT to the authorizer and answers CONNACK 0x00 with AWS IoT properties', async () => {
    const { port, authorizer, log } = await gateway();
    const password = Buffer.from([0x00, 0xff, 0x41, 0x42]);
    const client = await mqttClient(`mqtts://localhost:${port}`, {
      ALPNProtocols: ['mqtt'],
      clientId: 'test-1',
      username: 'device?x-amz-customauthorizer-name=UnsignedAuthorizer',
      password,
      keepalive: 10,
    });

    expect(authorizer.attempts).toEqual([
      {
        connectionId: expect.stringMatching(UUID) as string,
        transport: 'mqtt',
        alpn: 'mqtt',
        serverName: 'localhost',
        clientId: 'test-1',
        username: 'device?x-amz-customauthorizer-name=UnsignedAuthorizer',
        password,
        sourceIp: '127.0.0.1',
        connectAttributes: [],
      },
    ]);
    const connectionId = authorizer.attempts[0]?.connectionId;
    expect(client.connected).toBe(true);
    expect(client.connack.reasonCode).toBe(0);
    expect(client.connack.properties).toEqual(awsConnackProperties(30));
    expect(log.of('tls-connection')).toEqual([
      {
        event: 'tls-connection',
        connectionId,
        remoteAddress: '127.0.0.1',
        serverName: 'localhost',
        alpn: 'mqtt',
        route: 'mqtt',
      },
    ]);
    expect(log.of('connect')).toEqual([
      {
        event: 'connect',
        connectionId,
        transport: 'mqtt',
        alpn: 'mqtt',
        serverName: 'localhost',
        protocolVersion: 5,
        clientId: 'test-1',
        authorizer: 'UnsignedAuthorizer',
        signature: 'not-required',
        lambdaInvoked: true,
        lambdaDurationMs: 12,
        decision: 'allow',
        reasonCode: '0x00',
        reasonCodeNumber: 0,
        reason: 'iot:Connect allowed on client/test-1',
      },
    ]);
  });

  it('refuses with the decision reason code, logs the reason, and never logs the credentials', async () => {
    const { port, authorizer, log } = await gateway();
    authorizer.decide = () => refused(0x86, 'the authorizer returned isAuthenticated false');
    const attempt = mqttClient(`mqtts://localhost:${port}`, {
      ALPNProtocols: ['mqtt'],
      clientId: 'test-2',
      username:
        'device?x-amz-customauthorizer-name=UnsignedAuthorizer&token=tok3n&x-amz-customauthorizer-signature=s1gnature',
      password: 'p4ssw0rd',
    });

    await expect(attempt).rejects.toMatchObject({ code: 0x86 });
    const connect = await log.waitFor('connect');
    expect(connect).toMatchObject({
      decision: 'deny',
      reasonCode: '0x86',
      reasonCodeNumber: 134,
      reason: 'the authorizer returned isAuthenticated false',
      lambdaInvoked: true,
      lambdaDurationMs: 7,
    });
    await log.waitFor('disconnect', { cause: 'refused' });
    const everything = JSON.stringify(log.entries);
    for (const secret of ['p4ssw0rd', 'tok3n', 's1gnature', 'x-amz-customauthorizer-name=']) {
      expect(everything).not.toContain(secret);
    }
  });

  it('refuses with 0x80 and keeps serving when the authorizer throws', async () => {
    const { port, authorizer, log } = await gateway();
    authorizer.decide = () => {
      throw new Error('pipeline bug');
    };
    await expect(
      mqttClient(`mqtts://localhost:${port}`, { ALPNProtocols: ['mqtt'], clientId: 'test-3' }),
    ).rejects.toMatchObject({
      code: 0x80,
    });
    expect((await log.waitFor('connect')).reason).toBe('the custom-auth pipeline failed: pipeline bug');

    authorizer.decide = () => allowed();
    const client = await mqttClient(`mqtts://localhost:${port}`, {
      ALPNProtocols: ['mqtt'],
      clientId: 'test-4',
    });
    expect(client.connected).toBe(true);
  });

  it.each([
    [10, 30],
    [0, 1200],
    [30, 30],
    [600, 600],
    [5000, 1200],
  ])('answers keep alive %i with Server Keep Alive %i', async (keepalive, serverKeepAlive) => {
    await gateway();
    const client = await raw();
    const connack = await client.handshake({ keepalive });
    expect(connack).toMatchObject({
      cmd: 'connack',
      reasonCode: 0,
      properties: awsConnackProperties(serverKeepAlive),
    });
  });

  it('caps the session expiry at 3600 s and says so only when it changes the request', async () => {
    await gateway();
    const capped = await (
      await raw()
    ).handshake({ clientId: 'test-a', properties: { sessionExpiryInterval: 7200 } });
    expect((capped as IConnackPacket).properties?.sessionExpiryInterval).toBe(3600);
    const kept = await (
      await raw()
    ).handshake({ clientId: 'test-b', properties: { sessionExpiryInterval: 600 } });
    expect((kept as IConnackPacket).properties).toEqual(awsConnackProperties(60));
  });

  it('answers PINGREQ with PINGRESP and closes on DISCONNECT', async () => {
    const { log } = await gateway();
    const client = await raw();
    await client.handshake();
    client.send({ cmd: 'pingreq' });
    expect(await client.nextPacket()).toMatchObject({ cmd: 'pingresp' });
    client.send({ cmd: 'disconnect', reasonCode: 0 });
    await client.closed;
    expect(await log.waitFor('disconnect')).toMatchObject({
      cause: 'client-disconnect',
      clientId: 'test-1',
      disconnectSent: false,
    });
  });

  it('refuses QoS 1 PUBLISH and SUBSCRIBE with 0x87 for now, drops QoS 0 with a log line', async () => {
    const { log } = await gateway();
    const client = await raw();
    await client.handshake();
    client.send({
      cmd: 'publish',
      topic: 'devices/test-1/up',
      payload: Buffer.from('x'),
      qos: 0,
      dup: false,
      retain: false,
    });
    client.send({
      cmd: 'publish',
      topic: 'devices/test-1/up',
      payload: Buffer.from('y'),
      qos: 1,
      messageId: 7,
      dup: false,
      retain: false,
    });
    expect(await client.nextPacket()).toMatchObject({ cmd: 'puback', messageId: 7, reasonCode: 0x87 });
    client.send({
      cmd: 'subscribe',
      messageId: 8,
      subscriptions: [
        { topic: 'devices/test-1/down', qos: 1 },
        { topic: 'devices/#', qos: 0 },
      ],
    });
    expect(await client.nextPacket()).toMatchObject({ cmd: 'suback', messageId: 8, granted: [0x87, 0x87] });
    expect(log.of('publish').map(({ qos, decision, dropped }) => ({ qos, decision, dropped }))).toEqual([
      { qos: 0, decision: 'deny', dropped: true },
      { qos: 1, decision: 'deny', dropped: undefined },
    ]);
  });

  it('disconnects a QoS 2 PUBLISH with 0x9B', async () => {
    const { log } = await gateway();
    const client = await raw();
    await client.handshake();
    client.send({
      cmd: 'publish',
      topic: 't',
      payload: Buffer.from('x'),
      qos: 2,
      messageId: 1,
      dup: false,
      retain: false,
    });
    expect(await client.nextPacket()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x9b });
    await client.closed;
    expect(await log.waitFor('disconnect')).toMatchObject({
      cause: 'qos-not-supported',
      disconnectSent: true,
    });
  });

  it('disconnects a SUBSCRIBE with a subscription identifier with 0xA1', async () => {
    await gateway();
    const client = await raw();
    await client.handshake();
    client.send({
      cmd: 'subscribe',
      messageId: 2,
      subscriptions: [{ topic: 'a', qos: 0 }],
      properties: { subscriptionIdentifier: 4 },
    });
    expect(await client.nextPacket()).toMatchObject({ cmd: 'disconnect', reasonCode: 0xa1 });
  });

  it('disconnects a packet larger than 128 KB with 0x95 without buffering it', async () => {
    const { log } = await gateway();
    const client = await raw();
    await client.handshake();
    // PUBLISH fixed header announcing 200000 bytes; only the header is sent.
    client.write([0x30, 0xc0, 0x9a, 0x0c]);
    expect(await client.nextPacket()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x95 });
    expect((await log.waitFor('disconnect')).reason).toBe(
      'a 200004-byte packet exceeds the maximum packet size of 147456 bytes',
    );
  });

  it('hands the session to a second connection with the same client id: DISCONNECT 0x8E to the first', async () => {
    const { port, gateway: gw, log } = await gateway();
    const first = await mqttClient(`mqtts://localhost:${port}`, {
      ALPNProtocols: ['mqtt'],
      clientId: 'test-dup',
    });
    const firstDisconnect = new Promise<IDisconnectPacket>((resolve) => first.once('disconnect', resolve));
    const second = await mqttClient(`mqtts://localhost:${port}`, {
      ALPNProtocols: ['mqtt'],
      clientId: 'test-dup',
    });

    expect((await withTimeout(firstDisconnect, 'DISCONNECT to the first client')).reasonCode).toBe(0x8e);
    const takeover = await log.waitFor('disconnect', { cause: 'taken-over' });
    expect(takeover).toMatchObject({ clientId: 'test-dup', reasonCode: '0x8e', disconnectSent: true });
    expect(second.connected).toBe(true);
    expect(gw.connectedClients).toBe(1);
  });

  it('disconnects with 0x8D after 1.5 x the keep alive without a packet (scaled clock)', async () => {
    const { log } = await gateway({ clock: scaledClock(1000), connectDeadlineMs: 10_000_000 });
    const client = await raw();
    expect(await client.handshake({ keepalive: 30 })).toMatchObject({ cmd: 'connack', reasonCode: 0 });
    expect(await client.nextPacket()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x8d });
    await client.closed;
    expect(await log.waitFor('disconnect')).toMatchObject({
      cause: 'keep-alive-timeout',
      reason: 'no packet for 1.5 x the keep alive of 30 s',
    });
  });

  it('disconnects with 0xA0 when disconnectAfterInSeconds passes (scaled clock)', async () => {
    const { authorizer, log } = await gateway({ clock: scaledClock(1000), connectDeadlineMs: 10_000_000 });
    authorizer.decide = () => allowed({ disconnectAfterInSeconds: 300 });
    const client = await raw();
    await client.handshake({ keepalive: 1200 });
    expect(await client.nextPacket()).toMatchObject({ cmd: 'disconnect', reasonCode: 0xa0 });
    expect(await log.waitFor('disconnect')).toMatchObject({
      cause: 'maximum-connect-time',
      reason: 'disconnectAfterInSeconds (300 s) from the authorizer has passed',
    });
  });

  it('sends DISCONNECT 0x8B to connected clients when the gateway closes', async () => {
    const { port, gateway: gw } = await gateway();
    const client = await mqttClient(`mqtts://localhost:${port}`, {
      ALPNProtocols: ['mqtt'],
      clientId: 'test-5',
    });
    const disconnect = new Promise<IDisconnectPacket>((resolve) => client.once('disconnect', resolve));
    await gw.close();
    expect((await withTimeout(disconnect, 'DISCONNECT on shutdown')).reasonCode).toBe(0x8b);
  });
});

describe('MQTT 3.1.1', () => {
  it('connects with return code 0 and closes a refused client without a CONNACK, as AWS IoT does', async () => {
    const { authorizer, log } = await gateway();
    const ok = await raw({ protocolVersion: 4 });
    expect(await ok.handshake({ clientId: 'test-311' })).toMatchObject({
      cmd: 'connack',
      returnCode: 0,
      sessionPresent: false,
    });

    authorizer.decide = () => refused(0x87, 'policy has no Allow for iot:Connect on client/foo');
    const no = await raw({ protocolVersion: 4 });
    expect(await no.handshake({ clientId: 'foo' })).toBeUndefined();
    expect(await log.waitFor('connect', { clientId: 'foo' })).toMatchObject({
      protocolVersion: 4,
      decision: 'deny',
      reasonCode: '0x87',
    });
  });
});

describe('MQTT over WebSockets', () => {
  it('upgrades /mqtt with subprotocol mqtt and passes headers and query string to the authorizer', async () => {
    const { port, authorizer, log } = await gateway();
    const client = await mqttClient(
      `wss://localhost:${port}/mqtt?x-amz-customauthorizer-name=SignedAuthorizer&token=abc`,
      {
        clientId: '',
        wsOptions: {
          headers: {
            'x-amz-customauthorizer-name': 'SignedAuthorizer',
            'x-amz-customauthorizer-signature': 'c2lnbmF0dXJl',
            token: 'abc',
          },
        },
      },
    );

    const attempt = authorizer.attempts[0];
    expect(attempt).toMatchObject({
      transport: 'websockets',
      serverName: 'localhost',
      queryString: '?x-amz-customauthorizer-name=SignedAuthorizer&token=abc',
      headers: expect.objectContaining({
        'x-amz-customauthorizer-name': 'SignedAuthorizer',
        'x-amz-customauthorizer-signature': 'c2lnbmF0dXJl',
        token: 'abc',
        'sec-websocket-protocol': 'mqtt',
        host: `localhost:${port}`,
      }) as Record<string, string>,
    });
    expect(attempt && 'clientId' in attempt).toBe(false);
    expect(attempt && 'alpn' in attempt).toBe(false);
    expect(await log.waitFor('websocket-upgrade')).toMatchObject({
      connectionId: attempt?.connectionId,
      path: '/mqtt',
      subprotocol: 'mqtt',
    });
    expect(client.connack.properties).toEqual({
      ...awsConnackProperties(60),
      assignedClientIdentifier: attempt?.connectionId,
    });
    expect(await log.waitFor('connect')).toMatchObject({
      transport: 'websockets',
      assignedClientId: attempt?.connectionId,
    });
  });

  it('closes a WebSocket whose first MQTT bytes are malformed, without invoking the authorizer', async () => {
    const { port, log, authorizer } = await gateway();
    const { ca } = await testCa();
    const socket = new WebSocket(`wss://localhost:${port}/mqtt`, ['mqtt'], { ca });
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      }),
      'WebSocket open',
    );
    expect(socket.protocol).toBe('mqtt');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.send(Buffer.from([0x10, 0x02, 0xff, 0xff]));
    await withTimeout(closed, 'WebSocket close');
    expect(await log.waitFor('disconnect')).toMatchObject({
      transport: 'websockets',
      cause: 'malformed-packet',
      reason: 'malformed packet: Cannot parse protocolId',
    });
    expect(authorizer.attempts).toEqual([]);
  });

  it.each([
    ['GET', '/', {}, 404, 'no resource at /'],
    ['GET', '/mqtt', {}, 426, 'GET /mqtt without a WebSocket upgrade'],
    [
      'GET',
      '/other?token=secret',
      { Connection: 'Upgrade', Upgrade: 'websocket' },
      404,
      'upgrade requested on /other',
    ],
    [
      'GET',
      '/mqtt',
      { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'chat' },
      400,
      "Sec-WebSocket-Protocol must include 'mqtt' (offered: chat)",
    ],
    [
      'GET',
      '/mqtt',
      { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'mqtt' },
      400,
      'invalid WebSocket upgrade: Missing or invalid Sec-WebSocket-Key header',
    ],
  ])('answers %s %s %j with HTTP %i', async (method, path, headers, status, reason) => {
    const { port, log, authorizer } = await gateway();
    const { ca } = await testCa();
    const response = await withTimeout(
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca,
          method,
          path,
          headers,
          agent: false,
        });
        req.on('response', (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      }),
      'HTTP response',
    );
    expect(response.status).toBe(status);
    expect(response.body).toContain(reason);
    const refusal = await log.waitFor('http-refused');
    expect(refusal).toMatchObject({ method, path: path.split('?')[0], status });
    expect(refusal.reason).toContain(reason);
    expect(JSON.stringify(log.entries)).not.toContain('secret');
    expect(authorizer.attempts).toEqual([]);
  });
});

describe('refusals before MQTT', () => {
  it('closes a connection whose first packet is malformed, and other clients carry on', async () => {
    const { log, authorizer } = await gateway();
    const good = await raw();
    await good.handshake({ clientId: 'test-good' });
    const bad = await raw();
    bad.write([0x00, 0x00]);
    await bad.closed;
    expect(await log.waitFor('disconnect', { cause: 'malformed-packet' })).toMatchObject({
      reason: 'malformed packet: Not supported',
      disconnectSent: false,
    });

    good.send({ cmd: 'pingreq' });
    expect(await good.nextPacket()).toMatchObject({ cmd: 'pingresp' });
    const later = await raw();
    expect(await later.handshake({ clientId: 'test-later' })).toMatchObject({
      cmd: 'connack',
      reasonCode: 0,
    });
    expect(authorizer.attempts.map((a) => a.clientId)).toEqual(['test-good', 'test-later']);
  });

  it('closes a connection whose first packet is not CONNECT', async () => {
    const { log } = await gateway();
    const client = await raw();
    client.send({ cmd: 'pingreq' });
    await client.closed;
    expect((await log.waitFor('disconnect')).reason).toBe('the first packet was PINGREQ, not CONNECT');
  });

  it('closes a connection that sends no CONNECT within the deadline, direct and WebSockets', async () => {
    const { log } = await gateway({ connectDeadlineMs: 150 });
    const direct = await raw();
    const http = await raw({ alpn: ['http/1.1'] });
    await Promise.all([direct.closed, http.closed]);
    expect(await log.waitFor('disconnect', { cause: 'connect-timeout' })).toMatchObject({
      reason: 'no CONNECT within 150 ms of the connection',
    });
    expect((await log.waitFor('http-refused')).reason).toBe(
      'no WebSocket upgrade and MQTT CONNECT within 150 ms',
    );
  });
});

describe('listening', () => {
  it('also listens on [::1] by default when host is 127.0.0.1', async () => {
    const { gateway: gw, port, log } = await gateway();
    // Where the machine has no IPv6 loopback the listener says so and carries on with IPv4.
    const ipv6Skipped = log.entries.some(
      (entry) => entry.event === 'error' && entry.reason.startsWith('not listening on [::1]'),
    );
    expect(gw.addresses).toEqual(
      ipv6Skipped ? [`127.0.0.1:${port}`] : [`127.0.0.1:${port}`, `[::1]:${port}`],
    );
  });

  it('closes promptly even with a client stuck before its TLS hello', async () => {
    const { port, gateway: gw } = await gateway();
    const tcp = netConnect({ host: '127.0.0.1', port });
    tcp.on('error', () => undefined);
    await withTimeout(new Promise((resolve) => tcp.once('connect', resolve)), 'TCP connect');
    const tcpClosed = new Promise((resolve) => tcp.once('close', resolve));
    const closing = gw.close();
    expect(gw.close()).toBe(closing);
    await withTimeout(closing, 'gateway close');
    await withTimeout(tcpClosed, 'the stuck client to be disconnected');
  });

  it("reports its outbound accounting and the message handler's figures", async () => {
    const { gateway: gw } = await gateway({
      messageHandler: {
        ...refuseAllMessages,
        memoryUsage: () => ({ retainedMessages: 2, retainedBytes: 300 }),
      },
      outboundLimits: { maxQueuedBytesTotal: 8_000_000 },
    });
    expect(gw.memoryUsage()).toEqual({
      outbound: {
        queuedBytes: 0,
        peakQueuedBytes: 0,
        queuedBytesByConnection: new Map(),
        peakQueuedBytesPerConnection: 0,
        limits: { maxQueuedBytesPerConnection: 1_048_576, maxQueuedBytesTotal: 8_000_000 },
      },
      handler: { retainedMessages: 2, retainedBytes: 300 },
    });
    // A CONNACK written and flushed counts while it waits, and is given back.
    const client = await raw();
    expect(await client.handshake()).toMatchObject({ cmd: 'connack', reasonCode: 0 });
    const { outbound } = gw.memoryUsage();
    expect(outbound.peakQueuedBytes).toBeGreaterThan(0);
    expect(outbound.queuedBytes).toBe(0);
  });

  it.each([
    [
      { endpointHost: '127.0.0.1' },
      "endpointHost must be a DNS name because TLS SNI cannot carry an IP address, but '127.0.0.1' was provided; use 'localhost'",
    ],
    [
      { endpointHost: 'bad host' },
      "endpoint host 'bad host' is not a DNS name or an IP address; use a name such as 'localhost' or 'iot.local'",
    ],
    [{ port: 70000 }, 'port must be an integer from 0 to 65535, but 70000 was provided'],
    [
      { outboundLimits: { maxQueuedBytesPerConnection: 1000 } },
      'outboundLimits.maxQueuedBytesPerConnection must be an integer of at least 147456 (the maximum packet size), but 1000 was provided',
    ],
    [
      { outboundLimits: { maxQueuedBytesPerConnection: 2_000_000, maxQueuedBytesTotal: 1_000_000 } },
      'outboundLimits.maxQueuedBytesTotal must be at least maxQueuedBytesPerConnection (2000000), but 1000000 was provided',
    ],
  ])('rejects %j', async (options, message) => {
    const { cert, key } = await testCa();
    await expectLocalIotError(
      startGateway({
        tls: { cert, key },
        authorizer: { authorize: () => Promise.reject(new Error('unused')) },
        ...options,
      }),
      message,
    );
  });
});
