import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { AuthorizedSession } from '../../src/auth/connect-types';
import type { CloseRequest } from '../../src/gateway/close-request';
import type { GatewayLogEntryInput } from '../../src/gateway/gateway-log';
import {
  refuseAllMessages,
  type ConnectedClient,
  type MessageHandler,
} from '../../src/gateway/message-handler';
import { OutboundAccounting } from '../../src/gateway/outbound-accounting';
import { MessagePackets } from '../../src/gateway/message-packets';
import { allowed } from '../support/gateway-harness';

interface Setup {
  readonly messages: MessagePackets;
  readonly client: ConnectedClient;
  /** Packets sent to the client, deliveries by the handler included, in order. */
  readonly sent: Packet[];
  readonly closes: CloseRequest[];
  readonly log: GatewayLogEntryInput[];
}

/** `MessagePackets` for a connected `test-1`; the session is connected until the first close. */
function setup(options: { handler?: MessageHandler; protocolVersion?: 4 | 5 } = {}): Setup {
  const sent: Packet[] = [];
  const closes: CloseRequest[] = [];
  const log: GatewayLogEntryInput[] = [];
  const protocolVersion = options.protocolVersion ?? 5;
  const client: ConnectedClient = {
    connectionId: 'c0ffee00-0000-4000-8000-000000000001',
    clientId: 'test-1',
    clientIdAssigned: false,
    cleanStart: true,
    sessionExpirySeconds: 0,
    protocolVersion,
    transport: 'mqtt',
    session: allowed().session as AuthorizedSession,
    outbound: new OutboundAccounting().open('c0ffee00-0000-4000-8000-000000000001'),
    send: (packet) => {
      sent.push(packet);
      return { sent: true };
    },
    disconnect: () => undefined,
  };
  const messages = new MessagePackets({
    client,
    handler: options.handler ?? refuseAllMessages,
    log: (entry) => log.push(entry),
    protocolVersion,
    send: (packet) => sent.push(packet),
    isConnected: () => closes.length === 0,
    close: (request) => closes.push(request),
  });
  return { messages, client, sent, closes, log };
}

function publish(fields: Partial<IPublishPacket> = {}): IPublishPacket {
  return {
    cmd: 'publish',
    topic: 't',
    payload: Buffer.from('x'),
    qos: 0,
    dup: false,
    retain: false,
    ...fields,
  };
}

describe('MessagePackets', () => {
  it('resolves topic aliases before the handler sees a PUBLISH', async () => {
    const seen: IPublishPacket[] = [];
    const handler: MessageHandler = {
      ...refuseAllMessages,
      onPublish: (_client, packet) => {
        seen.push(packet);
        return { reasonCode: 0, reason: 'allowed' };
      },
    };
    const { messages, sent } = setup({ handler });
    const aliased = (topic: string, messageId: number): IPublishPacket =>
      publish({
        topic,
        payload: Buffer.from('p'),
        qos: 1,
        messageId,
        properties: { topicAlias: 3, contentType: 'text/plain' },
      });
    await messages.publish(aliased('devices/test-1/up', 1));
    await messages.publish(aliased('', 2));
    expect(sent).toEqual([
      { cmd: 'puback', messageId: 1, reasonCode: 0 },
      { cmd: 'puback', messageId: 2, reasonCode: 0 },
    ]);
    expect(seen.map((p) => [p.topic, p.properties])).toEqual([
      ['devices/test-1/up', { contentType: 'text/plain' }],
      ['devices/test-1/up', { contentType: 'text/plain' }],
    ]);
  });

  it.each([
    [9, 'x', 0x94, 'topic alias 9 is outside 1..8'],
    [2, '', 0x82, 'protocol error: topic alias 2 was used before being set'],
  ])(
    'disconnects a PUBLISH with topic alias %i and topic %j with %i',
    async (topicAlias, topic, code, reason) => {
      const { messages, closes } = setup();
      await messages.publish(publish({ topic, payload: Buffer.alloc(0), properties: { topicAlias } }));
      expect(closes).toEqual<CloseRequest[]>([{ cause: 'protocol-error', reasonCode: code, reason }]);
    },
  );

  it('disconnects with 0x82 a PUBLISH from the client that carries a subscription identifier', async () => {
    const { messages, closes } = setup();
    await messages.publish(publish({ topic: 'a', properties: { subscriptionIdentifier: 3 } }));
    expect(closes).toEqual<CloseRequest[]>([
      {
        cause: 'protocol-error',
        reasonCode: 0x82,
        reason: 'protocol error: PUBLISH from a client with a subscription identifier',
      },
    ]);
  });

  it('closes an MQTT 3.1.1 client whose QoS 1 PUBLISH is refused (no PUBACK reason codes in 3.1.1)', async () => {
    const { messages, sent, closes } = setup({ protocolVersion: 4 });
    await messages.publish(publish({ qos: 1, messageId: 3 }));
    expect(sent).toEqual([]);
    expect(closes).toMatchObject([{ cause: 'not-authorized' }]);
  });

  it('closes an MQTT 3.1.1 client whose QoS 1 PUBLISH a quota refuses as throttled', async () => {
    const quota = 'retained message refused: a topic takes at most 1 retained message per second';
    const { messages, sent, closes } = setup({
      protocolVersion: 4,
      handler: { ...refuseAllMessages, onPublish: () => ({ reasonCode: 0x97, reason: quota }) },
    });
    await messages.publish(publish({ qos: 1, messageId: 3, retain: true }));
    expect(sent).toEqual([]);
    expect(closes).toEqual([{ cause: 'throttled', reason: `PUBLISH to 't' refused: ${quota}` }]);
  });

  it('takes a 131,072-byte payload and disconnects for 131,073 (0x95, payload-too-large) before the handler', async () => {
    const seen: number[] = [];
    const handler: MessageHandler = {
      ...refuseAllMessages,
      onPublish: (_client, packet) => {
        seen.push(packet.payload.length);
        return { reasonCode: 0, reason: 'allowed' };
      },
    };
    const { messages, closes } = setup({ handler });
    await messages.publish(publish({ payload: Buffer.alloc(131_072) }));
    expect(closes).toEqual([]);
    await messages.publish(publish({ topic: 'big', payload: Buffer.alloc(131_073) }));
    expect(seen).toEqual([131_072]);
    expect(closes).toEqual([
      {
        cause: 'payload-too-large',
        reasonCode: 0x95,
        reason:
          "PAYLOAD_LIMIT_EXCEEDED: the PUBLISH to 'big' has a 131073-byte payload; AWS IoT Core accepts at most 131072 bytes (128 KB) and disconnects the client: send less or split the message",
      },
    ]);
  });

  it('sends no SUBACK for an MQTT 3.1.1 SUBSCRIBE asking for QoS 2, and subscribes nothing of it', async () => {
    let asked = 0;
    const handler: MessageHandler = {
      ...refuseAllMessages,
      onSubscribe: (_client, subscribe) => {
        asked += 1;
        return subscribe.subscriptions.map(() => ({ reasonCode: 1, reason: 'granted' }));
      },
    };
    const { messages, sent, closes, log } = setup({ handler, protocolVersion: 4 });
    const subscriptions = [
      { topic: 'a', qos: 2 as const },
      { topic: 'b', qos: 1 as const },
    ];
    await messages.subscribe({ cmd: 'subscribe', messageId: 7, subscriptions });
    expect([asked, sent, closes]).toEqual([0, [], []]);
    expect(
      log.map(
        (e) => ('topic' in e && 'reasonCode' in e ? [e.event, e.topic, e.reasonCode] : [e.event]) as unknown,
      ),
    ).toEqual([
      ['subscribe', 'a', '0x9b'],
      ['subscribe', 'b', '0x9b'],
    ]);
    // MQTT 5 gets its SUBACK (the broker grants QoS 1 for QoS 2).
    const v5 = setup({ handler });
    await v5.messages.subscribe({ cmd: 'subscribe', messageId: 8, subscriptions });
    expect(v5.sent).toMatchObject([{ cmd: 'suback', messageId: 8 }]);
  });

  it('answers UNSUBSCRIBE with 0x11 per filter and passes client PUBACKs to the handler', async () => {
    const acks: number[] = [];
    const { messages, sent } = setup({
      handler: { ...refuseAllMessages, onPubAck: (_c, ack) => acks.push(ack.messageId ?? -1) },
    });
    messages.puback({ cmd: 'puback', messageId: 41, reasonCode: 0 });
    await messages.unsubscribe({ cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['a', 'b/#'] });
    expect(sent).toEqual([{ cmd: 'unsuback', messageId: 5, granted: [0x11, 0x11] }]);
    expect(acks).toEqual([41]);
  });

  it('calls onSubscribed once the SUBACK is out, so retained messages follow it', async () => {
    const { messages, sent } = setup({
      handler: {
        ...refuseAllMessages,
        onSubscribe: () => [{ reasonCode: 0, reason: 'ok' }],
        onSubscribed: (client, subscribe, outcomes) =>
          client.send({
            cmd: 'publish',
            topic: subscribe.subscriptions[0]?.topic ?? '',
            payload: Buffer.from(`retained after ${outcomes.length} outcome`),
            qos: 0,
            dup: false,
            retain: true,
          }),
      },
    });
    await messages.subscribe({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/b', qos: 0 }] });
    expect(sent).toMatchObject([
      { cmd: 'suback', messageId: 3, granted: [0] },
      { cmd: 'publish', topic: 'a/b', retain: true, payload: Buffer.from('retained after 1 outcome') },
    ]);
  });

  it('sends nothing when the session closed while the handler decided', async () => {
    const { messages, sent, closes, log } = setup({
      handler: {
        ...refuseAllMessages,
        onSubscribe: () => {
          closes.push({ cause: 'taken-over', reason: 'a newer connection' });
          return [{ reasonCode: 0, reason: 'ok' }];
        },
      },
    });
    await messages.subscribe({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/b', qos: 0 }] });
    expect(sent).toEqual([]);
    expect(log).toEqual([]);
  });

  it('fails when the handler returns another number of outcomes than there are filters', async () => {
    const { messages, sent } = setup({ handler: { ...refuseAllMessages, onSubscribe: () => [] } });
    await expect(
      messages.subscribe({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/b', qos: 0 }] }),
    ).rejects.toThrow('the message handler returned 0 outcomes for 1 filters');
    expect(sent).toEqual([]);
  });
});
