import {
  CONNECT_REFUSALS,
  refusalCauseOfIotLogReason,
  type ConnectRefusalCause,
} from '@iot-custom-auth/protocol';
import { unacceptedCertificateCause, type FailureContext } from '../diagnosis';
import type { CauseText } from './decision-fixes';
import type { IotLogFact } from './log-records';

/**
 * When an entry's `reason` is not one of protocol's names (AWS does not document the list for custom
 * authentication), the words of its `details` pick the cause, in the order AWS IoT meets the steps.
 */
const CAUSES_BY_WORDS: readonly (readonly [RegExp, ConnectRefusalCause])[] = [
  [/no default authorizer|names no authorizer/i, 'NO_AUTHORIZER'],
  [/does not exist|not found/i, 'AUTHORIZER_NOT_FOUND'],
  [/INACTIVE/, 'AUTHORIZER_INACTIVE'],
  [/\bSNI\b|server ?name/i, 'SERVER_NAME_MISMATCH'],
  [/ALPN/, 'CUSTOM_AUTH_NOT_NEGOTIATED'],
  [/no token|sent no .*signature/i, 'SIGNATURE_MISSING'],
  [/signature/i, 'SIGNATURE_INVALID'],
  [/permission|InvokeFunction/i, 'PERMISSION_MISSING'],
  [/throttl|Rate Exceeded/i, 'LAMBDA_THROTTLED'],
  [/timed out|time ?out/i, 'LAMBDA_TIMEOUT'],
  [
    /refreshAfterInSeconds|disconnectAfterInSeconds|principalId|policyDocuments|invalid response/i,
    'INVALID_RESPONSE',
  ],
  [/isAuthenticated: false|not authenticated/i, 'NOT_AUTHENTICATED'],
  [/iot:Connect/, 'CONNECT_NOT_ALLOWED'],
  [/error|exit|crash|failed/i, 'LAMBDA_ERROR'],
];

/**
 * The row of protocol's table whose AWSIotLogsV2 reason the entry has; of several rows with that reason (an
 * unknown and a missing authorizer name), the one the details' words or the attempt point to.
 */
function causeOf(
  reason: string | undefined,
  details: string,
  context: FailureContext,
): ConnectRefusalCause | undefined {
  const byWords = CAUSES_BY_WORDS.find(([words]) => words.test(details))?.[1];
  if (reason === undefined || refusalCauseOfIotLogReason(reason) === undefined) return byWords;
  const rows = (Object.keys(CONNECT_REFUSALS) as ConnectRefusalCause[]).filter(
    (cause) => CONNECT_REFUSALS[cause].iotLogReason === reason,
  );
  if (rows.length === 1) return rows[0];
  if (byWords !== undefined && rows.includes(byWords)) return byWords;
  if (rows.includes('NO_AUTHORIZER') && rows.includes('AUTHORIZER_NOT_FOUND')) {
    return context.authorizerName === undefined ? 'NO_AUTHORIZER' : 'AUTHORIZER_NOT_FOUND';
  }
  return rows[0];
}

/** The table's fix, made specific with what the client knows about the attempt. */
function fixFor(cause: ConnectRefusalCause, context: FailureContext): string {
  const table: string = CONNECT_REFUSALS[cause].fix;
  switch (cause) {
    case 'AUTHORIZER_NOT_FOUND':
      return `${table}: leave --custom_auth_authorizer_name out to use the stack's, or check the name, account and region`;
    case 'SIGNATURE_INVALID':
      return context.tokenOrigin === 'given'
        ? `${table} (or use --signed alone to let the client sign a fresh token)`
        : `${table}: the key in --token-signing-key does not match the deployed public key; redeploy with its public key`;
    case 'CONNECT_NOT_ALLOWED':
      return `${table}: --client_id ${context.clientIdPrefix}<something>`;
    case 'NOT_AUTHENTICATED':
      return context.signed
        ? `${table} (the token was refused)`
        : `${table}; leave --custom_auth_username/--custom_auth_password out to read them from the device secret`;
    default:
      return table;
  }
}

/**
 * An AWS IoT failure entry in words with its fix (its cause from protocol's table by the entry's `reason`,
 * else by the words of its `details`), or `undefined` when the entry is not a failure.
 */
export function iotCause(fact: IotLogFact, context: FailureContext): CauseText | undefined {
  if (fact.status !== undefined && fact.status.toLowerCase() !== 'failure') return undefined;
  const said = fact.details ?? fact.reason;
  if (said === undefined) return undefined;
  const reason = `AWS IoT refused the ${fact.eventType === 'Connect' ? 'connection' : fact.eventType}${
    fact.reason === undefined ? '' : ` (${fact.reason})`
  }: ${said}`;
  // A client certificate refused before custom authentication: the table's rows are all about the custom
  // authorizer's steps, and the fix is the certificate's registration.
  if (context.clientCertificateId !== undefined && /client certificate/i.test(said)) {
    return {
      cause: 'CLIENT_CERTIFICATE_NOT_ACCEPTED',
      reason,
      fix: unacceptedCertificateCause(context.clientCertificateId),
    };
  }
  const cause = causeOf(fact.reason, said, context);
  if (cause === undefined) {
    return {
      cause: 'UNKNOWN',
      reason,
      fix: 'check the authorizer, its Lambda and the port: npm run diagnose -w client',
    };
  }
  return { cause, reason, fix: fixFor(cause, context) };
}
