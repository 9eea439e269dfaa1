import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';

/** One TLS handshake to learn why the SDK's connection failed. */
export interface TlsProbeRequest {
  readonly host: string;
  readonly port: number;
  /** ALPN protocols to offer (`['mqtt']` for direct MQTT), none for WebSockets. */
  readonly alpn?: readonly string[];
  /** CA certificates to trust instead of Node.js's bundled roots. */
  readonly caPem?: string;
  /** The client certificate and key (PEM) to present, as the SDK would (`CUSTOM_AUTH_X509`). */
  readonly clientCertificate?: { readonly certPem: string; readonly keyPem: string };
  readonly timeoutMs: number;
}

/** What the handshake showed. Codes are OpenSSL's / Node.js's (e.g. `SELF_SIGNED_CERT_IN_CHAIN`). */
export type TlsProbeResult =
  /** TLS is fine: trusted certificate for the host, ALPN accepted (when offered). */
  | { readonly outcome: 'ok' }
  | { readonly outcome: 'untrusted'; readonly code: string }
  | { readonly outcome: 'name-mismatch'; readonly detail: string }
  /**
   * The server refused the ALPN protocol with an alert (`refused`), or completed the handshake without
   * selecting it (an MQTT server that ignores ALPN may still work; AWS IoT closes such a connection).
   */
  | { readonly outcome: 'alpn-refused'; readonly detail: string; readonly refused?: boolean }
  | { readonly outcome: 'tls-error'; readonly code: string; readonly detail: string }
  | { readonly outcome: 'tcp-error'; readonly code: string }
  | { readonly outcome: 'timeout' };

/** Runs a diagnostic handshake; `main()` gets a fake in tests. */
export type TlsProbe = (request: TlsProbeRequest) => Promise<TlsProbeResult>;

const TCP_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * The SDK reports TLS failures only as "negotiation failed", and after a certificate error s2n withholds even
 * that for 10 to 30 seconds on purpose (blinding against timing attacks), so a client with a 10 s timeout would
 * just see a timeout. This handshake, with Node.js's TLS, the same SNI, ALPN and CA, names the actual problem:
 * untrusted certificate, wrong host name, ALPN refused. It sends no application data and never throws.
 */
export const probeTls: TlsProbe = (request) =>
  new Promise((resolve) => {
    let settled = false;
    let socket: TLSSocket | undefined;
    const finish = (result: TlsProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (result.outcome === 'ok' && socket !== undefined) closeGracefully(socket);
      else socket?.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), request.timeoutMs);
    try {
      socket = connect({
        host: request.host,
        port: request.port,
        // SNI is a host name, never an IP address (RFC 6066).
        ...(isIP(request.host) === 0 ? { servername: request.host } : {}),
        ...(request.alpn === undefined ? {} : { ALPNProtocols: [...request.alpn] }),
        ...(request.caPem === undefined ? {} : { ca: request.caPem }),
        ...(request.clientCertificate === undefined
          ? {}
          : { cert: request.clientCertificate.certPem, key: request.clientCertificate.keyPem }),
        // Verified below, so that the handshake completes and the exact reason can be read.
        rejectUnauthorized: false,
      });
    } catch (error) {
      finish({ outcome: 'tls-error', code: 'ERR_PROBE', detail: (error as Error).message });
      return;
    }
    const probe = socket;
    probe.once('secureConnect', () => {
      if (!probe.authorized) {
        const code = authorizationCode(probe.authorizationError);
        finish(
          code === 'ERR_TLS_CERT_ALTNAME_INVALID'
            ? {
                outcome: 'name-mismatch',
                detail: `the certificate is not valid for ${request.host}${describeNames(probe)}`,
              }
            : { outcome: 'untrusted', code },
        );
      } else if (request.alpn !== undefined && !request.alpn.includes(String(probe.alpnProtocol))) {
        finish({
          outcome: 'alpn-refused',
          detail: `the server did not select ALPN ${request.alpn.join(', ')}`,
        });
      } else {
        finish({ outcome: 'ok' });
      }
    });
    probe.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'ERR_UNKNOWN';
      if (
        code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' ||
        /no application protocol/i.test(error.message)
      ) {
        finish({
          outcome: 'alpn-refused',
          detail: `the server refused ALPN ${request.alpn?.join(', ') ?? '(none offered)'}`,
          refused: true,
        });
      } else if (TCP_ERROR_CODES.has(code)) {
        finish({ outcome: 'tcp-error', code });
      } else {
        finish({ outcome: 'tls-error', code, detail: error.message });
      }
    });
  });

/** How long a probe that succeeded waits for the server to close its side before it resets the connection. */
const GRACEFUL_CLOSE_MS = 2_000;

/**
 * Ends a handshake that succeeded without a reset. `destroy()` right after `secureConnect` closes the socket
 * with the server's post-handshake messages (TLS 1.3 session tickets) unread, so the kernel answers with a
 * reset, which can reach the server before it has read the client's Finished: the server then logs a failed
 * handshake (local-iot an AWSIotLogsV2 entry) for a connection that was fine, and a refusal explanation could
 * pick that entry instead of the real connection's. close_notify and FIN, reading until the server closes, do not.
 */
function closeGracefully(socket: TLSSocket): void {
  const reset = setTimeout(() => socket.destroy(), GRACEFUL_CLOSE_MS);
  reset.unref();
  socket.once('close', () => clearTimeout(reset));
  socket.on('error', () => socket.destroy());
  socket.resume();
  socket.end();
}

/** Node.js documents `authorizationError` as an Error but sets the OpenSSL code string. */
function authorizationCode(error: unknown): string {
  if (typeof error === 'string') return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : String(error);
}

function describeNames(socket: TLSSocket): string {
  const names = socket.getPeerCertificate().subjectaltname;
  return names ? ` (it is for ${names})` : '';
}
