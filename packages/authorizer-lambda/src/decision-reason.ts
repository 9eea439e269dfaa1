/**
 * Every reason code the authorizer logs with a decision, and what it means. The code is in the log line's
 * `reason` field; it is the first thing to look at when a device is refused.
 */
export const DECISION_REASONS = {
  // Allow
  PASSWORD_OK:
    "unsigned: the password is the one derived for the device the user name names; the policies are that device's alone",
  CLIENT_ID_NOT_DEVICE:
    "unsigned: the device's password is right, but the client id is not its device id: the returned connect policy only allows client/<deviceId>, so AWS IoT refuses the connect (0x87 not authorized)",
  TOKEN_OK: 'signed: AWS IoT verified the signature and the token claims hold',
  X509_OK:
    "x509: AWS IoT verified the client certificate, it is within its validity, its subject CN is the client id and under the prefix; the policies are that device's alone",
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
  MALFORMED_USERNAME: 'unsigned: the MQTT username has nothing before its "?" (no device id)',
  USERNAME_NOT_CLIENT_ID:
    'unsigned: the user name (the device id) is not a safe client id (longer than 128 bytes or characters other than A-Z a-z 0-9 _ . : -)',
  UNKNOWN_DEVICE:
    'unsigned: no device of this stack has that id (device ids start with the client id prefix)',
  BAD_PASSWORD:
    "unsigned: the password is not the device's (under the current or, during a grace period, previous master key)",
  DEVICE_REVOKED: 'unsigned: the password is right but the device is revoked in the master secret',
  // Deny: x509 mode (custom authentication with an X.509 client certificate, a CUSTOM_AUTH_X509 domain)
  X509_CERTIFICATE_MALFORMED:
    'x509: protocolData.tls.x509CertificatePem is not exactly one PEM certificate that parses (not a string, empty, too long, garbage, truncated, or several certificates)',
  X509_CERTIFICATE_NOT_YET_VALID:
    "x509: the certificate's notBefore is later than now (beyond the clock skew)",
  X509_CERTIFICATE_EXPIRED: "x509: the certificate's notAfter is earlier than now (beyond the clock skew)",
  X509_SUBJECT_CN_INVALID:
    'x509: the subject has no CN, several CNs, or a CN that is not a safe client id under the prefix',
  X509_CLIENT_ID_MISSING:
    'x509: the device sent no MQTT client id, so the certificate cannot be bound to one (connect with client id = the subject CN)',
  X509_CLIENT_ID_MISMATCH:
    "x509: the MQTT client id is not the certificate's subject CN (no device may connect as another)",
  X509_CERTIFICATE_NOT_TRUSTED:
    "x509: pinning is on (X509_TRUSTED_CERTIFICATE_FINGERPRINTS) and the certificate's SHA-256 fingerprint is not listed",
  // Refused: the authorizer itself (logged at error level; answered with an explicit deny-all policy, so the
  // device gets 0x87 not authorized rather than 0x86: its credentials were never checked)
  SECRET_UNAVAILABLE: 'Secrets Manager failed or did not answer in time: the master secret is unreadable',
  SECRET_INVALID:
    'the master secret is not {"masterKey": ..., "revokedDevices": {...}} JSON (see the README)',
  INVALID_FUNCTION_ARN: 'the invoked function ARN gives no partition, region and account for the policy',
  INTERNAL_ERROR: 'an unexpected error; the decision is deny (fail closed)',
  X509_PRINCIPAL_ID_INVALID:
    'x509: protocolData.tls.principalId (the certificate id AWS IoT sends) is missing or not 64 hex digits: the event is not what AWS IoT documents',
  X509_PRINCIPAL_ID_MISMATCH:
    'x509: protocolData.tls.principalId is not the SHA-256 of the certificate: the event did not come from AWS IoT as documented (fail closed)',
} as const;

/** A reason code: `PASSWORD_OK`, `TOKEN_EXPIRED`, `SECRET_UNAVAILABLE`... */
export type DecisionReason = keyof typeof DECISION_REASONS;

/**
 * Reasons that are the authorizer's or its environment's fault rather than the device's: the device's
 * credentials were never checked, so the response is an authenticated explicit deny (0x87), not
 * `isAuthenticated: false` (which AWS IoT answers 0x86 "bad user name or password").
 */
export const INTERNAL_FAILURE_REASONS: ReadonlySet<DecisionReason> = new Set<DecisionReason>([
  'SECRET_UNAVAILABLE',
  'SECRET_INVALID',
  'INVALID_FUNCTION_ARN',
  'INTERNAL_ERROR',
  // The certificate id does not match the certificate: the device's certificate was never judged.
  'X509_PRINCIPAL_ID_INVALID',
  'X509_PRINCIPAL_ID_MISMATCH',
]);
