/**
 * The lines Lambda itself writes in a function's log around each invocation, in the function's
 * `LoggingConfig.LogFormat`:
 *
 * - Text: `START RequestId: <id> Version: $LATEST`, `END RequestId: <id>` and `REPORT RequestId: <id>` with
 *   tab-separated `Duration`, `Billed Duration`, `Memory Size`, `Max Memory Used`, `Init Duration` (cold
 *   starts) and, for a timeout or a runtime failure, `Status` and `Error Type`; a timeout's
 *   `<id> Task timed out after N.NN seconds`; a runtime exit's `RequestId: <id> Error: Runtime exited with
 *   error: <how>` followed by its error type.
 * - JSON: one object per line, `{"time","type":"platform.start","record":{"requestId","functionArn","version"}}`
 *   and `{"time","type":"platform.report","record":{"requestId","metrics":{"durationMs","billedDurationMs",
 *   "memorySizeMB","maxMemoryUsedMB","initDurationMs"?},"status","errorType"?}}`, where `status` is
 *   `success`, `error` or `timeout` (the Telemetry API's values): no END line, and a timeout or a crash is told
 *   by the report's status and error type.
 *
 * Lambda's Text lines carry a timestamp where the platform writes one; local-iot's function log leaves the
 * timestamps out, for the console lines too.
 */
import type { LocalFunction } from '../deployment/local-deployment';

/** How an invocation ended, as `platform.report` tells it. */
export type InvocationStatus = 'success' | 'error' | 'timeout';

/** The figures of one invocation's REPORT. */
export interface InvocationReport {
  readonly requestId: string;
  /** From the start of the invocation (after any Init) to its end. */
  readonly durationMs: number;
  /** Set on the invocation that started its environment (a cold start). */
  readonly initDurationMs?: number;
  readonly maxMemoryUsedMb: number;
  readonly status: InvocationStatus;
  /** The error's type, for status `error`. */
  readonly errorType?: string;
  /** Whether Text's REPORT names the status: a timeout or a runtime failure does, a handler's error does not. */
  readonly platformFailure: boolean;
}

/** Lambda bills the invocation and, on a cold start, its Init phase, rounded up to the millisecond. */
export function billedDurationMs(report: Pick<InvocationReport, 'durationMs' | 'initDurationMs'>): number {
  return Math.ceil(report.durationMs + (report.initDurationMs ?? 0));
}

/** Formats the platform's lines for one function (each returned without the `[function]` prefix). */
export class PlatformLog {
  private readonly json: boolean;

  constructor(private readonly fn: LocalFunction) {
    this.json = fn.logFormat === 'JSON';
  }

  start(requestId: string): string[] {
    if (this.json) {
      return [this.record('platform.start', { requestId, functionArn: this.fn.arn, version: '$LATEST' })];
    }
    return [`START RequestId: ${requestId} Version: $LATEST`];
  }

  /** The timeout line (Text only: JSON tells it by the report's status). */
  timedOut(requestId: string, seconds: number): string[] {
    return this.json ? [] : [`${requestId} Task timed out after ${seconds.toFixed(2)} seconds`];
  }

  /** The runtime exit lines (Text only: JSON tells it by the report's status and error type). */
  runtimeExited(requestId: string, how: string, errorType: string): string[] {
    return this.json ? [] : [`RequestId: ${requestId} Error: Runtime exited with error: ${how}`, errorType];
  }

  /** END and REPORT. */
  end(report: InvocationReport): string[] {
    const { requestId, durationMs, initDurationMs, maxMemoryUsedMb, status, errorType } = report;
    const billed = billedDurationMs(report);
    if (this.json) {
      return [
        this.record('platform.report', {
          requestId,
          metrics: {
            durationMs: round(durationMs, 3),
            billedDurationMs: billed,
            memorySizeMB: this.fn.memorySizeMb,
            maxMemoryUsedMB: maxMemoryUsedMb,
            ...(initDurationMs !== undefined && { initDurationMs: round(initDurationMs, 3) }),
          },
          status,
          ...(errorType !== undefined && { errorType }),
        }),
      ];
    }
    const fields = [
      `REPORT RequestId: ${requestId}`,
      `Duration: ${durationMs.toFixed(2)} ms`,
      `Billed Duration: ${billed} ms`,
      `Memory Size: ${this.fn.memorySizeMb} MB`,
      `Max Memory Used: ${maxMemoryUsedMb} MB`,
      ...(initDurationMs === undefined ? [] : [`Init Duration: ${initDurationMs.toFixed(2)} ms`]),
      ...(report.platformFailure ? [`Status: ${status}`] : []),
      ...(report.platformFailure && errorType !== undefined ? [`Error Type: ${errorType}`] : []),
    ];
    return [`END RequestId: ${requestId}`, fields.join('\t')];
  }

  private record(type: string, record: Record<string, unknown>): string {
    return JSON.stringify({ time: new Date().toISOString(), type, record });
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
