import { request as httpsRequest } from 'node:https';
import {
  AUTHORIZER_NAME_PARAM,
  AUTHORIZER_SIGNATURE_PARAM,
  safeDecodeURIComponent,
  type ClientReport,
  type ClientReportHttps,
} from '@iot-custom-auth/protocol';
import type { CliConfig } from './args';
import { prepareConnection, type PlanDeps } from './connect-plan';
import type { CustomAuthFields } from './connection';
import { ConnectionFailedError, UsageError } from './errors';
import { usesClientCertificate } from './mtls-flags';

/**
 * `--https`: one message published over HTTPS through the custom authorizer, as AWS IoT Core takes it
 * (https://docs.aws.amazon.com/iot/latest/developerguide/http.html, custom authentication on HTTPS port 443:
 * https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html): `POST /topics/<topic>?qos=1` with the
 * message as the body and the authorizer name, token and signature as headers. HTTPS carries no user name,
 * password or client id, so only the signed authorizer can authenticate it (`--https` implies `--signed`): the
 * token names the client id,
 * and the stack's authorizer then allows `iot:Publish` on that device's own topic (`devices/<client id>`).
 */

/** What one HTTPS publish needs. */
export interface HttpsPublishRequest {
  readonly endpoint: string;
  readonly port: number;
  readonly caPem?: string;
  readonly topic: string;
  readonly payload: string;
  /** The custom-auth fields as `prepareConnection` resolved them (values URL-encoded once). */
  readonly auth: CustomAuthFields;
  readonly timeoutMs: number;
}

/** AWS IoT's answer (its JSON body's `message` and `traceId`), or why there was none. */
export type HttpsPublishResult =
  | { readonly answered: true; readonly status: number; readonly message?: string; readonly traceId?: string }
  | { readonly answered: false; readonly reason: string };

/** Everything `publishOnceOverHttps` touches outside itself. */
export interface HttpsPublishDeps extends PlanDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** @default `sendHttpsPublish` (node:https) */
  readonly httpsPublish?: (request: HttpsPublishRequest) => Promise<HttpsPublishResult>;
}

/** The largest answer read: AWS IoT's are a short JSON object. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Refuses the flag combinations HTTPS cannot serve, each with what to do instead. */
function checkHttpsFlags(config: CliConfig): void {
  if (config.transport === 'websockets') {
    throw new UsageError('--https and --use_websockets are two transports: pick one');
  }
  if (usesClientCertificate(config)) {
    throw new UsageError(
      '--https publishes through the signed custom authorizer; --cert, --key and --mtls are MQTT over mTLS: drop one or the other',
    );
  }
  if (config.roundtrip) {
    throw new UsageError('--roundtrip needs MQTT (HTTPS can only publish): drop --https or --roundtrip');
  }
  if (config.count !== undefined && config.count !== 1) {
    throw new UsageError(`--https publishes one message; --count ${config.count} needs MQTT: drop --count`);
  }
  if (config.username !== undefined || config.password !== undefined) {
    throw new UsageError(
      '--https carries no user name or password (HTTPS has none, so the unsigned authorizer cannot authenticate it): it uses the signed authorizer with a token; drop --custom_auth_username and --custom_auth_password',
    );
  }
}

/** The headers AWS IoT reads the custom-auth credentials from, values as they were signed (not URL-encoded). */
function credentialHeaders(auth: CustomAuthFields): Record<string, string> {
  const headers: Record<string, string> = {};
  const set = (name: string | undefined, value: string | undefined): void => {
    if (name !== undefined && value !== undefined)
      headers[safeDecodeURIComponent(name)] = safeDecodeURIComponent(value);
  };
  set(AUTHORIZER_NAME_PARAM, auth.authorizerName);
  set(auth.tokenKeyName, auth.tokenValue);
  set(AUTHORIZER_SIGNATURE_PARAM, auth.signature);
  return headers;
}

/** `/topics/<topic>?qos=1`, each topic level URL-encoded (the slashes kept, as AWS's examples write them). */
export function httpsPublishPath(topic: string): string {
  return `/topics/${topic.split('/').map(encodeURIComponent).join('/')}?qos=1`;
}

/** One `POST /topics/<topic>?qos=1` with node:https; never rejects. */
export function sendHttpsPublish(request: HttpsPublishRequest): Promise<HttpsPublishResult> {
  return new Promise((resolve) => {
    const body = Buffer.from(request.payload, 'utf8');
    const outgoing = httpsRequest(
      {
        host: request.endpoint,
        port: request.port,
        method: 'POST',
        path: httpsPublishPath(request.topic),
        servername: request.endpoint,
        ...(request.caPem === undefined ? {} : { ca: request.caPem }),
        headers: {
          ...credentialHeaders(request.auth),
          'content-type': 'application/octet-stream',
          'content-length': String(body.length),
        },
        timeout: request.timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        response.on('end', () =>
          resolve({
            answered: true,
            status: response.statusCode ?? 0,
            ...answerFields(Buffer.concat(chunks)),
          }),
        );
        response.on('error', (error) => resolve({ answered: false, reason: error.message }));
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ answered: false, reason: error.code ? `${error.code}: ${error.message}` : error.message }),
    );
    outgoing.end(body);
  });
}

/** AWS IoT's JSON answer `{"message","traceId"}`; anything else is kept as the message, shortened. */
function answerFields(body: Buffer): { message?: string; traceId?: string } {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { message?: unknown; traceId?: unknown };
    return {
      ...(typeof parsed.message === 'string' ? { message: parsed.message } : {}),
      ...(typeof parsed.traceId === 'string' ? { traceId: parsed.traceId } : {}),
    };
  } catch {
    return text.length === 0 ? {} : { message: text.slice(0, 200) };
  }
}

/** What a refusal most likely means, by status, for the device's topic and authorizer. */
function likelyCauses(status: number, topic: string, clientId: string): string[] {
  switch (status) {
    case 400:
      return [
        `the topic '${topic}' or the qos is not one AWS IoT Core takes (no wildcards, at most 8 levels)`,
      ];
    case 401:
    case 403:
      return [
        `the authorizer refused the token or its signature: expired token, a key the authorizer does not know, or not the signed authorizer`,
        `the policy the authorizer returned does not allow iot:Publish on topic '${topic}': the stack allows a device only its own topic, devices/${clientId}`,
      ];
    case 404:
      return [
        'this endpoint does not serve HTTPS publish on this port: AWS IoT takes it on 443 at the data endpoint',
      ];
    case 413:
      return ["the message is over AWS IoT Core's 128 KB payload limit"];
    case 429:
      return ['AWS IoT Core throttled the request (a quota): publish less often'];
    default:
      return ['AWS IoT Core could not take the message: try again, and see its logs (AWSIotLogsV2)'];
  }
}

/**
 * The `--https` command: resolve the endpoint, the signed token and the topic as a connect does, POST the
 * message once, report (lines, or one `--json` object with `transport: "https"` and the HTTP status).
 * Resolves on 200; otherwise throws (`UsageError` before sending, `ConnectionFailedError` after).
 */
export async function publishOnceOverHttps(config: CliConfig, deps: HttpsPublishDeps): Promise<void> {
  checkHttpsFlags(config);
  const started = deps.clock();
  // A message is always sent: the device's own topic and the default payload unless the flags say otherwise.
  const prepared = await prepareConnection({ ...config, count: 1, signed: true }, deps);
  const { request, plan } = prepared;
  const messages = prepared.messages as NonNullable<typeof prepared.messages>;
  const say = (text: string, to: 'stdout' | 'stderr' = 'stdout'): void => {
    if (!config.json) deps[to](`${text}\n`);
  };
  for (const warning of prepared.warnings) deps.stderr(`Warning: ${warning}\n`);
  const url = `https://${request.endpoint}:${request.port}${httpsPublishPath(messages.topic)}`;
  say(
    `Publishing over HTTPS: POST ${url} with ${plan.authorizerName === undefined ? "the endpoint's default authorizer" : `authorizer ${plan.authorizerName}`} (signed), token for client id ${plan.clientId}`,
  );
  say(`  credentials: ${plan.credentials}`);
  const send = deps.httpsPublish ?? sendHttpsPublish;
  const result = await send({
    endpoint: request.endpoint,
    port: request.port,
    ...(request.caPem === undefined ? {} : { caPem: request.caPem }),
    topic: messages.topic,
    payload: messages.payload(1, deps.clock()),
    auth: request.auth,
    timeoutMs: config.timeoutSeconds * 1000,
  });
  const ok = result.answered && result.status === 200;
  const https: ClientReportHttps = result.answered
    ? {
        topic: messages.topic,
        status: result.status,
        ...(result.message === undefined ? {} : { message: result.message }),
        ...(result.traceId === undefined ? {} : { traceId: result.traceId }),
      }
    : { topic: messages.topic, status: 0 };
  const headline = result.answered
    ? `HTTPS publish ${ok ? 'accepted' : 'refused'}: ${result.status} ${result.message ?? ''}`.trimEnd() +
      (result.traceId === undefined ? '' : ` (traceId ${result.traceId})`)
    : `HTTPS publish got no answer: ${result.reason}`;
  const causes = ok
    ? []
    : result.answered
      ? likelyCauses(result.status, messages.topic, plan.clientId)
      : [
          `nothing answered HTTPS on ${request.endpoint}:${request.port}: check the endpoint, the port and the CA`,
        ];
  say(headline, ok ? 'stdout' : 'stderr');
  if (causes.length > 0)
    say(['Likely causes:', ...causes.map((cause) => `  - ${cause}`)].join('\n'), 'stderr');
  if (config.json) {
    const report: ClientReport = {
      ok,
      endpoint: request.endpoint,
      port: request.port,
      transport: 'https',
      alpn: null,
      authentication: 'CUSTOM_AUTH',
      authorizer: plan.authorizerName ?? null,
      signed: true,
      clientId: plan.clientId,
      https,
      ...(ok ? {} : { error: { kind: 'https' as const, message: headline }, likelyCauses: causes }),
      ...(plan.outputsSource === undefined ? {} : { outputs: plan.outputsSource }),
      durationMs: deps.clock() - started,
    };
    deps.stdout(`${JSON.stringify(report)}\n`);
  }
  if (!ok) throw new ConnectionFailedError(headline);
}
