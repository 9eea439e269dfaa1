import { DEFAULTS, refusalCauseOfDecision } from '@iot-custom-auth/protocol';
import type { FailureContext } from '../diagnosis';
import type { DecisionFact } from './log-records';

/**
 * A cause (a key of protocol's `CONNECT_REFUSALS`, or `LAMBDA_NOT_INVOKED` / `UNKNOWN` where the records
 * show no row), the reason in words and what to do.
 */
export interface CauseText {
  readonly cause: string;
  readonly reason: string;
  readonly fix: string;
}

/**
 * The authorizer Lambda's decision line (its `reason` code, see authorizer-lambda's `decision-reason.ts`) in
 * words, with the fix. Only a token the client signed itself can be blamed on this machine's clock; a token
 * given on the command line was made elsewhere.
 */
export function decisionCause(fact: DecisionFact, context: FailureContext): CauseText {
  // protocol's table names the cause of each decision reason; an allow (or an unknown reason) names none.
  const cause =
    refusalCauseOfDecision(fact.reason) ?? (fact.decision === 'DENY' ? 'NOT_AUTHENTICATED' : 'UNKNOWN');
  return { cause, ...decisionText(fact, context) };
}

function decisionText(fact: DecisionFact, context: FailureContext): Omit<CauseText, 'cause'> {
  const said = fact.detail === undefined ? '' : ` (${fact.detail})`;
  const lambda = `the authorizer Lambda denied the connection: ${fact.reason}${said}`;
  const ownToken = context.signed && context.tokenOrigin === 'signed-here';
  switch (fact.reason) {
    case 'BAD_PASSWORD':
      return {
        reason: `the authorizer Lambda denied the connection: the user name matches but the password does not (BAD_PASSWORD)`,
        fix:
          context.passwordSource === 'flag'
            ? `--custom_auth_password is not the device's password: leave it out to read it from ${context.secretArn ?? 'the device secret'}`
            : `the device secret changed within the Lambda's ${DEFAULTS.secretCacheTtlSeconds} s cache, or the Lambda reads another secret: retry in ${DEFAULTS.secretCacheTtlSeconds} s`,
      };
    case 'UNKNOWN_USERNAME':
      return {
        reason: `the authorizer Lambda denied the connection: the user name is not the device's (UNKNOWN_USERNAME)`,
        fix: 'leave --custom_auth_username out (the client reads it from the device secret), or pass the secret\'s "username"',
      };
    case 'MISSING_CREDENTIALS':
    case 'PASSWORD_NOT_BASE64':
    case 'CREDENTIALS_TOO_LONG':
      return {
        reason: lambda,
        fix: 'send the device user name and password: leave --custom_auth_username/--custom_auth_password out to read them from the device secret',
      };
    case 'UNSAFE_CLIENT_ID':
      return {
        reason: `${lambda}: the client id ${context.clientId} is refused for its characters or length`,
        fix: `use a client id of letters, digits, _ . : and - only, starting with ${context.clientIdPrefix}: --client_id ${context.clientIdPrefix}<something>`,
      };
    case 'CLIENT_ID_OUTSIDE_PREFIX':
    case 'TOKEN_CLIENT_ID_NOT_ALLOWED':
      return {
        reason: `the policy the authorizer returned allows iot:Connect only on client/${context.clientIdPrefix}*, not on client/${context.clientId} (${fact.reason})`,
        fix: `--client_id ${context.clientIdPrefix}<something>`,
      };
    case 'TOKEN_EXPIRED':
    case 'TOKEN_NOT_YET_VALID':
      return {
        reason: lambda,
        fix: ownToken
          ? `this machine's clock is more than ${DEFAULTS.tokenClockSkewSeconds} s off the Lambda's: sync it (NTP)`
          : 'the token given with --custom_auth_token_value is outside its validity (iat..exp): sign a fresh one, or use --signed alone to let the client sign one',
      };
    case 'TOKEN_CLIENT_ID_MISMATCH':
      return {
        reason: lambda,
        fix: `the token was issued for another client id than ${context.clientId}: sign it for this id, or connect with the id it names`,
      };
    case 'TOKEN_MISSING':
    case 'TOKEN_MALFORMED':
    case 'TOKEN_LIFETIME_TOO_LONG':
      return {
        reason: lambda,
        fix: "let the client create the token (--signed without --custom_auth_token_value), or create it with protocol's createToken: base64url JSON {clientId, iat, exp}",
      };
    // Custom authentication with an X.509 client certificate (CUSTOM_AUTH_X509): the certificate AWS IoT verified
    // and the client id are judged by the authorizer, as authorizer-lambda's decision-reason.ts describes.
    case 'X509_CLIENT_ID_MISMATCH':
    case 'X509_CLIENT_ID_MISSING':
      return {
        reason: `${lambda}: a certificate is admitted only with its subject CN as the MQTT client id (no device may connect as another), and ${context.clientId} is not it`,
        fix: "leave --client_id out (the client then uses the certificate's subject CN), or connect with a certificate issued for this client id",
      };
    case 'X509_SUBJECT_CN_INVALID':
      return {
        reason: `${lambda}: the certificate's subject needs exactly one CN that is a safe client id starting with ${context.clientIdPrefix}`,
        fix: `issue (and register) a certificate with subject CN ${context.clientIdPrefix}<device>: letters, digits, _ . : and - only`,
      };
    case 'X509_CERTIFICATE_EXPIRED':
    case 'X509_CERTIFICATE_NOT_YET_VALID':
      return {
        reason: lambda,
        fix: "the certificate is outside its validity by the Lambda's clock: issue and register a new one, or sync this machine's and the Lambda's clocks (NTP)",
      };
    case 'X509_CERTIFICATE_NOT_TRUSTED':
      return {
        reason: lambda,
        fix: "the authorizer pins certificates (X509_TRUSTED_CERTIFICATE_FINGERPRINTS) and this one's SHA-256 is not listed: add it to the Lambda's setting, or use a listed certificate",
      };
    case 'X509_CERTIFICATE_MALFORMED':
    case 'X509_PRINCIPAL_ID_INVALID':
    case 'X509_PRINCIPAL_ID_MISMATCH':
      return {
        reason: lambda,
        fix: "the event did not carry the certificate as AWS IoT documents it (protocolData.tls): connect to the X.509 domain configuration's endpoint (X509Endpoint), where AWS IoT verifies the certificate and sends it to the authorizer",
      };
    case 'SECRET_UNAVAILABLE':
    case 'SECRET_INVALID':
    case 'INVALID_FUNCTION_ARN':
    case 'INTERNAL_ERROR':
      return {
        reason: lambda,
        fix: "the fault is the authorizer's, not the device's: read the Lambda's log group for the error and check its role and the device secret",
      };
    default:
      return {
        reason:
          fact.decision === 'DENY'
            ? lambda
            : `the authorizer Lambda allowed the connection (${fact.reason}), then AWS IoT refused it`,
        fix:
          fact.decision === 'DENY'
            ? "read the authorizer's decision reason above"
            : "check the Lambda's response (TTLs 300..86400, principalId, policies) and its policy's iot:Connect resource: npm run diagnose -w client",
      };
  }
}
