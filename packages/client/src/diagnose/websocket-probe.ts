import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { MQTT_WEBSOCKET_PATH } from '@iot-custom-auth/protocol';

/** One WebSocket upgrade on `/mqtt` (subprotocol `mqtt`), as the SDK opens it, then closed at once. */
export interface WebSocketProbeRequest {
  readonly host: string;
  readonly port: number;
  readonly caPem?: string;
  readonly timeoutMs: number;
}

/** `101 Switching Protocols`, or what came instead. */
export type WebSocketProbeResult = { readonly ok: true } | { readonly ok: false; readonly detail: string };

export type WebSocketProbe = (probe: WebSocketProbeRequest) => Promise<WebSocketProbeResult>;

/**
 * Asks for the upgrade without credentials (the client sends them in the MQTT CONNECT, as the device SDK
 * does), so a 101 shows the endpoint serves MQTT over WebSockets on that port; the socket is then dropped.
 */
export const probeWebSocketUpgrade: WebSocketProbe = (probe) =>
  new Promise((resolve) => {
    const req = request({
      host: probe.host,
      port: probe.port,
      path: MQTT_WEBSOCKET_PATH,
      servername: probe.host,
      ...(probe.caPem === undefined ? {} : { ca: probe.caPem }),
      timeout: probe.timeoutMs,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Protocol': 'mqtt',
      },
    });
    req.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve({ ok: true });
    });
    req.on('response', (response) => {
      response.resume();
      resolve({
        ok: false,
        detail: `HTTP ${response.statusCode ?? '?'} ${response.statusMessage ?? ''}`.trim(),
      });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, detail: `no answer within ${probe.timeoutMs} ms` });
    });
    req.on('error', (error) => resolve({ ok: false, detail: error.message }));
    req.end();
  });
