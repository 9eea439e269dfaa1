import {
  isRecord,
  type StormConnectionRecord,
  type StormPlanSettings,
  type StormReport,
  type StormStop,
  type StormTarget,
} from '@iot-custom-auth/protocol';
import { ConfigError } from '../errors';
import { buildReport, STORM_REPORT_FORMAT } from './storm-summary';

/**
 * `storm merge`: shard reports (each written by `storm --json`) into one report of the whole storm. The
 * records are concatenated and every figure recomputed, so the totals are those of one run over the same
 * connections. The files are untrusted input: each is checked and a bad one named with what is wrong.
 */

/** Reads one shard report; `file` names it in errors. @throws ConfigError */
export function parseStormReport(text: string, file: string): StormReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${file} is not JSON: pass the output of storm --json`);
  }
  const problem = reportProblem(value);
  if (problem !== undefined) {
    throw new ConfigError(`${file} is not a storm report (${problem}): pass the output of storm --json`);
  }
  return value as StormReport;
}

/** Combines shard reports of one storm. @throws ConfigError when they are not shards of one storm. */
export function mergeReports(reports: readonly { file: string; report: StormReport }[]): StormReport {
  const [first] = reports;
  if (first === undefined) throw new ConfigError('storm merge needs at least one report');
  const seen = new Map<number, string>();
  for (const { file, report } of reports) {
    const differs = sameStorm(first.report, report);
    if (differs !== undefined) {
      throw new ConfigError(
        `${file} is not a shard of the same storm as ${first.file}: ${differs}. Merge only the reports of one storm (same --run-id and flags)`,
      );
    }
    for (const shard of report.shards.included) {
      const other = seen.get(shard);
      if (other !== undefined) {
        throw new ConfigError(
          `shard ${shard} is in both ${other} and ${file}: give each shard's report once`,
        );
      }
      seen.set(shard, file);
    }
  }
  return buildReport(
    {
      runId: first.report.runId,
      shards: { count: first.report.shards.count, included: [...seen.keys()].sort((a, b) => a - b) },
      target: first.report.target,
      plan: first.report.plan,
      stoppedBy: reports.map((r) => r.report.stoppedBy).find((s) => s !== 'completed') ?? 'completed',
    },
    reports.flatMap((r) => r.report.connections),
    true,
  );
}

/** Why `b` is not a shard of the same storm as `a`, or `undefined`. */
function sameStorm(a: StormReport, b: StormReport): string | undefined {
  if (a.runId !== b.runId) return `run id ${b.runId}, not ${a.runId}`;
  if (a.shards.count !== b.shards.count) return `${b.shards.count} shards, not ${a.shards.count}`;
  if (JSON.stringify(a.plan) !== JSON.stringify(b.plan))
    return 'other storm flags (--connections, --rate, ...)';
  if (JSON.stringify(a.target) !== JSON.stringify(b.target))
    return 'another endpoint, transport or authorizer';
  return undefined;
}

const STOPS: readonly StormStop[] = ['completed', 'deadline', 'interrupted'];
const OUTCOMES: readonly StormConnectionRecord['outcome'][] = [
  'connected',
  'refused',
  'error',
  'not-started',
];
const DISCONNECTS: readonly (StormConnectionRecord['disconnect'] & string)[] = ['clean', 'unclean', 'lost'];

function reportProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not a JSON object';
  if (value.format !== STORM_REPORT_FORMAT) return `"format" is not "${STORM_REPORT_FORMAT}"`;
  if (typeof value.runId !== 'string' || !/^[A-Za-z0-9]{1,20}$/.test(value.runId)) return 'no valid "runId"';
  if (!STOPS.includes(value.stoppedBy as StormStop)) return 'no valid "stoppedBy"';
  const shards = value.shards;
  if (
    !isRecord(shards) ||
    !isCount(shards.count) ||
    shards.count < 1 ||
    !Array.isArray(shards.included) ||
    shards.included.length === 0 ||
    !shards.included.every((s) => isCount(s) && s >= 1 && s <= (shards.count as number))
  ) {
    return 'no valid "shards" {count, included}';
  }
  const targetProblem = fieldsProblem(value.target, 'target', {
    endpoint: 'string',
    port: 'number',
    transport: 'string',
    signed: 'boolean',
    aws: 'boolean',
  } satisfies Partial<Record<keyof StormTarget, string>>);
  if (targetProblem !== undefined) return targetProblem;
  const planProblem = fieldsProblem(value.plan, 'plan', {
    connections: 'number',
    ratePerSecond: 'number',
    concurrency: 'number',
    holdSeconds: 'number',
    publishPerConnection: 'number',
    badCredentialsFraction: 'number',
    deadlineSeconds: 'number',
    timeoutSeconds: 'number',
  } satisfies Record<keyof StormPlanSettings, string>);
  if (planProblem !== undefined) return planProblem;
  if (!Array.isArray(value.connections)) return 'no "connections" array';
  const count = shards.count;
  const included = new Set(shards.included as number[]);
  for (const [index, record] of value.connections.entries()) {
    const problem = recordProblem(record);
    if (problem !== undefined) return `connections[${index}]: ${problem}`;
    const shard = ((record as StormConnectionRecord).n % count) + 1;
    if (!included.has(shard))
      return `connections[${index}] belongs to shard ${shard}, which the report does not include`;
  }
  return undefined;
}

function recordProblem(record: unknown): string | undefined {
  if (!isRecord(record)) return 'not an object';
  if (!isCount(record.n)) return 'no valid "n"';
  if (typeof record.clientId !== 'string') return 'no "clientId"';
  if (typeof record.badCredentials !== 'boolean' || typeof record.expected !== 'boolean') {
    return 'no boolean "badCredentials" and "expected"';
  }
  if (!OUTCOMES.includes(record.outcome as StormConnectionRecord['outcome'])) return 'no valid "outcome"';
  for (const key of ['startedAt', 'latencyMs'] as const) {
    const value = record[key];
    if (value !== null && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      return `"${key}" is neither a number of at least 0 nor null`;
    }
  }
  const code = record.reasonCode;
  if (code !== null && !(isCount(code) && code <= 0xff)) return '"reasonCode" is neither 0..255 nor null';
  for (const key of ['errorKind', 'errorMessage'] as const) {
    if (record[key] !== null && typeof record[key] !== 'string')
      return `"${key}" is neither a string nor null`;
  }
  if (record.disconnect !== null && !DISCONNECTS.includes(record.disconnect as 'clean')) {
    return 'no valid "disconnect"';
  }
  const publishes = record.publishes;
  if (
    !isRecord(publishes) ||
    !isCount(publishes.acknowledged) ||
    !isCount(publishes.refused) ||
    !isCount(publishes.failed)
  ) {
    return 'no valid "publishes"';
  }
  return undefined;
}

function fieldsProblem(
  value: unknown,
  name: string,
  fields: Readonly<Record<string, string>>,
): string | undefined {
  if (!isRecord(value)) return `no "${name}" object`;
  for (const [key, type] of Object.entries(fields)) {
    const field = value[key];
    if (typeof field !== type || (typeof field === 'number' && !(Number.isFinite(field) && field >= 0))) {
      return `"${name}.${key}" is not a ${type === 'number' ? 'number of at least 0' : type}`;
    }
  }
  return undefined;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
