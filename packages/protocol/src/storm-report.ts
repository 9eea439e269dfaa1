import type { Transport } from './constants';

/**
 * The JSON object `npm run storm -w client -- --json` prints, and what `storm merge` reads back: the wire
 * contract between storm shards, the merge step and CI. Every summary figure is computed from `connections`,
 * so a merge of shard reports recomputes exactly what one run over the same connections would have printed.
 */
export interface StormReport {
  /** `iot-custom-auth-storm/1`: a reader refuses any other value. */
  readonly format: 'iot-custom-auth-storm/1';
  /** Every connection had its expected outcome and the run was neither cut short nor missing shards. */
  readonly ok: boolean;
  /** Shared by every shard of one storm; part of each client id. */
  readonly runId: string;
  /** How many shards the storm has, and which of them this report holds (1-based, ascending). */
  readonly shards: { readonly count: number; readonly included: readonly number[] };
  readonly target: StormTarget;
  readonly plan: StormPlanSettings;
  /** `completed`, or why the run stopped early (a merge keeps the first that is not `completed`). */
  readonly stoppedBy: StormStop;
  readonly summary: StormSummary;
  /** One entry per connection of the included shards, ordered by `n`. */
  readonly connections: readonly StormConnectionRecord[];
}

/** Why a storm (or one of its shards) stopped. */
export type StormStop = 'completed' | 'deadline' | 'interrupted';

/** Where the storm connected. */
export interface StormTarget {
  readonly endpoint: string;
  readonly port: number;
  readonly transport: Transport;
  readonly signed: boolean;
  /** `null`: the endpoint's default authorizer. */
  readonly authorizer: string | null;
  /** True when the endpoint is AWS IoT Core (no local-iot connection file, not a loopback host). */
  readonly aws: boolean;
}

/** The storm's settings, for the whole storm (not per shard). */
export interface StormPlanSettings {
  readonly connections: number;
  /** Arrivals per second, for the whole storm; each of `n` shards runs `ratePerSecond / n`. */
  readonly ratePerSecond: number;
  /** Connections open at once (opening, held, publishing or closing), per shard. */
  readonly concurrency: number;
  readonly holdSeconds: number;
  /** QoS 1 publishes per connection, on the device's own topic. */
  readonly publishPerConnection: number;
  /** Fraction of connections sent with wrong credentials (every k-th: see `StormConnectionRecord.badCredentials`). */
  readonly badCredentialsFraction: number;
  readonly deadlineSeconds: number;
  /** Bound on each connect, publish and disconnect. */
  readonly timeoutSeconds: number;
}

/** What happened to one connection. */
export type StormOutcome = 'connected' | 'refused' | 'error' | 'not-started';

/** One connection of the storm. */
export interface StormConnectionRecord {
  /** Index in the whole storm, 0-based; the shard is `n % shards.count + 1`. */
  readonly n: number;
  readonly clientId: string;
  /** Sent with wrong credentials on purpose: expected to be refused with CONNACK 0x86. */
  readonly badCredentials: boolean;
  readonly outcome: StormOutcome;
  /** Milliseconds since the epoch when the connect started; `null` when it never started. */
  readonly startedAt: number | null;
  /** Connect start to CONNACK (accepted or refused); `null` without a CONNACK. */
  readonly latencyMs: number | null;
  /** The CONNACK reason code; `null` without a CONNACK. */
  readonly reasonCode: number | null;
  /** Without a CONNACK: `tls`, `dns`, `socket-refused`, `unreachable`, `timeout`, `hangup`, `prepare`... */
  readonly errorKind: string | null;
  /** The error's own words (never a credential). */
  readonly errorMessage: string | null;
  /** QoS 1 publishes: acknowledged with success, refused (PUBACK 0x80 or above), or failed (no PUBACK). */
  readonly publishes: { readonly acknowledged: number; readonly refused: number; readonly failed: number };
  /** After CONNACK 0x00: `clean`, `unclean` (the client did not stop in time), or `lost` (the server or network ended it). */
  readonly disconnect: 'clean' | 'unclean' | 'lost' | null;
  /** True when this connection ended as the plan expects (good: 0x00, publishes acknowledged, clean close; bad: 0x86). */
  readonly expected: boolean;
}

/** Figures computed from the connection records. */
export interface StormSummary {
  readonly connections: number;
  readonly connected: number;
  readonly refused: number;
  readonly errors: number;
  readonly notStarted: number;
  readonly expected: number;
  readonly unexpected: number;
  /** Count per CONNACK reason code, ascending by code; `expected` is how many of them the plan expected. */
  readonly connack: readonly StormConnackCount[];
  /** Count per error kind (connections without a CONNACK), by kind name. */
  readonly errorsByKind: readonly { readonly kind: string; readonly count: number }[];
  /** Connect start to CONNACK, over every connection that got one. */
  readonly latencyMs: StormLatency;
  /** Latency histogram with fixed bucket bounds (the same for every run, so shards add up). */
  readonly histogram: readonly StormHistogramBucket[];
  /** CONNACKs and errors per second of the run, counted when they happened, from the earliest connect start. */
  readonly timeline: readonly StormTimelinePoint[];
  /** From the earliest connect start to the first refusal's CONNACK; `null` without refusals. */
  readonly timeToFirstRefusalMs: number | null;
  readonly publishes: {
    readonly requested: number;
    readonly acknowledged: number;
    readonly refused: number;
    readonly failed: number;
  };
  /** From the earliest connect start to the last CONNACK or error. */
  readonly durationMs: number;
  /** The Lambda's own durations when a source reported them; otherwise where to look. */
  readonly lambda: StormLambdaDurations;
}

export interface StormConnackCount {
  readonly reasonCode: number;
  readonly reasonName: string;
  readonly count: number;
  readonly expected: number;
}

export interface StormLatency {
  readonly count: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface StormHistogramBucket {
  /** Inclusive upper bound in milliseconds; `null` for the last, open bucket. */
  readonly upperBoundMs: number | null;
  readonly count: number;
}

export interface StormTimelinePoint {
  /** Whole seconds since the earliest connect start. */
  readonly second: number;
  readonly connected: number;
  readonly refused: number;
  readonly errors: number;
}

/** The client cannot see the authorizer's own run time: it says so and where to find it. */
export interface StormLambdaDurations {
  readonly available: false;
  readonly note: string;
}

/** What `storm --json` (or `storm merge --json`) prints instead of a report when it cannot run at all. */
export interface StormErrorReport {
  readonly ok: false;
  readonly error: { readonly kind: 'usage' | 'configuration' | 'runtime'; readonly message: string };
}
