import fc from 'fast-check';
import type { StormConnectionRecord } from '@iot-custom-auth/protocol';
import { ConfigError } from '../../src/errors';
import { mergeReports, parseStormReport } from '../../src/storm/storm-merge';
import { isBadCredentials } from '../../src/storm/storm-plan';
import { header, record, report, type RecordSpec } from './support/storm-records';

const spec: fc.Arbitrary<RecordSpec> = fc.oneof(
  fc.record({
    outcome: fc.constant('connected' as const),
    latencyMs: fc.integer({ min: 1, max: 9000 }),
    at: fc.integer({ min: 0, max: 9000 }),
  }),
  fc.record({
    outcome: fc.constant('refused' as const),
    code: fc.constantFrom(0x86, 0x87, 0x89, 0x97),
    latencyMs: fc.integer({ min: 1, max: 9000 }),
    at: fc.integer({ min: 0, max: 9000 }),
  }),
  fc.record({
    outcome: fc.constant('error' as const),
    kind: fc.constantFrom('tls', 'timeout', 'hangup'),
    at: fc.integer({ min: 0, max: 9000 }),
  }),
  fc.constant({ outcome: 'not-started' as const }),
);

/** Splits records into `count` shard reports as the storm shards them (n % count). */
function shardReports(records: readonly StormConnectionRecord[], count: number) {
  return Array.from({ length: count }, (_, i) => ({
    file: `shard-${i + 1}.json`,
    report: report(
      records.filter((r) => r.n % count === i),
      { shards: { count, included: [i + 1] } },
    ),
  }));
}

describe('mergeReports', () => {
  it('gives exactly the report of one run over the same connections, for any shard count', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 6 }),
        (specs, count) => {
          const records = specs.map((s, n) => record(n, s, isBadCredentials(n, 0.25)));
          const single = report(records);
          // Through JSON, as the files are.
          const shards = shardReports(records, count).map(({ file, report: r }) => ({
            file,
            report: parseStormReport(JSON.stringify(r), file),
          }));
          const merged = mergeReports(shards);
          expect(merged.summary).toEqual(single.summary);
          expect(merged.connections).toEqual(single.connections);
          expect(merged.shards).toEqual({ count, included: Array.from({ length: count }, (_, i) => i + 1) });
          expect(merged.ok).toBe(single.ok);
        },
      ),
    );
  });

  it('is not ok when a shard is missing, and keeps a shard that stopped early', () => {
    const records = [0, 1, 2, 3].map((n) => record(n, { outcome: 'connected', latencyMs: 5 }));
    const shards = shardReports(records, 2);
    expect(mergeReports(shards).ok).toBe(true);
    expect(mergeReports(shards.slice(0, 1)).ok).toBe(false);
    const stopped = { ...shards[1]!, report: { ...shards[1]!.report, stoppedBy: 'interrupted' as const } };
    expect(mergeReports([shards[0]!, stopped]).stoppedBy).toBe('interrupted');
  });

  it('refuses reports of different storms and a shard given twice', () => {
    const one = report([record(0, { outcome: 'connected', latencyMs: 5 })], {
      shards: { count: 2, included: [1] },
    });
    const other = report([record(1, { outcome: 'connected', latencyMs: 5 })], {
      runId: 'r2',
      shards: { count: 2, included: [2] },
    });
    expect(() =>
      mergeReports([
        { file: 'a.json', report: one },
        { file: 'b.json', report: other },
      ]),
    ).toThrow(
      new ConfigError(
        'b.json is not a shard of the same storm as a.json: run id r2, not r1. Merge only the reports of one storm (same --run-id and flags)',
      ),
    );
    expect(() =>
      mergeReports([
        { file: 'a.json', report: one },
        { file: 'c.json', report: one },
      ]),
    ).toThrow(new ConfigError("shard 1 is in both a.json and c.json: give each shard's report once"));
    const otherPlan = report([], {
      shards: { count: 2, included: [2] },
      plan: { ...header().plan, ratePerSecond: 99 },
    });
    expect(() =>
      mergeReports([
        { file: 'a.json', report: one },
        { file: 'd.json', report: otherPlan },
      ]),
    ).toThrow(/other storm flags/);
  });
});

describe('parseStormReport', () => {
  const valid = JSON.stringify(report([record(0, { outcome: 'connected', latencyMs: 5 })]));

  it('reads what buildReport wrote', () => {
    expect(parseStormReport(valid, 'a.json').runId).toBe('r1');
  });

  it.each([
    ['not JSON', '{', 'a.json is not JSON: pass the output of storm --json'],
    [
      'another format',
      JSON.stringify({ format: 'x' }),
      'a.json is not a storm report ("format" is not "iot-custom-auth-storm/1"): pass the output of storm --json',
    ],
    ['an array', '[]', 'a.json is not a storm report (not a JSON object): pass the output of storm --json'],
  ])('refuses %s', (_, text, message) => {
    expect(() => parseStormReport(text, 'a.json')).toThrow(new ConfigError(message));
  });

  it('names the bad record', () => {
    const value = JSON.parse(valid) as unknown;
    setPath(value, ['connections', 0, 'outcome'], 'exploded');
    expect(() => parseStormReport(JSON.stringify(value), 'a.json')).toThrow(
      /connections\[0\]: no valid "outcome"/,
    );
    setPath(value, ['connections', 0, 'outcome'], 'connected');
    setPath(value, ['connections', 0, 'n'], 1);
    setPath(value, ['shards'], { count: 2, included: [1] });
    expect(() => parseStormReport(JSON.stringify(value), 'a.json')).toThrow(
      /connections\[0\] belongs to shard 2, which the report does not include/,
    );
  });

  it('never throws anything but a ConfigError on any JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseStormReport(JSON.stringify(value), 'x.json');
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
        }
      }),
    );
  });

  it('refuses any single-field corruption of a valid report without crashing', () => {
    const base = JSON.parse(valid) as unknown;
    const paths: (string | number)[][] = [
      ['runId'],
      ['stoppedBy'],
      ['shards', 'count'],
      ['target', 'port'],
      ['plan', 'connections'],
      ['connections', 0, 'latencyMs'],
      ['connections', 0, 'publishes'],
      ['connections', 0, 'disconnect'],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...paths),
        fc.constantFrom<unknown>('not valid!', -1.5, {}, [], true),
        (path, bad) => {
          const copy = structuredClone(base);
          setPath(copy, path, bad);
          expect(() => parseStormReport(JSON.stringify(copy), 'x.json')).toThrow(ConfigError);
        },
      ),
    );
  });
});

/** Sets the value at `path` in parsed JSON (objects and arrays), as a corrupted file would have it. */
function setPath(value: unknown, path: readonly (string | number)[], replacement: unknown): void {
  let node = value as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1] as string | number] = replacement;
}
