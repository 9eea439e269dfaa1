import { randomUUID } from 'node:crypto';
import {
  AUTHORIZER_INVOKE_TIMEOUT_SECONDS,
  AUTHORIZER_NAME_PARAM,
  AUTHORIZER_SIGNATURE_PARAM,
  authorizerResponseProblems,
  clientArn,
  isStandardBase64,
  MAX_CLIENT_ID_BYTES,
  MQTT_REASON_CODES,
  parseCustomAuthUsername,
  usernameParam,
  verifyTokenSignature,
  safeDecodeURIComponent,
} from '@iot-custom-auth/protocol';
import type { AuthorizedSession, ConnectAttempt, ConnectAuthorizer, ConnectDecision } from './connect-types';
import type { InvocationResult, LambdaRunner } from '../lambda/lambda-runner';
import { findAuthorizer, type LocalAuthorizer, type LocalDeployment } from '../deployment/local-deployment';
import { compilePolicies, type CompiledPolicies, type ConnectRefusalCause } from '@iot-custom-auth/protocol';
import { policyContext } from './policy-context';
import { chooseX509Authorizer, tlsProtocolData, x509PrincipalProblem } from './x509-authorization';

/** What the pipeline needs. */
export interface CustomAuthPipelineOptions {
  readonly deployment: LocalDeployment;
  readonly runner: LambdaRunner;
  /** AWS IoT's limit on the authorizer Lambda. @default AUTHORIZER_INVOKE_TIMEOUT_SECONDS (5) × 1000 */
  readonly authorizerTimeoutMs?: number;
}

/** An HTTPS request to authorize: the TLS connection's facts and the request's headers and query string. */
export interface HttpAuthorizationRequest {
  /** The TLS connection's id: the event's `connectionMetadata.id`. */
  readonly connectionId: string;
  readonly serverName?: string;
  /** Lower-case names, repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** The raw query string with its `?`, when the URL had one. */
  readonly queryString?: string;
}

/** What custom authentication decided on an HTTPS request. */
export type HttpAuthorization =
  | {
      readonly ok: true;
      readonly authorizerName: string;
      readonly signature: ConnectDecision['signature'];
      readonly lambdaDurationMs: number;
      /** The authorizer's `EnableCachingForHttp`. */
      readonly enableCachingForHttp: boolean;
      readonly principalId: string;
      readonly policies: CompiledPolicies;
      readonly refreshAfterInSeconds: number;
    }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly authorizerName?: string;
      readonly signature: ConnectDecision['signature'];
      /** Present once the Lambda ran. */
      readonly lambdaDurationMs?: number;
    };

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
 * The steps AWS IoT takes before it answers a connect or a `TestInvokeAuthorizer`, in order; a refusal
 * names the one it stopped at, and each entry point maps that to its own answer (CONNACK code or IoT error).
 */
type AuthorizationStep =
  | 'authorizer' // pick the named authorizer, or the endpoint's default
  | 'status' // refuse an INACTIVE one
  | 'signature' // verify the token signature when signing is on, before any Lambda runs
  | 'permission' // refuse when no Lambda permission lets AWS IoT invoke the function
  | 'invoke' // build the event and run the Lambda within AWS IoT's limit
  | 'response'; // validate the response and compile its policy documents

/** What an entry point hands the shared sequence: which authorizer, which credentials, the event's context. */
interface AuthorizationInput {
  /** The authorizer the caller names; `undefined` picks the endpoint's default. */
  readonly authorizerName: string | undefined;
  /** The token and its signature as the caller sent them for `authorizer` (whose token key name it may need). */
  readonly credentials: (authorizer: LocalAuthorizer) => {
    readonly token: string | undefined;
    readonly signature: string | undefined;
  };
  /** The event's `protocols`, `protocolData` (left out when absent) and `connectionMetadata.id`. */
  readonly protocols: readonly string[];
  readonly protocolData?: Readonly<Record<string, unknown>>;
  readonly connectionId: string;
}

/** How far a refused attempt got: what the connect log line needs, whichever step refused it. */
interface Refusal {
  /** Which of protocol's `CONNECT_REFUSALS` this is. */
  readonly cause: ConnectRefusalCause;
  readonly reason: string;
  readonly authorizerName?: string;
  readonly signature: SignatureState;
  /** Present once the Lambda ran. */
  readonly lambdaDurationMs?: number;
}

type AuthorizationOutcome =
  | ({ readonly ok: false; readonly step: AuthorizationStep } & Refusal)
  | {
      readonly ok: true;
      readonly authorizer: LocalAuthorizer;
      readonly signature: SignatureState;
      readonly lambdaDurationMs: number;
      readonly response: ValidResponse;
      /** The response's documents, compiled once here for the `iot:Connect` check and the session. */
      readonly policies: CompiledPolicies;
    };

/** The IoT error `TestInvokeAuthorizer` answers when the sequence stops at each step. */
const TEST_INVOKE_ERRORS: Readonly<
  Record<AuthorizationStep, Extract<TestInvokeOutcome, { ok: false }>['errorCode']>
> = {
  authorizer: 'ResourceNotFoundException',
  status: 'InvalidRequestException',
  signature: 'InvalidRequestException',
  permission: 'InvalidRequestException',
  invoke: 'InvalidResponseException',
  response: 'InvalidResponseException',
};

/**
 * The AWS IoT custom-auth sequence, shared by the connect path (`authorize`) and `TestInvokeAuthorizer`
 * (`testInvoke`), which only adapt its input and output: pick the authorizer (named, or the default) →
 * refuse an unknown or INACTIVE one → verify the token signature when signing is on (refusing without
 * invoking the Lambda) → refuse without an invoke permission → invoke the Lambda with the event AWS IoT
 * sends, within AWS IoT's 5 s → validate the response against every rule and compile its policies. A
 * connect then evaluates `iot:Connect` on `client/<clientId>` → CONNACK code and the exact reason.
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
      return refusal(MQTT_REASON_CODES.clientIdentifierNotValid, {
        cause: 'CLIENT_ID_TOO_LONG',
        reason: `client id is longer than AWS IoT's ${MAX_CLIENT_ID_BYTES} bytes`,
        signature: 'not-required',
      });
    }
    const sources = credentialSources(attempt);
    const lookup = (name: string): string | undefined => firstOf(sources, name);
    let authorizerName = lookup(AUTHORIZER_NAME_PARAM);
    if (attempt.clientCertificate !== undefined) {
      const choice = chooseX509Authorizer(this.options.deployment, authorizerName);
      if (!choice.ok)
        return refusal(MQTT_REASON_CODES.notAuthorized, {
          cause: 'AUTHORIZER_NOT_FOUND',
          reason: choice.reason,
          signature: 'not-required',
        });
      authorizerName = choice.authorizerName;
    }
    const outcome = await this.run({
      authorizerName,
      credentials: (authorizer) => ({
        token: authorizer.tokenKeyName === undefined ? undefined : lookup(authorizer.tokenKeyName),
        signature: lookup(AUTHORIZER_SIGNATURE_PARAM),
      }),
      protocols: attempt.transport === 'websockets' ? ['tls', 'http', 'mqtt'] : ['tls', 'mqtt'],
      protocolData: connectProtocolData(attempt),
      connectionId: attempt.connectionId,
    });
    if (!outcome.ok) return refusal(MQTT_REASON_CODES.notAuthorized, outcome);
    const { authorizer, response, policies } = outcome;
    const invoked = {
      authorizerName: authorizer.name,
      signature: outcome.signature,
      lambdaDurationMs: outcome.lambdaDurationMs,
    };
    if (!response.isAuthenticated) {
      return refusal(MQTT_REASON_CODES.badUserNameOrPassword, {
        cause: 'NOT_AUTHENTICATED',
        reason: `authorizer '${authorizer.name}' returned isAuthenticated: false`,
        ...invoked,
      });
    }
    const principalProblem = x509PrincipalProblem(attempt, response.principalId);
    if (principalProblem !== undefined)
      return refusal(MQTT_REASON_CODES.notAuthorized, {
        cause: 'CONNECT_NOT_ALLOWED',
        reason: principalProblem,
        ...invoked,
      });
    // A client that sent no id is assigned one; the gateway assigns the connection id, so the policy is
    // evaluated for the id the client will actually have.
    const clientId = attempt.clientId ?? attempt.connectionId;
    const { deployment } = this.options;
    const decision = policies.evaluate({
      action: 'iot:Connect',
      resource: clientArn(
        { partition: deployment.partition, region: deployment.region, account: deployment.accountId },
        clientId,
      ),
      variables: { 'iot:ClientId': clientId },
      context: policyContext(attempt),
    });
    if (!decision.allowed)
      return refusal(MQTT_REASON_CODES.notAuthorized, {
        cause: 'CONNECT_NOT_ALLOWED',
        reason: decision.reason,
        ...invoked,
      });
    const session: AuthorizedSession = {
      authorizerName: authorizer.name,
      principalId: response.principalId,
      policies,
      refreshAfterInSeconds: response.refreshAfterInSeconds,
      disconnectAfterInSeconds: response.disconnectAfterInSeconds,
    };
    return {
      allowed: true,
      reasonCode: MQTT_REASON_CODES.success,
      reason: decision.reason,
      authorizerName: invoked.authorizerName,
      signature: invoked.signature,
      lambdaInvoked: true,
      lambdaDurationMs: invoked.lambdaDurationMs,
      session,
    };
  }

  /**
   * An HTTPS request through custom authentication (AWS IoT's HTTPS publish): the same sequence with the
   * event's `protocols` `["tls","http"]` and `protocolData` `tls` (server name) and `http` (headers, query
   * string), credentials looked up in the headers, then the query string. No `iot:Connect` is evaluated:
   * HTTPS has no connection to authorize, and no client id; the caller evaluates `iot:Publish`.
   */
  async authorizeHttp(request: HttpAuthorizationRequest): Promise<HttpAuthorization> {
    const sources = credentialSources({
      connectionId: request.connectionId,
      transport: 'websockets',
      headers: request.headers,
      ...(request.queryString === undefined ? {} : { queryString: request.queryString }),
    });
    const lookup = (name: string): string | undefined => firstOf(sources, name);
    const outcome = await this.run({
      authorizerName: lookup(AUTHORIZER_NAME_PARAM),
      credentials: (authorizer) => ({
        token: authorizer.tokenKeyName === undefined ? undefined : lookup(authorizer.tokenKeyName),
        signature: lookup(AUTHORIZER_SIGNATURE_PARAM),
      }),
      protocols: ['tls', 'http'],
      protocolData: {
        ...(request.serverName !== undefined && { tls: { serverName: request.serverName } }),
        http: {
          headers: { ...request.headers },
          ...(request.queryString !== undefined && { queryString: request.queryString }),
        },
      },
      connectionId: request.connectionId,
    });
    if (!outcome.ok) {
      return {
        ok: false,
        reason: outcome.reason,
        ...(outcome.authorizerName !== undefined && { authorizerName: outcome.authorizerName }),
        signature: outcome.signature,
        ...(outcome.lambdaDurationMs !== undefined && { lambdaDurationMs: outcome.lambdaDurationMs }),
      };
    }
    const { authorizer, response } = outcome;
    const ran = {
      authorizerName: authorizer.name,
      signature: outcome.signature,
      lambdaDurationMs: outcome.lambdaDurationMs,
    };
    if (!response.isAuthenticated) {
      return { ok: false, reason: `authorizer '${authorizer.name}' returned isAuthenticated: false`, ...ran };
    }
    return {
      ok: true,
      ...ran,
      enableCachingForHttp: authorizer.enableCachingForHttp,
      principalId: response.principalId,
      policies: outcome.policies,
      refreshAfterInSeconds: response.refreshAfterInSeconds,
    };
  }

  /**
   * IoT `TestInvokeAuthorizer`: the same authorizer, signature and response checks as a connect (no
   * `iot:Connect` evaluation, as AWS does not do one either), with the event built from the given contexts
   * only (no `protocolData` at all when none is given).
   */
  async testInvoke(authorizerName: string, request: TestInvokeRequest): Promise<TestInvokeOutcome> {
    const { httpContext, mqttContext, tlsContext } = request;
    const protocols = [tlsContext && 'tls', httpContext && 'http', mqttContext && 'mqtt'].filter(
      (p): p is string => typeof p === 'string',
    );
    const outcome = await this.run({
      authorizerName,
      credentials: () => ({ token: request.token, signature: request.tokenSignature }),
      protocols,
      ...(protocols.length > 0 && {
        protocolData: {
          ...(tlsContext && { tls: { ...tlsContext } }),
          ...(httpContext && { http: { ...httpContext } }),
          ...(mqttContext && { mqtt: { ...mqttContext } }),
        },
      }),
      connectionId: randomUUID(),
    });
    if (!outcome.ok) {
      return {
        ok: false,
        errorCode: TEST_INVOKE_ERRORS[outcome.step],
        // AWS's own wording for an unknown authorizer; every other step's reason is local-iot's.
        message:
          outcome.step === 'authorizer' ? `Authorizer ${authorizerName} does not exist` : outcome.reason,
      };
    }
    const { isAuthenticated, principalId, policyDocuments, refreshAfterInSeconds, disconnectAfterInSeconds } =
      outcome.response;
    return {
      ok: true,
      response: {
        isAuthenticated,
        principalId,
        policyDocuments: (policyDocuments ?? []).map((d) => (typeof d === 'string' ? d : JSON.stringify(d))),
        ...(refreshAfterInSeconds !== undefined && { refreshAfterInSeconds }),
        ...(disconnectAfterInSeconds !== undefined && { disconnectAfterInSeconds }),
      },
    };
  }

  /** The shared sequence, one step after the other (see `AuthorizationStep`). */
  private async run(input: AuthorizationInput): Promise<AuthorizationOutcome> {
    const { deployment } = this.options;
    const name = input.authorizerName ?? deployment.defaultAuthorizerName;
    if (name === undefined) {
      return stop('authorizer', {
        cause: 'NO_AUTHORIZER',
        reason: `the connection names no authorizer (${AUTHORIZER_NAME_PARAM}) and the endpoint has no default authorizer`,
        signature: 'not-required',
      });
    }
    const authorizer = findAuthorizer(deployment, name);
    if (authorizer === undefined) {
      const known = deployment.authorizers.map((a) => a.name).join(', ') || 'none';
      return stop('authorizer', {
        cause: 'AUTHORIZER_NOT_FOUND',
        reason: `authorizer '${name}' does not exist (stack ${deployment.stackName} has: ${known})`,
        authorizerName: name,
        signature: 'not-required',
      });
    }
    if (authorizer.status !== 'ACTIVE') {
      return stop('status', {
        cause: 'AUTHORIZER_INACTIVE',
        reason: `authorizer '${name}' is INACTIVE`,
        authorizerName: name,
        signature: 'not-required',
      });
    }
    const { token, signature: tokenSignature } = input.credentials(authorizer);
    const signatureCheck = checkSignature(authorizer, token, tokenSignature);
    if (!signatureCheck.ok) {
      return stop('signature', {
        cause: signatureCheck.state === 'missing' ? 'SIGNATURE_MISSING' : 'SIGNATURE_INVALID',
        reason: signatureCheck.reason,
        authorizerName: authorizer.name,
        signature: signatureCheck.state,
      });
    }
    const signature = signatureCheck.state;
    if (!authorizer.invokePermission.granted) {
      return stop('permission', {
        cause: 'PERMISSION_MISSING',
        reason: authorizer.invokePermission.reason,
        authorizerName: authorizer.name,
        signature,
      });
    }
    const event = {
      ...(token !== undefined && { token }),
      signatureVerified: signature === 'verified',
      protocols: input.protocols,
      ...(input.protocolData !== undefined && { protocolData: input.protocolData }),
      connectionMetadata: { id: input.connectionId },
    };
    const result = await this.options.runner.invoke(authorizer.functionName, event, {
      timeoutMs: this.timeoutMs,
    });
    const ran = { authorizerName: authorizer.name, signature, lambdaDurationMs: result.durationMs };
    if (!result.ok) {
      const reason = this.invocationFailure(authorizer, result);
      // A throttled invocation never reached the function: the log says the Lambda was not invoked.
      if (result.kind === 'throttle')
        return stop('invoke', {
          cause: 'LAMBDA_THROTTLED',
          reason,
          authorizerName: authorizer.name,
          signature,
        });
      const cause = result.kind === 'timeout' ? 'LAMBDA_TIMEOUT' : 'LAMBDA_ERROR';
      return stop('invoke', { cause, reason, ...ran });
    }
    const problems = authorizerResponseProblems(result.value);
    if (problems.length > 0)
      return stop('response', { cause: 'INVALID_RESPONSE', reason: invalidResponse(problems), ...ran });
    const response = result.value as ValidResponse;
    // A refused device's response may leave its documents out; there is nothing to compile then.
    const policies = compilePolicies(Array.isArray(response.policyDocuments) ? response.policyDocuments : []);
    if (policies.problems.length > 0)
      return stop('response', {
        cause: 'INVALID_RESPONSE',
        reason: invalidResponse(policies.problems),
        ...ran,
      });
    return { ok: true, authorizer, signature, lambdaDurationMs: result.durationMs, response, policies };
  }

  private invocationFailure(
    authorizer: LocalAuthorizer,
    result: Extract<InvocationResult, { ok: false }>,
  ): string {
    const lambda = `authorizer Lambda ${authorizer.functionName}`;
    switch (result.kind) {
      case 'timeout':
        return `${lambda} did not answer in time: ${result.errorMessage} (AWS IoT allows ${this.timeoutMs} ms)`;
      case 'crash':
        return `${lambda} crashed: ${result.errorType}: ${result.errorMessage}`;
      case 'throttle':
        return (
          `${lambda} was throttled: ${result.errorType}: ${result.errorMessage} ` +
          `(${result.throttle.reason}: ${throttleCause(result.throttle.concurrencyLimit)})`
        );
      default:
        return `${lambda} failed: ${result.errorType}: ${result.errorMessage}`;
    }
  }
}

/** Why no execution environment could take an invocation. */
function throttleCause(concurrencyLimit: number): string {
  return concurrencyLimit === 0
    ? 'its ReservedConcurrentExecutions is 0'
    : `all ${concurrencyLimit} of its execution environments are busy`;
}

/** An authorizer response that passed `authorizerResponseProblems`. */
interface ValidResponse {
  readonly isAuthenticated: boolean;
  readonly principalId: string;
  /** Absent when `isAuthenticated` is false: AWS IoT only requires documents from an authenticated answer. */
  readonly policyDocuments?: readonly unknown[];
  readonly refreshAfterInSeconds: number;
  readonly disconnectAfterInSeconds: number;
}

function stop(step: AuthorizationStep, refused: Refusal): AuthorizationOutcome {
  return { ok: false, step, ...refused };
}

function invalidResponse(problems: readonly string[]): string {
  return `invalid authorizer response: ${problems.join('; ')}`;
}

/** The connect event's `protocolData`: TLS server name, the WebSocket upgrade request, the CONNECT fields. */
function connectProtocolData(attempt: ConnectAttempt): Record<string, unknown> {
  const tls = tlsProtocolData(attempt);
  return {
    ...(tls !== undefined && { tls }),
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
  };
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
      sources.push(querySource(`?${attempt.queryString.replace(/^\?/, '')}`));
    }
  }
  if (attempt.username !== undefined) sources.push(querySource(attempt.username));
  return sources;
}

/**
 * The parameters of a username or query string. The signature is read as a query string is
 * (application/x-www-form-urlencoded): a `+` not URL-encoded is a space, which is why AWS IoT requires the
 * signature URL-encoded (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth.html: "the
 * signature must be URL-encoded"), and so the raw `+` of a base64 signature makes it fail verification.
 */
function querySource(raw: string): CredentialSource {
  const parsed = parseCustomAuthUsername(raw);
  const queryStart = raw.indexOf('?');
  const formDecoded = parseCustomAuthUsername(
    `${raw.slice(0, queryStart + 1)}${raw.slice(queryStart + 1).replace(/\+/g, '%20')}`,
  );
  return (name) => usernameParam(name === AUTHORIZER_SIGNATURE_PARAM ? formDecoded : parsed, name);
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
  if (signature.includes(' ')) {
    return {
      ok: false,
      state: 'failed',
      reason: `${name}: the token signature has a space after URL-decoding: a '+' that is not URL-encoded reads as a space in a query string; URL-encode the signature (+ as %2B, / as %2F, = as %3D)`,
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

/** A refused connect: the CONNACK code and the log line's fields, `lambdaInvoked` once the Lambda ran. */
function refusal(reasonCode: number, refused: Refusal): ConnectDecision {
  return {
    allowed: false,
    reasonCode,
    cause: refused.cause,
    reason: refused.reason,
    ...(refused.authorizerName !== undefined && { authorizerName: refused.authorizerName }),
    signature: refused.signature,
    ...(refused.lambdaDurationMs === undefined
      ? { lambdaInvoked: false }
      : { lambdaInvoked: true, lambdaDurationMs: refused.lambdaDurationMs }),
  };
}
