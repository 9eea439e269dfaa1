import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AWS_IOT_TOPIC_LIMITS,
  AUTHORIZER_NAME_PARAM,
  AUTHORIZER_SIGNATURE_PARAM,
  isSuccessReasonCode,
  MQTT_REASON_CODES as RC,
  type PolicyRequestContext,
} from '@iot-custom-auth/protocol';
import type { HttpAuthorization, HttpAuthorizationRequest } from '../auth/custom-auth-pipeline';
import { policyContext } from '../auth/policy-context';
import type { HttpsPublishRequest } from '../broker/message-broker';
import type { ClockTimer, GatewayClock } from './gateway-clock';
import type { GatewayLogEntryInput } from './gateway-log';
import type { PacketOutcome } from './message-handler';

/** The path prefix of AWS IoT's HTTPS publish: `POST /topics/<topic>?qos=1`. */
export const HTTPS_PUBLISH_PATH_PREFIX = '/topics/';

/** Decides HTTPS requests through custom authentication (the custom-auth pipeline). */
export interface HttpAuthorizer {
  authorizeHttp(request: HttpAuthorizationRequest): Promise<HttpAuthorization>;
}

/** Publishes a message an HTTPS request carried (the message broker). */
export interface HttpsPublishTarget {
  publishFromHttps(request: HttpsPublishRequest): PacketOutcome;
}

/** The TLS connection an HTTPS request arrived on. */
export interface HttpsConnectionInfo {
  readonly connectionId: string;
  readonly serverName?: string;
  readonly remoteAddress?: string;
}

/** Wiring of `HttpsPublish`. */
export interface HttpsPublishOptions {
  readonly authorizer: HttpAuthorizer;
  readonly target: HttpsPublishTarget;
  readonly log: (entry: GatewayLogEntryInput) => void;
  /** Measures how long a cached authorization stays valid (`refreshAfterInSeconds`). */
  readonly clock: GatewayClock;
}

/** What an authorizer granted one TLS connection, kept while `EnableCachingForHttp` lets it be reused. */
interface CachedAuthorization {
  /** The credentials it was granted for: another set on the same connection is authorized anew. */
  readonly credentials: string;
  readonly authorization: Extract<HttpAuthorization, { ok: true }>;
  readonly expiry: ClockTimer;
}

/** The answer to one request: AWS IoT's status and JSON body. */
interface HttpsAnswer {
  readonly status: number;
  readonly message: string;
}

const ANSWERS = {
  ok: { status: 200, message: 'OK' },
  badRequest: { status: 400, message: 'Bad Request' },
  forbidden: { status: 403, message: 'Forbidden' },
  notFound: { status: 404, message: 'Not Found' },
  tooLarge: { status: 413, message: 'Request Entity Too Large' },
  tooManyRequests: { status: 429, message: 'Too Many Requests' },
  internal: { status: 500, message: 'Internal Server Error' },
} as const satisfies Record<string, HttpsAnswer>;

/**
 * AWS IoT Core's HTTPS publish through a custom authorizer, on the gateway's TLS port (no ALPN needed):
 * `POST /topics/<url-encoded topic>?qos=0|1[&retain=true]` with the message as the body
 * (https://docs.aws.amazon.com/iot/latest/developerguide/http.html). The authorizer name, token and
 * signature travel as headers (`x-amz-customauthorizer-name`, the token key name,
 * `x-amz-customauthorizer-signature`) or query parameters of the same names
 * (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth.html); the Lambda gets
 * `protocols: ["tls","http"]`. The returned policy must allow `iot:Publish` on the topic (and
 * `iot:RetainPublish` for a retained one); the message then reaches MQTT subscribers as any PUBLISH.
 *
 * With the authorizer's `EnableCachingForHttp`, the authorization is reused for the same credentials on the
 * same TLS connection for `refreshAfterInSeconds` ("the cached result is used while the device reuses the
 * same HTTP connection"); without it every request invokes the Lambda.
 *
 * Answers are AWS IoT's JSON `{"message": ..., "traceId": ...}` with the status codes its error table lists
 * (https://docs.aws.amazon.com/iot/latest/developerguide/iot-errors.html): 200 OK; 400 for a malformed topic,
 * `qos` or `retain`; 403 Forbidden for every custom-auth refusal and for a policy that does not allow the
 * publish ([choice] AWS documents no split between 401 and 403 for custom auth; 403 `Forbidden` is what
 * devices report seeing); 404 for another path or method; 413 for a body over the 128 KiB payload quota;
 * 429 for a quota refusal of a retained message. The exact reason is in the `https-publish` log line.
 */
export class HttpsPublish {
  readonly #options: HttpsPublishOptions;
  readonly #cache = new Map<string, CachedAuthorization>();

  constructor(options: HttpsPublishOptions) {
    this.#options = options;
  }

  /** Whether `request` is this handler's (a request under `/topics/`); other paths go elsewhere. */
  handles(request: IncomingMessage): boolean {
    return (request.url ?? '').startsWith(HTTPS_PUBLISH_PATH_PREFIX);
  }

  /** Answers one request; never throws, never rejects. */
  async handle(
    request: IncomingMessage,
    response: ServerResponse,
    connection: HttpsConnectionInfo,
  ): Promise<void> {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const path = query >= 0 ? url.slice(0, query) : url;
    const queryString = query >= 0 ? url.slice(query) : undefined;
    const base = { event: 'https-publish' as const, connectionId: connection.connectionId };
    const answer = (outcome: HttpsAnswer, reason: string, extra: Partial<HttpsLogFields> = {}): void => {
      this.#options.log({ ...base, ...extra, method: request.method ?? '', status: outcome.status, reason });
      send(response, outcome);
    };
    try {
      if (request.method !== 'POST') {
        return answer(
          ANSWERS.notFound,
          `${request.method} ${path}: HTTPS publish is POST ${HTTPS_PUBLISH_PATH_PREFIX}<topic>?qos=1`,
        );
      }
      const target = parseTarget(path, queryString);
      if (!target.ok) return answer(ANSWERS.badRequest, target.reason);
      const { topic, qos, retain } = target;
      const fields = { topic, qos };
      const body = await readBody(request, AWS_IOT_TOPIC_LIMITS.maxPayloadBytes);
      if (!body.ok) return answer(ANSWERS.tooLarge, body.reason, fields);
      const headers = flattenHeaders(request);
      const authorized = await this.#authorize(connection, headers, queryString);
      const auth = authorized.authorization;
      const authFields = {
        ...fields,
        ...(auth.authorizerName !== undefined && { authorizer: auth.authorizerName }),
        signature: auth.signature,
        lambdaInvoked: !authorized.cached && auth.lambdaDurationMs !== undefined,
        ...(!authorized.cached &&
          auth.lambdaDurationMs !== undefined && { lambdaDurationMs: auth.lambdaDurationMs }),
        ...(authorized.cached && { cached: true as const }),
      };
      if (!auth.ok) return answer(ANSWERS.forbidden, auth.reason, { ...authFields, decision: 'deny' });
      const outcome = this.#options.target.publishFromHttps({
        topic,
        payload: body.payload,
        qos,
        retain,
        policies: auth.policies,
        context: requestContext(connection),
      });
      const decision = isSuccessReasonCode(outcome.reasonCode) ? 'allow' : 'deny';
      return answer(answerFor(outcome.reasonCode), outcome.reason, { ...authFields, decision });
    } catch (error) {
      return answer(ANSWERS.internal, `internal error: ${(error as Error).message}`);
    }
  }

  /** Forgets what was cached for a connection that closed. */
  connectionClosed(connectionId: string): void {
    this.#cache.get(connectionId)?.expiry.cancel();
    this.#cache.delete(connectionId);
  }

  async #authorize(
    connection: HttpsConnectionInfo,
    headers: Readonly<Record<string, string>>,
    queryString: string | undefined,
  ): Promise<{ readonly authorization: HttpAuthorization; readonly cached: boolean }> {
    const credentials = credentialsKey(headers, queryString);
    const cached = this.#cache.get(connection.connectionId);
    if (cached && cached.credentials === credentials)
      return { authorization: cached.authorization, cached: true };
    const authorization = await this.#options.authorizer.authorizeHttp({
      connectionId: connection.connectionId,
      ...(connection.serverName === undefined ? {} : { serverName: connection.serverName }),
      headers,
      ...(queryString === undefined ? {} : { queryString }),
    });
    if (authorization.ok && authorization.enableCachingForHttp) {
      this.connectionClosed(connection.connectionId);
      const expiry = this.#options.clock.setTimer(
        () => this.#cache.delete(connection.connectionId),
        authorization.refreshAfterInSeconds * 1000,
      );
      this.#cache.set(connection.connectionId, { credentials, authorization, expiry });
    }
    return { authorization, cached: false };
  }
}

/** Fields of an `https-publish` log line besides the base, method, status and reason. */
interface HttpsLogFields {
  readonly topic: string;
  readonly qos: 0 | 1;
  readonly authorizer: string;
  readonly signature: HttpAuthorization['signature'];
  readonly lambdaInvoked: boolean;
  readonly lambdaDurationMs: number;
  readonly cached: true;
  readonly decision: 'allow' | 'deny';
}

function requestContext(connection: HttpsConnectionInfo): PolicyRequestContext {
  return policyContext({
    ...(connection.remoteAddress === undefined ? {} : { sourceIp: connection.remoteAddress }),
    ...(connection.serverName === undefined ? {} : { serverName: connection.serverName }),
  });
}

/** The status a broker outcome is answered with. */
function answerFor(reasonCode: number): HttpsAnswer {
  if (isSuccessReasonCode(reasonCode)) return ANSWERS.ok;
  if (reasonCode === RC.notAuthorized) return ANSWERS.forbidden;
  if (reasonCode === RC.topicNameInvalid || reasonCode === RC.implementationSpecificError) {
    return ANSWERS.badRequest;
  }
  if (reasonCode === RC.quotaExceeded) return ANSWERS.tooManyRequests;
  return ANSWERS.internal;
}

type Target =
  | { readonly ok: true; readonly topic: string; readonly qos: 0 | 1; readonly retain: boolean }
  | { readonly ok: false; readonly reason: string };

/** The topic (URL-decoded once), `qos` (default 0) and `retain` (default false) of a publish request. */
function parseTarget(path: string, queryString: string | undefined): Target {
  let topic: string;
  try {
    topic = decodeURIComponent(path.slice(HTTPS_PUBLISH_PATH_PREFIX.length));
  } catch {
    return { ok: false, reason: `the topic in ${path} is not valid URL encoding` };
  }
  if (topic.length === 0) return { ok: false, reason: `no topic after ${HTTPS_PUBLISH_PATH_PREFIX}` };
  const params = new URLSearchParams(queryString ?? '');
  const qosText = params.get('qos') ?? '0';
  if (qosText !== '0' && qosText !== '1') {
    return { ok: false, reason: `qos=${qosText}: AWS IoT Core takes qos 0 or 1 over HTTPS` };
  }
  const retainText = params.get('retain') ?? 'false';
  if (retainText !== 'true' && retainText !== 'false') {
    return { ok: false, reason: `retain=${retainText}: use true or false` };
  }
  return { ok: true, topic, qos: qosText === '1' ? 1 : 0, retain: retainText === 'true' };
}

/** The credentials a request sends, as a key that changes when any of them does. */
function credentialsKey(headers: Readonly<Record<string, string>>, queryString: string | undefined): string {
  const named = [AUTHORIZER_NAME_PARAM, AUTHORIZER_SIGNATURE_PARAM].map((name) => headers[name] ?? '');
  // The token key name depends on the authorizer: every header and the query string are part of the key.
  return JSON.stringify([named, Object.entries(headers).sort(), queryString ?? '']);
}

/** Reads the body up to `limit` bytes; a longer one is refused without reading it all into memory. */
async function readBody(
  request: IncomingMessage,
  limit: number,
): Promise<
  { readonly ok: true; readonly payload: Buffer } | { readonly ok: false; readonly reason: string }
> {
  const tooLarge = (size: string) => ({
    ok: false as const,
    reason: `the ${size} payload exceeds AWS IoT Core's ${limit}-byte (128 KiB) message payload quota`,
  });
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume();
    return tooLarge(`${declared}-byte`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      request.resume();
      return tooLarge(`more than ${limit}-byte`);
    }
    chunks.push(buffer);
  }
  return { ok: true, payload: Buffer.concat(chunks) };
}

function flattenHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function send(response: ServerResponse, answer: HttpsAnswer): void {
  if (response.headersSent) return;
  const body = JSON.stringify({ message: answer.message, traceId: randomUUID() });
  response.writeHead(answer.status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}
