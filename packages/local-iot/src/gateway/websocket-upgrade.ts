import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { MQTT_WEBSOCKET_PATH } from '@iot-custom-auth/protocol';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { errorMessage, type GatewayLogEntryInput } from './gateway-log';

/** The WebSocket subprotocol AWS IoT Core requires for MQTT over WebSockets. */
export const MQTT_WEBSOCKET_SUBPROTOCOL = 'mqtt';

/** What the gateway knows about a TLS connection handed to the HTTP side. */
export interface HttpConnectionInfo {
  readonly connectionId: string;
  readonly alpn?: string;
  /** The TLS SNI; absent when the client sent none. */
  readonly serverName?: string;
}

/** A completed MQTT WebSocket upgrade: the byte stream and the credentials carried by the request. */
export interface WebSocketConnection {
  readonly stream: Duplex;
  /** Request headers with lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** The raw query string with its `?`, when the request URL had one. */
  readonly queryString?: string;
}

/** Wiring for `createWebSocketRouter`. */
export interface WebSocketRouterOptions {
  /** The TLS connection's identity, registered by the gateway before it hands the socket over. */
  readonly connectionOf: (socket: Duplex) => HttpConnectionInfo | undefined;
  /** Called once per accepted upgrade of `socket`; MQTT starts on `connection.stream`. */
  readonly onWebSocket: (socket: Duplex, connection: WebSocketConnection) => void;
  readonly log: (entry: GatewayLogEntryInput) => void;
  /** The endpoint host (lower case) a WebSocket upgrade without SNI must name in its Host header. */
  readonly endpointHost: string;
  /** Largest WebSocket message accepted; MQTT packet sizes are enforced separately. */
  readonly maxPayloadBytes: number;
  /**
   * Offered every plain (not upgrade) HTTP request first, e.g. HTTPS publish; returns whether it took the
   * request (and will answer it). Requests it does not take get the 404 / 426 that says what the port serves.
   */
  readonly onRequest?: (socket: Duplex, request: IncomingMessage, response: ServerResponse) => boolean;
}

/** The HTTP side of the TLS port. */
export interface WebSocketRouter {
  /** Feed a TLS socket with `server.emit('connection', socket)`; it never listens itself. */
  readonly server: Server;
  close(): void;
}

const USAGE =
  "this port serves MQTT over TLS (ALPN 'mqtt'), MQTT over WebSockets (an HTTP upgrade on " +
  `${MQTT_WEBSOCKET_PATH} with Sec-WebSocket-Protocol: ${MQTT_WEBSOCKET_SUBPROTOCOL}) and HTTPS publish ` +
  '(POST /topics/<topic>?qos=1)';

/**
 * Serves HTTP on TLS connections that did not negotiate ALPN `mqtt`, as AWS IoT Core's port 443 does: an
 * upgrade on `/mqtt` offering the `mqtt` subprotocol becomes MQTT over WebSockets; any other request gets a
 * 4xx that says what this port expects; bytes that are not HTTP close the connection (AWS IoT offers custom
 * authentication for direct MQTT only with ALPN `mqtt`).
 */
export function createWebSocketRouter(options: WebSocketRouterOptions): WebSocketRouter {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxPayloadBytes,
    handleProtocols: (protocols) =>
      protocols.has(MQTT_WEBSOCKET_SUBPROTOCOL) ? MQTT_WEBSOCKET_SUBPROTOCOL : false,
  });
  // With a listener, ws leaves the response to us: the log line and the body then say the same thing.
  wss.on('wsClientError', (error, socket, request: IncomingMessage) => {
    refuseUpgrade(socket, request, 400, `invalid WebSocket upgrade: ${error.message}`);
  });

  const server = createServer();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const path = pathOf(request.url);
    const withoutSni = options.connectionOf(request.socket)?.serverName === undefined;
    if (!withoutSni && options.onRequest?.(request.socket, request, response)) return;
    const [status, reason] = withoutSni
      ? [
          400,
          `the client sent no SNI: AWS IoT Core needs it for HTTPS (only a WebSocket upgrade may name the endpoint in its Host header instead): connect to '${options.endpointHost}' by name`,
        ]
      : path === MQTT_WEBSOCKET_PATH
        ? [426, `${request.method} ${path} without a WebSocket upgrade; ${USAGE}`]
        : [404, `no resource at ${path}; ${USAGE}`];
    logRefusal(request.socket, request, status, reason);
    response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
    response.end(`${reason}\n`);
  });

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = pathOf(request.url);
    if (path !== MQTT_WEBSOCKET_PATH) {
      return refuseUpgrade(socket, request, 404, `upgrade requested on ${path}; ${USAGE}`);
    }
    if (request.headers.upgrade?.toLowerCase() !== 'websocket') {
      return refuseUpgrade(
        socket,
        request,
        400,
        `upgrade to '${request.headers.upgrade}' is not supported; ${USAGE}`,
      );
    }
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(MQTT_WEBSOCKET_SUBPROTOCOL)) {
      return refuseUpgrade(
        socket,
        request,
        400,
        `Sec-WebSocket-Protocol must include '${MQTT_WEBSOCKET_SUBPROTOCOL}' (offered: ${offered.filter(Boolean).join(', ') || 'none'})`,
      );
    }
    const info = options.connectionOf(socket);
    if (!info) {
      socket.destroy();
      return;
    }
    const hostProblem =
      info.serverName === undefined
        ? hostHeaderProblem(request.headers.host, options.endpointHost)
        : undefined;
    if (hostProblem) return refuseUpgrade(socket, request, 400, hostProblem);
    wss.handleUpgrade(request, socket, head, (ws) => {
      options.log({
        event: 'websocket-upgrade',
        connectionId: info.connectionId,
        path,
        subprotocol: ws.protocol,
        ...(info.alpn ? { alpn: info.alpn } : {}),
      });
      const query = request.url?.indexOf('?') ?? -1;
      options.onWebSocket(socket, {
        stream: createWebSocketStream(ws),
        headers: flattenHeaders(request),
        ...(query >= 0 && request.url ? { queryString: request.url.slice(query) } : {}),
      });
    });
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const info = options.connectionOf(socket);
    if (info && error.code !== 'ECONNRESET') {
      options.log({
        event: 'http-refused',
        connectionId: info.connectionId,
        reason: notHttpReason(error, info.alpn),
      });
    }
    socket.destroy();
  });

  function refuseUpgrade(socket: Duplex, request: IncomingMessage, status: number, reason: string): void {
    logRefusal(socket, request, status, reason);
    const body = `${reason}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  function logRefusal(socket: Duplex, request: IncomingMessage, status: number, reason: string): void {
    const info = options.connectionOf(socket);
    if (!info) return;
    options.log({
      event: 'http-refused',
      connectionId: info.connectionId,
      ...(request.method ? { method: request.method } : {}),
      path: pathOf(request.url),
      status,
      reason,
    });
  }

  return {
    server,
    close: () => {
      server.removeAllListeners();
      wss.close();
    },
  };
}

/**
 * Why a WebSocket upgrade that came without SNI cannot go on, if it cannot: AWS IoT accepts the Host header
 * naming the endpoint instead ([choice] from what devices see; the developer guide requires SNI for HTTPS
 * and for configurable endpoints, https://docs.aws.amazon.com/iot/latest/developerguide/transport-security.html,
 * and says nothing of WebSockets without it).
 */
export function hostHeaderProblem(header: string | undefined, endpointHost: string): string | undefined {
  // RFC 9110 7.2: Host = uri-host [ ":" port ]; nothing else (no path, no user info) names a host.
  const host = /^(\[[0-9A-Fa-f:.]+\]|[^:/@\s[\]]+)(?::\d{0,5})?$/.exec(header ?? '')?.[1]?.toLowerCase();
  if (host === endpointHost) return undefined;
  const sent = header === undefined ? 'no Host header' : `the Host header '${header}'`;
  return `the client sent no SNI and ${sent}, which does not name the endpoint '${endpointHost}': connect to '${endpointHost}' by name (SNI), or send Host: ${endpointHost}`;
}

/** The path of a request URL, without the query string (it may carry a token or a signature). */
function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query >= 0 ? raw.slice(0, query) : raw;
}

function flattenHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function notHttpReason(error: NodeJS.ErrnoException, alpn: string | undefined): string {
  const negotiated = alpn ? `ALPN '${alpn}'` : 'no ALPN';
  return (
    `not a valid HTTP request (${error.code ?? errorMessage(error)}) on a TLS connection with ${negotiated}: ` +
    "direct MQTT with custom authentication needs ALPN 'mqtt' (AWS IoT does not invoke the authorizer otherwise)"
  );
}
