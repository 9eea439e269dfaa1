import { isRecord } from '@iot-custom-auth/protocol';
import type { LogRecord } from './log-search';

/**
 * Reading the two kinds of record a refusal leaves: AWS IoT's own log entries (`AWSIotLogsV2`, JSON with an
 * `eventType`) and the authorizer Lambda's decision line (one JSON object per decision, written as the
 * runtime's JSON log `message` or after the text format's `timestamp\trequestId\tLEVEL\t` prefix). Every field
 * is untrusted: a record that is not what is expected is skipped, never thrown on.
 */

/** The fields of an AWS IoT log entry the explanation uses (the rest are ignored). */
export interface IotLogFact {
  readonly source: 'iot';
  readonly record: LogRecord;
  readonly eventType: string;
  /** `Success` or `Failure`. */
  readonly status?: string;
  /** AWS IoT's reason code for a failure, e.g. `AUTHORIZATION_FAILURE`. */
  readonly reason?: string;
  /** The failure in words. */
  readonly details?: string;
  readonly clientId?: string;
  readonly authorizerName?: string;
}

/** The fields of the authorizer's decision line the explanation uses. */
export interface DecisionFact {
  readonly source: 'authorizer';
  readonly record: LogRecord;
  readonly decision: 'ALLOW' | 'DENY';
  /** The authorizer's reason code, e.g. `BAD_PASSWORD`. */
  readonly reason: string;
  readonly detail?: string;
  readonly clientId?: string;
}

export type LogFact = IotLogFact | DecisionFact;

/** The record as a fact, or `undefined` when it is neither an AWS IoT entry nor a decision line. */
export function readFact(record: LogRecord): LogFact | undefined {
  const object = jsonObjectIn(record.message);
  if (object === undefined) return undefined;
  if (record.kind === 'iot') return iotFact(record, object);
  // The runtime's JSON log format wraps what the function logged in `message`.
  const entry = isRecord(object.message) ? object.message : (parsedString(object.message) ?? object);
  return decisionFact(record, entry);
}

function iotFact(record: LogRecord, entry: Record<string, unknown>): IotLogFact | undefined {
  const eventType = text(entry.eventType);
  if (eventType === undefined) return undefined;
  return {
    source: 'iot',
    record,
    eventType,
    ...optional('status', text(entry.status)),
    ...optional('reason', text(entry.reason)),
    ...optional('details', text(entry.details)),
    ...optional('clientId', text(entry.clientId)),
    ...optional('authorizerName', text(entry.authorizerName) ?? text(entry.customAuthorizerName)),
  };
}

function decisionFact(record: LogRecord, entry: Record<string, unknown>): DecisionFact | undefined {
  const decision = entry.decision;
  const reason = text(entry.reason);
  if ((decision !== 'ALLOW' && decision !== 'DENY') || reason === undefined) return undefined;
  return {
    source: 'authorizer',
    record,
    decision,
    reason,
    ...optional('detail', text(entry.detail)),
    ...optional('clientId', text(entry.clientId)),
  };
}

/** The JSON object the line is, or ends with (the text log format puts a prefix before it). */
function jsonObjectIn(message: string): Record<string, unknown> | undefined {
  const trimmed = message.trim();
  const whole = parsedString(trimmed);
  if (whole !== undefined) return whole;
  const start = trimmed.indexOf('{');
  return start > 0 ? parsedString(trimmed.slice(start)) : undefined;
}

function parsedString(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string' || !value.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
