import {
  reasonCodeName,
  type StormConnectionRecord,
  type StormHistogramBucket,
  type StormLatency,
  type StormReport,
  type StormSummary,
  type StormTimelinePoint,
} from '@iot-custom-auth/protocol';

/**
 * Every figure of a storm report, computed from the connection records alone: one run and a merge of its
 * shards go through the same function, so they agree to the last count.
 */

/** The report's format tag; a reader refuses any other. */
export const STORM_REPORT_FORMAT = 'iot-custom-auth-storm/1';

/** Fixed latency bucket bounds (ms): identical in every run, so histograms of shards add up. */
export const LATENCY_BUCKET_BOUNDS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
] as const;

/** Where the Lambda's own durations are, since an MQTT client cannot see them. */
export const LAMBDA_DURATIONS_NOTE =
  "not visible to an MQTT client: on AWS read the authorizer function's REPORT lines in CloudWatch Logs; against local-iot, the gateway's decision log (lambdaDurationMs) and lambda.log";

/**
 * The nearest-rank percentile of ascending `sorted` (`p` in (0, 100]): the smallest value with at least p% of
 * the values at or below it. `null` when there are none.
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** p50, p90, p99 and max of `values` (any order). */
export function latencyOf(values: readonly number[]): StormLatency {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? null : (sorted[sorted.length - 1] as number),
  };
}

/** Counts per fixed bucket: a value goes to the first bucket whose bound is at least it. */
export function histogramOf(values: readonly number[]): StormHistogramBucket[] {
  const counts = new Array<number>(LATENCY_BUCKET_BOUNDS_MS.length + 1).fill(0);
  for (const value of values) {
    const index = LATENCY_BUCKET_BOUNDS_MS.findIndex((bound) => value <= bound);
    const bucket = index < 0 ? LATENCY_BUCKET_BOUNDS_MS.length : index;
    counts[bucket] = (counts[bucket] as number) + 1;
  }
  return counts.map((count, index) => ({ upperBoundMs: LATENCY_BUCKET_BOUNDS_MS[index] ?? null, count }));
}

/** When a record's CONNACK or error happened, ms since the epoch; `null` if it never started. */
function endedAt(record: StormConnectionRecord): number | null {
  if (record.startedAt === null) return null;
  return record.startedAt + (record.latencyMs ?? 0);
}

/** The summary of `records` (one shard's, or all shards' merged). */
export function summarize(
  records: readonly StormConnectionRecord[],
  publishPerConnection: number,
): StormSummary {
  const starts = records.map((r) => r.startedAt).filter((t): t is number => t !== null);
  const origin = starts.length === 0 ? 0 : Math.min(...starts);
  const latencies = records.map((r) => r.latencyMs).filter((ms): ms is number => ms !== null);
  const connack = new Map<number, { count: number; expected: number }>();
  const errors = new Map<string, number>();
  const timeline = new Map<number, { connected: number; refused: number; errors: number }>();
  let firstRefusal: number | null = null;
  let lastEvent = origin;
  const publishes = { requested: 0, acknowledged: 0, refused: 0, failed: 0 };
  for (const record of records) {
    const at = endedAt(record);
    if (at !== null) lastEvent = Math.max(lastEvent, at);
    if (record.reasonCode !== null) {
      const entry = connack.get(record.reasonCode) ?? { count: 0, expected: 0 };
      entry.count++;
      if (record.expected) entry.expected++;
      connack.set(record.reasonCode, entry);
    }
    if (record.outcome === 'error') {
      const kind = record.errorKind ?? 'other';
      errors.set(kind, (errors.get(kind) ?? 0) + 1);
    }
    if (record.outcome === 'refused' && at !== null) {
      firstRefusal = firstRefusal === null ? at : Math.min(firstRefusal, at);
    }
    if (at !== null && record.outcome !== 'not-started') {
      const second = Math.floor((at - origin) / 1000);
      const point = timeline.get(second) ?? { connected: 0, refused: 0, errors: 0 };
      if (record.outcome === 'connected') point.connected++;
      else if (record.outcome === 'refused') point.refused++;
      else point.errors++;
      timeline.set(second, point);
    }
    if (record.outcome === 'connected') {
      publishes.requested += publishPerConnection;
      publishes.acknowledged += record.publishes.acknowledged;
      publishes.refused += record.publishes.refused;
      publishes.failed += record.publishes.failed;
    }
  }
  const count = (outcome: StormConnectionRecord['outcome']): number =>
    records.filter((r) => r.outcome === outcome).length;
  const expected = records.filter((r) => r.expected).length;
  return {
    connections: records.length,
    connected: count('connected'),
    refused: count('refused'),
    errors: count('error'),
    notStarted: count('not-started'),
    expected,
    unexpected: records.length - expected,
    connack: [...connack.entries()]
      .sort(([a], [b]) => a - b)
      .map(([reasonCode, entry]) => ({
        reasonCode,
        reasonName: reasonCodeName('CONNACK', reasonCode),
        ...entry,
      })),
    errorsByKind: [...errors.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([kind, n]) => ({ kind, count: n })),
    latencyMs: latencyOf(latencies),
    histogram: histogramOf(latencies),
    timeline: denseTimeline(timeline),
    timeToFirstRefusalMs: firstRefusal === null ? null : roundMs(firstRefusal - origin),
    publishes,
    durationMs: roundMs(lastEvent - origin),
    lambda: { available: false, note: LAMBDA_DURATIONS_NOTE },
  };
}

/** Every second from 0 to the last one with an event, so quiet seconds show as zeros. */
function denseTimeline(
  points: ReadonlyMap<number, { connected: number; refused: number; errors: number }>,
): StormTimelinePoint[] {
  const last = points.size === 0 ? -1 : Math.max(...points.keys());
  const dense: StormTimelinePoint[] = [];
  for (let second = 0; second <= last; second++) {
    dense.push({ second, ...(points.get(second) ?? { connected: 0, refused: 0, errors: 0 }) });
  }
  return dense;
}

/** What a report says besides its records. */
export type StormReportHeader = Omit<StormReport, 'format' | 'ok' | 'summary' | 'connections'>;

/**
 * The report of `records`: `ok` when every connection was as expected and the run completed; for a merge
 * (`merged`), also only when no shard is missing. A shard's own report is about its own connections.
 */
export function buildReport(
  header: StormReportHeader,
  records: readonly StormConnectionRecord[],
  merged = false,
): StormReport {
  const connections = [...records].sort((a, b) => a.n - b.n);
  const summary = summarize(connections, header.plan.publishPerConnection);
  const allShards = !merged || header.shards.included.length === header.shards.count;
  return {
    format: STORM_REPORT_FORMAT,
    ok: summary.unexpected === 0 && header.stoppedBy === 'completed' && allShards,
    ...header,
    summary,
    connections,
  };
}

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}
