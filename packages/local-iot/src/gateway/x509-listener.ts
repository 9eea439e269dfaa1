import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { MQTT_ALPN_PROTOCOL } from '@iot-custom-auth/protocol';
import { checkClientCertificate, type CertificateRegistry } from './client-certificate-check';
import type { ConnectionInfo } from './connect-authorization';
import type { GatewayLogEntryInput } from './gateway-log';
import { listenTls, type TlsListener } from './tls-listener';

/**
 * ALPN protocols the X.509 listener accepts, in preference: `mqtt` (what the project's client and the AWS IoT
 * Device SDKs offer on a domain configuration) and `x-amzn-mqtt-ca` (AWS IoT's X.509 ALPN on port 443). A
 * client offering none is accepted too: a domain configuration fixes the protocol, so ALPN is not needed
 * (https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html, "configurable endpoints").
 */
export const X509_ALPN_PROTOCOLS = [MQTT_ALPN_PROTOCOL, 'x-amzn-mqtt-ca'] as const;

/** The flag of `npm run local` / the local-iot CLI that sets the X.509 listener's port. */
export const X509_PORT_FLAG = '--x509-port';

/** Wiring of `listenX509`. */
export interface X509ListenerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly ipv6Loopback: boolean;
  /** Server certificate and key (PEM): the local CA's, which names the X.509 host too. */
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** The only name SNI may carry: the domain configuration's local host (lower case). */
  readonly endpointHost: string;
  readonly handshakeTimeoutMs: number;
  /** Time, on the gateway's clock, from the TLS handshake to the MQTT CONNECT. */
  readonly connectDeadlineMs: number;
  /** The certificates registered now: read at each connection, so a redeploy's changes apply to the next. */
  readonly registry: () => CertificateRegistry;
  readonly log: (entry: GatewayLogEntryInput) => void;
  /** Every TCP connection, as soon as it is accepted. */
  readonly onConnection: (connection: Socket) => void;
  /** Every completed TLS handshake, before its certificate is checked (so a shutdown reaches it). */
  readonly onSecureSocket: (socket: TLSSocket) => void;
  /** Runs MQTT on a connection whose certificate was verified (the gateway's `MqttSession`). */
  readonly startSession: (stream: Duplex, connection: ConnectionInfo, connectDeadlineMs: number) => void;
}

/**
 * Serves the stack's `CUSTOM_AUTH_X509` domain configuration as AWS IoT does
 * (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html): TLS 1.2 or newer on its
 * own port, SNI required and equal to the domain's host, a client certificate requested and required. A
 * certificate that is not registered and ACTIVE in the stack, expired, or absent is refused before any
 * authorizer runs: AWS IoT refuses it while authenticating the TLS connection (its pages do not say with
 * which alert); local-iot (whose TLS library cannot check a certificate
 * against a list of registered ones during the handshake) completes it, then closes the connection before
 * reading any MQTT, so the device sees the connection closed and never a CONNACK, as on AWS. The
 * `tls-refused` log line says why (`cause`). A verified connection carries MQTT at once, with the
 * certificate in the authorizer's event.
 */
export function listenX509(options: X509ListenerOptions): Promise<TlsListener> {
  const { log, endpointHost } = options;
  return listenTls({
    host: options.host,
    port: options.port,
    ipv6Loopback: options.ipv6Loopback,
    tls: options.tls,
    endpointHost,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    log,
    clientCertificates: { alpnProtocols: X509_ALPN_PROTOCOLS, portFlag: X509_PORT_FLAG },
    onConnection: options.onConnection,
    onSecureConnection: (socket) => {
      options.onSecureSocket(socket);
      route(socket, options);
    },
  });
}

function route(socket: TLSSocket, options: X509ListenerOptions): void {
  const { log, endpointHost } = options;
  const connectionId = randomUUID();
  // Errors (resets, TLS alerts) end the connection; the session logs what it was doing.
  socket.on('error', () => undefined);
  const remoteAddress = socket.remoteAddress;
  const peer = remoteAddress ? { remoteAddress } : {};
  const serverName = typeof socket.servername === 'string' ? socket.servername : undefined;
  if (!serverName) {
    log({
      event: 'tls-refused',
      connectionId,
      ...peer,
      reason: `the client sent no SNI; a CUSTOM_AUTH_X509 domain configuration requires it: connect to '${endpointHost}' by name (or set servername)`,
    });
    socket.destroy();
    return;
  }
  const check = checkClientCertificate(options.registry(), socket.getPeerX509Certificate());
  if (!check.ok) {
    log({
      event: 'tls-refused',
      connectionId,
      ...peer,
      serverName,
      cause: check.cause,
      ...(check.certificateId !== undefined && { clientCertificateId: check.certificateId }),
      reason: check.reason,
    });
    socket.destroy();
    return;
  }
  const alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined;
  log({
    event: 'tls-connection',
    connectionId,
    ...peer,
    serverName,
    ...(alpn ? { alpn } : {}),
    route: 'mqtt',
    authentication: 'CUSTOM_AUTH_X509',
    clientCertificateId: check.id,
  });
  options.startSession(
    socket,
    {
      connectionId,
      transport: 'mqtt',
      ...(alpn ? { alpn } : {}),
      serverName,
      ...peer,
      clientCertificate: { id: check.id, pem: check.pem },
    },
    options.connectDeadlineMs,
  );
}
