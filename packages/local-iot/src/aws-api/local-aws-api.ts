import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord, isStandardBase64, safeDecodeURIComponent } from '@iot-custom-auth/protocol';
import type { TestInvokeOutcome, TestInvokeRequest } from '../auth/custom-auth-pipeline';
import { findAuthorizer, findSecret, type LocalDeployment } from '../deployment/local-deployment';
import type { LoopbackListener } from './loopback-listener';

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
}

/** Largest request body accepted (TestInvokeAuthorizer's token alone may be 6 KB). */
const MAX_BODY_BYTES = 1024 * 1024;
const AWS_CURRENT = 'AWSCURRENT';

/** An AWS error as the wire protocols carry it. */
interface AwsError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

type Reply = { readonly status: number; readonly body: unknown } | { readonly error: AwsError };

/**
 * The local AWS API on loopback, speaking the real wire protocols so unmodified AWS SDK v3 clients work
 * through the standard endpoint override (`endpoint` option or `AWS_ENDPOINT_URL*`):
 * - Secrets Manager (awsJson1_1, `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue`);
 * - IoT (restJson1): `DescribeEndpoint` (`GET /endpoint`), `DescribeAuthorizer` (`GET /authorizer/{name}`),
 *   `TestInvokeAuthorizer` (`POST /authorizer/{name}/test`).
 * Requests are not signature-checked. A malformed request gets an AWS error response, never a crash.
 */
export class LocalAwsApi {
  /** Stands in for the authorizers' creation date: when this local deployment started. */
  private readonly startedAt = Date.now() / 1000;

  /** Serves `options.listener` from now on. @throws LocalIotError when something already serves it. */
  constructor(private readonly options: LocalAwsApiOptions) {
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

  /** Stops listening and closes open connections (SDK clients keep theirs alive). Safe to call twice. */
  close(): Promise<void> {
    return this.options.listener.close();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = request.headers['x-amz-target'];
    const body = await readBody(request);
    if (typeof target === 'string') {
      const reply = body === undefined ? tooLarge() : this.json11(target, body);
      sendJson11(response, reply);
      return;
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    const reply = body === undefined ? tooLarge() : await this.restJson(request.method ?? 'GET', url, body);
    sendRestJson(response, reply);
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

function tooLarge(): Reply {
  return {
    error: {
      status: 413,
      code: 'RequestEntityTooLargeException',
      message: `the request body exceeds ${MAX_BODY_BYTES} bytes`,
    },
  };
}

/** The body as text, or undefined when it is larger than MAX_BODY_BYTES (the rest is drained). */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) tooBig = true;
    else chunks.push(buffer);
  }
  return tooBig ? undefined : Buffer.concat(chunks).toString('utf8');
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body) as unknown;
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** awsJson1_1: errors carry `__type` in the body (and the header) with the message under `Message`. */
function sendJson11(response: ServerResponse, reply: Reply): void {
  const headers = { 'content-type': 'application/x-amz-json-1.1' };
  if ('error' in reply) {
    const { status, code, message } = reply.error;
    send(response, status, { ...headers, 'x-amzn-ErrorType': code }, { __type: code, Message: message });
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
