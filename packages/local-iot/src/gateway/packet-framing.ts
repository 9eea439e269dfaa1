import { MQTT_REASON_CODES as RC } from '@iot-custom-auth/protocol';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';
import { AWS_IOT_MQTT_LIMITS } from './aws-iot-mqtt-limits';
import { errorMessage, type DisconnectCause } from './gateway-log';

/** MQTT protocol level of a connection: 5, 4 (MQTT 3.1.1) or 3 (MQTT 3.1). */
export type MqttProtocolVersion = 3 | 4 | 5;

/** Received bytes that are not acceptable MQTT: the connection ends for it. */
export interface FramingError {
  readonly cause: Extract<DisconnectCause, 'malformed-packet' | 'packet-too-large'>;
  /** What a DISCONNECT says about it (sent only to a connected MQTT 5 client). */
  readonly reasonCode: number;
  readonly reason: string;
}

/** Where `PacketFraming` delivers what it decoded. */
export interface PacketFramingEvents {
  /** One complete packet, in the order received. */
  onPacket(packet: Packet): void;
  /** The bytes were malformed or a packet is too large; nothing sensible follows on this connection. */
  onFramingError(error: FramingError): void;
}

/**
 * MQTT packets to and from bytes for one connection: received bytes are checked against the maximum packet
 * size before the parser buffers them, then decoded; packets to send are encoded for the protocol level the
 * client's CONNECT chose (MQTT 5 until then).
 */
export class PacketFraming {
  readonly #events: PacketFramingEvents;
  readonly #maximumPacketSize: number;
  readonly #framer: PacketFramer;
  // Starts at MQTT 5; on decoding a CONNECT the parser adopts its protocol level by itself.
  readonly #parser = createParser({ protocolVersion: 5 });
  #protocolVersion: MqttProtocolVersion = 5;

  /** @param maximumPacketSize Largest packet accepted, fixed header included. @default 131072 (AWS IoT) */
  constructor(
    events: PacketFramingEvents,
    maximumPacketSize: number = AWS_IOT_MQTT_LIMITS.maximumPacketSize,
  ) {
    this.#events = events;
    this.#maximumPacketSize = maximumPacketSize;
    this.#framer = new PacketFramer(maximumPacketSize);
    this.#parser.on('packet', (packet) => events.onPacket(packet));
    this.#parser.on('error', (error: unknown) => events.onFramingError(malformed(error)));
  }

  /** The protocol level packets are encoded with. */
  get protocolVersion(): MqttProtocolVersion {
    return this.#protocolVersion;
  }

  /** Encodes every later packet for `version`: the level of the client's CONNECT. */
  useProtocolVersion(version: MqttProtocolVersion): void {
    this.#protocolVersion = version;
  }

  /** Feeds received bytes; complete packets and framing errors come out through the events. */
  decode(chunk: Buffer): void {
    const tooLarge = this.#framer.push(chunk);
    if (tooLarge !== undefined) {
      this.#events.onFramingError({
        cause: 'packet-too-large',
        reasonCode: RC.packetTooLarge,
        reason: `a ${tooLarge}-byte packet exceeds the maximum packet size of ${this.#maximumPacketSize} bytes`,
      });
      return;
    }
    try {
      this.#parser.parse(chunk);
    } catch (error) {
      this.#events.onFramingError(malformed(error));
    }
  }

  /**
   * The bytes of `packet` at the connection's protocol level.
   * @throws Error from mqtt-packet when the packet cannot be encoded at that level.
   */
  encode(packet: Packet): Buffer {
    return generate(packet, { protocolVersion: this.#protocolVersion });
  }
}

function malformed(error: unknown): FramingError {
  return {
    cause: 'malformed-packet',
    reasonCode: RC.malformedPacket,
    reason: `malformed packet: ${errorMessage(error)}`,
  };
}

/**
 * Follows MQTT fixed headers across chunks to learn each packet's total size before the parser buffers it,
 * so a client cannot make the gateway hold a 256 MB "packet".
 */
export class PacketFramer {
  #phase: 'type' | 'length' | 'body' = 'type';
  #length = 0;
  #lengthBytes = 0;
  #multiplier = 1;
  #bodyLeft = 0;

  constructor(private readonly maximumPacketSize: number) {}

  /** Feeds bytes; returns the size of the first packet over the limit, or `undefined`. */
  push(chunk: Buffer): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#phase === 'type') {
        i += 1;
        this.#phase = 'length';
        this.#length = 0;
        this.#lengthBytes = 0;
        this.#multiplier = 1;
      } else if (this.#phase === 'length') {
        const byte = chunk[i] as number;
        i += 1;
        this.#length += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        this.#lengthBytes += 1;
        // A fifth length byte is malformed; the parser reports it, this only bounds the size.
        if (byte & 0x80 && this.#lengthBytes < 4) continue;
        const total = 1 + this.#lengthBytes + this.#length;
        if (total > this.maximumPacketSize) return total;
        this.#bodyLeft = this.#length;
        this.#phase = this.#bodyLeft === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.#bodyLeft, chunk.length - i);
        i += take;
        this.#bodyLeft -= take;
        if (this.#bodyLeft === 0) this.#phase = 'type';
      }
    }
    return undefined;
  }
}
