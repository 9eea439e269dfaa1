// The benchmark's load generator: MQTT 5 connects from `mqtt` (npm), an MQTT client independent of both
// servers, over TLS with ALPN mqtt or over WebSockets on /mqtt. Each connect is timed from the call to the
// CONNACK, then the client disconnects; the same code drives local-iot and mosquitto.
import { performance } from 'node:perf_hooks';
import { connect, type IClientOptions } from 'mqtt';

export type BenchTransport = 'direct' | 'websockets';

/** Where and how the batch connects; `credentials(i)` gives the i-th connect's client id, user name, password. */
export interface ConnectTarget {
  readonly transport: BenchTransport;
  readonly host: string;
  readonly port: number;
  readonly ca: Buffer;
  readonly credentials: (index: number) => ConnectCredentials;
}

export interface ConnectCredentials {
  readonly clientId: string;
  readonly username: string;
  readonly password?: string;
}

/** What one batch measured. */
export interface BatchResult {
  /** Call to CONNACK of each accepted connect, ms. */
  readonly latenciesMs: number[];
  /** Refused or failed connects, by what happened (`CONNACK 0x87`, `ECONNRESET`...). */
  readonly failures: Map<string, number>;
  readonly seconds: number;
}

/** Runs `total` connects, `concurrency` at a time; never throws for a refused or failed connect (it counts it). */
export async function runConnectBatch(
  target: ConnectTarget,
  total: number,
  concurrency: number,
): Promise<BatchResult> {
  const latenciesMs: number[] = [];
  const failures = new Map<string, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const outcome = await connectOnce(target, next++);
        if (typeof outcome === 'number') latenciesMs.push(outcome);
        else failures.set(outcome, (failures.get(outcome) ?? 0) + 1);
      }
    }),
  );
  return { latenciesMs, failures, seconds: (performance.now() - started) / 1000 };
}

/** The connect's latency in ms, or what went wrong. */
function connectOnce(target: ConnectTarget, index: number): Promise<number | string> {
  const { clientId, username, password } = target.credentials(index);
  const options: IClientOptions = {
    protocolVersion: 5,
    clientId,
    username,
    ...(password !== undefined && { password }),
    ca: target.ca,
    servername: target.host,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    ...(target.transport === 'direct' && { ALPNProtocols: ['mqtt'] }),
  };
  const url =
    target.transport === 'direct'
      ? `mqtts://${target.host}:${target.port}`
      : `wss://${target.host}:${target.port}/mqtt`;
  return new Promise((resolve) => {
    const started = performance.now();
    const client = connect(url, options);
    let settled = false;
    const settle = (outcome: number | string): void => {
      if (settled) return;
      settled = true;
      // An accepted connect says goodbye with DISCONNECT, as a device does; a failed one is dropped.
      client.end(typeof outcome !== 'number', () => resolve(outcome));
    };
    client.once('connect', () => settle(performance.now() - started));
    client.once('error', (error: Error & { code?: string | number }) =>
      settle(
        typeof error.code === 'number'
          ? `CONNACK 0x${error.code.toString(16).padStart(2, '0')}`
          : (error.code ?? error.message),
      ),
    );
    client.once('close', () => settle('closed before CONNACK'));
  });
}
