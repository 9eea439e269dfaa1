import { AUTHORIZER_NAME_PARAM, AUTHORIZER_SIGNATURE_PARAM } from './constants';
import { ProtocolError } from './errors';

/** The MQTT CONNECT username of a custom-authenticated connection, taken apart. */
export interface CustomAuthUsername {
  /** The part before the first `?`: the device's own user name (may be empty). */
  readonly user: string;
  /**
   * Every query parameter, URL-decoded, in order. Names are kept as sent; when a name repeats, the first
   * occurrence wins in `get` (as AWS IoT reads it).
   */
  readonly params: readonly (readonly [name: string, value: string])[];
}

/** Value of the first parameter called `name`, or `undefined`. */
export function usernameParam(username: CustomAuthUsername, name: string): string | undefined {
  return username.params.find(([key]) => key === name)?.[1];
}

/**
 * Splits a custom-auth MQTT username `user?x-amz-customauthorizer-name=...&token=...&SDK=...` into the user
 * part and its query parameters.
 *
 * Tolerant by design, because the string comes from devices and SDKs that each append to it their own way:
 * - the SDK metrics (`SDK=IoTDeviceSDK/JS&Platform=...&Metadata=(a=b;c=d)`) are parsed as ordinary
 *   parameters, and a parenthesised value may contain `&`, `=` or `?`;
 * - a second `?` (an SDK appending `?SDK=...` to a username that already had a query) separates parameters
 *   like `&` does: token and signature values are URL-encoded, so a raw `?` never belongs to a value;
 * - a parameter without `=` gets the empty string; a value keeps any further `=` (base64 padding);
 * - a value that is not valid percent-encoding is kept as sent rather than rejected.
 */
export function parseCustomAuthUsername(raw: string): CustomAuthUsername {
  const queryStart = raw.indexOf('?');
  if (queryStart < 0) return { user: raw, params: [] };
  return { user: raw.slice(0, queryStart), params: parseQuery(raw.slice(queryStart + 1)) };
}

function parseQuery(query: string): [string, string][] {
  const params: [string, string][] = [];
  let i = 0;
  while (i <= query.length) {
    const nameEnd = nextIndexOf(query, i, '&?=');
    const name = query.slice(i, nameEnd);
    let valueEnd = nameEnd;
    let value = '';
    if (query[nameEnd] === '=') {
      const valueStart = nameEnd + 1;
      // A parenthesised value (the SDK's `Metadata=(...)`) runs to its closing `)`.
      const close = query[valueStart] === '(' ? query.indexOf(')', valueStart) : -1;
      valueEnd = nextIndexOf(query, close >= 0 ? close : valueStart, '&?');
      value = query.slice(valueStart, valueEnd);
    }
    if (name.length > 0) params.push([safeDecodeURIComponent(name), safeDecodeURIComponent(value)]);
    i = valueEnd + 1;
  }
  return params;
}

/** Index of the first character of `chars` at or after `from`, or `text.length`. */
function nextIndexOf(text: string, from: number, chars: string): number {
  for (let i = from; i < text.length; i++) {
    if (chars.includes(text[i] as string)) return i;
  }
  return text.length;
}

/** `decodeURIComponent`, but text that is not valid percent-encoding is returned as it is instead of throwing. */
export function safeDecodeURIComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** What a client puts in its username to reach a custom authorizer. */
export interface CustomAuthUsernameParts {
  /** The device's own user name (unsigned authorizer). @default '' */
  readonly user?: string;
  /** Authorizer name; omitted to use the endpoint's default authorizer. */
  readonly authorizerName?: string;
  /** Token key name and token value (signed authorizer): both or neither. */
  readonly tokenKeyName?: string;
  readonly token?: string;
  /** Token signature, standard base64 or already URL-encoded: it ends up URL-encoded exactly once. */
  readonly signature?: string;
}

/**
 * Builds the username `user?x-amz-customauthorizer-name=...&<tokenKeyName>=<token>&x-amz-customauthorizer-signature=...`.
 * Every value is URL-encoded once; the signature is accepted raw or already encoded (see `toUrlEncodedSignature`).
 */
export function buildCustomAuthUsername(parts: CustomAuthUsernameParts): string {
  const params: string[] = [];
  if (parts.authorizerName !== undefined) {
    params.push(`${AUTHORIZER_NAME_PARAM}=${encodeQueryValue(parts.authorizerName)}`);
  }
  if ((parts.tokenKeyName === undefined) !== (parts.token === undefined)) {
    throw new ProtocolError('tokenKeyName and token must be given together: set both, or neither');
  }
  if (parts.tokenKeyName !== undefined && parts.token !== undefined) {
    params.push(`${encodeQueryValue(parts.tokenKeyName)}=${encodeQueryValue(parts.token)}`);
  }
  if (parts.signature !== undefined) {
    params.push(`${AUTHORIZER_SIGNATURE_PARAM}=${toUrlEncodedSignature(parts.signature)}`);
  }
  const user = parts.user ?? '';
  return params.length === 0 ? user : `${user}?${params.join('&')}`;
}

/**
 * RFC 3986 strict percent-encoding: `encodeURIComponent` plus `! ' ( ) *`, so that no value can start with
 * `(` and be mistaken for a parenthesised SDK metadata value. Used for every value `buildCustomAuthUsername`
 * writes, and by clients handing values to an SDK that concatenates them into the username as they are.
 */
export function encodeQueryValue(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when `text` is non-empty standard (not URL-safe) base64 with correct padding. */
export function isStandardBase64(text: string): boolean {
  return text.length > 0 && STANDARD_BASE64.test(text);
}

/**
 * Returns the signature URL-encoded exactly once, whether it was given as raw standard base64
 * (`ab+c/d==`) or already encoded (`ab%2Bc%2Fd%3D%3D`). AWS IoT requires the signature in the username or
 * query string to be URL-encoded; encoding twice (or not at all) makes the signature check fail.
 * @throws ProtocolError when it is neither, naming what is expected.
 */
export function toUrlEncodedSignature(signature: string): string {
  if (isStandardBase64(signature)) return encodeURIComponent(signature);
  let decoded: string;
  try {
    decoded = decodeURIComponent(signature);
  } catch {
    decoded = '';
  }
  if (decoded !== signature && isStandardBase64(decoded)) return encodeURIComponent(decoded);
  throw new ProtocolError(
    'the token signature must be standard base64 (A-Z a-z 0-9 + / with = padding), raw or URL-encoded; ' +
      'base64url (- and _) is not accepted by AWS IoT',
  );
}
