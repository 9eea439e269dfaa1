import { createLogger } from '../../src/gateway/gateway-log';
import type { TlsListenerOptions } from '../../src/gateway/tls-listener';
import { testCa, type RecordedLog } from './gateway-harness';

/**
 * `listenTls` options for an ephemeral 127.0.0.1 port with the test CA's certificate, logging to `log`;
 * `options` override (the callbacks do nothing unless given).
 */
export async function testListenerOptions(
  log: RecordedLog,
  options: Partial<TlsListenerOptions> = {},
): Promise<TlsListenerOptions> {
  const { cert, key } = await testCa();
  return {
    host: '127.0.0.1',
    port: 0,
    ipv6Loopback: false,
    tls: { cert, key },
    endpointHost: 'localhost',
    handshakeTimeoutMs: 10_000,
    log: createLogger(log.sink),
    onConnection: () => undefined,
    onSecureConnection: () => undefined,
    ...options,
  };
}
