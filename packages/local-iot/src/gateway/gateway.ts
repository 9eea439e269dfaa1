import { randomUUID } from 'node:crypto';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { MQTT_ALPN_PROTOCOL } from '@iot-custom-auth/protocol';
import type { ConnectAuthorizer, Transport } from '../auth/connect-types';
import { LocalIotError } from '../errors';
import { systemClock, type ClockTimer, type GatewayClock } from './gateway-clock';
import { createLogger, errorMessage, stdoutLogSink, type GatewayLogSink } from './gateway-log';
import { normalizeHosts } from './local-ca';
import { refuseAllMessages, type MessageHandler } from './message-handler';
import { AWS_IOT_MQTT_LIMITS } from './aws-iot-mqtt-limits';
import type { ConnectionInfo } from './connect-authorization';
import { MqttSession } from './mqtt-session';
import { SessionRegistry } from './session-registry';
import { createWebSocketRouter, type HttpConnectionInfo } from './websocket-upgrade';

/** ALPN protocol for HTTP (and so WebSockets) on the shared TLS port. */
const HTTP_ALPN_PROTOCOL = 'http/1.1';

/** Defaults of `startGateway`. */
export const GATEWAY_DEFAULTS = {
  host: '127.0.0.1',
  port: 8443,
  endpointHost: 'localhost',
  /** Time from the TLS handshake to the MQTT CONNECT (WebSocket upgrade included). */
  connectDeadlineMs: 10_000,
  /** Real time a closing connection gets to flush before it is destroyed. */
  closeGraceMs: 2_000,
} as const;

/** Configuration of the local AWS IoT Core device gateway. */
export interface GatewayOptions {
  /**
   * The name devices connect to; TLS SNI must equal it (case-insensitive), as SNI must name the account's
   * endpoint on AWS. Must be a DNS name: SNI cannot carry an IP address.
   * @default 'localhost'
   */
  readonly endpointHost?: string;
  /** Address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** TCP port; 0 picks a free one (tests). @default 8443 */
  readonly port?: number;
  /**
   * Also listen on `[::1]` with the same port, for clients that resolve `localhost` to `::1` first and do not
   * fall back to `127.0.0.1`. Best effort: skipped (and logged) when `::1` cannot be bound.
   * @default true when `host` is '127.0.0.1'
   */
  readonly ipv6Loopback?: boolean;
  /** Server certificate and key (PEM), e.g. from `ensureLocalCa`. */
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Decides every CONNECT: the custom-auth pipeline. */
  readonly authorizer: ConnectAuthorizer;
  /** PUBLISH / SUBSCRIBE / UNSUBSCRIBE after CONNECT. @default refuseAllMessages */
  readonly messageHandler?: MessageHandler;
  /** Where the structured log goes. @default one JSON line per entry on stdout */
  readonly log?: GatewayLogSink;
  /** Clock of the MQTT timers (CONNECT deadline, keep alive, maximum connect time). @default systemClock */
  readonly clock?: GatewayClock;
  /** Time, on `clock`, from the TLS handshake to the CONNECT packet. @default 10000 */
  readonly connectDeadlineMs?: number;
  /** Real milliseconds a closing connection gets before it is destroyed. @default 2000 */
  readonly closeGraceMs?: number;
}

/** A running gateway. */
export interface Gateway {
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** `host:port` of each listening socket, e.g. `['127.0.0.1:8443', '[::1]:8443']`. */
  readonly addresses: readonly string[];
  readonly endpointHost: string;
  /** MQTT clients currently connected (past CONNACK 0x00). */
  readonly connectedClients: number;
  /**
   * Stops accepting, sends DISCONNECT 0x8B (server shutting down) to connected MQTT 5 clients, closes every
   * connection and resolves once all sockets are gone. Safe to call more than once.
   */
  close(): Promise<void>;
}

/**
 * Starts the local AWS IoT Core device gateway: one TLS port where ALPN `mqtt` carries MQTT 5 (and 3.1.1),
 * and HTTP (ALPN `http/1.1` or none) carries MQTT over WebSockets on `/mqtt`. SNI must name `endpointHost`.
 * Each CONNECT goes to `authorizer`; the session then runs as AWS IoT runs it (see `MqttSession`).
 *
 * @throws LocalIotError for invalid options, or when the port cannot be bound (the message names the fix).
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const endpointHost = checkEndpointHost(options.endpointHost ?? GATEWAY_DEFAULTS.endpointHost);
  const host = options.host ?? GATEWAY_DEFAULTS.host;
  const requestedPort = options.port ?? GATEWAY_DEFAULTS.port;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65_535) {
    throw new LocalIotError(`port must be an integer from 0 to 65535, but ${requestedPort} was provided`);
  }
  const connectDeadlineMs = options.connectDeadlineMs ?? GATEWAY_DEFAULTS.connectDeadlineMs;
  if (!(connectDeadlineMs > 0)) {
    throw new LocalIotError(`connectDeadlineMs must be positive, but ${connectDeadlineMs} was provided`);
  }
  const closeGraceMs = options.closeGraceMs ?? GATEWAY_DEFAULTS.closeGraceMs;
  const clock = options.clock ?? systemClock;
  const log = createLogger(options.log ?? stdoutLogSink);
  const handler = options.messageHandler ?? refuseAllMessages;
  const registry = new SessionRegistry<MqttSession>();
  const sessions = new Set<MqttSession>();
  const sockets = new Set<TLSSocket>();
  /** Every TCP connection, including those still in the TLS handshake. */
  const connections = new Set<Socket>();
  /** TLS connections on the HTTP side that have not become MQTT sessions yet. */
  const httpPhase = new Map<
    Duplex,
    HttpConnectionInfo & {
      readonly serverName: string;
      readonly deadlineAt: number;
      readonly timer: ClockTimer;
    }
  >();

  const startSession = (stream: Duplex, connection: ConnectionInfo, deadlineAt: number): void => {
    const session = new MqttSession({
      stream,
      connection,
      authorizer: options.authorizer,
      handler,
      registry,
      clock,
      log,
      connectDeadlineMs: Math.max(deadlineAt - clock.now(), 0),
      closeGraceMs,
    });
    sessions.add(session);
    void session.closed.then(() => sessions.delete(session));
  };

  const router = createWebSocketRouter({
    connectionOf: (socket) => httpPhase.get(socket),
    log,
    maxPayloadBytes: 2 * AWS_IOT_MQTT_LIMITS.maximumPacketSize,
    onWebSocket: (socket, webSocket) => {
      const entry = httpPhase.get(socket);
      if (!entry) {
        webSocket.stream.destroy();
        return;
      }
      entry.timer.cancel();
      httpPhase.delete(socket);
      // The WebSocket stream reports its own errors; the socket's are expected once it is closed under it.
      webSocket.stream.on('error', () => undefined);
      startSession(
        webSocket.stream,
        {
          connectionId: entry.connectionId,
          transport: 'websockets' satisfies Transport,
          ...(entry.alpn ? { alpn: entry.alpn } : {}),
          serverName: entry.serverName,
          headers: webSocket.headers,
          ...(webSocket.queryString === undefined ? {} : { queryString: webSocket.queryString }),
        },
        entry.deadlineAt,
      );
    },
  });

  const onSecureConnection = (socket: TLSSocket): void => {
    const connectionId = randomUUID();
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      const pending = httpPhase.get(socket);
      pending?.timer.cancel();
      httpPhase.delete(socket);
    });
    // Errors (resets, TLS alerts) end the connection; the session or HTTP layer logs what it was doing.
    socket.on('error', () => undefined);
    const remoteAddress = socket.remoteAddress;
    const serverName = typeof socket.servername === 'string' ? socket.servername : undefined;
    if (!serverName) {
      log({
        event: 'tls-refused',
        connectionId,
        ...(remoteAddress ? { remoteAddress } : {}),
        reason: `the client sent no SNI; AWS IoT refuses such connections: connect to '${endpointHost}' by name (or set servername)`,
      });
      socket.destroy();
      return;
    }
    const alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined;
    const route = alpn === MQTT_ALPN_PROTOCOL ? 'mqtt' : 'http';
    log({
      event: 'tls-connection',
      connectionId,
      ...(remoteAddress ? { remoteAddress } : {}),
      serverName,
      ...(alpn ? { alpn } : {}),
      route,
    });
    const deadlineAt = clock.now() + connectDeadlineMs;
    if (route === 'mqtt') {
      startSession(
        socket,
        { connectionId, transport: 'mqtt', alpn: MQTT_ALPN_PROTOCOL, serverName },
        deadlineAt,
      );
      return;
    }
    const timer = clock.setTimer(() => {
      if (!httpPhase.has(socket)) return;
      httpPhase.delete(socket);
      // Already answered with a 4xx (and logged): only the peer's close was missing.
      if (socket.writableEnded) return void socket.destroy();
      log({
        event: 'http-refused',
        connectionId,
        reason: `no WebSocket upgrade and MQTT CONNECT within ${connectDeadlineMs} ms`,
      });
      socket.destroy();
    }, connectDeadlineMs);
    httpPhase.set(socket, { connectionId, ...(alpn ? { alpn } : {}), serverName, deadlineAt, timer });
    router.server.emit('connection', socket);
  };

  const createServer = (): TlsServer => {
    const server = createTlsServer({
      cert: options.tls.cert,
      key: options.tls.key,
      minVersion: 'TLSv1.2',
      // Real time, whatever the session clock: it only bounds clients that stall the handshake.
      handshakeTimeout: GATEWAY_DEFAULTS.connectDeadlineMs,
      SNICallback: (name, callback) => {
        if (name.toLowerCase() === endpointHost) return callback(null);
        callback(new SniRefusal(name, endpointHost));
      },
      ALPNCallback: ({ servername, protocols }) => {
        // Server preference, as AWS IoT: 'mqtt' first, then HTTP for WebSockets.
        const chosen = [MQTT_ALPN_PROTOCOL, HTTP_ALPN_PROTOCOL].find((p) => protocols.includes(p));
        if (!chosen) {
          log({
            event: 'tls-refused',
            ...(typeof servername === 'string' ? { serverName: servername } : {}),
            reason:
              `the client offered ALPN ${protocols.map((p) => `'${p}'`).join(', ')}; this port speaks ` +
              `'${MQTT_ALPN_PROTOCOL}' (custom-auth MQTT) and '${HTTP_ALPN_PROTOCOL}' (WebSockets)` +
              (protocols.includes('x-amzn-mqtt-ca')
                ? " ('x-amzn-mqtt-ca' is X.509 client-certificate auth)"
                : ''),
          });
        }
        return chosen;
      },
    });
    server.on('connection', (connection: Socket) => {
      connections.add(connection);
      connection.once('close', () => connections.delete(connection));
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      try {
        onSecureConnection(socket);
      } catch (error) {
        log({ event: 'error', reason: `accepting a connection failed: ${errorMessage(error)}` });
        socket.destroy();
      }
    });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      // ALPN refusals were logged by the callback, which knows what the client offered.
      if (error.code !== 'ERR_SSL_NO_APPLICATION_PROTOCOL') {
        log({
          event: 'tls-refused',
          ...(socket.remoteAddress ? { remoteAddress: socket.remoteAddress } : {}),
          ...(error instanceof SniRefusal ? { serverName: error.serverName } : {}),
          reason:
            error instanceof SniRefusal
              ? error.message
              : `TLS handshake failed: ${error.code ?? error.message}`,
        });
      }
      socket.destroy();
    });
    return server;
  };

  const servers: TlsServer[] = [];
  const addresses: string[] = [];
  const primary = createServer();
  await listen(primary, host, requestedPort);
  servers.push(primary);
  const port = (primary.address() as AddressInfo).port;
  addresses.push(formatAddress(host, port));
  if (options.ipv6Loopback ?? host === GATEWAY_DEFAULTS.host) {
    const secondary = createServer();
    try {
      await listen(secondary, '::1', port);
      servers.push(secondary);
      addresses.push(formatAddress('::1', port));
    } catch (error) {
      log({ event: 'error', reason: `not listening on [::1]:${port} (${errorMessage(error)}); IPv4 only` });
    }
  }
  log({ event: 'listening', addresses, port, endpointHost });

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const serversClosed = servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    // Snapshot: a session leaves `sessions` as soon as it has closed, but its stream may still be finishing.
    const live = [...sessions];
    for (const session of live) session.shutdown();
    for (const [socket, entry] of httpPhase) {
      entry.timer.cancel();
      socket.end();
    }
    httpPhase.clear();
    await waitForSockets(sockets, closeGraceMs);
    for (const session of live) session.destroy();
    for (const socket of sockets) socket.destroy();
    for (const connection of connections) connection.destroy();
    router.close();
    await Promise.all(serversClosed);
  };

  return {
    port,
    addresses,
    endpointHost,
    get connectedClients() {
      return registry.size;
    },
    close: () => (closing ??= close()),
  };
}

/** The SNI did not name the endpoint: the handshake is aborted. */
class SniRefusal extends LocalIotError {
  constructor(
    readonly serverName: string,
    endpointHost: string,
  ) {
    super(
      `SNI '${serverName}' does not match the local endpoint host '${endpointHost}': connect to '${endpointHost}'`,
    );
    this.name = 'SniRefusal';
  }
}

function checkEndpointHost(endpointHost: string): string {
  if (isIP(endpointHost) !== 0) {
    throw new LocalIotError(
      `endpointHost must be a DNS name because TLS SNI cannot carry an IP address, but '${endpointHost}' was provided; use 'localhost'`,
    );
  }
  // Throws a LocalIotError naming the host when it is not a DNS name.
  normalizeHosts([endpointHost]);
  return endpointHost.toLowerCase();
}

function listen(server: TlsServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const hint =
        error.code === 'EADDRINUSE'
          ? 'stop the process using it or choose another port (--port)'
          : error.code === 'EACCES'
            ? 'ports below 1024 need privileges: choose another port (--port)'
            : 'check the host and port';
      reject(
        new LocalIotError(
          `cannot listen on ${formatAddress(host, port)} (${error.code ?? error.message}): ${hint}`,
          {
            cause: error,
          },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Resolves when every socket has closed or `graceMs` (real time) has passed. */
async function waitForSockets(sockets: ReadonlySet<TLSSocket>, graceMs: number): Promise<void> {
  if (sockets.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const allClosed = Promise.all(
    [...sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve))),
  );
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([allClosed, timeout]);
  clearTimeout(timer);
}
