/**
 * The log records a refusal is explained from, in the shapes AWS writes them to CloudWatch Logs, shared by
 * the side that writes them (local-iot, and on AWS the Lambda and AWS IoT itself) and the side that reads
 * them (the client's explanation and `diagnose`), so neither has a "local" code path.
 *
 * - AWS IoT's own entries go to the log group `AWSIotLogsV2` once AWS IoT logging is on (account-wide
 *   `AWS::IoT::Logging`, opt-in in this stack). Shape: "CloudWatch AWS IoT log entries",
 *   https://docs.aws.amazon.com/iot/latest/developerguide/cwl-format.html (the Connect entry, and the common
 *   attributes `timestamp`, `logLevel`, `traceId`, `accountId`, `status`, `eventType`; failures add
 *   `reason` and `details`).
 * - The authorizer Lambda's one decision line per invocation goes to the function's log group (stack output
 *   `AuthorizerLogGroupName`); with the JSON log format it is the `message` of the runtime's JSON record.
 */

/** The log group AWS IoT writes to when logging is on (fixed by AWS, one per account and region). */
export const AWS_IOT_LOG_GROUP = 'AWSIotLogsV2';

/** AWS IoT's log levels (`AWS::IoT::Logging` `DefaultLogLevel`, SetV2LoggingOptions). */
export const IOT_LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'DISABLED'] as const;
export type IotLogLevel = (typeof IOT_LOG_LEVELS)[number];

/**
 * The `reason` of an AWSIotLogsV2 Connect failure. AWS documents the attribute but not the list of values
 * for custom authentication; these are this project's names (local-iot writes them, the client reads them,
 * and treats any other value as "unknown reason, read `details`"). `AUTHORIZATION_FAILURE` and
 * `AUTHENTICATION_FAILURE` follow the wording AWS IoT uses in its console and metrics.
 */
export const IOT_CONNECT_FAILURE_REASONS = [
  'CLIENT_ID_INVALID',
  'UNSUPPORTED_PROTOCOL_VERSION',
  'SERVER_ERROR',
  'AUTHORIZER_NOT_FOUND',
  'AUTHORIZER_INACTIVE',
  'AUTHORIZER_SIGNATURE_MISSING',
  'AUTHORIZER_SIGNATURE_INVALID',
  'AUTHORIZER_PERMISSION_MISSING',
  'AUTHORIZER_LAMBDA_ERROR',
  'AUTHORIZER_LAMBDA_TIMEOUT',
  'AUTHORIZER_LAMBDA_THROTTLED',
  'AUTHORIZER_INVALID_RESPONSE',
  'AUTHENTICATION_FAILURE',
  'AUTHORIZATION_FAILURE',
  'SERVER_NAME_MISMATCH',
  'CUSTOM_AUTH_NOT_NEGOTIATED',
] as const;
export type IotConnectFailureReason = (typeof IOT_CONNECT_FAILURE_REASONS)[number];

/**
 * An AWSIotLogsV2 `Connect` entry (one per connection attempt), as
 * https://docs.aws.amazon.com/iot/latest/developerguide/cwl-format.html shows it:
 * `{"timestamp":"2017-08-10 15:37:23.476","logLevel":"INFO","traceId":"...","accountId":"123456789012",
 * "status":"Success","eventType":"Connect","protocol":"MQTT","clientId":"...","principalId":"...",
 * "sourceIp":"205.251.233.181","sourcePort":13490}`; a failure has `logLevel` ERROR, `status` Failure and
 * `reason` / `details`.
 */
export interface IotConnectLogEntry {
  /** UTC, `YYYY-MM-DD HH:mm:ss.SSS` (see `formatIotLogTimestamp`). */
  readonly timestamp: string;
  readonly logLevel: 'INFO' | 'ERROR';
  /** One per connection attempt (local-iot: the connection id, also the Lambda event's `connectionMetadata.id`). */
  readonly traceId: string;
  readonly accountId: string;
  readonly status: 'Success' | 'Failure';
  readonly eventType: 'Connect';
  /** `MQTT` for direct MQTT and MQTT over WebSockets alike (AWS's values: MQTT, HTTP). */
  readonly protocol: 'MQTT' | 'HTTP';
  /** Absent when the device sent none and the attempt failed before one was assigned. */
  readonly clientId?: string;
  /** The authorizer's `principalId` on success. */
  readonly principalId?: string;
  readonly sourceIp?: string;
  readonly sourcePort?: number;
  /** Failure only. */
  readonly reason?: IotConnectFailureReason;
  /** Failure only: AWS's text is terse; local-iot writes the exact cause here (what it found, and the fix). */
  readonly details?: string;
}

/** Every AWSIotLogsV2 entry this project writes or reads. */
export type IotLogEntry = IotConnectLogEntry;

/** `2017-08-10 15:37:23.476`: AWS IoT's log timestamp, UTC. */
export function formatIotLogTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * The authorizer Lambda's decision line (authorizer-lambda's `DecisionLogEntry` extends it with its own
 * `reason` codes). It has no field that could hold a password, token, signature or the raw event.
 */
export interface AuthorizerDecisionLine {
  readonly decision: 'ALLOW' | 'DENY';
  /** A decision reason code (`BAD_PASSWORD`, `TOKEN_EXPIRED`, ...; see `CONNECT_REFUSALS`). */
  readonly reason: string;
  /** `x509`: custom authentication with an X.509 client certificate (a `CUSTOM_AUTH_X509` domain). */
  readonly mode?: 'signed' | 'unsigned' | 'x509';
  /** Only a client id that passed validation. */
  readonly clientId?: string;
  /** x509 mode: the AWS IoT certificate id (the event's `protocolData.tls.principalId`), once well-formed. */
  readonly certificateId?: string;
  /** x509 mode: the certificate's subject CN, once it is a safe client id. Never the PEM. */
  readonly subjectCn?: string;
  /** AWS IoT's connection id (the Lambda event's `connectionMetadata.id`). */
  readonly connectionId?: string;
  readonly principalId: string;
  readonly durationMs: number;
  readonly detail?: string;
}

/**
 * A Lambda JSON-format application log record (`LoggingConfig.LogFormat: JSON`): what the runtime writes for
 * `console.warn(object)`. The decision line is its `message`.
 */
export interface LambdaJsonLogRecord<Message = unknown> {
  readonly timestamp: string;
  readonly level: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
  readonly requestId?: string;
  readonly message: Message;
}
