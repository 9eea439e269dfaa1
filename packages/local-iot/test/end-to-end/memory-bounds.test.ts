import { readFileSync } from 'node:fs';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';
import { WebSocket } from 'ws';
import { RETAINED_DEFAULTS } from '../../src/broker/retained-messages';
import { CONTROL_PACKET_HEADROOM_BYTES, OUTBOUND_DEFAULTS } from '../../src/gateway/outbound-accounting';
import { RawClient } from '../support/gateway-harness';
import { useLocalIot } from '../support/local-iot-harness';
import { withTimeout } from '../support/wait';

// Bounded memory through the synthesized stack, with the gateway's defaults: a consumer that stops reading
// and a device that floods retained messages. Every bound is asserted on the gateway's own accounting
// (`gateway.memoryUsage()`), never on timing or the process's memory.

const served = useLocalIot();
const raws: RawClient[] = [];
const sockets: WebSocket[] = [];
afterEach(() => {
  for (const raw of raws.splice(0)) raw.destroy();
  for (const socket of sockets.splice(0)) socket.terminate();
});

const PAYLOAD_BYTES = 100_000;
const payload = Buffer.alloc(PAYLOAD_BYTES, 'x');

/** A raw MQTT 5 client over TLS with ALPN mqtt, connected with the device credentials and CONNACK 0x00. */
async function rawDevice(clientId: string): Promise<RawClient> {
  const { connection } = served.local;
  const raw = await RawClient.connect(connection.port, readFileSync(connection.caFile, 'utf8'));
  raws.push(raw);
  const connack = await raw.handshake({
    clientId,
    keepalive: 1200,
    username: served.unsignedUsername(clientId),
    password: Buffer.from(served.credentialsFor(clientId).password),
  });
  expect(connack).toMatchObject({ cmd: 'connack', reasonCode: 0 });
  return raw;
}

describe('memory stays bounded', () => {
  it('drops QoS 0 for a consumer that stops reading, then disconnects it with 0x97, within the per-connection bound', async () => {
    const clientId = 'test-slow-reader';
    const topic = `devices/${clientId}/flood`;
    const raw = await rawDevice(clientId);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    expect(await raw.nextPacket()).toMatchObject({ cmd: 'suback', granted: [0] });

    // It stops reading, and publishes 100 KB QoS 0 messages to its own topic: the operating system's buffers
    // fill, then the gateway's, then it drops and finally disconnects. Bounded: 1,000 messages are 100 MB.
    raw.socket.pause();
    const throttled = () => served.log.matching('disconnect', { clientId, cause: 'throttled' });
    for (let i = 1; i <= 1_000 && throttled().length === 0; i++) {
      raw.send({ cmd: 'publish', topic, payload, qos: 0, dup: false, retain: false });
      // One receive line per message, for its own subscription: sent, dropped, or the one that ended it.
      await served.log.waitForCount('receive', { clientId }, i);
    }

    const [disconnect] = throttled();
    expect(disconnect).toMatchObject({
      cause: 'throttled',
      reasonCode: '0x97',
      reasonCodeNumber: 0x97,
      disconnectSent: true,
      reason: expect.stringMatching(
        /^the client fell too far behind: \d+ bytes of QoS 0 messages were dropped/,
      ) as string,
    });
    const drops = served.log.matching('outbound-drop', { clientId });
    expect(drops.length).toBeGreaterThan(0);
    for (const drop of drops) {
      expect(drop).toMatchObject({
        topic,
        qos: 0,
        limit: 'connection',
        limitBytes: OUTBOUND_DEFAULTS.maxQueuedBytesPerConnection,
      });
      expect(drop.queuedBytes + drop.packetBytes).toBeGreaterThan(drop.limitBytes);
    }
    // Deliveries never went past the limit; only protocol packets (the DISCONNECT) may, by their headroom.
    const { outbound } = served.local.gateway.memoryUsage();
    expect(outbound.peakQueuedBytesPerConnection).toBeLessThanOrEqual(
      OUTBOUND_DEFAULTS.maxQueuedBytesPerConnection + CONTROL_PACKET_HEADROOM_BYTES,
    );
    expect(outbound.peakQueuedBytes).toBeLessThanOrEqual(OUTBOUND_DEFAULTS.maxQueuedBytesTotal);

    // Reading again, the client gets what was sent before the drops, then DISCONNECT 0x97.
    raw.socket.resume();
    let packet: Packet | undefined;
    for (let i = 0; i <= 1_000; i++) {
      packet = await raw.nextPacket();
      if (packet?.cmd !== 'publish') break;
    }
    expect(packet).toMatchObject({ cmd: 'disconnect', reasonCode: 0x97 });
    await raw.closed;
    expect(
      served.local.gateway.memoryUsage().outbound.queuedBytesByConnection.has(disconnect?.connectionId ?? ''),
    ).toBe(false);
  });

  it('bounds a consumer over MQTT over WebSockets the same way', async () => {
    const clientId = 'test-slow-websocket';
    const topic = `devices/${clientId}/flood`;
    const { connection } = served.local;
    const socket = new WebSocket(`wss://${connection.endpoint}:${connection.port}/mqtt`, 'mqtt', {
      // SNI is the URL's host name, the endpoint.
      ca: readFileSync(connection.caFile),
    });
    sockets.push(socket);
    const packets: Packet[] = [];
    const parser = createParser({ protocolVersion: 5 });
    parser.on('packet', (packet) => packets.push(packet));
    socket.on('message', (data: Buffer) => parser.parse(data));
    await withTimeout(new Promise((resolve) => socket.once('open', resolve)), 'the WebSocket upgrade');
    const send = (packet: Packet): void => socket.send(generate(packet, { protocolVersion: 5 }));
    send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: true,
      clientId,
      keepalive: 1200,
      username: served.unsignedUsername(clientId),
      password: Buffer.from(served.credentialsFor(clientId).password),
    });
    send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await served.log.waitFor('subscribe', { clientId });

    socket.pause();
    const throttled = () => served.log.matching('disconnect', { clientId, cause: 'throttled' });
    for (let i = 1; i <= 1_000 && throttled().length === 0; i++) {
      send({ cmd: 'publish', topic, payload, qos: 0, dup: false, retain: false });
      await served.log.waitForCount('receive', { clientId }, i);
    }
    expect(throttled()).toEqual([expect.objectContaining({ transport: 'websockets', reasonCode: '0x97' })]);
    expect(served.log.matching('outbound-drop', { clientId }).length).toBeGreaterThan(0);
    expect(served.local.gateway.memoryUsage().outbound.peakQueuedBytesPerConnection).toBeLessThanOrEqual(
      OUTBOUND_DEFAULTS.maxQueuedBytesPerConnection + CONTROL_PACKET_HEADROOM_BYTES,
    );
    socket.resume();
    await withTimeout(new Promise((resolve) => socket.once('close', resolve)), 'the WebSocket to close');
    expect(packets.at(-1)).toMatchObject({ cmd: 'disconnect', reasonCode: 0x97 });
  });

  it('refuses retained messages past the bound on their bytes with PUBACK 0x97, and a clear gives the bytes back', async () => {
    const clientId = 'test-retained-flood';
    const device = await served.connect(clientId);
    const accepted: string[] = [];
    const refusals: string[] = [];
    const boundReached = () => refusals.some((reason) => reason.includes("local-iot's bound"));
    // Bounded: about 670 of these fill the 64 MiB bound; some may also meet the per-account rate (500 a second).
    for (let i = 0; i < 3_000 && !boundReached(); i++) {
      const topic = `devices/${clientId}/retained/${i}`;
      const code = await device.publish(topic, payload.toString(), { qos: 1, retain: true });
      if (code === 0) {
        accepted.push(topic);
        continue;
      }
      expect(code).toBe(0x97);
      const [entry] = served.log.matching('publish', { clientId, topic });
      expect(entry).toMatchObject({ decision: 'deny', reasonCode: '0x97', reasonCodeNumber: 0x97 });
      refusals.push(entry?.reason ?? '');
    }
    expect(boundReached()).toBe(true);
    for (const reason of refusals) {
      expect(reason).toMatch(/^retained message refused: /);
    }
    expect(served.local.gateway.memoryUsage().handler).toEqual({
      retainedMessages: accepted.length,
      retainedBytes: expect.any(Number) as number,
    });
    const { retainedBytes } = served.local.gateway.memoryUsage().handler ?? { retainedBytes: Infinity };
    expect(retainedBytes).toBeLessThanOrEqual(RETAINED_DEFAULTS.maxBytes);
    expect(retainedBytes + PAYLOAD_BYTES).toBeGreaterThan(RETAINED_DEFAULTS.maxBytes);

    // Clearing (an empty retained PUBLISH) is never refused and gives every byte back.
    for (const topic of accepted) expect(await device.publish(topic, '', { qos: 1, retain: true })).toBe(0);
    expect(served.local.gateway.memoryUsage().handler).toEqual({ retainedMessages: 0, retainedBytes: 0 });
  });
});
