import type { LogFormat } from './config';
import { INTERNAL_FAILURE_REASONS, type DecisionReason } from './decision-reason';

/**
 * How the device authenticated: a signed token, an MQTT user name and password, or an X.509 client
 * certificate AWS IoT verified (a CUSTOM_AUTH_X509 domain).
 */
export type AuthMode = 'signed' | 'unsigned' | 'x509';

/**
 * The one structured log line written per decision. It deliberately has no field that could hold the
 * password, token, signature, the username's query or the raw event.
 */
export interface DecisionLogEntry {
  readonly decision: 'ALLOW' | 'DENY';
  readonly reason: DecisionReason;
  /** Absent when the event was unusable before the mode could matter. */
  readonly mode?: AuthMode;
  /** Only a client id that passed validation (safe characters, at most 128 bytes). */
  readonly clientId?: string;
  /**
   * The device: on an allow, the one authenticated (unsigned: the user name's device id; signed: the token's
   * client id; x509: the subject CN); on an unsigned or x509 deny, the device the user name or certificate
   * claimed, once it is a safe id under the prefix. Never a password.
   */
  readonly deviceId?: string;
  /** AWS IoT's connection id, when it looks like one. */
  readonly connectionId?: string;
  /** x509: the event's certificate id (`protocolData.tls.principalId`), once it is 64 hex digits. */
  readonly certificateId?: string;
  /** x509: the certificate's subject CN, once it is a safe client id. Never the PEM. */
  readonly subjectCn?: string;
  readonly principalId: string;
  /** Time spent deciding, milliseconds. */
  readonly durationMs: number;
  /** A short explanation written by the authorizer (never copied from the event). */
  readonly detail?: string;
}

/** Writes a decision. */
export type DecisionLogger = (entry: DecisionLogEntry) => void;

/** The console methods the logger uses (the Lambda runtime patches them to add level and request id). */
export type LogTarget = Pick<Console, 'info' | 'warn' | 'error'>;

/**
 * A logger writing one line per decision through the console: allow at INFO, a device's deny at WARN, a
 * deny caused by the authorizer's environment (Secrets Manager down...) at ERROR, so alarms can key on level.
 *
 * With the runtime's JSON log format the entry is passed as an object and becomes the `message` of the
 * runtime's JSON line; with the text format (or outside Lambda) it is written as a one-line JSON string.
 */
export function createDecisionLogger(format: LogFormat, target: LogTarget = console): DecisionLogger {
  return (entry) => {
    const line = format === 'json' ? entry : JSON.stringify(entry);
    if (entry.decision === 'ALLOW') target.info(line);
    else if (INTERNAL_FAILURE_REASONS.has(entry.reason)) target.error(line);
    else target.warn(line);
  };
}
