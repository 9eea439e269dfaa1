import fc from 'fast-check';
import {
  arrivalSeconds,
  badCredentialsCount,
  isBadCredentials,
  planShard,
  shardIndexes,
  shardRate,
} from '../../src/storm/storm-plan';

const fraction = fc.integer({ min: 0, max: 1000 }).map((k) => k / 1000);

describe('sharding', () => {
  it('shards partition the connections: every index exactly once, in the shard n % count + 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 40 }), (connections, count) => {
        fc.pre(count <= connections);
        const seen = new Map<number, number>();
        for (let index = 1; index <= count; index++) {
          for (const n of shardIndexes(connections, { index, count })) {
            expect(seen.has(n)).toBe(false);
            seen.set(n, index);
            expect(n % count).toBe(index - 1);
          }
        }
        expect([...seen.keys()].sort((a, b) => a - b)).toEqual(
          Array.from({ length: connections }, (_, n) => n),
        );
      }),
    );
  });

  it('shard rates sum to the storm rate and shard sizes differ by at most one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0.1, max: 1000, noNaN: true }),
        (connections, count, rate) => {
          fc.pre(count <= connections);
          const shards = Array.from({ length: count }, (_, i) => ({ index: i + 1, count }));
          const total = shards.reduce((sum, shard) => sum + shardRate(rate, shard), 0);
          expect(total).toBeCloseTo(rate, 6);
          const sizes = shards.map((shard) => shardIndexes(connections, shard).length);
          expect(sizes.reduce((a, b) => a + b, 0)).toBe(connections);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('the bad connections of all shards are exactly those of one run: floor(N * f) of them', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 20 }),
        fraction,
        (connections, count, f) => {
          fc.pre(count <= connections);
          const single = planShard({
            connections,
            ratePerSecond: 10,
            badCredentials: f,
            shard: { index: 1, count: 1 },
            clientIdOf: String,
          });
          const sharded = Array.from({ length: count }, (_, i) =>
            planShard({
              connections,
              ratePerSecond: 10,
              badCredentials: f,
              shard: { index: i + 1, count },
              clientIdOf: String,
            }),
          ).flat();
          const bad = (plan: typeof single) =>
            plan
              .filter((c) => c.badCredentials)
              .map((c) => c.n)
              .sort((a, b) => a - b);
          expect(bad(sharded)).toEqual(bad(single));
          expect(bad(single)).toHaveLength(badCredentialsCount(connections, f));
          expect(badCredentialsCount(connections, f)).toBe(
            Math.floor((connections * Math.round(f * 1000)) / 1000),
          );
        },
      ),
    );
  });

  it('spreads bad credentials evenly: every 4th for 0.25, all for 1, none for 0', () => {
    const bad = (f: number) => Array.from({ length: 12 }, (_, n) => n).filter((n) => isBadCredentials(n, f));
    expect(bad(0.25)).toEqual([3, 7, 11]);
    expect(bad(1)).toHaveLength(12);
    expect(bad(0)).toEqual([]);
    // 0.57 is not exact in binary floating point; the count still is.
    expect(badCredentialsCount(100, 0.57)).toBe(57);
    expect(Array.from({ length: 100 }, (_, n) => n).filter((n) => isBadCredentials(n, 0.57))).toHaveLength(
      57,
    );
  });

  it('spaces arrivals at the shard rate', () => {
    const plan = planShard({
      connections: 6,
      ratePerSecond: 10,
      badCredentials: 0,
      shard: { index: 2, count: 2 },
      clientIdOf: (n) => `id-${n}`,
    });
    expect(plan.map((c) => [c.n, c.clientId, c.offsetMs])).toEqual([
      [1, 'id-1', 0],
      [3, 'id-3', 200],
      [5, 'id-5', 400],
    ]);
    expect(arrivalSeconds(6, 10, { index: 2, count: 2 })).toBeCloseTo(0.4);
    expect(arrivalSeconds(1, 10, { index: 1, count: 1 })).toBe(0);
  });
});
