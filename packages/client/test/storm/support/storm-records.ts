import type { StormConnectionRecord, StormReport } from '@iot-custom-auth/protocol';
import { buildReport, type StormReportHeader } from '../../../src/storm/storm-summary';

/** Test records and reports: an outcome per connection, everything else filled in consistently. */

export type RecordSpec =
  | { readonly outcome: 'connected'; readonly latencyMs: number; readonly at?: number }
  | { readonly outcome: 'refused'; readonly code: number; readonly latencyMs: number; readonly at?: number }
  | { readonly outcome: 'error'; readonly kind: string; readonly at?: number }
  | { readonly outcome: 'not-started' };

export const T0 = 1_800_000_000_000;

export function record(n: number, spec: RecordSpec, badCredentials = false): StormConnectionRecord {
  const base = {
    n,
    clientId: `test-storm-r1-1-${n}`,
    badCredentials,
    startedAt: null,
    latencyMs: null,
    reasonCode: null,
    errorKind: null,
    errorMessage: null,
    publishes: { acknowledged: 0, refused: 0, failed: 0 },
    disconnect: null,
    expected: false,
  } satisfies Omit<StormConnectionRecord, 'outcome'>;
  switch (spec.outcome) {
    case 'connected':
      return {
        ...base,
        outcome: 'connected',
        startedAt: T0 + (spec.at ?? 0),
        latencyMs: spec.latencyMs,
        reasonCode: 0,
        disconnect: 'clean',
        expected: !badCredentials,
      };
    case 'refused':
      return {
        ...base,
        outcome: 'refused',
        startedAt: T0 + (spec.at ?? 0),
        latencyMs: spec.latencyMs,
        reasonCode: spec.code,
        expected: badCredentials && spec.code === 0x86,
      };
    case 'error':
      return {
        ...base,
        outcome: 'error',
        startedAt: T0 + (spec.at ?? 0),
        errorKind: spec.kind,
        errorMessage: 'failed',
      };
    case 'not-started':
      return { ...base, outcome: 'not-started' };
  }
}

export function header(overrides: Partial<StormReportHeader> = {}): StormReportHeader {
  return {
    runId: 'r1',
    shards: { count: 1, included: [1] },
    target: {
      endpoint: 'localhost',
      port: 8443,
      transport: 'mqtt',
      signed: false,
      authorizer: 'Unsigned',
      aws: false,
    },
    plan: {
      connections: 4,
      ratePerSecond: 10,
      concurrency: 5,
      holdSeconds: 0,
      publishPerConnection: 0,
      badCredentialsFraction: 0.25,
      deadlineSeconds: 60,
      timeoutSeconds: 10,
    },
    stoppedBy: 'completed',
    ...overrides,
  };
}

export function report(
  records: readonly StormConnectionRecord[],
  overrides: Partial<StormReportHeader> = {},
): StormReport {
  return buildReport(header(overrides), records);
}
