import type { Duplex } from 'node:stream';
import type { Packet } from 'mqtt-packet';
import { errorMessage } from './gateway-log';
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

/**
 * MQTT packets over one duplex byte stream (a TLS socket or a WebSocket stream): bytes in become packets
 * through `PacketFraming`, packets out are encoded and written while the stream is writable, and `end()`
 * closes the gateway's side without letting a peer that never closes its own pin the connection.
 */
export class PacketStream {
  readonly #stream: Duplex;
  readonly #framing: PacketFraming;
  readonly #events: PacketStreamEvents;
  readonly #closeGraceMs: number;
  #ending = false;
  #streamError: string | undefined;
  #destroyTimer: NodeJS.Timeout | undefined;

  /**
   * @param closeGraceMs Real milliseconds the peer gets to close after `end()`, before the stream is
   *   destroyed.
   */
  constructor(stream: Duplex, events: PacketStreamEvents, closeGraceMs: number) {
    this.#stream = stream;
    this.#events = events;
    this.#closeGraceMs = closeGraceMs;
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

  /** Encodes and writes a packet; false when the stream is gone or the packet cannot be encoded. */
  send(packet: Packet): boolean {
    if (this.#stream.destroyed || this.#stream.writableEnded) return false;
    let bytes: Buffer;
    try {
      bytes = this.#framing.encode(packet);
    } catch (error) {
      this.#events.onSendFailed(`could not encode ${packet.cmd.toUpperCase()}: ${errorMessage(error)}`);
      return false;
    }
    this.#stream.write(bytes);
    return true;
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
