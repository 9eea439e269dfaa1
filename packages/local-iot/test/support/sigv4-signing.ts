/**
 * Signs raw HTTP calls to the local AWS API with SigV4 the way the AWS SDK does (its own signer,
 * `@smithy/signature-v4`), for tests that call it without an SDK client (TestInvokeAuthorizer has no SDK
 * client in this repository) or that tamper with a signed request.
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalAwsCredentials } from '@iot-custom-auth/protocol';

/** Who signs, for which scope. */
export interface SigningIdentity {
  readonly credentials: LocalAwsCredentials;
  readonly region: string;
}

/** A request to sign: the credential scope's service and what goes on the wire. */
export interface RequestToSign {
  /** `secretsmanager` (awsJson1_1) or `iot` (restJson1). */
  readonly service: string;
  readonly method: string;
  /** Absolute URL, e.g. `${api.url}/endpoint?endpointType=iot%3AData-ATS`. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** @default now */
  readonly signingDate?: Date;
}

/** The headers to send (the given ones plus `authorization`, `x-amz-date`; no `host`: fetch sets it). */
export async function signedHeaders(
  identity: SigningIdentity,
  request: RequestToSign,
): Promise<Record<string, string>> {
  const url = new URL(request.url);
  const signer = new SignatureV4({
    credentials: identity.credentials,
    region: identity.region,
    service: request.service,
    sha256: Sha256,
    // As the SDK signs these services: no x-amz-content-sha256 header.
    applyChecksum: false,
  });
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const previous = query[name];
    query[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers: { host: url.host, ...request.headers },
      body: request.body,
    },
    { signingDate: request.signingDate ?? new Date() },
  );
  const { host: _host, ...headers } = signed.headers;
  return headers;
}

/** `fetch` with the request signed by `identity`. */
export async function signedFetch(identity: SigningIdentity, request: RequestToSign): Promise<Response> {
  return fetch(request.url, {
    method: request.method,
    headers: await signedHeaders(identity, request),
    ...(request.body !== undefined && { body: request.body }),
  });
}

/** A JSON call to the local IoT API (restJson1), signed by `identity`. */
export function signedIotCall(
  identity: SigningIdentity,
  method: string,
  url: string,
  body?: unknown,
): Promise<Response> {
  return signedFetch(identity, {
    service: 'iot',
    method,
    url,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}
