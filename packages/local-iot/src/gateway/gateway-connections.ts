import type { Socket } from 'node:net';

/** What shutting down needs of an MQTT session (an `MqttSession`). */
export interface ClosableSession {
  /** Settles once the session has closed. */
  readonly closed: Promise<void>;
  /** Says goodbye (DISCONNECT 0x8B to MQTT 5 clients) and ends the stream. */
  shutdown(): void;
  /** Ends the stream at once. */
  destroy(): void;
}

/**
 * Every connection the gateway holds, so that closing it leaves nothing behind: TCP connections (some
 * still in their TLS handshake), TLS sockets past the handshake, and the MQTT sessions that run on them.
 * Each is forgotten as soon as it closes.
 */
export class GatewayConnections {
  readonly #tcpConnections = new Set<Socket>();
  readonly #tlsSockets = new Set<Socket>();
  readonly #sessions = new Set<ClosableSession>();

  /** TCP connections open now, whatever their stage (TLS handshake, WebSocket upgrade, MQTT). */
  get openConnections(): number {
    return this.#tcpConnections.size;
  }

  /** A TCP connection, as accepted. */
  trackConnection(connection: Socket): void {
    this.#tcpConnections.add(connection);
    connection.once('close', () => this.#tcpConnections.delete(connection));
  }

  /** A TLS socket whose handshake completed: closing waits (a grace time) for it to finish. */
  trackSecureSocket(socket: Socket): void {
    this.#tlsSockets.add(socket);
    socket.once('close', () => this.#tlsSockets.delete(socket));
  }

  /** An MQTT session, told about the shutdown when the gateway closes. */
  trackSession(session: ClosableSession): void {
    this.#sessions.add(session);
    void session.closed.then(() => this.#sessions.delete(session));
  }

  /**
   * Shuts every session down, gives the TLS sockets up to `graceMs` (real time) to close, then destroys
   * whatever is left, connections stuck in their handshake included.
   */
  async close(graceMs: number): Promise<void> {
    // Snapshot: a session leaves `#sessions` as soon as it has closed, but its stream may still be finishing.
    const live = [...this.#sessions];
    for (const session of live) session.shutdown();
    await waitForClose(this.#tlsSockets, graceMs);
    for (const session of live) session.destroy();
    for (const socket of this.#tlsSockets) socket.destroy();
    for (const connection of this.#tcpConnections) connection.destroy();
  }
}

/** Resolves when every socket has closed or `graceMs` (real time) has passed. */
async function waitForClose(sockets: ReadonlySet<Socket>, graceMs: number): Promise<void> {
  if (sockets.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const allClosed = Promise.all(
    [...sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve))),
  );
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([allClosed, timeout]);
  clearTimeout(timer);
}
