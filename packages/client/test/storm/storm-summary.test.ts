import fc from 'fast-check';
import {
  histogramOf,
  LATENCY_BUCKET_BOUNDS_MS,
  latencyOf,
  percentile,
  summarize,
} from '../../src/storm/storm-summary';
import { summaryLines } from '../../src/storm/storm-text';
import { record, report } from './support/storm-records';

describe('percentile (nearest rank)', () => {
  it('picks the smallest value with at least p% at or below it', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile([42], 1)).toBe(42);
    expect(percentile([], 50)).toBeNull();
  });

  it('is always a member of the values, at least p% of them at or below it and fewer than p% below', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 100 }),
        (values, p) => {
          const sorted = [...values].sort((a, b) => a - b);
          const value = percentile(sorted, p) as number;
          expect(sorted).toContain(value);
          expect(sorted.filter((v) => v <= value).length / sorted.length).toBeGreaterThanOrEqual(p / 100);
          expect(sorted.filter((v) => v < value).length / sorted.length).toBeLessThan(p / 100);
        },
      ),
    );
  });

  it('summarises p50, p90, p99 and max in any order of input', () => {
    expect(latencyOf([30, 10, 20])).toEqual({ count: 3, p50: 20, p90: 30, p99: 30, max: 30 });
    expect(latencyOf([])).toEqual({ count: 0, p50: null, p90: null, p99: null, max: null });
  });
});

describe('histogramOf', () => {
  it('puts each value in the first bucket whose bound is at least it, the rest in the open bucket', () => {
    const buckets = histogramOf([0.5, 1, 1.1, 9.9, 10, 10.1, 20_000]);
    expect(buckets).toHaveLength(LATENCY_BUCKET_BOUNDS_MS.length + 1);
    const counts = Object.fromEntries(buckets.map((b) => [String(b.upperBoundMs), b.count]));
    expect(counts).toMatchObject({ '1': 2, '2': 1, '10': 2, '20': 1, null: 1 });
    expect(buckets.reduce((sum, b) => sum + b.count, 0)).toBe(7);
  });
});

describe('summarize', () => {
  it('counts outcomes, CONNACK codes with their names and expectations, errors by kind and the timeline', () => {
    const records = [
      record(0, { outcome: 'connected', latencyMs: 12, at: 0 }),
      record(1, { outcome: 'connected', latencyMs: 20, at: 100 }),
      record(2, { outcome: 'refused', code: 0x86, latencyMs: 15, at: 1200 }, true),
      record(3, { outcome: 'refused', code: 0x87, latencyMs: 30, at: 1500 }),
      record(4, { outcome: 'error', kind: 'timeout', at: 2100 }),
      record(5, { outcome: 'not-started' }),
    ];
    const summary = summarize(records, 0);
    expect(summary).toMatchObject({
      connections: 6,
      connected: 2,
      refused: 2,
      errors: 1,
      notStarted: 1,
      expected: 3,
      unexpected: 3,
      connack: [
        { reasonCode: 0x00, reasonName: 'Success', count: 2, expected: 2 },
        { reasonCode: 0x86, reasonName: 'Bad user name or password', count: 1, expected: 1 },
        { reasonCode: 0x87, reasonName: 'Not authorized', count: 1, expected: 0 },
      ],
      errorsByKind: [{ kind: 'timeout', count: 1 }],
      latencyMs: { count: 4, p50: 15, p90: 30, p99: 30, max: 30 },
      timeToFirstRefusalMs: 1215,
      timeline: [
        { second: 0, connected: 2, refused: 0, errors: 0 },
        { second: 1, connected: 0, refused: 2, errors: 0 },
        { second: 2, connected: 0, refused: 0, errors: 1 },
      ],
      durationMs: 2100,
    });
    expect(summary.lambda.available).toBe(false);
  });

  it('has no first refusal, percentiles or timeline for a run that never connected', () => {
    const summary = summarize([record(0, { outcome: 'not-started' })], 2);
    expect(summary).toMatchObject({
      timeToFirstRefusalMs: null,
      latencyMs: { count: 0, p50: null },
      timeline: [],
      publishes: { requested: 0 },
    });
  });

  it('counts the publishes asked of connected connections', () => {
    const connected = {
      ...record(0, { outcome: 'connected', latencyMs: 5 }),
      publishes: { acknowledged: 2, refused: 1, failed: 0 },
    };
    expect(
      summarize([connected, record(1, { outcome: 'refused', code: 0x86, latencyMs: 5 }, true)], 3).publishes,
    ).toEqual({
      requested: 3,
      acknowledged: 2,
      refused: 1,
      failed: 0,
    });
  });
});

describe('buildReport and the summary table', () => {
  it('is ok only when every connection was as expected and the run completed', () => {
    const good = [
      record(0, { outcome: 'connected', latencyMs: 12 }),
      record(1, { outcome: 'refused', code: 0x86, latencyMs: 9 }, true),
    ];
    expect(report(good).ok).toBe(true);
    expect(report(good, { stoppedBy: 'deadline' }).ok).toBe(false);
    expect(report([...good, record(2, { outcome: 'refused', code: 0x86, latencyMs: 9 })]).ok).toBe(false);
    // A shard's own report is about its own connections (a merge also needs every shard).
    expect(report(good, { shards: { count: 2, included: [1] } }).ok).toBe(true);
  });

  it('prints the CONNACK table with names, the percentiles and the result', () => {
    const text = summaryLines(
      report([
        record(0, { outcome: 'connected', latencyMs: 12 }),
        record(1, { outcome: 'refused', code: 0x86, latencyMs: 9, at: 50 }, true),
        record(2, { outcome: 'error', kind: 'tls' }),
      ]),
    ).join('\n');
    expect(text).toMatch(/0x00 Success\s+1\s+1/);
    expect(text).toMatch(/0x86 Bad user name or password\s+1\s+1/);
    expect(text).toContain('errors: tls 1');
    expect(text).toContain(
      'latency (connect start to CONNACK): p50 9 ms, p90 12 ms, p99 12 ms, max 12 ms (2 CONNACKs)',
    );
    expect(text).toContain('time to first refusal: 59 ms');
    expect(text).toContain('Result: NOT as expected');
  });
});
