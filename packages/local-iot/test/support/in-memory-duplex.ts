import { Duplex } from 'node:stream';

/** One end of an in-memory connection: what it writes, its peer reads; ending or destroying it reaches the peer. */
export class Endpoint extends Duplex {
  peer!: Endpoint;

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.destroy();
    callback(error);
  }
}

/** Both ends of an in-memory connection: `[server, client]`. */
export function endpoints(): [Endpoint, Endpoint] {
  const a = new Endpoint();
  const b = new Endpoint();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
