import fc from 'fast-check';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';
import type { ConnectDecision } from '../../src/auth/connect-types';
import type { GatewayLogEntryInput } from '../../src/gateway/gateway-log';
import {
  refuseAllMessages,
  type ConnectedClient,
  type DisconnectInfo,
  type MessageHandler,
} from '../../src/gateway/message-handler';
import { MqttSession } from '../../src/gateway/mqtt-session';
import {
  CONTROL_PACKET_HEADROOM_BYTES,
  OutboundAccounting,
  type ConnectionOutbound,
} from '../../src/gateway/outbound-accounting';
import { SessionRegistry } from '../../src/gateway/session-registry';
import { allowed, FakeAuthorizer, refused, withTimeout } from '../support/gateway-harness';
import { connectPacket as connect } from '../support/connect-packet';
import { endpoints, type Endpoint } from '../support/in-memory-duplex';
import { stallingEndpoints } from '../support/stalling-duplex';
import { ManualClock } from '../support/manual-clock';

/** The device side of an in-memory session. */
class Device {
  readonly packets: Packet[] = [];
  readonly #waiters: ((packet: Packet | undefined) => void)[] = [];
  #ended = false;
  readonly ended: Promise<void>;

  constructor(
    readonly stream: Endpoint,
    readonly protocolVersion: 3 | 4 | 5 = 5,
  ) {
    const parser = createParser({ protocolVersion });
    parser.on('packet', (packet) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(packet);
      else this.packets.push(packet);
    });
    stream.on('data', (chunk: Buffer) => parser.parse(chunk));
    this.ended = new Promise((resolve) => {
      const done = (): void => {
        this.#ended = true;
        for (const waiter of this.#waiters.splice(0)) waiter(undefined);
        resolve();
      };
      stream.once('end', done);
      stream.once('close', done);
    });
    stream.resume();
  }

  send(...packets: Packet[]): void {
    this.stream.write(
      Buffer.concat(packets.map((p) => generate(p, { protocolVersion: this.protocolVersion }))),
    );
  }

  next(): Promise<Packet | undefined> {
    const packet = this.packets.shift();
    if (packet) return Promise.resolve(packet);
    if (this.#ended) return Promise.resolve(undefined);
    return withTimeout(new Promise((resolve) => this.#waiters.push(resolve)), 'a packet from the session');
  }
}

interface Setup {
  readonly session: MqttSession;
  readonly device: Device;
  readonly clock: ManualClock;
  readonly log: GatewayLogEntryInput[];
  readonly authorizer: FakeAuthorizer;
  readonly registry: SessionRegistry<MqttSession>;
}

function setup(
  options: {
    handler?: MessageHandler;
    protocolVersion?: 3 | 4 | 5;
    registry?: SessionRegistry<MqttSession>;
    clock?: ManualClock;
    /** `[server, device]` ends of the connection. @default an in-memory pair */
    streams?: [Endpoint, Endpoint];
    outbound?: ConnectionOutbound;
  } = {},
): Setup {
  const [server, client] = options.streams ?? endpoints();
  const clock = options.clock ?? new ManualClock();
  const log: GatewayLogEntryInput[] = [];
  const authorizer = new FakeAuthorizer();
  const registry = options.registry ?? new SessionRegistry<MqttSession>();
  const session = new MqttSession({
    stream: server,
    connection: {
      connectionId: 'c0ffee00-0000-4000-8000-000000000001',
      transport: 'mqtt',
      alpn: 'mqtt',
      serverName: 'localhost',
    },
    authorizer,
    handler: options.handler ?? refuseAllMessages,
    registry,
    clock,
    log: (entry) => log.push(entry),
    connectDeadlineMs: 10_000,
    closeGraceMs: 50,
    ...(options.outbound ? { outbound: options.outbound } : {}),
  });
  return {
    session,
    device: new Device(client, options.protocolVersion ?? 5),
    clock,
    log,
    authorizer,
    registry,
  };
}

/** Lets pending stream events and promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

function disconnects(
  log: readonly GatewayLogEntryInput[],
): Extract<GatewayLogEntryInput, { event: 'disconnect' }>[] {
  return log.filter(
    (e): e is Extract<GatewayLogEntryInput, { event: 'disconnect' }> => e.event === 'disconnect',
  );
}

describe('MqttSession', () => {
  it('keeps MQTT order: packets sent behind CONNECT wait for the authorizer, then get their answers', async () => {
    const { device, authorizer } = setup();
    let release!: (decision: ConnectDecision) => void;
    authorizer.decide = () => new Promise((resolve) => (release = resolve));
    device.send(connect(), { cmd: 'pingreq' });
    await withTimeout(
      new Promise<void>((resolve) => {
        const poll = (): void => (authorizer.attempts.length > 0 ? resolve() : void setImmediate(poll));
        poll();
      }),
      'the authorizer call',
    );
    expect(device.packets).toEqual([]);
    release(allowed());
    expect(await device.next()).toMatchObject({ cmd: 'connack', reasonCode: 0 });
    expect(await device.next()).toMatchObject({ cmd: 'pingresp' });
  });

  it('keeps a client alive while packets arrive and disconnects 0x8D 1.5 x keep alive after the last one', async () => {
    const { device, clock, log } = setup();
    device.send(connect({ keepalive: 30 }));
    await device.next();
    clock.advance(44_000);
    device.send({ cmd: 'pingreq' });
    expect(await device.next()).toMatchObject({ cmd: 'pingresp' });
    clock.advance(44_000);
    device.send({ cmd: 'pingreq' });
    expect(await device.next()).toMatchObject({ cmd: 'pingresp' });
    clock.advance(44_999);
    expect(disconnects(log)).toEqual([]);
    clock.advance(1);
    expect(await device.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x8d });
    expect(disconnects(log)).toEqual([
      {
        event: 'disconnect',
        connectionId: 'c0ffee00-0000-4000-8000-000000000001',
        transport: 'mqtt',
        clientId: 'test-1',
        cause: 'keep-alive-timeout',
        reasonCode: '0x8d',
        reasonCodeNumber: 0x8d,
        disconnectSent: true,
        reason: 'no packet for 1.5 x the keep alive of 30 s',
        connectedMs: 133_000,
      },
    ]);
  });

  it('closes without calling the authorizer when no packet arrives before the deadline', async () => {
    const { device, clock, log, authorizer } = setup();
    clock.advance(9_999);
    expect(disconnects(log)).toEqual([]);
    clock.advance(1);
    await device.ended;
    expect(disconnects(log)).toMatchObject([{ cause: 'connect-timeout', disconnectSent: false }]);
    expect(authorizer.attempts).toEqual([]);
  });

  it('disconnects a second CONNECT with 0x82', async () => {
    const { device, log } = setup();
    device.send(connect());
    await device.next();
    device.send(connect());
    expect(await device.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x82 });
    expect(disconnects(log)[0]?.reason).toBe('protocol error: a second CONNECT on the same connection');
  });

  it('lets the handler deliver to the client and disconnect it', async () => {
    let connected: ConnectedClient | undefined;
    const { device, log } = setup({
      handler: { ...refuseAllMessages, onConnected: (client) => (connected = client) },
    });
    device.send(connect());
    await device.next();
    expect(connected).toMatchObject({
      clientId: 'test-1',
      clientIdAssigned: false,
      protocolVersion: 5,
      transport: 'mqtt',
    });
    connected?.send({
      cmd: 'publish',
      topic: 'devices/test-1/down',
      payload: Buffer.from('hi'),
      qos: 0,
      dup: false,
      retain: false,
    });
    expect(await device.next()).toMatchObject({ cmd: 'publish', topic: 'devices/test-1/down' });
    connected?.disconnect(0x87, 'policy no longer allows the connection');
    expect(await device.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x87 });
    expect(disconnects(log)).toMatchObject([
      { cause: 'handler', reason: 'policy no longer allows the connection' },
    ]);
  });

  it('closes with 0x80 and an error line when the handler throws', async () => {
    const handler: MessageHandler = {
      ...refuseAllMessages,
      onSubscribe: () => {
        throw new Error('handler bug');
      },
    };
    const { device, log } = setup({ handler });
    device.send(connect());
    await device.next();
    device.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] });
    expect(await device.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x80 });
    expect(log.filter((e) => e.event === 'error')).toEqual([
      {
        event: 'error',
        connectionId: 'c0ffee00-0000-4000-8000-000000000001',
        reason: 'handling SUBSCRIBE failed: handler bug',
      },
    ]);
  });

  it('records the decision but sends nothing when the client left during authorization', async () => {
    const { device, log, authorizer } = setup();
    let release!: (decision: ConnectDecision) => void;
    authorizer.decide = () => new Promise((resolve) => (release = resolve));
    device.send(connect());
    await withTimeout(
      new Promise<void>((resolve) => {
        const poll = (): void => (authorizer.attempts.length > 0 ? resolve() : void setImmediate(poll));
        poll();
      }),
      'the authorizer call',
    );
    device.stream.destroy();
    await withTimeout(
      new Promise<void>((resolve) => {
        const poll = (): void => (disconnects(log).length > 0 ? resolve() : void setImmediate(poll));
        poll();
      }),
      'the disconnect line',
    );
    release(allowed());
    await settle();
    expect(log.find((e) => e.event === 'connect')).toMatchObject({ decision: 'allow', clientGone: true });
    expect(disconnects(log)).toMatchObject([
      { cause: 'connection-lost', reason: 'the client closed the connection before CONNACK' },
    ]);
  });

  it('answers MQTT 3.1 with return code 1 without calling the authorizer', async () => {
    const { device, authorizer, log } = setup({ protocolVersion: 3 });
    device.send({ ...connect(), protocolId: 'MQIsdp', protocolVersion: 3 });
    expect(await device.next()).toMatchObject({ cmd: 'connack', returnCode: 1 });
    expect(authorizer.attempts).toEqual([]);
    expect(log.find((e) => e.event === 'connect')).toMatchObject({
      reasonCode: '0x84',
      reason: 'MQTT 3.1 is not supported; use MQTT 5 or 3.1.1',
    });
  });

  it('answers an MQTT 3.1.1 CONNECT with an empty client id and no clean session with return code 2', async () => {
    const { device, authorizer } = setup({ protocolVersion: 4 });
    // Written by hand: mqtt-packet refuses to encode this invalid CONNECT.
    device.stream.write(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 60, 0, 0]));
    expect(await device.next()).toMatchObject({ cmd: 'connack', returnCode: 2 });
    expect(authorizer.attempts).toEqual([]);
  });

  it('lets a newer session take the client id over, and the old one does not evict it on close', async () => {
    const registry = new SessionRegistry<MqttSession>();
    const first = setup({ registry });
    first.device.send(connect({ clientId: 'test-same' }));
    await first.device.next();
    const second = setup({ registry });
    second.device.send(connect({ clientId: 'test-same' }));
    await second.device.next();
    expect(await first.device.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x8e });
    expect(registry.get('test-same')).toBe(second.session);
    expect(registry.size).toBe(1);
  });

  it('never throws on arbitrary bytes and always ends the connection by the deadline', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 6 }),
        async (chunks) => {
          const { device, clock, log, session } = setup();
          for (const chunk of chunks) device.stream.write(Buffer.from(chunk));
          await settle();
          // Past the CONNECT deadline, then past the longest keep alive in case the bytes held a CONNECT.
          clock.advance(10_000);
          await settle();
          clock.advance(1_800_000);
          await withTimeout(session.closed, 'the session to close');
          expect(log.filter((e) => e.event === 'error')).toEqual([]);
          expect(disconnects(log)).toHaveLength(1);
          device.stream.destroy();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throws on arbitrary bytes after a successful CONNECT', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const { device, clock, log, session } = setup();
        device.send(connect());
        await device.next();
        device.stream.write(Buffer.from(bytes));
        await settle();
        clock.advance(46_000);
        await withTimeout(session.closed, 'the session to close');
        expect(disconnects(log)).toHaveLength(1);
        device.stream.destroy();
      }),
      { numRuns: 150 },
    );
  });
});

/** A session connected as test-1 (keep alive 1200 s), with the handler's view of the client. */
async function connectedSetup(first: ConnectDecision): Promise<Setup & { client: () => ConnectedClient }> {
  let connected: ConnectedClient | undefined;
  const result = setup({ handler: { ...refuseAllMessages, onConnected: (c) => (connected = c) } });
  result.authorizer.decide = () => first;
  result.device.send(connect({ keepalive: 1200 }));
  expect(await result.device.next()).toMatchObject({ cmd: 'connack', reasonCode: 0 });
  return { ...result, client: () => connected as ConnectedClient };
}

function refreshes(
  log: readonly GatewayLogEntryInput[],
): Extract<GatewayLogEntryInput, { event: 'refresh' }>[] {
  return log.filter((e): e is Extract<GatewayLogEntryInput, { event: 'refresh' }> => e.event === 'refresh');
}

describe('MqttSession hooks for the message broker', () => {
  it.each([
    ['a DISCONNECT 0x00', { cmd: 'disconnect', reasonCode: 0 } as const, 'client-disconnect', false],
    [
      'a DISCONNECT 0x04 (with will)',
      { cmd: 'disconnect', reasonCode: 4 } as const,
      'client-disconnect',
      true,
    ],
    [
      'a PUBLISH with QoS 2',
      { cmd: 'publish', topic: 't', payload: 'x', qos: 2, messageId: 1, dup: false, retain: false } as const,
      'qos-not-supported',
      true,
    ],
  ])('tells the handler whether the will is due after %s', async (_what, packet, cause, publishWill) => {
    const ended: DisconnectInfo[] = [];
    const { device } = setup({
      handler: { ...refuseAllMessages, onDisconnected: (_c, info) => ended.push(info) },
    });
    device.send(connect(), packet);
    await device.ended;
    expect(ended).toEqual([{ cause, publishWill, keepSession: true }]);
  });
});

describe('MqttSession policy refresh (refreshAfterInSeconds)', () => {
  it('invokes the authorizer again with the same attempt and replaces the cached policy', async () => {
    const first = allowed({ refreshAfterInSeconds: 300 });
    const refreshed = allowed({ refreshAfterInSeconds: 600 });
    const { authorizer, clock, log, client } = await connectedSetup(first);
    authorizer.decide = () => refreshed;
    expect(client().session).toBe(first.session);
    clock.advance(299_999);
    expect(authorizer.attempts).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(authorizer.attempts).toHaveLength(2);
    expect(authorizer.attempts[1]).toEqual(authorizer.attempts[0]);
    expect(client().session).toBe(refreshed.session);
    expect(refreshes(log)).toEqual([
      {
        event: 'refresh',
        connectionId: 'c0ffee00-0000-4000-8000-000000000001',
        clientId: 'test-1',
        authorizer: 'UnsignedAuthorizer',
        lambdaInvoked: true,
        lambdaDurationMs: 12,
        decision: 'allow',
        reason: 'iot:Connect allowed on client/test-1',
        refreshAfterInSeconds: 600,
      },
    ]);
    // The next refresh follows the new response's refreshAfterInSeconds.
    clock.advance(599_999);
    expect(authorizer.attempts).toHaveLength(2);
    clock.advance(1);
    await settle();
    expect(authorizer.attempts).toHaveLength(3);
  });

  it('disconnects with 0x87 when the authorizer now refuses, naming the reason', async () => {
    const { authorizer, clock, log, device } = await connectedSetup(allowed());
    authorizer.decide = () =>
      refused(0x86, "authorizer 'UnsignedAuthorizer' returned isAuthenticated: false");
    clock.advance(300_000);
    expect(await device.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x87 });
    expect(refreshes(log)).toMatchObject([{ decision: 'deny', lambdaInvoked: true }]);
    expect(disconnects(log)).toEqual([
      {
        event: 'disconnect',
        connectionId: 'c0ffee00-0000-4000-8000-000000000001',
        transport: 'mqtt',
        clientId: 'test-1',
        cause: 'refresh-refused',
        reasonCode: '0x87',
        reasonCodeNumber: 0x87,
        disconnectSent: true,
        reason:
          "the policy refresh was refused (CONNACK would have been 0x86): authorizer 'UnsignedAuthorizer' returned isAuthenticated: false",
        connectedMs: 300_000,
      },
    ]);
  });

  it('disconnects with 0x80 when the custom-auth pipeline fails during a refresh', async () => {
    const { authorizer, clock, log, device } = await connectedSetup(allowed());
    authorizer.decide = () => {
      throw new Error('worker pool gone');
    };
    clock.advance(300_000);
    expect(await device.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x80 });
    expect(disconnects(log)[0]?.reason).toBe(
      'the policy refresh was refused (CONNACK would have been 0x80): the custom-auth pipeline failed: worker pool gone',
    );
  });

  it('keeps the lifetime set at CONNACK, whatever the refreshes return', async () => {
    const { authorizer, clock, log, device } = await connectedSetup(
      allowed({ refreshAfterInSeconds: 300, disconnectAfterInSeconds: 700 }),
    );
    authorizer.decide = () => allowed({ refreshAfterInSeconds: 300, disconnectAfterInSeconds: 86_400 });
    clock.advance(300_000);
    await settle();
    clock.advance(300_000);
    await settle();
    expect(refreshes(log).map((r) => r.decision)).toEqual(['allow', 'allow']);
    clock.advance(100_000);
    expect(await device.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0xa0 });
    expect(disconnects(log)).toMatchObject([
      {
        cause: 'maximum-connect-time',
        reason: 'disconnectAfterInSeconds (700 s) from the authorizer has passed',
        connectedMs: 700_000,
      },
    ]);
  });

  it('ignores a refresh answer that arrives after the connection ended', async () => {
    const { authorizer, clock, log, device } = await connectedSetup(allowed());
    let release!: (decision: ConnectDecision) => void;
    authorizer.decide = () => new Promise((resolve) => (release = resolve));
    clock.advance(300_000);
    await settle();
    device.send({ cmd: 'disconnect', reasonCode: 0 });
    await device.ended;
    release(refused(0x87, 'too late'));
    await settle();
    expect(refreshes(log)).toEqual([]);
    expect(disconnects(log)).toMatchObject([{ cause: 'client-disconnect' }]);
  });
});

describe('MqttSession with a client that does not read (bounded outbound bytes)', () => {
  const LIMIT = 150_000;
  /** A 10 KB QoS 0 delivery on `t`: 10,008 bytes at MQTT 5. */
  const delivery = (qos: 0 | 1 = 0): Packet => ({
    cmd: 'publish',
    topic: 't',
    payload: Buffer.alloc(10_000),
    qos,
    dup: false,
    retain: false,
    ...(qos === 1 ? { messageId: 1 } : {}),
    properties: {},
  });
  const DELIVERY_BYTES = generate(delivery(), { protocolVersion: 5 }).length;

  /** Connected as test-1 on a stream the test stalls; the handler's client delivers what the test sends. */
  async function stalledSetup(): Promise<
    Setup & {
      readonly client: ConnectedClient;
      readonly accounting: OutboundAccounting;
      readonly stall: () => void;
      readonly release: () => void;
    }
  > {
    const streams = stallingEndpoints();
    const accounting = new OutboundAccounting({
      maxQueuedBytesPerConnection: LIMIT,
      maxQueuedBytesTotal: 10 * LIMIT,
    });
    let connected: ConnectedClient | undefined;
    const result = setup({
      streams,
      outbound: accounting.open('c0ffee00-0000-4000-8000-000000000001'),
      handler: { ...refuseAllMessages, onConnected: (c) => (connected = c) },
    });
    result.device.send(connect({ keepalive: 1200 }));
    expect(await result.device.next()).toMatchObject({ cmd: 'connack', reasonCode: 0 });
    await settle();
    return {
      ...result,
      client: connected as ConnectedClient,
      accounting,
      stall: () => streams[0].stall(),
      release: () => streams[0].release(),
    };
  }

  function outboundDrops(log: readonly GatewayLogEntryInput[]) {
    return log.filter(
      (e): e is Extract<GatewayLogEntryInput, { event: 'outbound-drop' }> => e.event === 'outbound-drop',
    );
  }

  it('drops QoS 0 deliveries past the limit, one line each, then disconnects with 0x97 (throttled)', async () => {
    const { client, stall, release, log, device, accounting, session } = await stalledSetup();
    stall();
    const results = [];
    // Bounded: 14 fit under the limit, then 15 drops pass the drop allowance (one limit's worth).
    for (let i = 0; i < 100 && disconnects(log).length === 0; i++) results.push(client.send(delivery()));
    const sent = results.filter((r) => r.sent).length;
    expect(sent).toBe(Math.floor(LIMIT / DELIVERY_BYTES));
    expect(results.length - sent).toBe(Math.floor(LIMIT / DELIVERY_BYTES) + 1);
    expect(accounting.usage().peakQueuedBytesPerConnection).toBeLessThanOrEqual(LIMIT);

    const drops = outboundDrops(log);
    expect(drops).toHaveLength(results.length - sent);
    const heldBytes = sent * DELIVERY_BYTES;
    const reason = `the client is not reading what it is sent: ${heldBytes} bytes already wait to be sent to this client, and this ${DELIVERY_BYTES}-byte PUBLISH would pass the limit of ${LIMIT}: dropped (QoS 0)`;
    expect(drops[0]).toEqual({
      event: 'outbound-drop',
      connectionId: 'c0ffee00-0000-4000-8000-000000000001',
      clientId: 'test-1',
      topic: 't',
      qos: 0,
      packetBytes: DELIVERY_BYTES,
      limit: 'connection',
      queuedBytes: heldBytes,
      limitBytes: LIMIT,
      droppedBytes: DELIVERY_BYTES,
      reason,
    });
    expect(drops.map((d) => d.droppedBytes)).toEqual(drops.map((_d, i) => (i + 1) * DELIVERY_BYTES));
    expect(results.at(-1)).toEqual({ sent: false, reason });

    expect(disconnects(log)).toEqual([
      expect.objectContaining({
        cause: 'throttled',
        reasonCode: '0x97',
        reasonCodeNumber: 0x97,
        disconnectSent: true,
        reason: `the client fell too far behind: ${drops.length * DELIVERY_BYTES} bytes of QoS 0 messages were dropped since it last took a delivery, more than the ${LIMIT} bytes it may have waiting`,
      }),
    ]);
    // Once it reads again, the client gets what was sent and then the DISCONNECT.
    release();
    const received: Packet[] = [];
    for (let packet = await device.next(); packet; packet = await device.next()) received.push(packet);
    expect(received.map((p) => p.cmd)).toEqual([...Array<string>(sent).fill('publish'), 'disconnect']);
    expect(received.at(-1)).toMatchObject({ cmd: 'disconnect', reasonCode: 0x97 });
    await withTimeout(session.closed, 'the session to close');
    await device.ended;
    await settle();
    expect(accounting.queuedBytes).toBe(0);
  });

  it('disconnects with 0x97 at once when a QoS 1 delivery does not fit', async () => {
    const { client, stall, log } = await stalledSetup();
    stall();
    while (client.send(delivery(0)).sent);
    const result = client.send(delivery(1));
    expect(result).toEqual({
      sent: false,
      reason: expect.stringMatching(
        /a QoS 1 message is not dropped, so the client is disconnected$/,
      ) as string,
    });
    expect(disconnects(log)).toEqual([
      expect.objectContaining({
        cause: 'throttled',
        reasonCode: '0x97',
        reason: result.sent ? '' : result.reason,
      }),
    ]);
    expect(client.send(delivery(0))).toEqual({ sent: false, reason: 'the connection is closing' });
  });

  it('forgives drops once the client takes a delivery again', async () => {
    const { client, stall, release, log } = await stalledSetup();
    for (let round = 0; round < 3; round++) {
      stall();
      let drops = 0;
      // Ten drops each round: thirty in all, more than the allowance had they counted together.
      for (let i = 0; i < 100 && drops < 10; i++) if (!client.send(delivery()).sent) drops += 1;
      release();
      await settle();
      expect(client.send(delivery())).toEqual({ sent: true });
    }
    expect(outboundDrops(log)).toHaveLength(30);
    expect(disconnects(log)).toEqual([]);
  });

  it('still answers protocol packets past the limit, but not past the headroom for them', async () => {
    const { client, stall, device, log } = await stalledSetup();
    stall();
    while (client.send(delivery()).sent);
    // Each UNSUBSCRIBE of 4,000 filters is answered by a 4,000-entry UNSUBACK, which is never dropped.
    const unsubscribe = {
      cmd: 'unsubscribe' as const,
      messageId: 7,
      unsubscriptions: Array.from({ length: 4_000 }, (_v, i) => `f${i}`),
    };
    // Bounded: the headroom takes 17 of them; twice that is plenty.
    const rounds = 2 * Math.ceil(CONTROL_PACKET_HEADROOM_BYTES / 4_000);
    for (let i = 0; i < rounds && disconnects(log).length === 0; i++) {
      device.send(unsubscribe);
      await settle();
    }
    expect(disconnects(log)).toEqual([
      expect.objectContaining({
        cause: 'throttled',
        reasonCode: '0x97',
        reason: expect.stringMatching(
          new RegExp(
            `^the client is not reading what it is sent: \\d+ bytes wait for it, more than its limit of ${LIMIT} plus ${CONTROL_PACKET_HEADROOM_BYTES} for acknowledgements$`,
          ),
        ) as string,
      }),
    ]);
  });
});
