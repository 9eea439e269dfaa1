import { AWS_IOT_MESSAGE_BROKER_QUOTAS } from '@iot-custom-auth/protocol';

/** How many bytes the gateway holds for its clients before they are sent. */
export interface OutboundLimits {
  /**
   * Bytes one connection may have waiting: written and not yet taken by the operating system, plus QoS 1
   * deliveries waiting for the client's Receive Maximum. A delivery past it is not sent.
   */
  readonly maxQueuedBytesPerConnection: number;
  /** The same, summed over every connection. */
  readonly maxQueuedBytesTotal: number;
}

/**
 * [choice] AWS IoT documents no queue length for a client that stops reading, only its "Throughput per
 * connection" (512 KiB/s, data past it "is delayed in processing"). A connection may have two seconds of that
 * throughput waiting (1 MiB, eight of the largest packets); the gateway as a whole 64 MiB, so 64 clients can
 * be that far behind at once.
 */
export const OUTBOUND_DEFAULTS: OutboundLimits = {
  maxQueuedBytesPerConnection: 2 * AWS_IOT_MESSAGE_BROKER_QUOTAS.throughputBytesPerSecondPerConnection,
  maxQueuedBytesTotal: 64 * 1024 * 1024,
};

/**
 * Acknowledgements, PINGRESP and DISCONNECT are never dropped for being over the limit (the protocol needs
 * them), but a client that keeps sending without reading cannot make them pile up either: past the
 * connection's limit by this much, it is disconnected.
 */
export const CONTROL_PACKET_HEADROOM_BYTES = 64 * 1024;

/** Which limit a delivery would pass, and by how much. */
export interface OverLimit {
  readonly limit: 'connection' | 'gateway';
  /** Bytes already held under that limit (for the connection, or for the whole gateway). */
  readonly queuedBytes: number;
  readonly limitBytes: number;
}

/** `over` in words, for a log line: what is held, and the limit a `packetBytes`-byte PUBLISH would pass. */
export function describeOverLimit(over: OverLimit, packetBytes: number): string {
  const held =
    over.limit === 'connection'
      ? `${over.queuedBytes} bytes already wait to be sent to this client`
      : `the gateway already holds ${over.queuedBytes} bytes for its clients`;
  return `${held}, and this ${packetBytes}-byte PUBLISH would pass the limit of ${over.limitBytes}`;
}

/** What the gateway holds for one connection, as a message handler sees it (`ConnectedClient.outbound`). */
export interface OutboundBudget {
  /** Bytes held for this connection now. */
  readonly queuedBytes: number;
  /** Holds `bytes` for a delivery that waits before it is sent; the limit it would pass, if any (then nothing is held). */
  reserve(bytes: number): OverLimit | undefined;
  /** Gives back bytes `reserve` held. */
  release(bytes: number): void;
}

/** A snapshot of the gateway's outbound accounting. */
export interface OutboundUsage {
  /** Bytes held for every connection together. */
  readonly queuedBytes: number;
  /** The most `queuedBytes` has been since the gateway started. */
  readonly peakQueuedBytes: number;
  /** Bytes held per connection id, for the connections that hold any. */
  readonly queuedBytesByConnection: ReadonlyMap<string, number>;
  /** The most any single connection has held since the gateway started. */
  readonly peakQueuedBytesPerConnection: number;
  readonly limits: OutboundLimits;
}

/**
 * The gateway's own count of the bytes it holds for its connections before they leave, per connection and
 * in total, so that memory stays bounded by `limits` whatever clients do and tests (and load tools) can read
 * the figures rather than sample the process's memory.
 */
export class OutboundAccounting {
  readonly limits: OutboundLimits;
  readonly #connections = new Map<string, ConnectionOutbound>();
  #queuedBytes = 0;
  #peakQueuedBytes = 0;
  #peakPerConnection = 0;

  constructor(limits: OutboundLimits = OUTBOUND_DEFAULTS) {
    this.limits = limits;
  }

  /** Bytes held for every connection together. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** The accounting of a new connection; `close()` it when the connection has ended. */
  open(connectionId: string): ConnectionOutbound {
    const connection = new ConnectionOutbound(connectionId, {
      limits: this.limits,
      totalQueuedBytes: () => this.#queuedBytes,
      changed: (delta, connectionQueuedBytes) => {
        this.#queuedBytes += delta;
        this.#peakQueuedBytes = Math.max(this.#peakQueuedBytes, this.#queuedBytes);
        this.#peakPerConnection = Math.max(this.#peakPerConnection, connectionQueuedBytes);
      },
      closed: () => this.#connections.delete(connectionId),
    });
    this.#connections.set(connectionId, connection);
    return connection;
  }

  usage(): OutboundUsage {
    const byConnection = new Map<string, number>();
    for (const [id, connection] of this.#connections) {
      if (connection.queuedBytes > 0) byConnection.set(id, connection.queuedBytes);
    }
    return {
      queuedBytes: this.#queuedBytes,
      peakQueuedBytes: this.#peakQueuedBytes,
      queuedBytesByConnection: byConnection,
      peakQueuedBytesPerConnection: this.#peakPerConnection,
      limits: this.limits,
    };
  }
}

/** What `OutboundAccounting` gives each connection's accounting: the limits, and where changes go. */
export interface OutboundLedger {
  readonly limits: OutboundLimits;
  totalQueuedBytes(): number;
  /** Every change of the connection's bytes, positive or negative, with its new count. */
  changed(delta: number, connectionQueuedBytes: number): void;
  closed(): void;
}

/** The bytes held for one connection: what its stream has not flushed yet, and what a handler reserved. */
export class ConnectionOutbound implements OutboundBudget {
  readonly connectionId: string;
  readonly #ledger: OutboundLedger;
  #queuedBytes = 0;
  #closed = false;

  constructor(connectionId: string, ledger: OutboundLedger) {
    this.connectionId = connectionId;
    this.#ledger = ledger;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get limits(): OutboundLimits {
    return this.#ledger.limits;
  }

  /** The limit `bytes` more would pass, if any: this connection's first, then the gateway's. */
  overLimit(bytes: number): OverLimit | undefined {
    const { maxQueuedBytesPerConnection, maxQueuedBytesTotal } = this.#ledger.limits;
    if (this.#queuedBytes + bytes > maxQueuedBytesPerConnection) {
      return { limit: 'connection', queuedBytes: this.#queuedBytes, limitBytes: maxQueuedBytesPerConnection };
    }
    const total = this.#ledger.totalQueuedBytes();
    if (total + bytes > maxQueuedBytesTotal) {
      return { limit: 'gateway', queuedBytes: total, limitBytes: maxQueuedBytesTotal };
    }
    return undefined;
  }

  reserve(bytes: number): OverLimit | undefined {
    const over = this.overLimit(bytes);
    if (!over) this.add(bytes);
    return over;
  }

  release(bytes: number): void {
    this.add(-Math.min(bytes, this.#queuedBytes));
  }

  /** Counts `bytes` as held, without checking a limit (control packets, which are never dropped). */
  add(bytes: number): void {
    if (this.#closed || bytes === 0) return;
    this.#queuedBytes += bytes;
    this.#ledger.changed(bytes, this.#queuedBytes);
  }

  /** The connection has ended: whatever it still held is freed, and later releases are ignored. */
  close(): void {
    if (this.#closed) return;
    this.release(this.#queuedBytes);
    this.#closed = true;
    this.#ledger.closed();
  }
}
