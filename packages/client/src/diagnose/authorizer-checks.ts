import {
  DescribeAuthorizerCommand,
  DescribeDefaultAuthorizerCommand,
  TestInvokeAuthorizerCommand,
  type AuthorizerDescription,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { GetPolicyCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  arnContextOf,
  authorizerResponseProblems,
  checkTokenClaims,
  clientArn,
  compilePolicies,
  decodeToken,
  DEFAULTS,
  isRecord,
  safeDecodeURIComponent,
  topicArn,
  topicFilterArn,
  deviceTopic,
  verifyTokenSignature,
  type CompiledPolicies,
} from '@iot-custom-auth/protocol';
import type { ConnectRequest } from '../connection';
import type { CheckResult } from './check-result';

/** The IoT and Lambda calls the checks make. */
export interface AwsChecksClients {
  readonly iot: Pick<IoTClient, 'send'>;
  readonly lambda: Pick<LambdaClient, 'send'>;
}

/** What the authorizer checks found, for the checks after them. */
export interface FoundAuthorizer {
  readonly name: string;
  readonly arn: string;
  readonly functionArn: string;
  readonly signingDisabled: boolean;
  readonly tokenKeyName?: string;
  readonly publicKeys: readonly string[];
}

/** An error's name and message, as the SDK gives them. */
function said(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: '', message: String(error) };
}

/**
 * `DescribeAuthorizer` (or `DescribeDefaultAuthorizer` without a name): it exists, is ACTIVE, signs as the
 * client expects (signing disabled for user name and password, enabled for a token), has the token key
 * name the client sends, and names a function.
 */
export async function checkAuthorizer(
  clients: AwsChecksClients,
  name: string | undefined,
  expect: {
    readonly signed: boolean;
    readonly tokenKeyName?: string;
    readonly region?: string;
    readonly knownNames: readonly string[];
  },
): Promise<{ result: CheckResult; authorizer?: FoundAuthorizer }> {
  let description: AuthorizerDescription | undefined;
  try {
    const answer =
      name === undefined
        ? await clients.iot.send(new DescribeDefaultAuthorizerCommand({}))
        : await clients.iot.send(new DescribeAuthorizerCommand({ authorizerName: name }));
    description = answer.authorizerDescription;
  } catch (error) {
    const { name: errorName, message } = said(error);
    const where = expect.region === undefined ? '' : ` in ${expect.region}`;
    if (errorName === 'ResourceNotFoundException') {
      return {
        result: {
          check: 'authorizer',
          ok: false,
          detail:
            name === undefined
              ? `the endpoint has no default authorizer${where}`
              : `the authorizer '${name}' does not exist${where}${expect.knownNames.length > 0 ? ` (the stack has: ${expect.knownNames.join(', ')})` : ''}`,
          fix:
            name === undefined
              ? 'pass --custom_auth_authorizer_name, or set a default authorizer'
              : "leave --custom_auth_authorizer_name out to use the stack's, or check the name, account and region",
        },
      };
    }
    return {
      result: {
        check: 'authorizer',
        ok: false,
        detail: `DescribeAuthorizer failed: ${errorName ? `${errorName}: ` : ''}${message}`,
        fix: 'allow iot:DescribeAuthorizer for your AWS identity, and check the region and credentials',
      },
    };
  }
  const found: FoundAuthorizer = {
    name: description?.authorizerName ?? name ?? '(default)',
    arn: description?.authorizerArn ?? '',
    functionArn: description?.authorizerFunctionArn ?? '',
    signingDisabled: description?.signingDisabled === true,
    ...(description?.tokenKeyName === undefined ? {} : { tokenKeyName: description.tokenKeyName }),
    publicKeys: Object.values(description?.tokenSigningPublicKeys ?? {}),
  };
  const problems: { detail: string; fix: string }[] = [];
  if (description?.status !== 'ACTIVE') {
    problems.push({
      detail: `it is ${description?.status ?? 'of no status'}, not ACTIVE`,
      fix: `set it ACTIVE: Status ACTIVE in the stack (then deploy), or aws iot update-authorizer --authorizer-name ${found.name} --status ACTIVE`,
    });
  }
  if (expect.signed && found.signingDisabled) {
    problems.push({
      detail: 'it has signing disabled but the client sends a signed token',
      fix: 'drop --signed, or use the signed authorizer',
    });
  }
  if (!expect.signed && !found.signingDisabled) {
    problems.push({
      detail: 'it has signing enabled, so it needs a signed token, not a user name and password',
      fix: 'use --signed, or the unsigned authorizer',
    });
  }
  if (expect.signed && expect.tokenKeyName !== undefined && found.tokenKeyName !== expect.tokenKeyName) {
    problems.push({
      detail: `its token key name is ${found.tokenKeyName ?? '(none)'}, the client sends ${expect.tokenKeyName}`,
      fix: `--custom_auth_token_key_name ${found.tokenKeyName ?? ''}`.trim(),
    });
  }
  const summary = `${found.name}: ${description?.status ?? '?'}, signing ${found.signingDisabled ? 'disabled' : 'enabled'}, function ${found.functionArn}`;
  const first = problems[0];
  return {
    result:
      first === undefined
        ? { check: 'authorizer', ok: true, detail: summary }
        : {
            check: 'authorizer',
            ok: false,
            detail: `${found.name}: ${problems.map((p) => p.detail).join('; ')}`,
            fix: first.fix,
          },
    authorizer: found,
  };
}

/**
 * `lambda:GetPolicy` on the authorizer's function: a statement lets `iot.amazonaws.com` call
 * `lambda:InvokeFunction` with `AWS:SourceArn` = the authorizer (without one AWS IoT never invokes it).
 */
export async function checkInvokePermission(
  clients: AwsChecksClients,
  authorizer: FoundAuthorizer,
): Promise<CheckResult> {
  const fix = `add a lambda:InvokeFunction permission on ${authorizer.functionArn} for principal iot.amazonaws.com with SourceArn ${authorizer.arn} (AWS::Lambda::Permission; this stack deploys one)`;
  let policyText: string | undefined;
  try {
    policyText = (await clients.lambda.send(new GetPolicyCommand({ FunctionName: authorizer.functionArn })))
      .Policy;
  } catch (error) {
    const { name, message } = said(error);
    if (name === 'ResourceNotFoundException') {
      return {
        check: 'permission',
        ok: false,
        detail: `${authorizer.functionArn} has no resource policy: AWS IoT may not invoke it`,
        fix,
      };
    }
    return {
      check: 'permission',
      ok: false,
      detail: `GetPolicy failed: ${name ? `${name}: ` : ''}${message}`,
      fix: 'allow lambda:GetPolicy on the function for your AWS identity',
    };
  }
  const statements = statementsOf(policyText);
  const match = statements.find((statement) => permitsIot(statement, authorizer.arn));
  if (match !== undefined) {
    return {
      check: 'permission',
      ok: true,
      detail: `${authorizer.functionArn} lets iot.amazonaws.com invoke it for ${authorizer.arn}${typeof match.Sid === 'string' ? ` (statement ${match.Sid})` : ''}`,
    };
  }
  const forIot = statements.filter((statement) => permitsIot(statement, undefined));
  return {
    check: 'permission',
    ok: false,
    detail:
      forIot.length > 0
        ? `the function lets iot.amazonaws.com invoke it, but for another SourceArn than ${authorizer.arn}`
        : `no statement of the function's policy lets iot.amazonaws.com invoke it`,
    fix,
  };
}

function statementsOf(policyText: string | undefined): Record<string, unknown>[] {
  if (policyText === undefined) return [];
  try {
    const policy: unknown = JSON.parse(policyText);
    if (!isRecord(policy)) return [];
    const statements = Array.isArray(policy.Statement) ? (policy.Statement as unknown[]) : [policy.Statement];
    return statements.filter(isRecord);
  } catch {
    return [];
  }
}

/** An Allow of lambda:InvokeFunction to iot.amazonaws.com, conditioned on `sourceArn` when one is given. */
function permitsIot(statement: Record<string, unknown>, sourceArn: string | undefined): boolean {
  const principal = statement.Principal;
  const service = isRecord(principal) ? principal.Service : principal;
  const services = Array.isArray(service) ? service : [service];
  const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
  if (statement.Effect !== 'Allow' || !services.includes('iot.amazonaws.com')) return false;
  if (!actions.some((action) => action === 'lambda:InvokeFunction' || action === 'lambda:*')) return false;
  if (sourceArn === undefined) return true;
  const condition = isRecord(statement.Condition) ? statement.Condition : {};
  return Object.values(condition).some(
    (operator) =>
      isRecord(operator) &&
      [operator['AWS:SourceArn'], operator['aws:SourceArn']].some((value) =>
        Array.isArray(value) ? value.includes(sourceArn) : value === sourceArn,
      ),
  );
}

/** Signed mode: the signature verifies against the authorizer's public keys, and the claims hold now. */
export function checkToken(
  request: ConnectRequest,
  authorizer: FoundAuthorizer,
  now: Date,
  ownToken: boolean,
): CheckResult {
  const token = safeDecodeURIComponent(request.auth.tokenValue ?? '');
  const signature = safeDecodeURIComponent(request.auth.signature ?? '');
  if (!verifyTokenSignature(token, signature, authorizer.publicKeys)) {
    return {
      check: 'token',
      ok: false,
      detail: `the token signature does not verify with ${authorizer.name}'s ${authorizer.publicKeys.length} TokenSigningPublicKeys`,
      fix: ownToken
        ? 'the key in --token-signing-key is not the private half of the deployed public key: redeploy with its public key, or sign with the deployed key'
        : "sign the token with the private key of one of the authorizer's public keys (RSA SHA-256, standard base64), or use --signed alone",
    };
  }
  const decoded = decodeToken(token);
  if (!decoded.ok) {
    return {
      check: 'token',
      ok: false,
      detail: `the signature verifies, but ${decoded.reason}`,
      fix: 'use --signed alone to let the client create the token',
    };
  }
  const problem = checkTokenClaims(decoded.claims, {
    now,
    maxLifetimeSeconds: DEFAULTS.tokenMaxLifetimeSeconds,
    clockSkewSeconds: DEFAULTS.tokenClockSkewSeconds,
    clientId: request.clientId,
  });
  if (problem !== undefined) {
    const clock = problem.code === 'EXPIRED' || problem.code === 'NOT_YET_VALID';
    return {
      check: 'token',
      ok: false,
      detail: `the signature verifies, but ${problem.message} (${problem.code})`,
      fix:
        clock && ownToken
          ? `this machine's clock is more than ${DEFAULTS.tokenClockSkewSeconds} s off: sync it (NTP)`
          : clock
            ? 'the token given with --custom_auth_token_value is outside iat..exp: sign a fresh one'
            : `sign a token for client id ${request.clientId} with a lifetime of at most ${DEFAULTS.tokenMaxLifetimeSeconds} s`,
    };
  }
  return {
    check: 'token',
    ok: true,
    detail: `signature verifies with ${authorizer.name}'s public key; claims: client id ${decoded.claims.clientId}, expires in ${decoded.claims.exp - Math.floor(now.getTime() / 1000)} s`,
  };
}

/** What `TestInvokeAuthorizer` returned, for the policy check. */
export interface InvokedResponse {
  readonly policies: CompiledPolicies;
}

/**
 * `TestInvokeAuthorizer` with the device's real credentials (the token and signature, or the MQTT user name,
 * password and client id, and the endpoint as SNI): the Lambda runs as on a connect, and its response must
 * follow AWS IoT's rules.
 */
export async function checkTestInvoke(
  clients: AwsChecksClients,
  authorizer: FoundAuthorizer,
  request: ConnectRequest,
  username: string | undefined,
): Promise<{ result: CheckResult; response?: InvokedResponse }> {
  const { auth } = request;
  const signed = !authorizer.signingDisabled;
  let answer;
  try {
    answer = await clients.iot.send(
      new TestInvokeAuthorizerCommand({
        authorizerName: authorizer.name,
        ...(signed
          ? {
              token: safeDecodeURIComponent(auth.tokenValue ?? ''),
              tokenSignature: safeDecodeURIComponent(auth.signature ?? ''),
            }
          : {}),
        mqttContext: {
          ...(username === undefined ? {} : { username }),
          ...(auth.password === undefined ? {} : { password: new TextEncoder().encode(auth.password) }),
          clientId: request.clientId,
        },
        tlsContext: { serverName: request.endpoint },
      }),
    );
  } catch (error) {
    const { name, message } = said(error);
    return {
      result: {
        check: 'test-invoke',
        ok: false,
        detail: `TestInvokeAuthorizer failed: ${name ? `${name}: ` : ''}${message}`,
        fix:
          name === 'InvalidResponseException'
            ? "the Lambda's response breaks AWS IoT's rules or it failed: read its log group"
            : 'allow iot:TestInvokeAuthorizer for your AWS identity, and check the authorizer',
      },
    };
  }
  const response = {
    isAuthenticated: answer.isAuthenticated,
    principalId: answer.principalId,
    policyDocuments: answer.policyDocuments ?? [],
    ...(answer.refreshAfterInSeconds === undefined
      ? {}
      : { refreshAfterInSeconds: answer.refreshAfterInSeconds }),
    ...(answer.disconnectAfterInSeconds === undefined
      ? {}
      : { disconnectAfterInSeconds: answer.disconnectAfterInSeconds }),
  };
  if (answer.isAuthenticated !== true) {
    return {
      result: {
        check: 'test-invoke',
        ok: false,
        detail: `the Lambda answered isAuthenticated: ${String(answer.isAuthenticated)} for these credentials`,
        fix: signed
          ? "the Lambda refuses the token: read its decision line in the authorizer's log group"
          : 'the Lambda refuses the user name and password: leave --custom_auth_username/--custom_auth_password out to read them from the device secret',
      },
    };
  }
  const problems = authorizerResponseProblems(response);
  if (problems.length > 0) {
    return {
      result: {
        check: 'test-invoke',
        ok: false,
        detail: `the Lambda's response is invalid: ${problems.join('; ')}`,
        fix: 'principalId ^[a-zA-Z0-9]{1,128}$, at most 10 policy documents of 2,048 characters, both TTLs integers 300..86400',
      },
    };
  }
  const policies = compilePolicies(response.policyDocuments);
  return {
    result: {
      check: 'test-invoke',
      ok: true,
      detail: `authenticated as ${answer.principalId ?? ''}: ${response.policyDocuments.length} policy documents, refresh after ${answer.refreshAfterInSeconds ?? '?'} s, disconnect after ${answer.disconnectAfterInSeconds ?? '?'} s`,
    },
    response: { policies },
  };
}

/**
 * The returned policies, evaluated as AWS IoT does (protocol's evaluator, the one local-iot uses): iot:Connect
 * on the client id (hard: the connect would be refused), then Publish, Receive and Subscribe on the device's
 * own topic (soft: the connect would work).
 */
export function checkPolicies(
  response: InvokedResponse,
  authorizer: FoundAuthorizer,
  clientId: string,
  clientIdPrefix: string,
): CheckResult[] {
  const context = arnContextOf(authorizer.arn);
  const variables = { 'iot:ClientId': clientId };
  const topic = deviceTopic(clientId, DEFAULTS.topicRoot);
  const connect = response.policies.evaluate({
    action: 'iot:Connect',
    resource: clientArn(context, clientId),
    variables,
  });
  if (!connect.allowed) {
    return [
      {
        check: 'policy',
        ok: false,
        detail: `iot:Connect on client/${clientId} is not allowed: ${connect.reason}`,
        fix: `--client_id ${clientIdPrefix}<something>, or return a policy allowing iot:Connect on client/${clientId}`,
        hard: true,
      },
    ];
  }
  const messages = [
    { action: 'iot:Publish', resource: topicArn(context, topic) },
    { action: 'iot:Receive', resource: topicArn(context, topic) },
    { action: 'iot:Subscribe', resource: topicFilterArn(context, topic) },
  ].map((request) => ({ ...request, decision: response.policies.evaluate({ ...request, variables }) }));
  const refused = messages.filter((m) => !m.decision.allowed);
  return [
    { check: 'policy', ok: true, detail: `iot:Connect on client/${clientId}: ${connect.reason}` },
    refused.length === 0
      ? {
          check: 'policy',
          ok: true,
          detail: `iot:Publish, iot:Receive and iot:Subscribe on ${topic} are allowed`,
        }
      : {
          check: 'policy',
          ok: false,
          detail: refused.map((m) => `${m.action} on ${topic}: ${m.decision.reason}`).join('; '),
          fix: `return a policy allowing ${refused.map((m) => m.action).join(', ')} on the device's topic ${topic}`,
          hard: false,
        },
  ];
}
