import {
  formatReasonCode,
  type StormConnectionRecord,
  type StormLatency,
  type StormReport,
} from '@iot-custom-auth/protocol';
import { latencyOf } from './storm-summary';

/** The storm's words for people: the progress line while it runs and the summary table at the end. */

const TRANSPORT_NAMES = { mqtt: 'direct MQTT/TLS (ALPN mqtt)', websockets: 'MQTT over WebSockets' } as const;

/** The summary table of a report (one run, or merged shards). */
export function summaryLines(report: StormReport): string[] {
  const { summary, target, plan } = report;
  const shards =
    report.shards.count === 1
      ? ''
      : ` shards ${report.shards.included.join(', ')} of ${report.shards.count}` +
        (report.shards.included.length < report.shards.count ? ' (some missing)' : '');
  const lines = [
    `Storm ${report.runId}${shards}: ${summary.connections} connections to ${target.endpoint}:${target.port} over ${TRANSPORT_NAMES[target.transport]}, ${target.signed ? 'signed' : 'unsigned'} authorizer ${target.authorizer ?? '(default)'}`,
    `  plan: ${plan.connections} connections at ${plan.ratePerSecond}/s, concurrency ${plan.concurrency}, hold ${plan.holdSeconds} s, ${plan.publishPerConnection} publishes each, bad credentials ${plan.badCredentialsFraction}`,
    '',
    `  ${'CONNACK'.padEnd(40)}${'count'.padStart(8)}${'expected'.padStart(10)}`,
  ];
  for (const row of summary.connack) {
    lines.push(
      `  ${`${formatReasonCode(row.reasonCode)} ${row.reasonName}`.padEnd(40)}${String(row.count).padStart(8)}${String(row.expected).padStart(10)}`,
    );
  }
  if (summary.connack.length === 0) lines.push('  (no CONNACK received)');
  lines.push('');
  lines.push(
    `  errors: ${summary.errorsByKind.length === 0 ? 'none' : summary.errorsByKind.map((e) => `${e.kind} ${e.count}`).join(', ')}` +
      (summary.notStarted > 0 ? `; not started: ${summary.notStarted}` : ''),
  );
  lines.push(`  latency (connect start to CONNACK): ${latencyText(summary.latencyMs)}`);
  lines.push(
    `  time to first refusal: ${summary.timeToFirstRefusalMs === null ? 'no refusal' : `${summary.timeToFirstRefusalMs} ms`}`,
  );
  if (plan.publishPerConnection > 0) {
    const p = summary.publishes;
    lines.push(
      `  publishes (QoS 1): ${p.requested} requested, ${p.acknowledged} acknowledged, ${p.refused} refused, ${p.failed} without PUBACK`,
    );
  }
  lines.push(`  Lambda durations: ${summary.lambda.note}`);
  lines.push(
    `  duration: ${(summary.durationMs / 1000).toFixed(1)} s; ${summary.expected} of ${summary.connections} as expected` +
      (report.stoppedBy === 'completed' ? '' : `; stopped early (${report.stoppedBy})`),
  );
  lines.push(`Result: ${report.ok ? 'as expected' : 'NOT as expected'}`);
  return lines;
}

function latencyText(latency: StormLatency): string {
  if (latency.count === 0) return 'no CONNACK';
  return `p50 ${latency.p50} ms, p90 ${latency.p90} ms, p99 ${latency.p99} ms, max ${latency.max} ms (${latency.count} CONNACKs)`;
}

/** The figures the progress line shows, kept up to date as records arrive. */
export class ProgressCounts {
  done = 0;
  connected = 0;
  errors = 0;
  open = 0;
  readonly refusedByCode = new Map<number, number>();
  readonly latencies: number[] = [];

  constructor(
    readonly total: number,
    private readonly startedAt: number,
  ) {}

  add(record: StormConnectionRecord): void {
    this.done++;
    if (record.latencyMs !== null) this.latencies.push(record.latencyMs);
    if (record.outcome === 'connected') this.connected++;
    else if (record.outcome === 'error') this.errors++;
    else if (record.outcome === 'refused' && record.reasonCode !== null) {
      this.refusedByCode.set(record.reasonCode, (this.refusedByCode.get(record.reasonCode) ?? 0) + 1);
    }
  }

  /** `storm 40/100: connected 35, refused 0x86 5, errors 0, open 3, 9.9/s, p50 12 ms, p99 40 ms` */
  line(now: number): string {
    const refused =
      this.refusedByCode.size === 0
        ? '0'
        : [...this.refusedByCode.entries()]
            .sort(([a], [b]) => a - b)
            .map(([code, count]) => `${formatReasonCode(code)} ${count}`)
            .join(', ');
    const seconds = Math.max(0.001, (now - this.startedAt) / 1000);
    const latency = latencyOf(this.latencies);
    const percentiles = latency.count === 0 ? 'p50 -, p99 -' : `p50 ${latency.p50} ms, p99 ${latency.p99} ms`;
    return `storm ${this.done}/${this.total}: connected ${this.connected}, refused ${refused}, errors ${this.errors}, open ${this.open}, ${(this.done / seconds).toFixed(1)}/s, ${percentiles}`;
  }
}

/**
 * The progress line on stderr: redrawn in place on a terminal, or printed as a plain line every
 * `plainEveryMs` when stderr is not one (CI logs keep every line).
 */
export class ProgressLine {
  #timer: NodeJS.Timeout | undefined;
  #lastPlain = 0;

  constructor(
    private readonly counts: ProgressCounts,
    private readonly options: {
      readonly write: (text: string) => void;
      readonly tty: boolean;
      readonly clock: () => number;
      readonly redrawEveryMs: number;
      readonly plainEveryMs: number;
    },
  ) {}

  start(): void {
    this.#lastPlain = this.options.clock();
    this.#timer = setInterval(() => this.#tick(), this.options.redrawEveryMs);
    this.#timer.unref();
  }

  #tick(): void {
    const now = this.options.clock();
    if (this.options.tty) {
      this.options.write(`\r\x1b[K${this.counts.line(now)}`);
    } else if (now - this.#lastPlain >= this.options.plainEveryMs) {
      this.#lastPlain = now;
      this.options.write(`${this.counts.line(now)}\n`);
    }
  }

  /** Stops redrawing and leaves the final figures on their own line. */
  stop(): void {
    clearInterval(this.#timer);
    const line = this.counts.line(this.options.clock());
    this.options.write(this.options.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  }
}
