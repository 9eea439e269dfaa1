import { readFileSync } from 'node:fs';
import { connect, type IConnackPacket, type Packet } from 'mqtt';
import { generate } from 'mqtt-packet';
import { ALLOW_PUBSUB_STATEMENT, useBehavioursStack } from '../support/behaviours-stack';
import type { TestClient } from '../support/mqtt-test-client';
import { withTimeout } from '../support/wait';

// AWS IoT Core's MQTT limits as an independent client (`mqtt` from npm, MQTT 5 and 3.1.1, over TLS with
// ALPN mqtt) meets them: the 128 KB limit is on the PUBLISH payload, so exactly 131,072 payload bytes go
// through and one more disconnects the client (lifecycle CLIENT_ERROR); the CONNACK's Receive Maximum 100
// is enforced on what the client sends; an MQTT 3.1.1 SUBSCRIBE at QoS 2 gets no SUBACK.

const PAYLOAD_LIMIT = 131_072;

const { served, allowing } = useBehavioursStack('LimitsEndToEnd');

const OPEN = allowing([ALLOW_PUBSUB_STATEMENT]);

/** Resolves once the client's connection has closed. */
function closed(client: TestClient): Promise<void> {
  return withTimeout(
    new Promise((resolve) => (client.mqtt.connected ? client.mqtt.once('close', resolve) : resolve())),
    'the connection to close',
  );
}

describe.each([
  ['MQTT 5', 5],
  ['MQTT 3.1.1', 4],
] as const)('the 128 KB payload limit, %s', (_name, protocolVersion) => {
  it('delivers a PUBLISH with exactly 131,072 payload bytes', async () => {
    const id = `test-limit-ok-${protocolVersion}`;
    const client = await served.connect(id, { ...OPEN, protocolVersion });
    expect(await client.subscribe({ [`limits/${id}`]: { qos: 1 } })).toEqual([1]);
    const payload = 'x'.repeat(PAYLOAD_LIMIT);
    expect(await client.publish(`limits/${id}`, payload, { qos: 1 })).toBe(0);
    const received = await client.nextMessage();
    expect(received.payload).toHaveLength(PAYLOAD_LIMIT);
  });

  it('disconnects the client for 131,073 payload bytes (PAYLOAD_LIMIT_EXCEEDED, lifecycle CLIENT_ERROR)', async () => {
    const id = `test-limit-over-${protocolVersion}`;
    const watcher = await served.connect(`test-limit-watch-${protocolVersion}`, OPEN);
    expect(await watcher.subscribe({ [`$aws/events/presence/disconnected/${id}`]: { qos: 0 } })).toEqual([0]);
    const client = await served.connect(id, { ...OPEN, protocolVersion });
    const gone = closed(client);
    client.mqtt.publish(`limits/${id}`, 'x'.repeat(PAYLOAD_LIMIT + 1), { qos: 1 });
    await gone;
    if (protocolVersion === 5) expect((await client.serverDisconnect).reasonCode).toBe(0x95);
    const [entry] = await served.log.waitForCount('disconnect', { clientId: id }, 1);
    expect(entry).toMatchObject({
      cause: 'payload-too-large',
      disconnectSent: protocolVersion === 5,
      reason: `PAYLOAD_LIMIT_EXCEEDED: the PUBLISH to 'limits/${id}' has a 131073-byte payload; AWS IoT Core accepts at most 131072 bytes (128 KB) and disconnects the client: send less or split the message`,
    });
    const event = await watcher.nextMessage();
    expect(JSON.parse(event.payload)).toMatchObject({
      clientId: id,
      clientInitiatedDisconnect: false,
      disconnectReason: 'CLIENT_ERROR',
    });
  });
});

describe('inbound Receive Maximum (100 in-flight QoS 1 messages per client)', () => {
  /** The client's connection's bytes, written at once: every packet reaches the gateway in one read. */
  function burst(client: TestClient, topic: string, count: number): void {
    const packets = Array.from({ length: count }, (_, i) =>
      generate(
        {
          cmd: 'publish',
          topic,
          payload: Buffer.from(String(i)),
          qos: 1,
          messageId: i + 1,
          dup: false,
          retain: false,
        },
        { protocolVersion: 5 },
      ),
    );
    client.mqtt.stream.write(Buffer.concat(packets));
  }

  /** Counts the PUBACKs the client receives. */
  function pubacks(client: TestClient): { count: number } {
    const seen = { count: 0 };
    client.mqtt.on('packetreceive', (packet: Packet) => {
      if (packet.cmd === 'puback') seen.count += 1;
    });
    return seen;
  }

  it('announces Receive Maximum 100 in the CONNACK and acknowledges 100 unacknowledged QoS 1 PUBLISHes', async () => {
    const { connection } = served.local;
    const mqtt = connect(`mqtts://${connection.endpoint}:${connection.port}`, {
      clientId: 'test-connack-limits',
      ca: readFileSync(connection.caFile),
      servername: connection.endpoint,
      ALPNProtocols: ['mqtt'],
      protocolVersion: 5,
      reconnectPeriod: 0,
      ...OPEN,
    });
    try {
      const connack = await withTimeout(
        new Promise<IConnackPacket>((resolve, reject) => {
          mqtt.once('connect', resolve);
          mqtt.once('error', reject);
        }),
        'CONNACK',
      );
      expect(connack.properties).toMatchObject({ receiveMaximum: 100, maximumPacketSize: 147_456 });
    } finally {
      mqtt.end(true);
    }
    const client = await served.connect('test-inflight-100', OPEN);
    const seen = pubacks(client);
    burst(client, 'limits/inflight', 100);
    await served.log.waitForCount('publish', { clientId: 'test-inflight-100' }, 100);
    // A PINGRESP after the burst: every PUBACK, sent before it, has arrived by then.
    await withTimeout(
      new Promise<void>((resolve) => {
        client.mqtt.on('packetreceive', (packet: Packet) => packet.cmd === 'pingresp' && resolve());
        client.mqtt.stream.write(generate({ cmd: 'pingreq' }));
      }),
      'PINGRESP',
    );
    expect(seen.count).toBe(100);
    expect(client.mqtt.connected).toBe(true);
  });

  it('disconnects with 0x93 a client that sends a 101st QoS 1 PUBLISH before any PUBACK came', async () => {
    const client = await served.connect('test-inflight-101', OPEN);
    const gone = closed(client);
    burst(client, 'limits/inflight', 101);
    await gone;
    expect((await client.serverDisconnect).reasonCode).toBe(0x93);
    expect(await served.log.waitFor('disconnect', { clientId: 'test-inflight-101' })).toMatchObject({
      cause: 'protocol-error',
      reasonCode: '0x93',
      reason:
        "more than 100 QoS 1 PUBLISH packets were awaiting PUBACK: AWS IoT Core allows 100 in-flight unacknowledged messages per client (the CONNACK's Receive Maximum); wait for a PUBACK before sending more",
    });
  });
});

describe('MQTT 3.1.1 SUBSCRIBE at QoS 2', () => {
  it('gets no SUBACK and subscribes nothing, and the connection goes on', async () => {
    const client = await served.connect('test-sub-qos2', { ...OPEN, protocolVersion: 4 });
    const subacks: number[] = [];
    client.mqtt.on('packetreceive', (packet: Packet) => {
      if (packet.cmd === 'suback') subacks.push(packet.messageId as number);
    });
    client.mqtt.subscribe({ 'limits/qos2': { qos: 2 }, 'limits/also': { qos: 1 } });
    // The gateway answers in order: the SUBACK of this later SUBACK-worthy SUBSCRIBE proves the first got none.
    expect(await client.subscribe({ 'limits/qos1': { qos: 1 } })).toEqual([1]);
    expect(subacks).toHaveLength(1);
    expect(
      served.log.matching('subscribe', { clientId: 'test-sub-qos2' }).map((e) => [e.topic, e.reasonCode]),
    ).toEqual([
      ['limits/qos2', '0x9b'],
      ['limits/also', '0x9b'],
      ['limits/qos1', '0x01'],
    ]);
    expect(
      served.log.matching('subscribe', { clientId: 'test-sub-qos2', topic: 'limits/qos2' })[0]?.reason,
    ).toBe(
      'MQTT 3.1.1 SUBSCRIBE asking for QoS 2: AWS IoT Core supports QoS 0 and 1 only and sends no SUBACK for it (nothing in this SUBSCRIBE is subscribed): subscribe at QoS 0 or 1',
    );
    // Nothing was subscribed: a message to the QoS 2 filter's topic reaches no one.
    expect(await client.publish('limits/qos2', 'lost', { qos: 1 })).toBe(0);
    expect(await client.publish('limits/qos1', 'kept', { qos: 1 })).toBe(0);
    expect(await client.nextMessage()).toMatchObject({ topic: 'limits/qos1', payload: 'kept' });
  });
});
