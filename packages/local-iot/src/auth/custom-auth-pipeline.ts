import { randomUUID } from 'node:crypto';
import {
  AUTHORIZER_INVOKE_TIMEOUT_SECONDS,
  AUTHORIZER_NAME_PARAM,
  AUTHORIZER_SIGNATURE_PARAM,
  authorizerResponseProblems,
  clientArn,
  type IotPolicyDocument,
  isStandardBase64,
  MAX_CLIENT_ID_BYTES,
  parseCustomAuthUsername,
  usernameParam,
  verifyTokenSignature,
  safeDecodeURIComponent,
} from '@iot-custom-auth/protocol';
import type { AuthorizedSession, ConnectAttempt, ConnectAuthorizer, ConnectDecision } from './connect-types';
import type { InvocationResult, LambdaRunner } from '../lambda/lambda-runner';
import { MQTT_REASON_CODES } from '../gateway/mqtt-reason-codes';
import { findAuthorizer, type LocalAuthorizer, type LocalDeployment } from '../deployment/local-deployment';
import { evaluatePolicies, policyDocumentObjects, policyDocumentProblems } from './policy-engine';

/** What the pipeline needs. */
export interface CustomAuthPipelineOptions {
  readonly deployment: LocalDeployment;
  readonly runner: LambdaRunner;
  /** AWS IoT's limit on the authorizer Lambda. @default AUTHORIZER_INVOKE_TIMEOUT_SECONDS (5) × 1000 */
  readonly authorizerTimeoutMs?: number;
}

/** The body of an IoT `TestInvokeAuthorizer` request (REST JSON; `mqttContext.password` is base64). */
export interface TestInvokeRequest {
  readonly token?: string;
  readonly tokenSignature?: string;
  readonly httpContext?: {
    readonly headers?: Readonly<Record<string, string>>;
    readonly queryString?: string;
  };
  readonly mqttContext?: {
    readonly username?: string;
    readonly password?: string;
    readonly clientId?: string;
  };
  readonly tlsContext?: { readonly serverName?: string };
}

/** `TestInvokeAuthorizer`'s response, or the IoT error it gives. */
export type TestInvokeOutcome =
  | {
      readonly ok: true;
      readonly response: {
        readonly isAuthenticated: boolean;
        readonly principalId: string;
        /** As AWS returns them: JSON strings. */
        readonly policyDocuments: string[];
        readonly refreshAfterInSeconds?: number;
        readonly disconnectAfterInSeconds?: number;
      };
    }
  | {
      readonly ok: false;
      readonly errorCode:
        'ResourceNotFoundException' | 'InvalidRequestException' | 'InvalidResponseException';
      readonly message: string;
    };

type SignatureState = ConnectDecision['signature'];

/** Looks a credential up by name in one place the device may put it (headers, query string, username). */
type CredentialSource = (name: string) => string | undefined;

/**
 * The AWS IoT custom-auth connect path: pick the authorizer (named, or the default) → refuse an unknown or
 * INACTIVE one → verify the token signature when signing is on (refusing without invoking the Lambda) →
 * invoke the Lambda with the event AWS IoT sends, within AWS IoT's 5 s → validate the response against every
 * rule → evaluate `iot:Connect` on `client/<clientId>` → CONNACK code and the exact reason.
 */
export class CustomAuthPipeline implements ConnectAuthorizer {
  private readonly timeoutMs: number;

  constructor(private readonly options: CustomAuthPipelineOptions) {
    this.timeoutMs = options.authorizerTimeoutMs ?? AUTHORIZER_INVOKE_TIMEOUT_SECONDS * 1000;
  }

  /**
   * How many times the Lambda behind `functionName` ran (every attempt); without a name, all functions'
   * invocations together.
   */
  invocationCount(functionName?: string): number {
    const names =
      functionName === undefined ? this.options.deployment.functions.map((f) => f.name) : [functionName];
    return names.reduce((sum, name) => sum + this.options.runner.invocationCount(name), 0);
  }

  /** Decides a connection attempt. Never rejects: every failure is a refusal with its reason. */
  async authorize(attempt: ConnectAttempt): Promise<ConnectDecision> {
    if (attempt.clientId !== undefined && Buffer.byteLength(attempt.clientId, 'utf8') > MAX_CLIENT_ID_BYTES) {
      return refuse(
        MQTT_REASON_CODES.clientIdentifierNotValid,
        `client id is longer than AWS IoT's ${MAX_CLIENT_ID_BYTES} bytes`,
        'not-required',
      );
    }
    const sources = credentialSources(attempt);
    const lookup = (name: string): string | undefined => firstOf(sources, name);
    const picked = this.pickAuthorizer(lookup(AUTHORIZER_NAME_PARAM));
    if (!picked.ok)
      return refuse(MQTT_REASON_CODES.notAuthorized, picked.reason, 'not-required', picked.name);
    const authorizer = picked.authorizer;
    const token = authorizer.tokenKeyName === undefined ? undefined : lookup(authorizer.tokenKeyName);
    const signatureCheck = checkSignature(authorizer, token, lookup(AUTHORIZER_SIGNATURE_PARAM));
    if (!signatureCheck.ok) {
      return refuse(
        MQTT_REASON_CODES.notAuthorized,
        signatureCheck.reason,
        signatureCheck.state,
        authorizer.name,
      );
    }
    const signature = signatureCheck.state;
    if (!authorizer.invokePermission.granted) {
      return refuse(
        MQTT_REASON_CODES.notAuthorized,
        authorizer.invokePermission.reason,
        signature,
        authorizer.name,
      );
    }
    const event = {
      ...(token !== undefined && { token }),
      signatureVerified: signature === 'verified',
      protocols: attempt.transport === 'websockets' ? ['tls', 'http', 'mqtt'] : ['tls', 'mqtt'],
      protocolData: {
        ...(attempt.serverName !== undefined && { tls: { serverName: attempt.serverName } }),
        ...(attempt.transport === 'websockets' && {
          http: {
            headers: { ...attempt.headers },
            ...(attempt.queryString !== undefined && { queryString: attempt.queryString }),
          },
        }),
        mqtt: {
          ...(attempt.username !== undefined && { username: attempt.username }),
          ...(attempt.password !== undefined && { password: attempt.password.toString('base64') }),
          ...(attempt.clientId !== undefined && { clientId: attempt.clientId }),
        },
      },
      connectionMetadata: { id: attempt.connectionId },
    };
    const result = await this.options.runner.invoke(authorizer.functionName, event, {
      timeoutMs: this.timeoutMs,
    });
    const invoked = {
      authorizerName: authorizer.name,
      signature,
      lambdaInvoked: true,
      lambdaDurationMs: result.durationMs,
    };
    const checked = this.checkResponse(authorizer, result);
    if (!checked.ok)
      return {
        allowed: false,
        reasonCode: MQTT_REASON_CODES.notAuthorized,
        reason: checked.reason,
        ...invoked,
      };
    const response = checked.response;
    if (!response.isAuthenticated) {
      return {
        allowed: false,
        reasonCode: MQTT_REASON_CODES.badUserNameOrPassword,
        reason: `authorizer '${authorizer.name}' returned isAuthenticated: false`,
        ...invoked,
      };
    }
    // A client that sent no id is assigned one; the gateway assigns the connection id, so the policy is
    // evaluated for the id the client will actually have.
    const clientId = attempt.clientId ?? attempt.connectionId;
    const { deployment } = this.options;
    const decision = evaluatePolicies(response.policyDocuments, {
      action: 'iot:Connect',
      resource: clientArn(
        { partition: deployment.partition, region: deployment.region, account: deployment.accountId },
        clientId,
      ),
      variables: { 'iot:ClientId': clientId },
    });
    if (!decision.allowed)
      return {
        allowed: false,
        reasonCode: MQTT_REASON_CODES.notAuthorized,
        reason: decision.reason,
        ...invoked,
      };
    const session: AuthorizedSession = {
      authorizerName: authorizer.name,
      principalId: response.principalId,
      policyDocuments: policyDocumentObjects(response.policyDocuments) as unknown as IotPolicyDocument[],
      refreshAfterInSeconds: response.refreshAfterInSeconds,
      disconnectAfterInSeconds: response.disconnectAfterInSeconds,
    };
    return {
      allowed: true,
      reasonCode: MQTT_REASON_CODES.success,
      reason: decision.reason,
      ...invoked,
      session,
    };
  }

  /**
   * IoT `TestInvokeAuthorizer`: the same authorizer, signature and response checks as a connect (no
   * `iot:Connect` evaluation, as AWS does not do one either), with the event built from the given contexts
   * only (no `protocolData` at all when none is given).
   */
  async testInvoke(authorizerName: string, request: TestInvokeRequest): Promise<TestInvokeOutcome> {
    const authorizer = findAuthorizer(this.options.deployment, authorizerName);
    if (authorizer === undefined) {
      return {
        ok: false,
        errorCode: 'ResourceNotFoundException',
        message: `Authorizer ${authorizerName} does not exist`,
      };
    }
    if (authorizer.status !== 'ACTIVE') {
      return {
        ok: false,
        errorCode: 'InvalidRequestException',
        message: `authorizer '${authorizer.name}' is INACTIVE`,
      };
    }
    const signatureCheck = checkSignature(authorizer, request.token, request.tokenSignature);
    if (!signatureCheck.ok)
      return { ok: false, errorCode: 'InvalidRequestException', message: signatureCheck.reason };
    if (!authorizer.invokePermission.granted) {
      return { ok: false, errorCode: 'InvalidRequestException', message: authorizer.invokePermission.reason };
    }
    const { httpContext, mqttContext, tlsContext } = request;
    const protocols = [tlsContext && 'tls', httpContext && 'http', mqttContext && 'mqtt'].filter(
      (p): p is string => typeof p === 'string',
    );
    const event = {
      ...(request.token !== undefined && { token: request.token }),
      signatureVerified: signatureCheck.state === 'verified',
      protocols,
      ...(protocols.length > 0 && {
        protocolData: {
          ...(tlsContext && { tls: { ...tlsContext } }),
          ...(httpContext && { http: { ...httpContext } }),
          ...(mqttContext && { mqtt: { ...mqttContext } }),
        },
      }),
      connectionMetadata: { id: randomUUID() },
    };
    const result = await this.options.runner.invoke(authorizer.functionName, event, {
      timeoutMs: this.timeoutMs,
    });
    const checked = this.checkResponse(authorizer, result);
    if (!checked.ok) return { ok: false, errorCode: 'InvalidResponseException', message: checked.reason };
    const { isAuthenticated, principalId, policyDocuments, refreshAfterInSeconds, disconnectAfterInSeconds } =
      checked.response;
    return {
      ok: true,
      response: {
        isAuthenticated,
        principalId,
        policyDocuments: policyDocuments.map((d) => (typeof d === 'string' ? d : JSON.stringify(d))),
        ...(refreshAfterInSeconds !== undefined && { refreshAfterInSeconds }),
        ...(disconnectAfterInSeconds !== undefined && { disconnectAfterInSeconds }),
      },
    };
  }

  private pickAuthorizer(
    named: string | undefined,
  ): { ok: true; authorizer: LocalAuthorizer } | { ok: false; reason: string; name?: string } {
    const { deployment } = this.options;
    const name = named ?? deployment.defaultAuthorizerName;
    if (name === undefined) {
      return {
        ok: false,
        reason: `the connection names no authorizer (${AUTHORIZER_NAME_PARAM}) and the endpoint has no default authorizer`,
      };
    }
    const authorizer = findAuthorizer(deployment, name);
    if (authorizer === undefined) {
      const known = deployment.authorizers.map((a) => a.name).join(', ') || 'none';
      return {
        ok: false,
        name,
        reason: `authorizer '${name}' does not exist (stack ${deployment.stackName} has: ${known})`,
      };
    }
    if (authorizer.status !== 'ACTIVE')
      return { ok: false, name, reason: `authorizer '${name}' is INACTIVE` };
    return { ok: true, authorizer };
  }

  private checkResponse(
    authorizer: LocalAuthorizer,
    result: InvocationResult,
  ): { ok: true; response: ValidResponse } | { ok: false; reason: string } {
    const lambda = `authorizer Lambda ${authorizer.functionName}`;
    if (!result.ok) {
      switch (result.kind) {
        case 'timeout':
          return {
            ok: false,
            reason: `${lambda} did not answer in time: ${result.errorMessage} (AWS IoT allows ${this.timeoutMs} ms)`,
          };
        case 'crash':
          return { ok: false, reason: `${lambda} crashed: ${result.errorMessage}` };
        default:
          return { ok: false, reason: `${lambda} failed: ${result.errorType}: ${result.errorMessage}` };
      }
    }
    const problems = authorizerResponseProblems(result.value);
    const documents = (result.value as { policyDocuments?: unknown } | null)?.policyDocuments;
    if (problems.length === 0 && Array.isArray(documents))
      problems.push(...policyDocumentProblems(documents));
    if (problems.length > 0)
      return { ok: false, reason: `invalid authorizer response: ${problems.join('; ')}` };
    return { ok: true, response: result.value as ValidResponse };
  }
}

/** An authorizer response that passed `authorizerResponseProblems`. */
interface ValidResponse {
  readonly isAuthenticated: boolean;
  readonly principalId: string;
  readonly policyDocuments: readonly unknown[];
  readonly refreshAfterInSeconds: number;
  readonly disconnectAfterInSeconds: number;
}

/**
 * Where a connection's credentials are looked up, first match wins: for WebSockets the upgrade request's
 * headers, then its query string, then the CONNECT username; for direct MQTT the username. Values are
 * URL-decoded once (a raw standard-base64 signature is unchanged by that).
 */
function credentialSources(attempt: ConnectAttempt): CredentialSource[] {
  const sources: CredentialSource[] = [];
  if (attempt.transport === 'websockets') {
    const headers = attempt.headers ?? {};
    sources.push((name) => {
      const value = headers[name.toLowerCase()];
      return value === undefined ? undefined : safeDecodeURIComponent(value);
    });
    if (attempt.queryString !== undefined) {
      const query = parseCustomAuthUsername(`?${attempt.queryString.replace(/^\?/, '')}`);
      sources.push((name) => usernameParam(query, name));
    }
  }
  if (attempt.username !== undefined) {
    const username = parseCustomAuthUsername(attempt.username);
    sources.push((name) => usernameParam(username, name));
  }
  return sources;
}

function firstOf(sources: readonly CredentialSource[], name: string): string | undefined {
  for (const source of sources) {
    const value = source(name);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** AWS IoT's signature check, before any Lambda runs. */
function checkSignature(
  authorizer: LocalAuthorizer,
  token: string | undefined,
  signature: string | undefined,
): { ok: true; state: SignatureState } | { ok: false; state: SignatureState; reason: string } {
  if (authorizer.signingDisabled) return { ok: true, state: 'not-required' };
  const name = `authorizer '${authorizer.name}'`;
  if (token === undefined || token.length === 0) {
    return {
      ok: false,
      state: 'missing',
      reason: `${name} has signing enabled but the connection sent no token under '${authorizer.tokenKeyName ?? ''}'`,
    };
  }
  if (signature === undefined || signature.length === 0) {
    return {
      ok: false,
      state: 'missing',
      reason: `${name} has signing enabled but the connection sent no ${AUTHORIZER_SIGNATURE_PARAM}`,
    };
  }
  if (!isStandardBase64(signature)) {
    return {
      ok: false,
      state: 'failed',
      reason: `${name}: the token signature is not standard base64 after URL-decoding once (base64url, or URL-encoded twice?)`,
    };
  }
  const keys = Object.values(authorizer.tokenSigningPublicKeys);
  if (!verifyTokenSignature(token, signature, keys)) {
    const keyNames = Object.keys(authorizer.tokenSigningPublicKeys).join(', ');
    return {
      ok: false,
      state: 'failed',
      reason: `${name}: the token signature does not verify with TokenSigningPublicKeys (${keyNames})`,
    };
  }
  return { ok: true, state: 'verified' };
}

function refuse(
  reasonCode: number,
  reason: string,
  signature: SignatureState,
  authorizerName?: string,
): ConnectDecision {
  return {
    allowed: false,
    reasonCode,
    reason,
    ...(authorizerName !== undefined && { authorizerName }),
    signature,
    lambdaInvoked: false,
  };
}
