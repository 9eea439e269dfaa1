import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { MQTT_ALPN_PROTOCOL } from '@iot-custom-auth/protocol';
import type { Transport } from '../auth/connect-types';
import { AWS_IOT_MQTT_LIMITS } from './aws-iot-mqtt-limits';
import type { ConnectionInfo } from './connect-authorization';
import type { ClockTimer, GatewayClock } from './gateway-clock';
import type { GatewayLogEntryInput } from './gateway-log';
import type { HttpsPublish } from './https-publish';
import {
  createWebSocketRouter,
  type HttpConnectionInfo,
  type WebSocketConnection,
  type WebSocketRouter,
} from './websocket-upgrade';

/** Wiring of a `ConnectionRouter`. */
export interface ConnectionRouterOptions {
  /** The endpoint devices must name: in the SNI, or for a WebSocket upgrade without SNI in the Host header. */
  readonly endpointHost: string;
  readonly clock: GatewayClock;
  /** Time, on `clock`, from the TLS handshake to the MQTT CONNECT (WebSocket upgrade included). */
  readonly connectDeadlineMs: number;
  readonly log: (entry: GatewayLogEntryInput) => void;
  /**
   * Runs MQTT on `stream`: the TLS socket itself, or the stream of a WebSocket.
   * @param connectDeadlineMs What is left, on `clock`, of the CONNECT deadline.
   */
  readonly startSession: (stream: Duplex, connection: ConnectionInfo, connectDeadlineMs: number) => void;
  /** HTTPS publish on the HTTP side; without it, `/topics/` requests get a 404 like any other path. */
  readonly httpsPublish?: HttpsPublish;
}

/** A TLS connection on the HTTP side that has not become an MQTT session yet. */
interface PendingHttpConnection extends HttpConnectionInfo {
  readonly remoteAddress?: string;
  /** Set once it carried an HTTPS publish request. */
  servesHttps?: boolean;
  /** When, on the clock, the MQTT CONNECT is due. */
  readonly deadlineAt: number;
  readonly timer: ClockTimer;
}

/**
 * Decides what a TLS connection is, as AWS IoT Core's port 443 does: without SNI it is refused; with ALPN
 * `mqtt` it carries MQTT at once; otherwise it is HTTP, where an upgrade on `/mqtt` becomes MQTT over
 * WebSockets. Each connection gets its id here, and the CONNECT deadline starts at the handshake, so the
 * WebSocket upgrade counts against it.
 */
export class ConnectionRouter {
  readonly #options: ConnectionRouterOptions;
  readonly #pendingHttp = new Map<Duplex, PendingHttpConnection>();
  readonly #webSockets: WebSocketRouter;

  constructor(options: ConnectionRouterOptions) {
    this.#options = options;
    this.#webSockets = createWebSocketRouter({
      connectionOf: (socket) => this.#pendingHttp.get(socket),
      endpointHost: options.endpointHost,
      log: options.log,
      maxPayloadBytes: 2 * AWS_IOT_MQTT_LIMITS.maximumPacketSize,
      onWebSocket: (socket, webSocket) => this.#onWebSocket(socket, webSocket),
      onRequest: (socket, request, response) => this.#onHttpsRequest(socket, request, response),
    });
  }

  /** Takes a TLS connection whose handshake has completed. */
  route(socket: TLSSocket): void {
    const { clock, connectDeadlineMs, endpointHost, log } = this.#options;
    const connectionId = randomUUID();
    // Errors (resets, TLS alerts) end the connection; the session or HTTP layer logs what it was doing.
    socket.on('error', () => undefined);
    const remoteAddress = socket.remoteAddress;
    const serverName = typeof socket.servername === 'string' ? socket.servername : undefined;
    const alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined;
    const route = alpn === MQTT_ALPN_PROTOCOL ? 'mqtt' : 'http';
    // Without SNI only the HTTP side goes on: a WebSocket upgrade may name the endpoint in its Host header.
    if (!serverName && route === 'mqtt') {
      log({
        event: 'tls-refused',
        connectionId,
        ...(remoteAddress ? { remoteAddress } : {}),
        reason: `the client sent no SNI; AWS IoT refuses such connections: connect to '${endpointHost}' by name (or set servername)`,
      });
      socket.destroy();
      return;
    }
    log({
      event: 'tls-connection',
      connectionId,
      ...(remoteAddress ? { remoteAddress } : {}),
      ...(serverName ? { serverName } : {}),
      ...(alpn ? { alpn } : {}),
      route,
    });
    const deadlineAt = clock.now() + connectDeadlineMs;
    if (route === 'mqtt') {
      this.#startSession(
        socket,
        {
          connectionId,
          transport: 'mqtt',
          alpn: MQTT_ALPN_PROTOCOL,
          ...(serverName ? { serverName } : {}),
          ...(remoteAddress ? { remoteAddress } : {}),
        },
        deadlineAt,
      );
      return;
    }
    const timer = clock.setTimer(() => {
      if (!this.#pendingHttp.has(socket)) return;
      this.#pendingHttp.delete(socket);
      // Already answered with a 4xx (and logged): only the peer's close was missing.
      if (socket.writableEnded) return void socket.destroy();
      log({
        event: 'http-refused',
        connectionId,
        reason: `no WebSocket upgrade and MQTT CONNECT within ${connectDeadlineMs} ms`,
      });
      socket.destroy();
    }, connectDeadlineMs);
    this.#pendingHttp.set(socket, {
      connectionId,
      ...(alpn ? { alpn } : {}),
      ...(serverName ? { serverName } : {}),
      ...(remoteAddress ? { remoteAddress } : {}),
      deadlineAt,
      timer,
    });
    socket.once('close', () => {
      this.#pendingHttp.get(socket)?.timer.cancel();
      this.#pendingHttp.delete(socket);
    });
    this.#webSockets.server.emit('connection', socket);
  }

  /** Ends the connections still on the HTTP side, which have no MQTT session to say goodbye (shutdown). */
  endPendingHttp(): void {
    for (const [socket, pending] of this.#pendingHttp) {
      pending.timer.cancel();
      socket.end();
    }
    this.#pendingHttp.clear();
  }

  /** Releases the HTTP and WebSocket servers; call once every connection is gone. */
  close(): void {
    this.#webSockets.close();
  }

  /**
   * An HTTPS publish request: the connection is an HTTP one now, so the MQTT CONNECT deadline no longer
   * applies (the HTTP server's keep-alive timeout ends it when idle).
   */
  #onHttpsRequest(socket: Duplex, request: IncomingMessage, response: ServerResponse): boolean {
    const { httpsPublish } = this.#options;
    const pending = this.#pendingHttp.get(socket);
    if (!httpsPublish || !pending || !httpsPublish.handles(request)) return false;
    if (!pending.servesHttps) {
      pending.timer.cancel();
      pending.servesHttps = true;
      socket.once('close', () => httpsPublish.connectionClosed(pending.connectionId));
    }
    void httpsPublish.handle(request, response, {
      connectionId: pending.connectionId,
      ...(pending.serverName ? { serverName: pending.serverName } : {}),
      ...(pending.remoteAddress ? { remoteAddress: pending.remoteAddress } : {}),
    });
    return true;
  }

  #onWebSocket(socket: Duplex, webSocket: WebSocketConnection): void {
    const pending = this.#pendingHttp.get(socket);
    if (!pending) {
      webSocket.stream.destroy();
      return;
    }
    pending.timer.cancel();
    this.#pendingHttp.delete(socket);
    // The WebSocket stream reports its own errors; the socket's are expected once it is closed under it.
    webSocket.stream.on('error', () => undefined);
    this.#startSession(
      webSocket.stream,
      {
        connectionId: pending.connectionId,
        transport: 'websockets' satisfies Transport,
        ...(pending.alpn ? { alpn: pending.alpn } : {}),
        ...(pending.serverName ? { serverName: pending.serverName } : {}),
        ...(pending.remoteAddress ? { remoteAddress: pending.remoteAddress } : {}),
        headers: webSocket.headers,
        ...(webSocket.queryString === undefined ? {} : { queryString: webSocket.queryString }),
      },
      pending.deadlineAt,
    );
  }

  #startSession(stream: Duplex, connection: ConnectionInfo, deadlineAt: number): void {
    this.#options.startSession(stream, connection, Math.max(deadlineAt - this.#options.clock.now(), 0));
  }
}
