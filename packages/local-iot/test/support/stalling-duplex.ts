import { Endpoint } from './in-memory-duplex';

/**
 * One end of an in-memory connection that can stall like a peer that stops reading: while stalled, what it
 * writes stays pending (the write callbacks do not run and the peer receives nothing) until `release()`.
 */
export class StallingEndpoint extends Endpoint {
  readonly #held: {
    chunk: Buffer;
    encoding: BufferEncoding;
    callback: (error?: Error | null) => void;
  }[] = [];
  #stalled = false;

  /** From now on, writes stay pending. */
  stall(): void {
    this.#stalled = true;
  }

  /** Hands everything pending to the peer and stops stalling. */
  release(): void {
    this.#stalled = false;
    for (const { chunk, encoding, callback } of this.#held.splice(0)) super._write(chunk, encoding, callback);
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#stalled) this.#held.push({ chunk, encoding, callback });
    else super._write(chunk, encoding, callback);
  }
}

/** Both ends of an in-memory connection whose server side can stall: `[server, client]`. */
export function stallingEndpoints(): [StallingEndpoint, Endpoint] {
  const server = new StallingEndpoint();
  const client = new Endpoint();
  server.peer = client;
  client.peer = server;
  return [server, client];
}
