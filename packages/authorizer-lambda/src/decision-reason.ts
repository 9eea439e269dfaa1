/**
 * Every reason code the authorizer logs with a decision, and what it means. The code is in the log line's
 * `reason` field; it is the first thing to look at when a device is refused.
 */
export const DECISION_REASONS = {
  // Allow
  PASSWORD_OK: 'unsigned: the user name and password match the device secret',
  TOKEN_OK: 'signed: AWS IoT verified the signature and the token claims hold',
  CLIENT_ID_OUTSIDE_PREFIX:
    'valid credentials, but the client id does not start with the prefix: the returned connect policy only allows client/<prefix>*, so AWS IoT refuses the connect (0x87 not authorized)',
  // Deny: the event
  MALFORMED_EVENT: 'the event, its protocolData, mqtt or clientId has the wrong type',
  UNSAFE_CLIENT_ID:
    'the client id is empty, longer than 128 bytes or has characters other than A-Z a-z 0-9 _ . : -',
  // Deny: signed mode
  TOKEN_MISSING: 'signed: signatureVerified is true but there is no token',
  TOKEN_MALFORMED:
    'signed: the token is not base64url JSON claims, is too long or expires before it is issued',
  TOKEN_EXPIRED: 'signed: the token expired (beyond the clock skew)',
  TOKEN_NOT_YET_VALID: 'signed: the token is issued in the future (beyond the clock skew)',
  TOKEN_LIFETIME_TOO_LONG: 'signed: exp - iat exceeds the maximum token lifetime',
  TOKEN_CLIENT_ID_MISMATCH: 'signed: the token was issued for another client id than the one connecting',
  TOKEN_CLIENT_ID_NOT_ALLOWED: "signed: the token's client id is unsafe or does not start with the prefix",
  // Deny: unsigned mode
  MISSING_CREDENTIALS: 'unsigned: no MQTT username or password in the event',
  CREDENTIALS_TOO_LONG: 'unsigned: the username or password is longer than MQTT allows',
  PASSWORD_NOT_BASE64: 'unsigned: the password in the event is not standard base64',
  UNKNOWN_USERNAME: 'unsigned: the user name (before ?) is not the device user name',
  BAD_PASSWORD: 'unsigned: the user name matches but the password does not',
  // Deny: the authorizer itself (logged at error level)
  SECRET_UNAVAILABLE: 'Secrets Manager failed or did not answer in time',
  SECRET_INVALID: 'the device secret is not {"username": ..., "password": ...} JSON',
  INVALID_FUNCTION_ARN: 'the invoked function ARN gives no partition, region and account for the policy',
  INTERNAL_ERROR: 'an unexpected error; the decision is deny (fail closed)',
} as const;

/** A reason code: `PASSWORD_OK`, `TOKEN_EXPIRED`, `SECRET_UNAVAILABLE`... */
export type DecisionReason = keyof typeof DECISION_REASONS;

/** Reasons that are the authorizer's or its environment's fault rather than the device's. */
export const INTERNAL_FAILURE_REASONS: ReadonlySet<DecisionReason> = new Set<DecisionReason>([
  'SECRET_UNAVAILABLE',
  'SECRET_INVALID',
  'INVALID_FUNCTION_ARN',
  'INTERNAL_ERROR',
]);
