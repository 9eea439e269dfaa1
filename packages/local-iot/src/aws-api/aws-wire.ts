import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord } from '@iot-custom-auth/protocol';

/** Largest request body accepted (TestInvokeAuthorizer's token alone may be 6 KB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The two wire protocols the local services speak. */
export type WireProtocol = 'awsJson1_1' | 'restJson1';

/** An AWS error as the wire protocols carry it. */
export interface AwsError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /**
   * Raised by AWS's request front end (authentication) rather than the service: awsJson1_1 bodies then
   * carry the text under `message`, where the service's own errors use `Message`.
   */
  readonly fromFrontEnd?: true;
}

/** A service's answer: a body with its status, or an error. */
export type Reply = { readonly status: number; readonly body: unknown } | { readonly error: AwsError };

/** A request whose signature has been verified, as a service module sees it. */
export interface ServiceRequest {
  readonly method: string;
  readonly url: URL;
  /** The `X-Amz-Target` header (awsJson1_1), when sent. */
  readonly target: string | undefined;
  /** The body as UTF-8 text. */
  readonly body: string;
}

/** One AWS service of the local AWS API (Secrets Manager, IoT, CloudWatch Logs, Lambda). */
export interface LocalAwsService {
  /** The service name SigV4 credential scopes carry (`secretsmanager`, `iot`, `logs`, `lambda`). */
  readonly signingName: string;
  readonly protocol: WireProtocol;
  /** The HTTP status this service's front end refuses an unauthenticated request with (400 or 403). */
  readonly authFailureStatus: number;
  /** Whether an unsigned request looks like one for this service (which error format to answer it in). */
  claims(request: { readonly target: string | undefined; readonly path: string }): boolean;
  handle(request: ServiceRequest): Promise<Reply> | Reply;
}

/** An error reply. */
export function awsError(status: number, code: string, message: string): Reply {
  return { error: { status, code, message } };
}

/** The body parsed as a JSON object, or undefined when it is not one. */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body) as unknown;
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The body's bytes, or undefined when it is larger than MAX_BODY_BYTES (the rest is drained). */
export async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
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

/** Writes `reply` in `protocol`'s shape. */
export function sendReply(response: ServerResponse, protocol: WireProtocol, reply: Reply): void {
  if (protocol === 'awsJson1_1') sendJson11(response, reply);
  else sendRestJson(response, reply);
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

/** Writes a JSON body (headers once: a second answer to the same response only ends it). */
export function send(
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
