import { generate, parser as createParser, type Packet } from 'mqtt-packet';
import type { FramingError } from '../../src/gateway/packet-framing';
import { OutboundAccounting } from '../../src/gateway/outbound-accounting';
import { PacketStream } from '../../src/gateway/packet-stream';
import { withTimeout } from '../support/gateway-harness';
import { endpoints, type Endpoint } from '../support/in-memory-duplex';
import { stallingEndpoints } from '../support/stalling-duplex';

/** A `PacketStream` on one end of an in-memory connection, recording its events; `device` is the other end. */
function setup(closeGraceMs = 2_000): {
  readonly packets: PacketStream;
  readonly server: Endpoint;
  readonly device: Endpoint;
  readonly received: Packet[];
  readonly framingErrors: FramingError[];
  readonly peerGone: (string | undefined)[];
  readonly sendFailures: string[];
} {
  const [server, device] = endpoints();
  const received: Packet[] = [];
  const framingErrors: FramingError[] = [];
  const peerGone: (string | undefined)[] = [];
  const sendFailures: string[] = [];
  const packets = new PacketStream(
    server,
    {
      onPacket: (packet) => received.push(packet),
      onFramingError: (error) => framingErrors.push(error),
      onPeerGone: (streamError) => peerGone.push(streamError),
      onSendFailed: (reason) => sendFailures.push(reason),
    },
    closeGraceMs,
  );
  return { packets, server, device, received, framingErrors, peerGone, sendFailures };
}

/** Resolves once `stream` has emitted `event`. */
function once(stream: Endpoint, event: 'close' | 'end'): Promise<void> {
  return withTimeout(new Promise((resolve) => stream.once(event, () => resolve())), `the stream's ${event}`);
}

/** Every packet the device side reads until the gateway's side ends. */
async function readAll(device: Endpoint): Promise<Packet[]> {
  const packets: Packet[] = [];
  const parser = createParser({ protocolVersion: 5 });
  parser.on('packet', (packet) => packets.push(packet));
  device.on('data', (chunk: Buffer) => parser.parse(chunk));
  await once(device, 'end');
  return packets;
}

describe('PacketStream', () => {
  it('decodes what the peer writes and reports when the peer ends', async () => {
    const { device, server, received, peerGone } = setup();
    device.end(Buffer.concat([generate({ cmd: 'pingreq' }), generate({ cmd: 'pingreq' })]));
    await once(server, 'end');
    expect(received.map((p) => p.cmd)).toEqual(['pingreq', 'pingreq']);
    expect(peerGone).toEqual([undefined]);
  });

  it('names the stream error that ended the connection', async () => {
    const { server, peerGone } = setup();
    server.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await once(server, 'close');
    expect(peerGone).toEqual(['ECONNRESET']);
  });

  it('writes packets until end(), then refuses to send', async () => {
    const { packets, device } = setup();
    const read = readAll(device);
    expect(packets.send({ cmd: 'pingresp' })).toBe(true);
    packets.end();
    expect(packets.send({ cmd: 'pingresp' })).toBe(false);
    expect(await read).toEqual([expect.objectContaining({ cmd: 'pingresp' })]);
  });

  it('reports a packet it cannot encode and writes nothing', () => {
    const { packets, sendFailures } = setup();
    expect(packets.send({ cmd: 'subscribe', messageId: 1, subscriptions: [] })).toBe(false);
    // Under Jest the message is wrapped (mqtt-packet's error comes from another realm), hence the pattern.
    expect(sendFailures).toEqual([
      expect.stringMatching(/^could not encode SUBSCRIBE: .*Invalid subscriptions/),
    ]);
  });

  it('ignores bytes that arrive after end() but still sees the peer close', async () => {
    const { packets, device, server, received, peerGone } = setup();
    packets.end();
    device.end(generate({ cmd: 'pingreq' }));
    await once(server, 'close');
    expect(received).toEqual([]);
    expect(peerGone.length).toBeGreaterThan(0);
  });

  it('destroys the stream when the peer does not close within the grace time', async () => {
    const { packets, server } = setup(20);
    packets.end();
    await once(server, 'close');
    expect(server.destroyed).toBe(true);
  });

  describe('bytes held for a peer that does not read', () => {
    const publish = (payloadBytes: number): Packet => ({
      cmd: 'publish',
      topic: 't',
      payload: Buffer.alloc(payloadBytes),
      qos: 0,
      dup: false,
      retain: false,
    });
    /** Size of `publish(payloadBytes)` at MQTT 5: fixed header, topic, property length, payload. */
    const sizeOf = (payloadBytes: number): number =>
      generate(publish(payloadBytes), { protocolVersion: 5 }).length;

    function stalled(limits = { maxQueuedBytesPerConnection: 3_000, maxQueuedBytesTotal: 10_000 }) {
      const [server, device] = stallingEndpoints();
      const accounting = new OutboundAccounting(limits);
      const events = {
        onPacket: () => undefined,
        onFramingError: () => undefined,
        onPeerGone: () => undefined,
        onSendFailed: () => undefined,
      };
      const packets = new PacketStream(server, events, 2_000, accounting.open('c1'));
      server.stall();
      return { packets, server, device, accounting };
    }

    it('counts what is written until the stream has flushed it', async () => {
      const { packets, server, device, accounting } = stalled();
      device.resume();
      expect(packets.send(publish(1_000))).toBe(true);
      expect(packets.sendIfRoom(publish(1_000))).toEqual({ sent: true });
      expect(packets.queuedBytes).toBe(2 * sizeOf(1_000));
      expect(accounting.queuedBytes).toBe(2 * sizeOf(1_000));
      server.release();
      // The write callbacks of a synchronous _write run on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(packets.queuedBytes).toBe(0);
      expect(accounting.usage().peakQueuedBytes).toBe(2 * sizeOf(1_000));
    });

    it('writes a delivery only within the limits, protocol packets whatever is held', () => {
      const { packets } = stalled();
      expect(packets.sendIfRoom(publish(2_000))).toEqual({ sent: true });
      expect(packets.sendIfRoom(publish(1_000))).toEqual({
        sent: false,
        over: { limit: 'connection', queuedBytes: sizeOf(2_000), limitBytes: 3_000 },
        packetBytes: sizeOf(1_000),
      });
      expect(packets.send(publish(1_000))).toBe(true);
      expect(packets.queuedBytes).toBe(sizeOf(2_000) + sizeOf(1_000));
    });

    it('says why a delivery was not written on a closed stream', () => {
      const { packets } = stalled();
      packets.destroy();
      expect(packets.sendIfRoom(publish(10))).toEqual({ sent: false, problem: 'the connection is closed' });
    });

    it('frees what was held when the stream closes, flushed or not', async () => {
      const { packets, server, accounting } = stalled();
      packets.send(publish(2_000));
      packets.destroy();
      await once(server, 'close');
      expect(accounting.usage()).toMatchObject({ queuedBytes: 0, queuedBytesByConnection: new Map() });
    });
  });
});
