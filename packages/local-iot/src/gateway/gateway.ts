import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectAuthorizer } from '../auth/connect-types';
import { LocalIotError } from '../errors';
import { ConnectionRouter } from './connection-router';
import type { ConnectionInfo } from './connect-authorization';
import { HttpsPublish, type HttpAuthorizer, type HttpsPublishTarget } from './https-publish';
import { systemClock, type GatewayClock } from './gateway-clock';
import { GatewayConnections } from './gateway-connections';
import { createLogger, stdoutLogSink, type GatewayLogSink } from './gateway-log';
import { normalizeHosts } from './local-ca';
import { refuseAllMessages, type MessageHandler, type MessageHandlerMemoryUsage } from './message-handler';
import { MqttSession } from './mqtt-session';
import {
  OUTBOUND_DEFAULTS,
  OutboundAccounting,
  type OutboundLimits,
  type OutboundUsage,
} from './outbound-accounting';
import { AWS_IOT_MQTT_LIMITS } from './aws-iot-mqtt-limits';
import { SessionRegistry } from './session-registry';
import { listenTls, type TlsListener } from './tls-listener';
import type { CertificateRegistry } from './client-certificate-check';
import { listenX509 } from './x509-listener';

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
  /**
   * HTTPS publish (`POST /topics/<topic>`): who authorizes the requests (the custom-auth pipeline) and who
   * routes their messages (the broker). @default none: such requests get a 404
   */
  readonly httpsPublish?: { readonly authorizer: HttpAuthorizer; readonly target: HttpsPublishTarget };
  /** Where the structured log goes. @default one JSON line per entry on stdout */
  readonly log?: GatewayLogSink;
  /** Clock of the MQTT timers (CONNECT deadline, keep alive, maximum connect time). @default systemClock */
  readonly clock?: GatewayClock;
  /** Time, on `clock`, from the TLS handshake to the CONNECT packet. @default 10000 */
  readonly connectDeadlineMs?: number;
  /** Real milliseconds a closing connection gets before it is destroyed. @default 2000 */
  readonly closeGraceMs?: number;
  /**
   * Bytes the gateway may hold for clients that do not read what they are sent, per connection and in
   * total (see `MqttSession` for what happens past them).
   * @default OUTBOUND_DEFAULTS (1 MiB per connection, 64 MiB in total)
   */
  readonly outboundLimits?: Partial<OutboundLimits>;
  /**
   * A second TLS listener for the stack's `CUSTOM_AUTH_X509` domain configuration (see `listenX509`): its own
   * host name (SNI) and port, a registered client certificate required. Its sessions share everything else
   * with the gateway's port: client ids (a connect on one takes over the other's), the broker, the shutdown.
   * @default none
   */
  readonly x509?: GatewayX509Options;
}

/** The X.509 listener of `GatewayOptions.x509` and `Gateway.serveX509`. */
export interface GatewayX509Options {
  /** The domain's local host name; the server certificate (`tls`) must name it. */
  readonly endpointHost: string;
  /** 0 picks a free one. @default 0 */
  readonly port?: number;
  /** The certificates registered now (read at each connection). */
  readonly registry: () => CertificateRegistry;
}

/** Where the X.509 listener listens. */
export interface GatewayX509Endpoint {
  readonly port: number;
  readonly addresses: readonly string[];
  readonly endpointHost: string;
}

/** What the gateway holds in memory for its clients, as it accounts for it. */
export interface GatewayMemoryUsage {
  /** Bytes waiting to be sent, per connection and in total, with their peaks and limits. */
  readonly outbound: OutboundUsage;
  /** The message handler's figures (the broker's retained messages), when it reports them. */
  readonly handler?: MessageHandlerMemoryUsage;
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
  /** TCP connections open now, in any stage (handshake, upgrade, MQTT): for tests and load tools. */
  readonly openConnections: number;
  /** The gateway's own accounting of the memory it holds for clients: for tests and load tools. */
  memoryUsage(): GatewayMemoryUsage;
  /** The X.509 listener, when `x509` was given or `serveX509` has started one. */
  readonly x509?: GatewayX509Endpoint;
  /**
   * Starts the X.509 listener on a running gateway, as a redeploy that adds a `CUSTOM_AUTH_X509` domain
   * configuration needs (same TLS certificate, sessions and shutdown as one given at start).
   * @throws LocalIotError when one is already served, the gateway is closing, or the port cannot be bound
   */
  serveX509(options: GatewayX509Options): Promise<GatewayX509Endpoint>;
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
 * The parts: `listenTls` accepts TLS, `ConnectionRouter` turns each connection into an MQTT session
 * (directly or through a WebSocket upgrade), `GatewayConnections` holds everything for the shutdown, and
 * a `SessionRegistry` knows which client ids are connected.
 *
 * @throws LocalIotError for invalid options, or when the port cannot be bound (the message names the fix).
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const settings = checkOptions(options);
  const { clock, closeGraceMs, endpointHost } = settings;
  const log = createLogger(options.log ?? stdoutLogSink);
  const handler = options.messageHandler ?? refuseAllMessages;
  const clientIds = new SessionRegistry<MqttSession>();
  const connections = new GatewayConnections();
  const outbound = new OutboundAccounting(settings.outboundLimits);
  const startSession = (stream: Duplex, connection: ConnectionInfo, connectDeadlineMs: number): void =>
    connections.trackSession(
      new MqttSession({
        stream,
        connection,
        authorizer: options.authorizer,
        handler,
        registry: clientIds,
        clock,
        log,
        connectDeadlineMs,
        closeGraceMs,
        outbound: outbound.open(connection.connectionId),
      }),
    );
  const router = new ConnectionRouter({
    endpointHost,
    clock,
    connectDeadlineMs: settings.connectDeadlineMs,
    log,
    ...(options.httpsPublish && { httpsPublish: new HttpsPublish({ ...options.httpsPublish, log, clock }) }),
    startSession,
  });
  const listener = await listenTls({
    host: settings.host,
    port: settings.port,
    ipv6Loopback: options.ipv6Loopback ?? settings.host === GATEWAY_DEFAULTS.host,
    tls: options.tls,
    endpointHost,
    // Real time, whatever the session clock: it only bounds clients that stall the handshake.
    handshakeTimeoutMs: GATEWAY_DEFAULTS.connectDeadlineMs,
    log,
    onConnection: (connection) => connections.trackConnection(connection),
    onSecureConnection: (socket) => {
      connections.trackSecureSocket(socket);
      router.route(socket);
    },
  });
  const ipv6Loopback = options.ipv6Loopback ?? settings.host === GATEWAY_DEFAULTS.host;
  let x509: { readonly listener: TlsListener; readonly endpoint: GatewayX509Endpoint } | undefined;
  let x509Starting = false;
  let closing: Promise<void> | undefined;
  const serveX509 = async (x509Options: GatewayX509Options): Promise<GatewayX509Endpoint> => {
    if (closing !== undefined) throw new LocalIotError('the gateway is closing: it starts no X.509 listener');
    if (x509 !== undefined || x509Starting) {
      throw new LocalIotError(
        `the gateway already serves an X.509 listener (${x509?.endpoint.endpointHost ?? 'starting'}): it serves one CUSTOM_AUTH_X509 domain configuration`,
      );
    }
    x509Starting = true;
    try {
      const endpointHost = checkEndpointHost(x509Options.endpointHost);
      const listener = await listenX509({
        host: settings.host,
        port: x509Options.port ?? 0,
        ipv6Loopback,
        tls: options.tls,
        endpointHost,
        handshakeTimeoutMs: GATEWAY_DEFAULTS.connectDeadlineMs,
        connectDeadlineMs: settings.connectDeadlineMs,
        registry: x509Options.registry,
        log,
        onConnection: (connection) => connections.trackConnection(connection),
        onSecureSocket: (socket) => connections.trackSecureSocket(socket),
        startSession,
      });
      // A close that began while the port was being bound must not leave it listening.
      if (closing !== undefined) {
        await listener.close();
        throw new LocalIotError('the gateway closed while its X.509 listener started');
      }
      const endpoint = { port: listener.port, addresses: listener.addresses, endpointHost };
      x509 = { listener, endpoint };
      return endpoint;
    } finally {
      x509Starting = false;
    }
  };
  if (options.x509) {
    try {
      await serveX509(options.x509);
    } catch (error) {
      await listener.close();
      throw error;
    }
  }

  const close = async (): Promise<void> => {
    const stopped = Promise.all([listener.close(), x509?.listener.close()]);
    router.endPendingHttp();
    await connections.close(closeGraceMs);
    router.close();
    await stopped;
  };
  return {
    port: listener.port,
    addresses: listener.addresses,
    endpointHost,
    get connectedClients() {
      return clientIds.size;
    },
    get openConnections() {
      return connections.openConnections;
    },
    get x509() {
      return x509?.endpoint;
    },
    serveX509,
    memoryUsage: () => {
      const handlerUsage = handler.memoryUsage?.();
      return { outbound: outbound.usage(), ...(handlerUsage ? { handler: handlerUsage } : {}) };
    },
    close: () => (closing ??= close()),
  };
}

/** `options` with their defaults, checked. */
function checkOptions(options: GatewayOptions): {
  readonly endpointHost: string;
  readonly host: string;
  readonly port: number;
  readonly connectDeadlineMs: number;
  readonly closeGraceMs: number;
  readonly clock: GatewayClock;
  readonly outboundLimits: OutboundLimits;
} {
  const endpointHost = checkEndpointHost(options.endpointHost ?? GATEWAY_DEFAULTS.endpointHost);
  const port = options.port ?? GATEWAY_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new LocalIotError(`port must be an integer from 0 to 65535, but ${port} was provided`);
  }
  const connectDeadlineMs = options.connectDeadlineMs ?? GATEWAY_DEFAULTS.connectDeadlineMs;
  if (!(connectDeadlineMs > 0)) {
    throw new LocalIotError(`connectDeadlineMs must be positive, but ${connectDeadlineMs} was provided`);
  }
  return {
    endpointHost,
    host: options.host ?? GATEWAY_DEFAULTS.host,
    port,
    connectDeadlineMs,
    closeGraceMs: options.closeGraceMs ?? GATEWAY_DEFAULTS.closeGraceMs,
    clock: options.clock ?? systemClock,
    outboundLimits: checkOutboundLimits({ ...OUTBOUND_DEFAULTS, ...options.outboundLimits }),
  };
}

/**
 * Each limit must let the largest packet AWS IoT allows through, or such a delivery could never be sent;
 * the total must be at least one connection's.
 */
function checkOutboundLimits(limits: OutboundLimits): OutboundLimits {
  const smallest = AWS_IOT_MQTT_LIMITS.maximumPacketSize;
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < smallest) {
      throw new LocalIotError(
        `outboundLimits.${name} must be an integer of at least ${smallest} (the maximum packet size), but ${value} was provided`,
      );
    }
  }
  if (limits.maxQueuedBytesTotal < limits.maxQueuedBytesPerConnection) {
    throw new LocalIotError(
      `outboundLimits.maxQueuedBytesTotal must be at least maxQueuedBytesPerConnection (${limits.maxQueuedBytesPerConnection}), but ${limits.maxQueuedBytesTotal} was provided`,
    );
  }
  return limits;
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
