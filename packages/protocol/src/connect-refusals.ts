import type { IotConnectFailureReason } from './iot-log-events';

/** Where a refusal is decided: before any MQTT (TLS), in AWS IoT before or around the Lambda, or by the Lambda. */
export type RefusalStage = 'tls' | 'iot' | 'lambda' | 'policy';

/** One cause of a refused connection and how each party reports it. */
export interface ConnectRefusal {
  readonly stage: RefusalStage;
  /** MQTT 5 CONNACK reason code; `undefined` when no CONNACK is sent (the TLS connection is closed). */
  readonly connack: number | undefined;
  /** AWSIotLogsV2 Connect entry's `reason`. */
  readonly iotLogReason: IotConnectFailureReason;
  /** Whether the authorizer Lambda runs (so its log group has a decision line). */
  readonly lambdaInvoked: boolean;
  /** The authorizer Lambda's decision reason codes that lead here (its `reason` field); empty if it is not involved. */
  readonly decisionReasons: readonly string[];
  /** The fix, in one line. */
  readonly fix: string;
}

/**
 * The one table of connect refusals: cause → CONNACK code → the authorizer's decision reasons → the
 * AWSIotLogsV2 reason. local-iot's pipeline answers exactly these codes (its tests run each cause through the
 * pipeline and compare), the Lambda's decision reasons are each listed once (authorizer-lambda's test), and
 * the client explains a refusal from them.
 *
 * Which CONNACK code AWS IoT sends for each custom-auth failure is not documented (spec §5); the choice is:
 * the authorizer answered `isAuthenticated: false` → 0x86 Bad user name or password; everything else → 0x87
 * Not authorized (a policy without `iot:Connect` on the client id gives 0x87 on AWS [seen]). An unsafe
 * client id is refused by the Lambda (`UNSAFE_CLIENT_ID`, `isAuthenticated: false`), so it is **0x86**; a
 * client id outside the prefix (or another device's id) is authenticated and refused by the policy: **0x87**;
 * a failure of the authorizer itself is an authenticated deny-all policy, so also **0x87**. The AWSIotLogsV2
 * entry cannot tell those last two apart (both `AUTHORIZATION_FAILURE`): the decision line's reason does.
 */
export const CONNECT_REFUSALS = {
  CLIENT_ID_TOO_LONG: {
    stage: 'iot',
    connack: 0x85,
    iotLogReason: 'CLIENT_ID_INVALID',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'use a client id of at most 128 bytes (MQTT 3.1.1: an empty client id needs clean session)',
  },
  UNSUPPORTED_PROTOCOL_VERSION: {
    stage: 'iot',
    connack: 0x84,
    iotLogReason: 'UNSUPPORTED_PROTOCOL_VERSION',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'connect with MQTT 5 or 3.1.1',
  },
  SERVER_ERROR: {
    stage: 'iot',
    connack: 0x80,
    iotLogReason: 'SERVER_ERROR',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'the gateway failed while deciding: retry, and read its log',
  },
  SERVER_NAME_MISMATCH: {
    stage: 'tls',
    connack: undefined,
    iotLogReason: 'SERVER_NAME_MISMATCH',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'connect to the endpoint host name (TLS SNI), not an IP address or another name',
  },
  CUSTOM_AUTH_NOT_NEGOTIATED: {
    stage: 'tls',
    connack: undefined,
    iotLogReason: 'CUSTOM_AUTH_NOT_NEGOTIATED',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: "use port 443 with ALPN 'mqtt', or MQTT over WebSockets",
  },
  NO_AUTHORIZER: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_NOT_FOUND',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'name the authorizer (x-amz-customauthorizer-name) or set a default authorizer',
  },
  AUTHORIZER_NOT_FOUND: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_NOT_FOUND',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'use an authorizer name from the stack outputs (UnsignedAuthorizerName, SignedAuthorizerName)',
  },
  AUTHORIZER_INACTIVE: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_INACTIVE',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'set the authorizer ACTIVE (aws iot update-authorizer --status ACTIVE) or redeploy the stack',
  },
  SIGNATURE_MISSING: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_SIGNATURE_MISSING',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'the signed authorizer needs the token and x-amz-customauthorizer-signature',
  },
  SIGNATURE_INVALID: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_SIGNATURE_INVALID',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'sign the exact token with the private key matching the authorizer public key; standard base64, URL-encoded once',
  },
  PERMISSION_MISSING: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_PERMISSION_MISSING',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: 'add an AWS::Lambda::Permission for iot.amazonaws.com with SourceArn = the authorizer ARN',
  },
  LAMBDA_THROTTLED: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_LAMBDA_THROTTLED',
    lambdaInvoked: false,
    decisionReasons: [],
    fix: "raise the function's reserved concurrency, or connect fewer devices at once",
  },
  LAMBDA_TIMEOUT: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_LAMBDA_TIMEOUT',
    lambdaInvoked: true,
    decisionReasons: [],
    fix: 'the Lambda must answer within 5 s: look at its log group for the slow step',
  },
  LAMBDA_ERROR: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_LAMBDA_ERROR',
    lambdaInvoked: true,
    decisionReasons: [],
    fix: 'the Lambda failed: read the error in its log group',
  },
  INVALID_RESPONSE: {
    stage: 'iot',
    connack: 0x87,
    iotLogReason: 'AUTHORIZER_INVALID_RESPONSE',
    lambdaInvoked: true,
    decisionReasons: [],
    fix: 'return isAuthenticated, an alphanumeric principalId, at most 10 policy documents and TTLs of 300..86400',
  },
  NOT_AUTHENTICATED: {
    stage: 'lambda',
    connack: 0x86,
    iotLogReason: 'AUTHENTICATION_FAILURE',
    lambdaInvoked: true,
    decisionReasons: [
      'MALFORMED_EVENT',
      'UNSAFE_CLIENT_ID',
      'TOKEN_MISSING',
      'TOKEN_MALFORMED',
      'TOKEN_EXPIRED',
      'TOKEN_NOT_YET_VALID',
      'TOKEN_LIFETIME_TOO_LONG',
      'TOKEN_CLIENT_ID_MISMATCH',
      'TOKEN_CLIENT_ID_NOT_ALLOWED',
      'MISSING_CREDENTIALS',
      'CREDENTIALS_TOO_LONG',
      'PASSWORD_NOT_BASE64',
      'MALFORMED_USERNAME',
      'USERNAME_NOT_CLIENT_ID',
      'UNKNOWN_DEVICE',
      'DEVICE_REVOKED',
      'BAD_PASSWORD',
      'X509_CERTIFICATE_MALFORMED',
      'X509_CERTIFICATE_NOT_YET_VALID',
      'X509_CERTIFICATE_EXPIRED',
      'X509_SUBJECT_CN_INVALID',
      'X509_CLIENT_ID_MISSING',
      'X509_CLIENT_ID_MISMATCH',
      'X509_CERTIFICATE_NOT_TRUSTED',
    ],
    fix: "the authorizer refused the credentials: its decision line's reason says which check failed",
  },
  CONNECT_NOT_ALLOWED: {
    stage: 'policy',
    connack: 0x87,
    iotLogReason: 'AUTHORIZATION_FAILURE',
    lambdaInvoked: true,
    decisionReasons: ['CLIENT_ID_OUTSIDE_PREFIX', 'CLIENT_ID_NOT_DEVICE'],
    fix: 'use a client id the returned policy allows iot:Connect for (the device id, under ClientIdPrefix)',
  },
  AUTHORIZER_FAILURE: {
    stage: 'lambda',
    connack: 0x87,
    iotLogReason: 'AUTHORIZATION_FAILURE',
    lambdaInvoked: true,
    decisionReasons: [
      'SECRET_UNAVAILABLE',
      'SECRET_INVALID',
      'INVALID_FUNCTION_ARN',
      'INTERNAL_ERROR',
      'X509_PRINCIPAL_ID_INVALID',
      'X509_PRINCIPAL_ID_MISMATCH',
    ],
    fix: "the authorizer could not check the credentials (it answers an authenticated deny-all): read its log group's ERROR line",
  },
} as const satisfies Readonly<Record<string, ConnectRefusal>>;

/** A refusal cause: `AUTHORIZER_NOT_FOUND`, `NOT_AUTHENTICATED`, ... */
export type ConnectRefusalCause = keyof typeof CONNECT_REFUSALS;

/** The authorizer's allow reasons: the connect goes on to the policy check. */
export const ALLOW_DECISION_REASONS = ['PASSWORD_OK', 'TOKEN_OK', 'X509_OK'] as const;

/** The cause an authorizer decision reason leads to, or undefined for an allow (or an unknown code). */
export function refusalCauseOfDecision(reason: string): ConnectRefusalCause | undefined {
  for (const [cause, row] of Object.entries(CONNECT_REFUSALS) as [ConnectRefusalCause, ConnectRefusal][]) {
    if (row.decisionReasons.includes(reason)) return cause;
  }
  return undefined;
}

/** The cause an AWSIotLogsV2 `reason` names (the first row with it), or undefined. */
export function refusalCauseOfIotLogReason(reason: string): ConnectRefusalCause | undefined {
  const found = (Object.entries(CONNECT_REFUSALS) as [ConnectRefusalCause, ConnectRefusal][]).find(
    ([, row]) => row.iotLogReason === reason,
  );
  return found?.[0];
}
