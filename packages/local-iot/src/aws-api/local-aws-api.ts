import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  isRecord,
  isStandardBase64,
  safeDecodeURIComponent,
  type LocalAwsCredentials,
} from '@iot-custom-auth/protocol';
import type { TestInvokeOutcome, TestInvokeRequest } from '../auth/custom-auth-pipeline';
import { findAuthorizer, findSecret, type LocalDeployment } from '../deployment/local-deployment';
import type { LoopbackListener } from './loopback-listener';
import { SigV4Verifier, type SigV4Refusal } from './sigv4-verifier';

/** What serves `TestInvokeAuthorizer`: the custom-auth pipeline (`CustomAuthPipeline` implements it). */
export interface TestInvoker {
  testInvoke(authorizerName: string, request: TestInvokeRequest): Promise<TestInvokeOutcome>;
}

/** What the API serves, and where. */
export interface LocalAwsApiOptions {
  readonly deployment: LocalDeployment;
  /**
   * The bound listener to serve (its URL is what the Lambda runner and the SDK clients are given). Bound
   * before the API is built because the pipeline behind `testInvoker` needs a runner that needs the URL.
   */
  readonly listener: LoopbackListener;
  /** Serves `TestInvokeAuthorizer`. */
  readonly testInvoker: TestInvoker;
  /**
   * The access key pair every request must be signed with (SigV4): the one `connection.json` hands the
   * client and the Lambda functions get in their environment.
   */
  readonly credentials: LocalAwsCredentials;
  /** The clock signing dates are checked against (tests move it). @default () => new Date() */
  readonly now?: () => Date;
}

/** Largest request body accepted (TestInvokeAuthorizer's token alone may be 6 KB). */
const MAX_BODY_BYTES = 1024 * 1024;
const AWS_CURRENT = 'AWSCURRENT';

/** An AWS error as the wire protocols carry it. */
interface AwsError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /**
   * Raised by AWS's request front end (authentication) rather than the service: awsJson1_1 bodies then
   * carry the text under `message`, where the service's own errors use `Message`.
   */
  readonly fromFrontEnd?: true;
}

type Reply = { readonly status: number; readonly body: unknown } | { readonly error: AwsError };

/**
 * The local AWS API on loopback, speaking the real wire protocols so unmodified AWS SDK v3 clients work
 * through the standard endpoint override (`endpoint` option or `AWS_ENDPOINT_URL*`):
 * - Secrets Manager (awsJson1_1, `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue`);
 * - IoT (restJson1): `DescribeEndpoint` (`GET /endpoint`), `DescribeAuthorizer` (`GET /authorizer/{name}`),
 *   `TestInvokeAuthorizer` (`POST /authorizer/{name}/test`).
 * Every request must carry a valid SigV4 signature by `options.credentials` (see `SigV4Verifier`), else it is
 * refused before any operation runs, with the status, `x-amzn-ErrorType` and message AWS sends (400 for
 * Secrets Manager, 403 for IoT). A malformed request gets an AWS error response, never a crash.
 */
export class LocalAwsApi {
  /** Stands in for the authorizers' creation date: when this local deployment started. */
  private readonly startedAt = Date.now() / 1000;
  private readonly verifier: SigV4Verifier;

  /** Serves `options.listener` from now on. @throws LocalIotError when something already serves it. */
  constructor(private readonly options: LocalAwsApiOptions) {
    this.verifier = new SigV4Verifier({
      credentials: options.credentials,
      region: options.deployment.region,
      ...(options.now !== undefined && { now: options.now }),
    });
    options.listener.serve((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        send(response, 500, { 'x-amzn-ErrorType': 'InternalFailureException' }, { message });
      });
    });
  }

  /** The port it listens on. */
  get port(): number {
    return this.options.listener.port;
  }

  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL` and the SDK clients' `endpoint`. */
  get url(): string {
    return this.options.listener.url;
  }

  /** The access key pair requests must be signed with. */
  get credentials(): LocalAwsCredentials {
    return this.options.credentials;
  }

  /** Stops listening and closes open connections (SDK clients keep theirs alive). Safe to call twice. */
  close(): Promise<void> {
    return this.options.listener.close();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = request.headers['x-amz-target'];
    const isJson11 = typeof target === 'string';
    const answer = isJson11 ? sendJson11 : sendRestJson;
    const body = await readBody(request);
    if (body === undefined) return answer(response, tooLarge());
    // Nothing of the request is acted on before its signature holds.
    const refusal = await this.verifier.verify(
      { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headersDistinct, body },
      isJson11 ? 'secretsmanager' : 'iot',
    );
    if (refusal !== undefined) return answer(response, refused(refusal, isJson11 ? 400 : 403));
    const text = body.toString('utf8');
    if (typeof target === 'string') return answer(response, this.json11(target, text));
    const url = new URL(request.url ?? '/', 'http://localhost');
    answer(response, await this.restJson(request.method ?? 'GET', url, text));
  }

  /** awsJson1_1 (Secrets Manager). */
  private json11(target: string, body: string): Reply {
    if (target !== 'secretsmanager.GetSecretValue') {
      return {
        error: {
          status: 400,
          code: 'UnknownOperationException',
          message: `local-iot does not implement ${target}`,
        },
      };
    }
    const input = parseJson(body);
    if (input === undefined) {
      return {
        error: {
          status: 400,
          code: 'SerializationException',
          message: 'the request body is not a JSON object',
        },
      };
    }
    const { SecretId: secretId, VersionId: versionId, VersionStage: versionStage } = input;
    for (const [field, value] of Object.entries({ VersionId: versionId, VersionStage: versionStage })) {
      if (value !== undefined && typeof value !== 'string') {
        return {
          error: { status: 400, code: 'ValidationException', message: `${field} must be a string` },
        };
      }
    }
    if (typeof secretId !== 'string' || secretId.length === 0) {
      return {
        error: {
          status: 400,
          code: 'ValidationException',
          message:
            "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must not be null or empty",
        },
      };
    }
    const secret = findSecret(this.options.deployment, secretId);
    if (secret === undefined) {
      return {
        error: {
          status: 400,
          code: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        },
      };
    }
    const notFound = (what: string): Reply => ({
      error: {
        status: 400,
        code: 'ResourceNotFoundException',
        message: `Secrets Manager can't find the specified secret value for ${what}`,
      },
    });
    if (versionStage !== undefined && versionStage !== AWS_CURRENT)
      return notFound(`staging label: ${versionStage as string}`);
    if (versionId !== undefined && versionId !== secret.versionId)
      return notFound(`VersionId: ${versionId as string}`);
    if (secret.secretString === undefined) return notFound(`staging label: ${AWS_CURRENT}`);
    return {
      status: 200,
      body: {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: secret.versionId,
        SecretString: secret.secretString,
        VersionStages: [AWS_CURRENT],
        CreatedDate: secret.createdDate.getTime() / 1000,
      },
    };
  }

  /** restJson1 (IoT). */
  private async restJson(method: string, url: URL, body: string): Promise<Reply> {
    const { deployment } = this.options;
    const parts = url.pathname.split('/').filter(Boolean).map(safeDecodeURIComponent);
    if (method === 'GET' && parts.length === 1 && parts[0] === 'endpoint') {
      const type = url.searchParams.get('endpointType');
      if (type !== null && type !== 'iot:Data-ATS' && type !== 'iot:Data') {
        return invalidRequest(`local-iot serves only the iot:Data-ATS endpoint, not ${type}`);
      }
      return { status: 200, body: { endpointAddress: deployment.endpointHost } };
    }
    if (parts[0] === 'authorizer' && parts.length >= 2 && parts.length <= 3) {
      const name = parts[1] as string;
      if (method === 'GET' && parts.length === 2) {
        const authorizer = findAuthorizer(deployment, name);
        if (authorizer === undefined) return notFound(`Authorizer ${name} does not exist`);
        const created = this.startedAt;
        return {
          status: 200,
          body: {
            authorizerDescription: {
              authorizerName: authorizer.name,
              authorizerArn: authorizer.arn,
              authorizerFunctionArn: authorizer.functionArn,
              ...(authorizer.tokenKeyName !== undefined && { tokenKeyName: authorizer.tokenKeyName }),
              tokenSigningPublicKeys: authorizer.tokenSigningPublicKeys,
              status: authorizer.status,
              creationDate: created,
              lastModifiedDate: created,
              signingDisabled: authorizer.signingDisabled,
              enableCachingForHttp: authorizer.enableCachingForHttp,
            },
          },
        };
      }
      if (method === 'POST' && parts[2] === 'test') return this.testInvokeAuthorizer(name, body);
    }
    return {
      error: {
        status: 404,
        code: 'UnknownOperationException',
        message: `local-iot does not implement ${method} ${url.pathname}`,
      },
    };
  }

  private async testInvokeAuthorizer(name: string, body: string): Promise<Reply> {
    const input = body.trim() === '' ? {} : parseJson(body);
    if (input === undefined) return invalidRequest('the request body is not a JSON object');
    const problem = testInvokeRequestProblem(input);
    if (problem !== undefined) return invalidRequest(problem);
    const outcome = await this.options.testInvoker.testInvoke(name, input);
    if (outcome.ok) return { status: 200, body: outcome.response };
    const status = outcome.errorCode === 'ResourceNotFoundException' ? 404 : 400;
    return { error: { status, code: outcome.errorCode, message: outcome.message } };
  }
}

/** Why a TestInvokeAuthorizer body does not match the API's shapes, or undefined. */
function testInvokeRequestProblem(input: Record<string, unknown>): string | undefined {
  for (const key of ['token', 'tokenSignature'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'string') return `${key} must be a string`;
  }
  if (typeof input.token === 'string' && (input.token.length < 1 || input.token.length > 6144)) {
    return 'token must be 1 to 6144 characters long';
  }
  const contexts: Record<string, readonly string[]> = {
    mqttContext: ['username', 'password', 'clientId'],
    tlsContext: ['serverName'],
    httpContext: ['queryString'],
  };
  for (const [name, fields] of Object.entries(contexts)) {
    const context = input[name];
    if (context === undefined) continue;
    if (!isRecord(context)) return `${name} must be an object`;
    for (const field of fields) {
      if (context[field] !== undefined && typeof context[field] !== 'string')
        return `${name}.${field} must be a string`;
    }
  }
  const mqtt = input.mqttContext as Record<string, unknown> | undefined;
  if (typeof mqtt?.password === 'string' && mqtt.password !== '' && !isStandardBase64(mqtt.password)) {
    return 'mqttContext.password must be base64 (it is a blob)';
  }
  const headers = (input.httpContext as Record<string, unknown> | undefined)?.headers;
  if (
    headers !== undefined &&
    (!isRecord(headers) || !Object.values(headers).every((v) => typeof v === 'string'))
  ) {
    return 'httpContext.headers must map header names to strings';
  }
  return undefined;
}

function invalidRequest(message: string): Reply {
  return { error: { status: 400, code: 'InvalidRequestException', message } };
}

function notFound(message: string): Reply {
  return { error: { status: 404, code: 'ResourceNotFoundException', message } };
}

/** An authentication refusal: 400 in awsJson1_1 (Secrets Manager), 403 in restJson1 (IoT), as AWS sends. */
function refused({ code, message }: SigV4Refusal, status: number): Reply {
  return { error: { status, code, message, fromFrontEnd: true } };
}

function tooLarge(): Reply {
  return {
    error: {
      status: 413,
      code: 'RequestEntityTooLargeException',
      message: `the request body exceeds ${MAX_BODY_BYTES} bytes`,
    },
  };
}

/** The body's bytes, or undefined when it is larger than MAX_BODY_BYTES (the rest is drained). */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) tooBig = true;
    else chunks.push(buffer);
  }
  return tooBig ? undefined : Buffer.concat(chunks);
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body) as unknown;
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * awsJson1_1: errors carry `__type` in the body (and the header) with the message under `Message`
 * (`message` for the front end's authentication errors).
 */
function sendJson11(response: ServerResponse, reply: Reply): void {
  const headers = { 'content-type': 'application/x-amz-json-1.1' };
  if ('error' in reply) {
    const { status, code, message, fromFrontEnd } = reply.error;
    const body = { __type: code, [fromFrontEnd ? 'message' : 'Message']: message };
    send(response, status, { ...headers, 'x-amzn-ErrorType': code }, body);
  } else {
    send(response, reply.status, headers, reply.body);
  }
}

/** restJson1: the error code in the `x-amzn-ErrorType` header, the message in the body. */
function sendRestJson(response: ServerResponse, reply: Reply): void {
  const headers = { 'content-type': 'application/json' };
  if ('error' in reply) {
    const { status, code, message } = reply.error;
    send(response, status, { ...headers, 'x-amzn-ErrorType': code }, { message });
  } else {
    send(response, reply.status, headers, reply.body);
  }
}

function send(
  response: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: unknown,
): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'content-length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
  });
  response.end(text);
}
