import fc from 'fast-check';
import { generate, type Packet } from 'mqtt-packet';
import { PacketFramer, PacketFraming, type FramingError } from '../../src/gateway/packet-framing';
import { connectPacket } from '../support/connect-packet';

/** A `PacketFraming` that records what it decodes. */
function recordingFraming(maximumPacketSize?: number): {
  readonly framing: PacketFraming;
  readonly packets: Packet[];
  readonly errors: FramingError[];
} {
  const packets: Packet[] = [];
  const errors: FramingError[] = [];
  const framing = new PacketFraming(
    { onPacket: (packet) => packets.push(packet), onFramingError: (error) => errors.push(error) },
    maximumPacketSize,
  );
  return { framing, packets, errors };
}

function publish(topic: string, payloadBytes: number): Packet {
  return { cmd: 'publish', topic, payload: Buffer.alloc(payloadBytes), qos: 0, dup: false, retain: false };
}

describe('PacketFraming', () => {
  it('decodes packets split across chunks, in order', () => {
    const { framing, packets, errors } = recordingFraming();
    const bytes = Buffer.concat([
      generate(connectPacket()),
      generate({ cmd: 'pingreq' }, { protocolVersion: 5 }),
    ]);
    for (let offset = 0; offset < bytes.length; offset += 3)
      framing.decode(bytes.subarray(offset, offset + 3));
    expect(packets.map((p) => p.cmd)).toEqual(['connect', 'pingreq']);
    expect(errors).toEqual([]);
  });

  it('refuses a packet over the maximum size from its fixed header, before the parser sees it', () => {
    const { framing, packets, errors } = recordingFraming(100);
    const tooLarge = generate(publish('t', 200), { protocolVersion: 5 });
    framing.decode(tooLarge.subarray(0, 3));
    expect(errors).toEqual<FramingError[]>([
      {
        cause: 'packet-too-large',
        reasonCode: 0x95,
        reason: `a ${tooLarge.length}-byte packet exceeds the maximum packet size of 100 bytes`,
      },
    ]);
    expect(packets).toEqual([]);
  });

  it('reports bytes that are not MQTT as a malformed packet', () => {
    const { framing, errors } = recordingFraming();
    // Packet type 0 is reserved.
    framing.decode(Buffer.from([0x00, 0x00]));
    expect(errors).toEqual<FramingError[]>([
      { cause: 'malformed-packet', reasonCode: 0x81, reason: 'malformed packet: Not supported' },
    ]);
  });

  it('decodes the packets after an MQTT 3.1.1 CONNECT at that level', () => {
    const { framing, packets } = recordingFraming();
    framing.decode(
      Buffer.concat([
        generate(connectPacket({ protocolVersion: 4 }), { protocolVersion: 4 }),
        generate(publish('devices/test-1/up', 2), { protocolVersion: 4 }),
      ]),
    );
    expect(packets[1]).toMatchObject({
      cmd: 'publish',
      topic: 'devices/test-1/up',
      payload: Buffer.alloc(2),
    });
  });

  it('encodes at MQTT 5 until told the level of the CONNECT', () => {
    const { framing } = recordingFraming();
    const puback: Packet = { cmd: 'puback', messageId: 7, reasonCode: 0x87 };
    expect(framing.protocolVersion).toBe(5);
    expect(framing.encode(puback)).toEqual(generate(puback, { protocolVersion: 5 }));
    framing.useProtocolVersion(4);
    expect(framing.protocolVersion).toBe(4);
    // MQTT 3.1.1 has no PUBACK reason codes: the packet is the 4-byte form.
    expect(framing.encode(puback)).toEqual(Buffer.from([0x40, 0x02, 0x00, 0x07]));
  });
});

describe('PacketFramer', () => {
  it('finds the size of each packet however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        (payloadSizes, cuts) => {
          const packets = payloadSizes.map((size) =>
            generate({
              cmd: 'publish',
              topic: 't',
              payload: Buffer.alloc(size),
              qos: 0,
              dup: false,
              retain: false,
            }),
          );
          const bytes = Buffer.concat(packets);
          const largest = Math.max(...packets.map((p) => p.length));
          const atLimit = new PacketFramer(largest);
          const belowLimit = new PacketFramer(largest - 1);
          let offset = 0;
          let overLimit: number | undefined;
          for (let i = 0; offset < bytes.length; i++) {
            const size = cuts[i % cuts.length] as number;
            const chunk = bytes.subarray(offset, offset + size);
            offset += size;
            expect(atLimit.push(chunk)).toBeUndefined();
            overLimit ??= belowLimit.push(chunk);
          }
          expect(overLimit).toBe(largest);
        },
      ),
    );
  });
});
