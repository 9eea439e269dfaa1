import {
  isSuccessReasonCode,
  MQTT_REASON_CODES,
  type StormConnectionRecord,
  type StormStop,
} from '@iot-custom-auth/protocol';
import type { ConnectRequest, ConnectResult, Connector, MqttConnection } from '../connection';
import type { PlannedConnection } from './storm-plan';

/**
 * The storm's engine: starts each planned connection at its arrival time, never more than `concurrency`
 * open at once, connects once (the connector never retries), publishes, holds, disconnects, and records the
 * outcome. An abort (the deadline, Ctrl-C) stops new arrivals and ends every hold at once; connects under
 * way finish within their own timeout and are closed; nothing outlives `runStorm`.
 */

/** What one connection is sent: the connect request, and where it publishes. */
export interface PreparedStormConnection {
  readonly request: ConnectRequest;
  readonly topic: string;
}

export interface StormRunnerDeps {
  readonly connector: Connector;
  /** The connect request for a planned connection (outputs and secrets come from caches). */
  prepare(connection: PlannedConnection): Promise<PreparedStormConnection>;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
}

export interface StormRunnerOptions {
  readonly connections: readonly PlannedConnection[];
  readonly concurrency: number;
  readonly holdMs: number;
  readonly publish: number;
  /** Bound on each connect, publish and disconnect. */
  readonly timeoutMs: number;
  /** Aborted with reason `deadline` or `interrupted`. */
  readonly signal: AbortSignal;
  /** Called with each record as its connection ends (for the progress line). */
  readonly onRecord?: (record: StormConnectionRecord) => void;
  /** Called when the number of open connections changes. */
  readonly onOpenChange?: (open: number) => void;
}

export interface StormRunResult {
  /** One per planned connection, in plan order; `not-started` for those an abort kept from starting. */
  readonly records: readonly StormConnectionRecord[];
  readonly stoppedBy: StormStop;
}

/** Runs one shard's connections. Resolves once every connection it opened has been closed. */
export async function runStorm(options: StormRunnerOptions, deps: StormRunnerDeps): Promise<StormRunResult> {
  const { signal } = options;
  const slots = new Slots(options.concurrency);
  const started = deps.clock();
  const running: Promise<void>[] = [];
  const records = new Map<number, StormConnectionRecord>();
  let open = 0;
  const changeOpen = (delta: number): void => {
    open += delta;
    options.onOpenChange?.(open);
  };
  for (const planned of options.connections) {
    await sleep(started + planned.offsetMs - deps.clock(), signal);
    if (signal.aborted || !(await slots.acquire(signal))) break;
    changeOpen(1);
    running.push(
      runConnection(planned, options, deps).then((record) => {
        records.set(planned.n, record);
        changeOpen(-1);
        slots.release();
        options.onRecord?.(record);
      }),
    );
  }
  await Promise.all(running);
  return {
    records: options.connections.map((planned) => records.get(planned.n) ?? notStarted(planned)),
    stoppedBy: signal.aborted ? stopReason(signal) : 'completed',
  };
}

function stopReason(signal: AbortSignal): StormStop {
  return signal.reason === 'deadline' ? 'deadline' : 'interrupted';
}

const NO_PUBLISHES = { acknowledged: 0, refused: 0, failed: 0 } as const;

function notStarted(planned: PlannedConnection): StormConnectionRecord {
  return {
    n: planned.n,
    clientId: planned.clientId,
    badCredentials: planned.badCredentials,
    outcome: 'not-started',
    startedAt: null,
    latencyMs: null,
    reasonCode: null,
    errorKind: null,
    errorMessage: null,
    publishes: NO_PUBLISHES,
    disconnect: null,
    expected: false,
  };
}

/** One connection from prepare to close; never throws. */
async function runConnection(
  planned: PlannedConnection,
  options: StormRunnerOptions,
  deps: StormRunnerDeps,
): Promise<StormConnectionRecord> {
  const base = { ...notStarted(planned) };
  let prepared: PreparedStormConnection;
  try {
    prepared = await deps.prepare(planned);
  } catch (error) {
    return { ...base, outcome: 'error', errorKind: 'prepare', errorMessage: messageOf(error) };
  }
  const startedAt = deps.clock();
  let result: ConnectResult;
  try {
    result = await deps.connector.connect({ ...prepared.request, timeoutMs: options.timeoutMs });
  } catch (error) {
    return { ...base, startedAt, outcome: 'error', errorKind: 'other', errorMessage: messageOf(error) };
  }
  const latencyMs = roundMs(deps.clock() - startedAt);
  switch (result.status) {
    case 'refused': {
      const reasonCode = result.connack.reasonCode;
      const expected = planned.badCredentials && reasonCode === MQTT_REASON_CODES.badUserNameOrPassword;
      return { ...base, startedAt, latencyMs, outcome: 'refused', reasonCode, expected };
    }
    case 'failed':
      return {
        ...base,
        startedAt,
        outcome: 'error',
        errorKind: result.failure.kind === 'connack-timeout' ? 'timeout' : result.failure.kind,
        errorMessage: `${result.failure.name}: ${result.failure.message}`,
      };
    case 'timeout':
      return {
        ...base,
        startedAt,
        outcome: 'error',
        errorKind: 'timeout',
        errorMessage: `no CONNACK within ${options.timeoutMs / 1000} s`,
      };
    case 'connected': {
      const session = await useConnection(result.connection, prepared.topic, planned, options);
      const expected =
        !planned.badCredentials &&
        session.publishes.acknowledged === options.publish &&
        session.disconnect === 'clean';
      return {
        ...base,
        startedAt,
        latencyMs,
        outcome: 'connected',
        reasonCode: result.connack.reasonCode,
        publishes: session.publishes,
        disconnect: session.disconnect,
        expected,
      };
    }
  }
}

/** Publishes, holds and disconnects an accepted connection; always disconnects. */
async function useConnection(
  connection: MqttConnection,
  topic: string,
  planned: PlannedConnection,
  options: StormRunnerOptions,
): Promise<Pick<StormConnectionRecord, 'publishes'> & { disconnect: 'clean' | 'unclean' | 'lost' }> {
  let lost = false;
  void connection.lost.then(() => (lost = true));
  const publishes = { acknowledged: 0, refused: 0, failed: 0 };
  for (let seq = 1; seq <= options.publish && !options.signal.aborted && !lost; seq++) {
    const payload = Buffer.from(
      JSON.stringify({
        seq,
        count: options.publish,
        clientId: planned.clientId,
        sentAt: new Date().toISOString(),
      }),
    );
    try {
      const puback = await withTimeout(connection.publish(topic, payload), options.timeoutMs);
      if (isSuccessReasonCode(puback.reasonCode)) publishes.acknowledged++;
      else publishes.refused++;
    } catch {
      publishes.failed++;
    }
  }
  if (options.holdMs > 0 && !lost) {
    await Promise.race([sleep(options.holdMs, options.signal), connection.lost]);
  }
  const disconnect = await connection.disconnect(options.timeoutMs);
  return { publishes, disconnect: lost ? 'lost' : disconnect.clean ? 'clean' : 'unclean' };
}

/** Rejects when `promise` takes longer than `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`, or at once when `signal` is (or becomes) aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** At most `limit` holders at once; waiters are served in arrival order. */
class Slots {
  #free: number;
  readonly #waiters: ((granted: boolean) => void)[] = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  /** Resolves `true` with a slot, or `false` if `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(grant);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve(false);
      };
      const grant = (granted: boolean): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(granted);
      };
      this.#waiters.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.#free++;
    else next(true);
  }
}

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
