import type { Duplex } from 'node:stream';
import type { Packet } from 'mqtt-packet';
import { errorMessage } from './gateway-log';
import { OutboundAccounting, type ConnectionOutbound, type OverLimit } from './outbound-accounting';
import { PacketFraming, type MqttProtocolVersion, type PacketFramingEvents } from './packet-framing';

/** Where a `PacketStream` reports what happens on its byte stream. */
export interface PacketStreamEvents extends PacketFramingEvents {
  /**
   * The peer ended or closed the stream (also reported after `end()`, when the peer's close arrives).
   * @param streamError The code or message of the stream error that came before, if any.
   */
  onPeerGone(streamError: string | undefined): void;
  /** A packet could not be sent because it cannot be encoded; `reason` says which and why. */
  onSendFailed(reason: string): void;
}

/** What became of a packet `sendIfRoom` was given. */
export type SendIfRoomResult =
  | { readonly sent: true }
  /** Not written: the stream is gone, or the packet cannot be encoded (`onSendFailed` was told). */
  | { readonly sent: false; readonly problem: string; readonly over?: undefined }
  /** Not written: `packetBytes` more would pass `over`. */
  | { readonly sent: false; readonly over: OverLimit; readonly packetBytes: number };

/**
 * MQTT packets over one duplex byte stream (a TLS socket or a WebSocket stream): bytes in become packets
 * through `PacketFraming`, packets out are encoded and written while the stream is writable, and `end()`
 * closes the gateway's side without letting a peer that never closes its own pin the connection.
 *
 * Every byte written counts in the connection's `ConnectionOutbound` until the stream has handed it to the
 * operating system (the write's callback), so a peer that stops reading shows up as bytes held: `send`
 * writes whatever the count (protocol packets), `sendIfRoom` only within the limits (deliveries).
 */
export class PacketStream {
  readonly #stream: Duplex;
  readonly #framing: PacketFraming;
  readonly #events: PacketStreamEvents;
  readonly #closeGraceMs: number;
  readonly #outbound: ConnectionOutbound;
  #ending = false;
  #streamError: string | undefined;
  #destroyTimer: NodeJS.Timeout | undefined;

  /**
   * @param closeGraceMs Real milliseconds the peer gets to close after `end()`, before the stream is
   *   destroyed.
   * @param outbound Where the bytes not yet flushed are counted. @default its own, with the default limits
   */
  constructor(
    stream: Duplex,
    events: PacketStreamEvents,
    closeGraceMs: number,
    outbound: ConnectionOutbound = new OutboundAccounting().open('unaccounted'),
  ) {
    this.#stream = stream;
    this.#events = events;
    this.#closeGraceMs = closeGraceMs;
    this.#outbound = outbound;
    this.#framing = new PacketFraming(events);
    stream.on('data', (chunk: Buffer) => {
      // Whatever still arrives after `end()` is read only so that the peer's close can be seen.
      if (!this.#ending) this.#framing.decode(chunk);
    });
    stream.on('error', (error: NodeJS.ErrnoException) => {
      this.#streamError = error.code ?? error.message;
    });
    stream.on('end', () => events.onPeerGone(this.#streamError));
    stream.on('close', () => {
      clearTimeout(this.#destroyTimer);
      // Writes still pending when a stream is destroyed may never call back: free them all at once.
      outbound.close();
      events.onPeerGone(this.#streamError);
    });
  }

  /** The protocol level packets are sent with. */
  get protocolVersion(): MqttProtocolVersion {
    return this.#framing.protocolVersion;
  }

  /** Sends every later packet at `version`: the level of the client's CONNECT. */
  useProtocolVersion(version: MqttProtocolVersion): void {
    this.#framing.useProtocolVersion(version);
  }

  /** Bytes written and not yet flushed, plus what a handler reserved on this connection. */
  get queuedBytes(): number {
    return this.#outbound.queuedBytes;
  }

  /** Encodes and writes a packet, however much is held; false when the stream is gone or the packet cannot be encoded. */
  send(packet: Packet): boolean {
    const bytes = this.#encode(packet);
    if (typeof bytes === 'string') return false;
    this.#write(bytes);
    return true;
  }

  /** Encodes a packet and writes it only if the connection's and the gateway's limits leave room for it. */
  sendIfRoom(packet: Packet): SendIfRoomResult {
    const bytes = this.#encode(packet);
    if (typeof bytes === 'string') return { sent: false, problem: bytes };
    const over = this.#outbound.overLimit(bytes.length);
    if (over) return { sent: false, over, packetBytes: bytes.length };
    this.#write(bytes);
    return { sent: true };
  }

  /** The packet's bytes, or why there are none (reported through `onSendFailed` when it cannot be encoded). */
  #encode(packet: Packet): Buffer | string {
    if (this.#stream.destroyed || this.#stream.writableEnded) return 'the connection is closed';
    try {
      return this.#framing.encode(packet);
    } catch (error) {
      const problem = `could not encode ${packet.cmd.toUpperCase()}: ${errorMessage(error)}`;
      this.#events.onSendFailed(problem);
      return problem;
    }
  }

  #write(bytes: Buffer): void {
    this.#outbound.add(bytes.length);
    this.#stream.write(bytes, () => this.#outbound.release(bytes.length));
  }

  /** Stops reading, so that packets are not decoded faster than they are handled. */
  pause(): void {
    this.#stream.pause();
  }

  /** Reads again after `pause()`. */
  resume(): void {
    this.#stream.resume();
  }

  /** Ends the gateway's side; destroys the stream if the peer has not closed within the grace time. */
  end(): void {
    this.#ending = true;
    if (this.#stream.destroyed) return;
    this.#stream.end();
    // Read (and ignore) whatever still arrives, so the peer's close is seen and the stream can finish.
    this.#stream.resume();
    // A peer that never closes its side must not pin the connection forever.
    this.#destroyTimer = setTimeout(() => this.#stream.destroy(), this.#closeGraceMs).unref();
  }

  /** Ends the stream immediately, without waiting for the peer. */
  destroy(): void {
    clearTimeout(this.#destroyTimer);
    this.#stream.destroy();
  }
}
