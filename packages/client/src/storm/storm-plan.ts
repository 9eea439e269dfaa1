import type { ShardSpec } from './storm-args';

/**
 * Which connections a shard makes, when, and which of them carry wrong credentials. Everything is a pure
 * function of the connection's index `n` in the whole storm, so N shards together make exactly the
 * connections (and the bad ones) of one runner, and a merge of their reports adds up to one run's totals.
 */

/** One connection a shard will open. */
export interface PlannedConnection {
  /** Index in the whole storm, 0-based. */
  readonly n: number;
  readonly clientId: string;
  readonly badCredentials: boolean;
  /** When it arrives, in milliseconds after the shard started. */
  readonly offsetMs: number;
}

/** A fraction is kept in billionths so that "every k-th" is exact integer arithmetic (0.57 is 570000000). */
const FRACTION_SCALE = 1_000_000_000;

/**
 * Whether connection `n` is sent with wrong credentials: when floor((n+1)·f) > floor(n·f). Over the first N
 * connections that is floor(N·f) of them, spread evenly (every 1/f-th), whatever the sharding.
 */
export function isBadCredentials(n: number, fraction: number): boolean {
  const scaled = Math.round(fraction * FRACTION_SCALE);
  return Math.floor(((n + 1) * scaled) / FRACTION_SCALE) > Math.floor((n * scaled) / FRACTION_SCALE);
}

/** How many of `connections` are bad: floor(connections · fraction), in the same arithmetic. */
export function badCredentialsCount(connections: number, fraction: number): number {
  return Math.floor((connections * Math.round(fraction * FRACTION_SCALE)) / FRACTION_SCALE);
}

/** The storm indexes shard `i` of `count` makes: those with n % count == i - 1, ascending. */
export function shardIndexes(connections: number, shard: ShardSpec): number[] {
  const indexes: number[] = [];
  for (let n = shard.index - 1; n < connections; n += shard.count) indexes.push(n);
  return indexes;
}

/** Each shard runs its share of the rate, so the shards together arrive at `ratePerSecond`. */
export function shardRate(ratePerSecond: number, shard: ShardSpec): number {
  return ratePerSecond / shard.count;
}

/** The connections of one shard, with their arrival times at the shard's rate. */
export function planShard(options: {
  readonly connections: number;
  readonly ratePerSecond: number;
  readonly badCredentials: number;
  readonly shard: ShardSpec;
  readonly clientIdOf: (n: number) => string;
}): PlannedConnection[] {
  const rate = shardRate(options.ratePerSecond, options.shard);
  return shardIndexes(options.connections, options.shard).map((n, k) => ({
    n,
    clientId: options.clientIdOf(n),
    badCredentials: isBadCredentials(n, options.badCredentials),
    offsetMs: (k * 1000) / rate,
  }));
}

/** Seconds the arrivals of a shard take: the last one arrives at (connections in the shard - 1) / its rate. */
export function arrivalSeconds(connections: number, ratePerSecond: number, shard: ShardSpec): number {
  const count = shardIndexes(connections, shard).length;
  return count <= 1 ? 0 : (count - 1) / shardRate(ratePerSecond, shard);
}
