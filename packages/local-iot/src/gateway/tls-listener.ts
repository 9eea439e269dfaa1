import { isIP, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { MQTT_ALPN_PROTOCOL } from '@iot-custom-auth/protocol';
import { LocalIotError } from '../errors';
import { errorMessage, type GatewayLogEntryInput } from './gateway-log';

/** ALPN protocol for HTTP (and so WebSockets) on the shared TLS port. */
const HTTP_ALPN_PROTOCOL = 'http/1.1';

/** Wiring of `listenTls`. */
export interface TlsListenerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Also listen on `[::1]` with the same port; best effort (skipped, and logged, when it cannot be bound). */
  readonly ipv6Loopback: boolean;
  /** Server certificate and key (PEM). */
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** The only name TLS SNI may carry (lower case). */
  readonly endpointHost: string;
  /** Real milliseconds a client gets to complete its TLS handshake, whatever the sessions' clock. */
  readonly handshakeTimeoutMs: number;
  readonly log: (entry: GatewayLogEntryInput) => void;
  /** Every TCP connection, as soon as it is accepted (before its TLS handshake). */
  readonly onConnection: (connection: Socket) => void;
  /**
   * A completed TLS handshake: SNI, when sent, named `endpointHost`, and ALPN, when offered, chose `mqtt` or
   * `http/1.1`. If this throws, the failure is logged and the socket destroyed.
   */
  readonly onSecureConnection: (socket: TLSSocket) => void;
  /**
   * A listener for X.509 client certificates (the `CUSTOM_AUTH_X509` domain configuration's): requests a
   * client certificate in the handshake and lets `onSecureConnection` verify it (against the stack's
   * registered certificates, which OpenSSL's chain check cannot express), and speaks only MQTT.
   * @default the gateway's port: no client certificate, ALPN `mqtt` or `http/1.1`
   */
  readonly clientCertificates?: {
    /** ALPN protocols accepted, in server preference. */
    readonly alpnProtocols: readonly string[];
    /** The flag that sets this listener's port, for the message when it cannot be bound. */
    readonly portFlag: string;
  };
}

/** The listening sockets of the gateway's TLS port. */
export interface TlsListener {
  /** The port actually bound. */
  readonly port: number;
  /** `host:port` of each listening socket, e.g. `['127.0.0.1:8443', '[::1]:8443']`. */
  readonly addresses: readonly string[];
  /** Stops accepting at once; resolves once every connection accepted before has closed. */
  close(): Promise<void>;
}

/**
 * Listens for TLS as AWS IoT Core's port 443 does: TLS 1.2 or newer, SNI must name the endpoint (the
 * handshake is aborted otherwise), ALPN prefers `mqtt` then `http/1.1`. Every refusal is logged with what
 * the client sent and what this port expects; a `listening` line follows once bound.
 *
 * @throws LocalIotError when the port cannot be bound on `host` (the message names the fix).
 */
export async function listenTls(options: TlsListenerOptions): Promise<TlsListener> {
  const servers: TlsServer[] = [];
  const addresses: string[] = [];
  const primary = createServer(options);
  const portFlag = options.clientCertificates?.portFlag ?? '--port';
  await listen(primary, options.host, options.port, portFlag);
  servers.push(primary);
  const port = (primary.address() as AddressInfo).port;
  addresses.push(formatAddress(options.host, port));
  if (options.ipv6Loopback) {
    const secondary = createServer(options);
    try {
      await listen(secondary, '::1', port, portFlag);
      servers.push(secondary);
      addresses.push(formatAddress('::1', port));
    } catch (error) {
      options.log({
        event: 'error',
        reason: `not listening on [::1]:${port} (${errorMessage(error)}); IPv4 only`,
      });
    }
  }
  options.log({
    event: 'listening',
    addresses,
    port,
    endpointHost: options.endpointHost,
    ...(options.clientCertificates && { authentication: 'CUSTOM_AUTH_X509' as const }),
  });
  return {
    port,
    addresses,
    close: async () => {
      await Promise.all(
        servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
}

function createServer(options: TlsListenerOptions): TlsServer {
  const { endpointHost, log, clientCertificates } = options;
  const accepted = clientCertificates?.alpnProtocols ?? [MQTT_ALPN_PROTOCOL, HTTP_ALPN_PROTOCOL];
  const speaks = clientCertificates
    ? accepted.map((p) => `'${p}'`).join(', ') + ' (MQTT over TLS with a client certificate)'
    : `'${MQTT_ALPN_PROTOCOL}' (custom-auth MQTT) and '${HTTP_ALPN_PROTOCOL}' (WebSockets)`;
  const server = createTlsServer({
    cert: options.tls.cert,
    key: options.tls.key,
    minVersion: 'TLSv1.2',
    // Verified by the caller against the registered certificates: an unverifiable one must still arrive.
    ...(clientCertificates && { requestCert: true, rejectUnauthorized: false }),
    handshakeTimeout: options.handshakeTimeoutMs,
    SNICallback: (name, callback) => {
      if (name.toLowerCase() === endpointHost) return callback(null);
      callback(new SniRefusal(name, endpointHost));
    },
    ALPNCallback: ({ servername, protocols }) => {
      // Server preference, as AWS IoT: 'mqtt' first, then HTTP for WebSockets.
      const chosen = accepted.find((p) => protocols.includes(p));
      if (!chosen) {
        log({
          event: 'tls-refused',
          ...(typeof servername === 'string' ? { serverName: servername } : {}),
          reason:
            `the client offered ALPN ${protocols.map((p) => `'${p}'`).join(', ')}; this port speaks ${speaks}` +
            (!clientCertificates && protocols.includes('x-amzn-mqtt-ca')
              ? " ('x-amzn-mqtt-ca' is X.509 client-certificate auth)"
              : ''),
        });
      }
      return chosen;
    },
  });
  server.on('connection', (connection: Socket) => options.onConnection(connection));
  server.on('secureConnection', (socket: TLSSocket) => {
    try {
      options.onSecureConnection(socket);
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

function listen(server: TlsServer, host: string, port: number, portFlag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const hint =
        error.code === 'EADDRINUSE'
          ? `stop the process using it or choose another port (${portFlag})`
          : error.code === 'EACCES'
            ? `ports below 1024 need privileges: choose another port (${portFlag})`
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
