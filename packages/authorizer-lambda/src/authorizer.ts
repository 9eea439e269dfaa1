import { createHash } from 'node:crypto';
import type { Context, IoTCustomAuthorizerResult, PolicyDocument } from 'aws-lambda';
import {
  arnContextOf,
  authorizerResponseProblems,
  buildDevicePolicies,
  checkTokenClaims,
  clientIdProblem,
  decodeToken,
  isRecord,
  DEVICE_SECRET_FIELDS,
  isStandardBase64,
  parseCustomAuthUsername,
  type IotArnContext,
  type IotPolicyDocument,
  type TokenClaimProblem,
} from '@iot-custom-auth/protocol';
import type { AuthorizerConfig } from './config';
import { matchDevicePassword } from './match-device-password';
import { createDecisionLogger, type AuthMode, type DecisionLogger } from './decision-log';
import { INTERNAL_FAILURE_REASONS, type DecisionReason } from './decision-reason';
import type { MasterSecretSource } from './master-secret-cache';
import { CredentialsUnavailableError } from './errors';
import { decideX509, isX509Event, type X509Facts } from './decide-x509';
import { own } from './own-property';

/** What `createHandler` builds the authorizer from. */
export interface AuthorizerDependencies {
  readonly config: AuthorizerConfig;
  /** The master secret the device passwords derive from, and the revocations (unsigned mode). */
  readonly masterSecret: MasterSecretSource;
  /** Where decisions are logged. @default createDecisionLogger(config.logFormat) */
  readonly log?: DecisionLogger;
  /** Clock for token expiry and the end of a rotation's grace period. @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * The authorizer: takes AWS IoT's event (treated as untrusted `unknown`) and always resolves to a response
 * that satisfies AWS IoT's rules; it never rejects. Assignable to `IoTCustomAuthorizerHandler`.
 */
export type AuthorizerHandler = (
  event: unknown,
  context: Pick<Context, 'invokedFunctionArn'>,
) => Promise<IoTCustomAuthorizerResult>;

/** `principalId` of every deny: AWS IoT requires one, and a deny has no principal to name. */
export const DENIED_PRINCIPAL_ID = 'denied';

/**
 * `principalId` of a refusal caused by the authorizer itself (Secrets Manager unreachable, a bug): the
 * credentials were never checked, so the answer must not be "bad user name or password" (0x86). The response
 * is authenticated with a policy that explicitly denies every action, which AWS IoT answers with 0x87 not
 * authorized, as it does for a Lambda error or timeout.
 */
export const UNVERIFIED_PRINCIPAL_ID = 'unverified';

/** The one policy of an internal-failure refusal: an explicit deny wins over everything (IAM logic). */
export const DENY_EVERYTHING_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'AuthorizerUnavailable', Effect: 'Deny', Action: 'iot:*', Resource: '*' }],
};

/** MQTT strings and binary data (username, password) are at most 65,535 bytes. */
const MAX_MQTT_FIELD_BYTES = 65_535;
/** The base64 length of the longest MQTT password. */
const MAX_PASSWORD_BASE64_LENGTH = 4 * Math.ceil(MAX_MQTT_FIELD_BYTES / 3);
/** AWS IoT connection ids are UUIDs; anything else is not logged. */
const CONNECTION_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

type Outcome =
  | {
      readonly decision: 'ALLOW';
      readonly reason: DecisionReason;
      /** What the principal id is derived from (a validated client id, or the authenticated device id). */
      readonly identity: string;
      /** The authenticated device (unsigned mode): the policies are for it alone. */
      readonly deviceId?: string;
      /** The principal id AWS IoT requires (x509: the certificate id); otherwise derived from `identity`. */
      readonly principalId?: string;
      readonly arnContext: Required<IotArnContext>;
    }
  | { readonly decision: 'DENY'; readonly reason: DecisionReason; readonly detail?: string };

/** What is known about the connection so far, for the log line. */
interface Facts extends X509Facts {
  mode?: AuthMode;
  clientId?: string;
  connectionId?: string;
  /** The device the user name names, once it is a safe id (unsigned), or the token's client id (signed). */
  deviceId?: string;
}

function deny(reason: DecisionReason, detail?: string): Outcome {
  return detail === undefined ? { decision: 'DENY', reason } : { decision: 'DENY', reason, detail };
}

/**
 * Builds the authorizer handler. `handler.ts` wires it to the environment and Secrets Manager at cold start;
 * tests and benchmarks build it from a config directly.
 *
 * Decision rules (fail closed: anything unexpected is a deny, never an exception):
 * - the event must be an object; `protocolData`, `protocolData.mqtt` objects and `mqtt.clientId` a string
 *   when present;
 * - a client id, when sent, must be safe for `${iot:ClientId}` policies; one outside the prefix with valid
 *   credentials is authenticated and logged as `CLIENT_ID_OUTSIDE_PREFIX`: the returned connect policy allows
 *   only `client/<prefix>*`, so AWS IoT refuses the connect as not authorized (0x87), which tells the device
 *   the truth (its credentials are fine, its client id is not), where a deny would say "bad password" (0x86);
 * - signed mode (`signatureVerified === true`): the token's claims must hold (expiry with clock skew,
 *   bounded lifetime, issued for the connecting client id);
 * - unsigned mode (anything else): the user name before `?` names the device (a safe client id under the
 *   prefix); the base64-decoded password must be the one derived for that device from the master key (or,
 *   during a rotation's grace period, the previous key), compared in constant time, and the device must not
 *   be revoked. The policies returned are that device's alone (`client/<deviceId>`, its own topics), so
 *   valid credentials with another client id are refused by AWS IoT (0x87), and no credentials check
 *   depends on the client id sent;
 * - x509 mode (`protocolData.tls.x509CertificatePem` present: a CUSTOM_AUTH_X509 domain, see `decide-x509.ts`):
 *   the certificate AWS IoT verified must be the one its id (`tls.principalId`) names, within its validity,
 *   with one subject CN that is a safe client id under the prefix and equals the MQTT client id; the response's
 *   `principalId` is the certificate id (AWS IoT requires it) and the policies are the CN's device policies;
 * - a failure of the authorizer itself (master secret unreadable, a bug) is an authenticated deny-all, which
 *   AWS IoT answers 0x87, never `isAuthenticated: false` (0x86 "bad user name or password"), since the
 *   credentials were never checked.
 *
 * When no client id is sent (TestInvokeAuthorizer, or a device letting AWS IoT assign one), the decision is
 * made on the credentials alone: the returned connect policy still only allows `client/<prefix>*`, so AWS IoT
 * refuses any other id, and a signed token must itself name a client id under the prefix.
 */
export function createHandler(deps: AuthorizerDependencies): AuthorizerHandler {
  const { config, masterSecret } = deps;
  const log = deps.log ?? createDecisionLogger(config.logFormat);
  const now = deps.now ?? (() => new Date());
  const arnContexts = new ArnContextCache();

  const ttls = {
    disconnectAfterInSeconds: config.disconnectAfterSeconds,
    refreshAfterInSeconds: config.refreshAfterSeconds,
  };
  const denyResult = (reason: DecisionReason): IoTCustomAuthorizerResult =>
    INTERNAL_FAILURE_REASONS.has(reason)
      ? {
          isAuthenticated: true,
          principalId: UNVERIFIED_PRINCIPAL_ID,
          ...ttls,
          policyDocuments: [DENY_EVERYTHING_POLICY],
        }
      : { isAuthenticated: false, principalId: DENIED_PRINCIPAL_ID, ...ttls, policyDocuments: [] };

  async function decide(event: unknown, context: unknown, facts: Facts): Promise<Outcome> {
    if (!isRecord(event)) return deny('MALFORMED_EVENT', 'the event is not a JSON object');
    // A certificate in the event means a CUSTOM_AUTH_X509 domain: it wins over signatureVerified.
    facts.mode = isX509Event(own(event, 'protocolData'))
      ? 'x509'
      : own(event, 'signatureVerified') === true
        ? 'signed'
        : 'unsigned';

    const connectionId = own(own(event, 'connectionMetadata'), 'id');
    if (typeof connectionId === 'string' && CONNECTION_ID_PATTERN.test(connectionId)) {
      facts.connectionId = connectionId;
    }

    const protocolData = own(event, 'protocolData');
    if (protocolData !== undefined && !isRecord(protocolData)) {
      return deny('MALFORMED_EVENT', 'protocolData is not an object');
    }
    const mqtt = own(protocolData, 'mqtt');
    if (mqtt !== undefined && !isRecord(mqtt)) {
      return deny('MALFORMED_EVENT', 'protocolData.mqtt is not an object');
    }
    const clientId = own(mqtt, 'clientId');
    if (clientId !== undefined) {
      if (typeof clientId !== 'string') {
        return deny('MALFORMED_EVENT', 'protocolData.mqtt.clientId is not a string');
      }
      const unsafe = clientIdProblem(clientId, '');
      if (unsafe !== undefined) return deny('UNSAFE_CLIENT_ID', unsafe);
      facts.clientId = clientId;
    }

    // The context comes from the Lambda runtime, not the device: read it plainly (it may use getters).
    const functionArn =
      typeof context === 'object' && context !== null
        ? (context as { invokedFunctionArn?: unknown }).invokedFunctionArn
        : undefined;
    const arnContext = arnContexts.of(functionArn);
    if (arnContext === undefined) {
      return deny('INVALID_FUNCTION_ARN', 'context.invokedFunctionArn is not a function ARN');
    }

    if (facts.mode === 'x509') return decideCertificate(own(protocolData, 'tls'), facts, arnContext);
    return facts.mode === 'signed'
      ? decideSigned(own(event, 'token'), facts.clientId, arnContext, own(protocolData, 'http') !== undefined)
      : decideUnsigned(mqtt, facts, arnContext);
  }

  /**
   * x509 mode (`decide-x509.ts`). The master secret is not read: AWS IoT refuses a revoked or inactive
   * certificate before invoking the Lambda, so an X.509 connect needs no Secrets Manager call.
   */
  function decideCertificate(tls: unknown, facts: Facts, arnContext: Required<IotArnContext>): Outcome {
    const decision = decideX509(
      {
        tls,
        clientId: facts.clientId,
        now: now(),
        clockSkewSeconds: config.tokenClockSkewSeconds,
        clientIdPrefix: config.clientIdPrefix,
        trustedFingerprints: config.x509TrustedFingerprints,
      },
      facts,
    );
    if (!decision.ok) return deny(decision.reason, decision.detail);
    return {
      decision: 'ALLOW',
      reason: 'X509_OK',
      identity: decision.deviceId,
      deviceId: decision.deviceId,
      principalId: decision.certificateId,
      arnContext,
    };
  }

  /** `overHttps`: an HTTPS publish (`protocolData.http`), which carries no client id. */
  function decideSigned(
    token: unknown,
    clientId: string | undefined,
    arnContext: Required<IotArnContext>,
    overHttps: boolean,
  ): Outcome {
    if (token === undefined || token === '') return deny('TOKEN_MISSING', 'the event has no token');
    const decoded = decodeToken(token);
    if (!decoded.ok) return deny('TOKEN_MALFORMED', decoded.reason);
    const problem = checkTokenClaims(decoded.claims, {
      now: now(),
      maxLifetimeSeconds: config.tokenMaxLifetimeSeconds,
      clockSkewSeconds: config.tokenClockSkewSeconds,
      ...(clientId === undefined ? {} : { clientId }),
    });
    if (problem !== undefined) return deny(TOKEN_CLAIM_REASONS[problem.code], problem.message);
    if (clientId === undefined) {
      // Nothing to bind the token to: at least hold its own client id to the same rules.
      const claimProblem = clientIdProblem(decoded.claims.clientId, config.clientIdPrefix);
      if (claimProblem !== undefined) {
        return deny('TOKEN_CLIENT_ID_NOT_ALLOWED', `token claim: ${claimProblem}`);
      }
      if (overHttps) {
        // `${iot:ClientId}` resolves to nothing on HTTPS: the policies name the token's device literally,
        // its own topics and nothing else.
        const deviceId = decoded.claims.clientId;
        return { decision: 'ALLOW', reason: 'TOKEN_OK', identity: deviceId, deviceId, arnContext };
      }
    }
    return { decision: 'ALLOW', reason: 'TOKEN_OK', identity: decoded.claims.clientId, arnContext };
  }

  async function decideUnsigned(
    mqtt: unknown,
    facts: Facts,
    arnContext: Required<IotArnContext>,
  ): Promise<Outcome> {
    const username = own(mqtt, 'username');
    const password = own(mqtt, 'password');
    if (typeof username !== 'string' || typeof password !== 'string' || password === '') {
      return deny(
        'MISSING_CREDENTIALS',
        'protocolData.mqtt.username and protocolData.mqtt.password must both be strings, the password non-empty',
      );
    }
    if (username.length > MAX_MQTT_FIELD_BYTES || password.length > MAX_PASSWORD_BASE64_LENGTH) {
      return deny('CREDENTIALS_TOO_LONG', 'the username or password is longer than MQTT allows');
    }
    if (!isStandardBase64(password)) {
      return deny('PASSWORD_NOT_BASE64', 'protocolData.mqtt.password is not standard base64');
    }
    const { user: deviceId } = parseCustomAuthUsername(username);
    if (deviceId === '') {
      return deny('MALFORMED_USERNAME', 'the MQTT username has no device id before its "?"');
    }
    const unsafe = clientIdProblem(deviceId, '');
    if (unsafe !== undefined) {
      return deny(
        'USERNAME_NOT_CLIENT_ID',
        `the user name is not a safe client id: ${unsafe.replace('client id ', '')}`,
      );
    }
    if (!deviceId.startsWith(config.clientIdPrefix)) {
      return deny('UNKNOWN_DEVICE', `device ids start with '${config.clientIdPrefix}'`);
    }
    // Logged from here on: an id under the prefix is a device's name, not something typed in the wrong field
    // (a password sent as the user name would otherwise reach the log).
    facts.deviceId = deviceId;
    // Cheap checks first: garbage never costs a Secrets Manager call.
    let secret;
    try {
      secret = await masterSecret.get();
    } catch (error) {
      if (error instanceof CredentialsUnavailableError) return deny(error.reason, error.message);
      return deny('SECRET_UNAVAILABLE', errorName(error));
    }
    // The password is checked before the revocation list, so only a holder of the device's password learns
    // that it is revoked; both are denied (0x86) either way.
    const passwordBytes = Buffer.from(password, 'base64');
    let match = matchDevicePassword(secret, deviceId, passwordBytes, now());
    if (!match.password && masterSecret.refreshAfterMismatch !== undefined) {
      // The cached secret may predate a rotation: a password of the new key must not wait out the TTL.
      const fresher = await masterSecret.refreshAfterMismatch();
      if (fresher !== undefined) match = matchDevicePassword(fresher, deviceId, passwordBytes, now());
    }
    if (!match.password) return deny('BAD_PASSWORD');
    if (match.revoked) {
      return deny(
        'DEVICE_REVOKED',
        `the device is in "${DEVICE_SECRET_FIELDS.revokedDevices}" of the master secret`,
      );
    }
    return { decision: 'ALLOW', reason: 'PASSWORD_OK', identity: deviceId, deviceId, arnContext };
  }

  function allowResult(
    outcome: Extract<Outcome, { decision: 'ALLOW' }>,
    mode: AuthMode,
  ): IoTCustomAuthorizerResult {
    const policies = buildDevicePolicies({
      ...outcome.arnContext,
      clientIdPrefix: config.clientIdPrefix,
      topicRoot: config.topicRoot,
      ...(outcome.deviceId === undefined ? {} : { deviceId: outcome.deviceId }),
    });
    return {
      isAuthenticated: true,
      principalId: outcome.principalId ?? principalIdOf(mode, outcome.identity),
      ...ttls,
      policyDocuments: policies.map(toPolicyDocument),
    };
  }

  return async (event, context) => {
    const started = performance.now();
    const facts: Facts = {};
    let outcome: Outcome;
    let result: IoTCustomAuthorizerResult;
    try {
      outcome = await decide(event, context, facts);
      result =
        outcome.decision === 'ALLOW'
          ? allowResult(outcome, facts.mode ?? 'unsigned')
          : denyResult(outcome.reason);
      // Defence in depth: an allow AWS IoT would reject as invalid is turned into an explicit, logged deny.
      const problems = authorizerResponseProblems(result);
      if (problems.length > 0) {
        outcome = deny('INTERNAL_ERROR', `the response would be invalid: ${problems.join('; ')}`);
        result = denyResult(outcome.reason);
      }
    } catch (error) {
      outcome = deny('INTERNAL_ERROR', errorName(error));
      result = denyResult(outcome.reason);
    }
    if (outcome.decision === 'ALLOW' && facts.clientId !== undefined) {
      if (outcome.deviceId !== undefined && facts.clientId !== outcome.deviceId) {
        outcome = { ...outcome, reason: 'CLIENT_ID_NOT_DEVICE' };
      } else if (!facts.clientId.startsWith(config.clientIdPrefix)) {
        outcome = { ...outcome, reason: 'CLIENT_ID_OUTSIDE_PREFIX' };
      }
    }
    if (outcome.decision === 'ALLOW' && facts.mode === 'signed') facts.deviceId = outcome.identity;
    try {
      log({
        decision: outcome.decision,
        reason: outcome.reason,
        ...(facts.mode === undefined ? {} : { mode: facts.mode }),
        ...(facts.clientId === undefined ? {} : { clientId: facts.clientId }),
        ...(facts.deviceId === undefined ? {} : { deviceId: facts.deviceId }),
        ...(facts.certificateId === undefined ? {} : { certificateId: facts.certificateId }),
        ...(facts.subjectCn === undefined ? {} : { subjectCn: facts.subjectCn }),
        ...(facts.connectionId === undefined ? {} : { connectionId: facts.connectionId }),
        principalId: result.principalId,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        ...(outcome.decision === 'DENY' && outcome.detail !== undefined ? { detail: outcome.detail } : {}),
      });
    } catch {
      // A failing log write must not turn a decision into an invoke error (AWS IoT would refuse anyway).
    }
    return result;
  };
}

/**
 * Partition, region and account of the invoked function, parsed once per ARN: a function keeps its ARN for
 * its lifetime (alias and version ARNs parse the same way).
 */
class ArnContextCache {
  private arn: string | undefined;
  private context: Required<IotArnContext> | undefined;

  of(arn: unknown): Required<IotArnContext> | undefined {
    if (typeof arn !== 'string') return undefined;
    if (arn !== this.arn) {
      try {
        this.context = arnContextOf(arn);
      } catch {
        return undefined;
      }
      this.arn = arn;
    }
    return this.context;
  }
}

/** The decision reason for each way a token's claims fail. */
const TOKEN_CLAIM_REASONS: Record<TokenClaimProblem['code'], DecisionReason> = {
  INVALID_LIFETIME: 'TOKEN_MALFORMED',
  LIFETIME_TOO_LONG: 'TOKEN_LIFETIME_TOO_LONG',
  NOT_YET_VALID: 'TOKEN_NOT_YET_VALID',
  EXPIRED: 'TOKEN_EXPIRED',
  CLIENT_ID_MISMATCH: 'TOKEN_CLIENT_ID_MISMATCH',
};

/**
 * `principalId` is alphanumeric (AWS IoT's rule) and pseudonymous: a hash of the mode and the identity, so
 * the same device gets the same principal across connections but no user name appears in it.
 */
function principalIdOf(mode: AuthMode, identity: string): string {
  return createHash('sha256').update(`${mode}\n${identity}`, 'utf8').digest('hex').slice(0, 32);
}

/** A mutable copy in `@types/aws-lambda`'s shape (the protocol's documents are readonly). */
function toPolicyDocument(document: IotPolicyDocument): PolicyDocument {
  return {
    Version: document.Version,
    Statement: document.Statement.map((statement) => ({
      ...(statement.Sid === undefined ? {} : { Sid: statement.Sid }),
      Effect: statement.Effect,
      Action: typeof statement.Action === 'string' ? statement.Action : [...statement.Action],
      Resource: typeof statement.Resource === 'string' ? statement.Resource : [...statement.Resource],
    })),
  };
}

/** The error's class name only: messages of unexpected errors could echo input. */
function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
