import { isIP } from 'node:net';
import { CUSTOM_AUTH_PORT, MQTT_ALPN_PROTOCOL, MQTT_WEBSOCKET_PATH } from '@iot-custom-auth/protocol';
import type { ConnectRequest } from '../connection';
import type { TlsProbe } from '../tls-probe';
import type { CheckResult } from './check-result';
import type { WebSocketProbe } from './websocket-probe';

/** Resolves a host name to its addresses (`dns.lookup` with `all: true`). */
export type HostLookup = (host: string) => Promise<readonly string[]>;

/** The endpoint's name resolves. An IP address resolves trivially but is no SNI AWS IoT can route by. */
export async function checkDns(lookup: HostLookup, endpoint: string): Promise<CheckResult> {
  if (isIP(endpoint) !== 0) {
    return {
      check: 'dns',
      ok: true,
      detail: `${endpoint} is an IP address: no SNI is sent, so AWS IoT cannot pick the endpoint's authorizers (use the host name)`,
    };
  }
  try {
    const addresses = await lookup(endpoint);
    return { check: 'dns', ok: true, detail: `${endpoint} resolves to ${addresses.join(', ')}` };
  } catch (error) {
    return {
      check: 'dns',
      ok: false,
      detail: `${endpoint} does not resolve: ${error instanceof Error ? error.message : String(error)}`,
      fix: "check --endpoint or the IotEndpoint output (aws iot describe-endpoint --endpoint-type iot:Data-ATS), and this machine's DNS",
    };
  }
}

/**
 * A TLS handshake as the device makes it: SNI = the endpoint, ALPN `mqtt` for direct MQTT (none for
 * WebSockets), the CA the client trusts.
 */
export async function checkTls(
  probe: TlsProbe,
  request: ConnectRequest,
  timeoutMs: number,
): Promise<CheckResult> {
  const direct = request.transport === 'mqtt';
  const result = await probe({
    host: request.endpoint,
    port: request.port,
    ...(direct ? { alpn: [MQTT_ALPN_PROTOCOL] } : {}),
    ...(request.caPem === undefined ? {} : { caPem: request.caPem }),
    timeoutMs,
  });
  const where = `${request.endpoint}:${request.port}`;
  const offered = direct
    ? ` with SNI ${request.endpoint} and ALPN ${MQTT_ALPN_PROTOCOL}`
    : ` with SNI ${request.endpoint}`;
  switch (result.outcome) {
    case 'ok':
      return {
        check: 'tls',
        ok: true,
        detail: `handshake with ${where}${offered}: certificate trusted${direct ? ', ALPN mqtt accepted' : ''}`,
      };
    case 'untrusted':
      return {
        check: 'tls',
        ok: false,
        detail: `${where}: the server certificate is not trusted (${result.code})`,
        fix: "pass the server's CA with --ca_file (for local-iot, its ca.pem); on AWS use the -ats endpoint",
      };
    case 'name-mismatch':
      return {
        check: 'tls',
        ok: false,
        detail: `${where}: ${result.detail}`,
        fix: "use the endpoint's host name (the IotEndpoint output) as --endpoint",
      };
    case 'alpn-refused':
      return {
        check: 'tls',
        ok: false,
        detail: `${where}: ${result.detail}`,
        fix: `custom authentication over direct MQTT needs port ${CUSTOM_AUTH_PORT} with ALPN ${MQTT_ALPN_PROTOCOL} on the ATS endpoint; or --use_websockets`,
      };
    case 'tcp-error':
      return {
        check: 'tls',
        ok: false,
        detail: `${where}: cannot connect (${result.code})`,
        fix: `check --port (custom authentication uses ${CUSTOM_AUTH_PORT}), and that the gateway runs (npm run local)`,
      };
    case 'timeout':
      return {
        check: 'tls',
        ok: false,
        detail: `${where}: no handshake within ${timeoutMs} ms`,
        fix: 'check the network, a firewall or a proxy',
      };
    default:
      return {
        check: 'tls',
        ok: false,
        detail: `${where}: ${result.detail} (${result.code})`,
        fix: 'check --endpoint and --port',
      };
  }
}

/** MQTT over WebSockets: the upgrade on `/mqtt` is answered with 101. */
export async function checkWebSocket(
  probe: WebSocketProbe,
  request: ConnectRequest,
  timeoutMs: number,
): Promise<CheckResult> {
  const result = await probe({
    host: request.endpoint,
    port: request.port,
    ...(request.caPem === undefined ? {} : { caPem: request.caPem }),
    timeoutMs,
  });
  const url = `wss://${request.endpoint}:${request.port}${MQTT_WEBSOCKET_PATH}`;
  return result.ok
    ? { check: 'websocket', ok: true, detail: `${url} upgrades to WebSocket (subprotocol mqtt)` }
    : {
        check: 'websocket',
        ok: false,
        detail: `${url} refused the upgrade: ${result.detail}`,
        fix: 'check --endpoint and --port (a proxy in between?), or drop --use_websockets',
      };
}
