import type { DiagnoseCheckReport } from '@iot-custom-auth/protocol';

/**
 * One check's outcome. A failed check is hard (the checks stop: what follows depends on it) unless it says
 * otherwise with `hard: false`; a passed check is never hard.
 */
export interface CheckResult extends DiagnoseCheckReport {
  /** @default true for a failed check */
  readonly hard?: boolean;
}

/** Whether the checks stop after `result`. */
export function stopsAfter(result: CheckResult): boolean {
  return !result.ok && result.hard !== false;
}

/** `✔ tls: ...` or `✘ tls: ...` with the fix on the next line. */
export function checkLines(result: CheckResult): string[] {
  const head = `${result.ok ? '✔' : '✘'} ${result.check}: ${result.detail}`;
  return result.fix === undefined ? [head] : [head, `    fix: ${result.fix}`];
}

/** The report form: without `hard`. */
export function checkReport(result: CheckResult): DiagnoseCheckReport {
  return {
    check: result.check,
    ok: result.ok,
    detail: result.detail,
    ...(result.fix === undefined ? {} : { fix: result.fix }),
  };
}
