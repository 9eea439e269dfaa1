import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { safeDecodeURIComponent, type LocalAwsCredentials } from '@iot-custom-auth/protocol';

/** A request as it arrived, before anything of it is trusted. */
export interface IncomingSignedRequest {
  readonly method: string;
  /** The request target as sent: path and query, still percent-encoded (`IncomingMessage.url`). */
  readonly url: string;
  /** Every value of every header, by lower-case name (`IncomingMessage.headersDistinct`). */
  readonly headers: Readonly<Record<string, readonly string[] | undefined>>;
  /** The body's bytes, exactly as received (the signature covers their SHA-256). */
  readonly body: Uint8Array;
}

/** Why a request is refused, in the error code and message AWS sends for that case. */
export interface SigV4Refusal {
  readonly code:
    | 'MissingAuthenticationTokenException'
    | 'IncompleteSignatureException'
    | 'UnrecognizedClientException'
    | 'InvalidSignatureException';
  readonly message: string;
}

/** What the verifier accepts. */
export interface SigV4VerifierOptions {
  /** The one access key pair signatures are checked against. */
  readonly credentials: LocalAwsCredentials;
  /** The region the credential scope must name. */
  readonly region: string;
  /** The clock the signing date is checked against. @default () => new Date() */
  readonly now?: () => Date;
}

/** How far the signing date may be from the clock, either way: AWS's window for these services. */
export const SIGNATURE_CLOCK_SKEW_MS = 5 * 60 * 1000;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const TERMINATOR = 'aws4_request';
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SIGNATURE = /^[0-9a-f]{64}$/;

/** AWS's messages, word for word: SDKs and users match on them. */
const MESSAGES = {
  missing: 'Missing Authentication Token',
  unrecognized: 'The security token included in the request is invalid.',
  mismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
} as const;

/**
 * Verifies AWS Signature Version 4 (`Authorization: AWS4-HMAC-SHA256 ...`) on requests to the local AWS
 * API, as AWS does before any operation runs: the access key must be the local one, the signing date within
 * five minutes of the clock, the credential scope this region and the called service, and the signature the
 * one `@smithy/signature-v4` (the AWS SDK's own signer) computes for the request's method, path, query,
 * signed headers and body hash with the local secret. The signatures are compared in constant time.
 *
 * Not supported (refused, with a message saying so): query-string (presigned) authentication, SigV4a, a
 * `Date` header instead of `X-Amz-Date`, and session tokens (local-iot issues none). The AWS SDKs use none
 * of them for Secrets Manager and IoT calls.
 */
export class SigV4Verifier {
  private readonly now: () => Date;
  /** One signer per service: built once, it also keeps the signing keys it derives per day. */
  private readonly signers = new Map<string, SignatureV4>();

  constructor(private readonly options: SigV4VerifierOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** The access key id requests must be signed with. */
  get accessKeyId(): string {
    return this.options.credentials.accessKeyId;
  }

  /**
   * Checks `request`, signed for `service` (the credential scope's service, e.g. `secretsmanager`).
   * @returns undefined when the signature is valid, else why it is refused.
   */
  async verify(request: IncomingSignedRequest, service: string): Promise<SigV4Refusal | undefined> {
    const parsed = parseAuthorization(request);
    if ('code' in parsed) return parsed;
    const { credential, signedHeaders, signature, amzDate, signingDate } = parsed;
    const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = credential;

    // local-iot hands out long-term keys only, so any session token is one it never issued.
    if (headerValues(request, 'x-amz-security-token') !== undefined || accessKeyId !== this.accessKeyId) {
      return { code: 'UnrecognizedClientException', message: MESSAGES.unrecognized };
    }
    const skew = this.skewProblem(amzDate, signingDate);
    if (skew !== undefined) return invalid(skew);
    if (terminator !== TERMINATOR) {
      return invalid(
        `Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${terminator}'.`,
      );
    }
    if (scopeDate !== amzDate.slice(0, 8)) {
      return invalid(
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      );
    }
    if (scopeRegion !== this.options.region) {
      return invalid(`Credential should be scoped to a valid region, not '${scopeRegion}'.`);
    }
    if (scopeService !== service) {
      return invalid(`Credential should be scoped to correct service: '${service}'.`);
    }
    if (!signedHeaders.includes('host')) {
      return {
        code: 'IncompleteSignatureException',
        message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
      };
    }
    // The signer takes a declared payload hash on trust; AWS hashes what it received. So must this.
    const declaredHash = headerValues(request, 'x-amz-content-sha256');
    if (declaredHash !== undefined && declaredHash.join(',') !== sha256Hex(request.body)) {
      return invalid(MESSAGES.mismatch);
    }
    const expected = await this.expectedSignature(request, signedHeaders, signingDate, service);
    if (!SIGNATURE.test(signature) || !timingSafeEqual(Buffer.from(signature, 'hex'), expected)) {
      return invalid(MESSAGES.mismatch);
    }
    return undefined;
  }

  /** AWS's refusal of a signing date more than five minutes off the clock, or undefined. */
  private skewProblem(amzDate: string, signingDate: Date): string | undefined {
    const now = this.now();
    const offset = signingDate.getTime() - now.getTime();
    if (offset < -SIGNATURE_CLOCK_SKEW_MS) {
      const earliest = new Date(now.getTime() - SIGNATURE_CLOCK_SKEW_MS);
      return `Signature expired: ${amzDate} is now earlier than ${basicIso(earliest)} (${basicIso(now)} - 5 min.)`;
    }
    if (offset > SIGNATURE_CLOCK_SKEW_MS) {
      const latest = new Date(now.getTime() + SIGNATURE_CLOCK_SKEW_MS);
      return `Signature not yet current: ${amzDate} is still later than ${basicIso(latest)} (${basicIso(now)} + 5 min.)`;
    }
    return undefined;
  }

  private signerFor(service: string): SignatureV4 {
    let signer = this.signers.get(service);
    if (signer === undefined) {
      signer = new SignatureV4({
        credentials: this.options.credentials,
        region: this.options.region,
        service,
        sha256: Sha256,
        // Sign exactly the headers the client listed: add none (x-amz-content-sha256) of the signer's own.
        applyChecksum: false,
        uriEscapePath: true,
      });
      this.signers.set(service, signer);
    }
    return signer;
  }

  /** The signature the AWS SDK's signer computes for `request` with the local secret, as bytes. */
  private async expectedSignature(
    request: IncomingSignedRequest,
    signedHeaders: readonly string[],
    signingDate: Date,
    service: string,
  ): Promise<Buffer> {
    const signer = this.signerFor(service);
    const headers = Object.create(null) as Record<string, string>;
    for (const name of signedHeaders) {
      const values = headerValues(request, name);
      // A listed header that was not sent stays out, so the signed-header list (and the signature) differ.
      if (values !== undefined) headers[name] = values.join(',');
    }
    const queryStart = request.url.indexOf('?');
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: '',
        path: queryStart === -1 ? request.url : request.url.slice(0, queryStart),
        query: parseQuery(queryStart === -1 ? '' : request.url.slice(queryStart + 1)),
        headers,
        body: request.body,
      },
      // Headers the signer would skip by default (user-agent, ...) are signed when the client signed them.
      { signingDate, signableHeaders: new Set(signedHeaders) },
    );
    const authorization = signed.headers.authorization ?? '';
    return Buffer.from(authorization.slice(authorization.lastIndexOf('Signature=') + 10), 'hex');
  }
}

/**
 * The service a SigV4 `Authorization` header's credential scope names (`.../<region>/<service>/aws4_request`),
 * read before anything is verified so the local AWS API can route the request; undefined when there is none.
 */
export function credentialScopeService(authorization: string | undefined): string | undefined {
  const credential = /Credential=([^,\s]+)/.exec(authorization ?? '')?.[1];
  const parts = credential?.split('/');
  return parts?.length === 5 ? parts[3] : undefined;
}

/** The parts of a SigV4 `Authorization` header, with the request's `X-Amz-Date`. */
interface ParsedAuthorization {
  /** Key id, date, region, service, terminator. */
  readonly credential: readonly [string, string, string, string, string];
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly amzDate: string;
  readonly signingDate: Date;
}

/** Reads the Authorization and X-Amz-Date headers, or says (as AWS does) what is missing or malformed. */
function parseAuthorization(request: IncomingSignedRequest): ParsedAuthorization | SigV4Refusal {
  const authorization = headerValues(request, 'authorization')?.[0];
  if (authorization === undefined) {
    return { code: 'MissingAuthenticationTokenException', message: MESSAGES.missing };
  }
  const space = authorization.indexOf(' ');
  const algorithm = space === -1 ? authorization : authorization.slice(0, space);
  if (algorithm !== ALGORITHM) {
    return incomplete(
      `Unsupported Authorization algorithm '${algorithm}': the local AWS API verifies ${ALGORITHM} (Signature Version 4) only`,
    );
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(',')) {
    const equals = part.indexOf('=');
    if (equals !== -1) fields.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  const amzDate = headerValues(request, 'x-amz-date')?.[0];
  const missing = [
    ...['Credential', 'Signature', 'SignedHeaders']
      .filter((name) => !fields.get(name))
      .map((name) => `Authorization header requires '${name}' parameter.`),
    ...(amzDate === undefined
      ? [
          headerValues(request, 'date') === undefined
            ? "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            : "The local AWS API needs the 'X-Amz-Date' header (the AWS SDKs send it); a 'Date' header alone is not supported.",
        ]
      : []),
  ];
  if (missing.length > 0) return incomplete(missing.join(' '));
  const credentialText = fields.get('Credential') as string;
  const credential = credentialText.split('/');
  if (credential.length !== 5) {
    return incomplete(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credentialText}'`,
    );
  }
  const signingDate = parseAmzDate(amzDate as string);
  if (signingDate === undefined) {
    return incomplete(
      `X-Amz-Date must be in the ISO-8601 basic format yyyyMMdd'T'HHmmss'Z', got '${amzDate as string}'`,
    );
  }
  return {
    credential: credential as [string, string, string, string, string],
    signedHeaders: (fields.get('SignedHeaders') as string).toLowerCase().split(';'),
    signature: fields.get('Signature') as string,
    amzDate: amzDate as string,
    signingDate,
  };
}

/** `20240102T030405Z` as a Date, or undefined when it is not a real time in that format. */
function parseAmzDate(text: string): Date | undefined {
  const match = AMZ_DATE.exec(text);
  if (match === null) return undefined;
  const date = new Date(`${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}Z`);
  return Number.isNaN(date.getTime()) || basicIso(date) !== text ? undefined : date;
}

/** A Date as SigV4 writes it: `20240102T030405Z`. */
function basicIso(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** The query string as the signer wants it: decoded names to decoded values (a list when repeated). */
function parseQuery(query: string): Record<string, string | string[]> {
  const result = Object.create(null) as Record<string, string | string[]>;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = safeDecodeURIComponent(equals === -1 ? pair : pair.slice(0, equals));
    const value = equals === -1 ? '' : safeDecodeURIComponent(pair.slice(equals + 1));
    const previous = result[name];
    result[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return result;
}

/** The values of header `name` (lower case), reading only the request's own headers. */
function headerValues(request: IncomingSignedRequest, name: string): readonly string[] | undefined {
  return Object.hasOwn(request.headers, name) ? request.headers[name] : undefined;
}

function sha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function invalid(message: string): SigV4Refusal {
  return { code: 'InvalidSignatureException', message };
}

function incomplete(message: string): SigV4Refusal {
  return { code: 'IncompleteSignatureException', message };
}
