import { createPrivateKey, createPublicKey, createSign, verify, type KeyObject } from 'node:crypto';
import { ProtocolError } from './errors';
import { isRecord } from './is-record';
import { isStandardBase64 } from './username';

/**
 * The claims of this project's signed token. The token sent to AWS IoT is `base64url(JSON.stringify(claims))`:
 * only characters that need no URL-encoding, so it travels unchanged in a username, a header or a query string.
 */
export interface TokenClaims {
  /** The MQTT client id the token was issued for. */
  readonly clientId: string;
  /** Issued at, seconds since the epoch. */
  readonly iat: number;
  /** Expires at, seconds since the epoch. */
  readonly exp: number;
}

/** Longest token this project creates or accepts (AWS IoT's TestInvokeAuthorizer allows 6144 characters). */
export const MAX_TOKEN_LENGTH = 6144;

/** Creates a token for `clientId` that expires `lifetimeSeconds` after `now`. */
export function createToken(options: { clientId: string; lifetimeSeconds: number; now?: Date }): string {
  const { clientId, lifetimeSeconds } = options;
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new ProtocolError(
      `lifetimeSeconds must be a positive integer, but ${lifetimeSeconds} was provided`,
    );
  }
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const claims: TokenClaims = { clientId, iat, exp: iat + lifetimeSeconds };
  return Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
}

/** Result of decoding a token: the claims, or why they could not be read. */
export type DecodeTokenResult =
  { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly reason: string };

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Decodes a token's claims without trusting it: every malformed input gives `ok: false` with the reason. */
export function decodeToken(token: unknown): DecodeTokenResult {
  if (typeof token !== 'string' || token.length === 0) return { ok: false, reason: 'token is missing' };
  if (token.length > MAX_TOKEN_LENGTH) {
    return { ok: false, reason: `token is longer than ${MAX_TOKEN_LENGTH} characters` };
  }
  if (!BASE64URL.test(token)) return { ok: false, reason: 'token is not base64url' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'token is not base64url-encoded JSON' };
  }
  if (!isRecord(parsed)) {
    return { ok: false, reason: 'token claims are not a JSON object' };
  }
  const { clientId, iat, exp } = parsed;
  if (typeof clientId !== 'string' || clientId.length === 0) {
    return { ok: false, reason: 'token claim clientId is missing or not a string' };
  }
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) {
    return { ok: false, reason: 'token claims iat and exp must be integers (seconds since the epoch)' };
  }
  return { ok: true, claims: { clientId, iat: iat as number, exp: exp as number } };
}

/** Rules a token's claims must satisfy at `now`. */
export interface TokenClaimRules {
  readonly now: Date;
  /** Longest accepted `exp - iat`. */
  readonly maxLifetimeSeconds: number;
  /** Tolerated clock difference for `iat` in the future and `exp` in the past. */
  readonly clockSkewSeconds: number;
  /** When the connection sent a client id, the token must have been issued for it. */
  readonly clientId?: string;
}

/** Why a token's claims fail the rules: a stable code for programs and a sentence for people. */
export interface TokenClaimProblem {
  readonly code:
    'INVALID_LIFETIME' | 'LIFETIME_TOO_LONG' | 'NOT_YET_VALID' | 'EXPIRED' | 'CLIENT_ID_MISMATCH';
  readonly message: string;
}

/** Checks the claims against the rules; returns why they fail, or `undefined` when they hold. */
export function checkTokenClaims(claims: TokenClaims, rules: TokenClaimRules): TokenClaimProblem | undefined {
  const now = Math.floor(rules.now.getTime() / 1000);
  const lifetime = claims.exp - claims.iat;
  if (lifetime <= 0) return { code: 'INVALID_LIFETIME', message: 'token expires before it was issued' };
  if (lifetime > rules.maxLifetimeSeconds) {
    return {
      code: 'LIFETIME_TOO_LONG',
      message: `token lifetime ${lifetime}s exceeds the maximum of ${rules.maxLifetimeSeconds}s`,
    };
  }
  if (claims.iat > now + rules.clockSkewSeconds)
    return { code: 'NOT_YET_VALID', message: 'token is issued in the future' };
  if (claims.exp < now - rules.clockSkewSeconds) return { code: 'EXPIRED', message: 'token has expired' };
  if (rules.clientId !== undefined && rules.clientId !== claims.clientId) {
    return { code: 'CLIENT_ID_MISMATCH', message: 'token was issued for another client id' };
  }
  return undefined;
}

/**
 * Signs a token as AWS IoT verifies it: RSA PKCS#1 v1.5 with SHA-256 over the exact token string,
 * returned as standard base64 (URL-encode it for a username or query string: `toUrlEncodedSignature`).
 */
export function signToken(token: string, privateKeyPem: string | KeyObject): string {
  let key: KeyObject;
  try {
    key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  } catch (error) {
    throw new ProtocolError('cannot sign the token: the private key is not a readable RSA PEM key', {
      cause: error,
    });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ProtocolError(
      `cannot sign the token: the private key is a ${key.asymmetricKeyType ?? key.type} key; AWS IoT verifies RSA (PKCS#1 v1.5, SHA-256) signatures`,
    );
  }
  return createSign('RSA-SHA256').update(token, 'utf8').sign(key, 'base64');
}

/**
 * Verifies a standard-base64 signature of `token` against any of the public keys, as AWS IoT does before
 * invoking a signing-enabled authorizer. Returns false (never throws) for any malformed input.
 */
export function verifyTokenSignature(
  token: string,
  signatureBase64: string,
  publicKeysPem: readonly string[],
): boolean {
  if (!isStandardBase64(signatureBase64)) return false;
  const signature = Buffer.from(signatureBase64, 'base64');
  const data = Buffer.from(token, 'utf8');
  return publicKeysPem.some((pem) => {
    const key = parsedPublicKey(pem);
    if (key === undefined) return false;
    try {
      return verify('RSA-SHA256', data, key, signature);
    } catch {
      return false;
    }
  });
}

/** Most distinct PEM texts kept parsed: an authorizer has at most a few token-signing keys. */
const PARSED_KEY_CACHE_LIMIT = 64;
/** PEM text -> its parsed key, or undefined when it does not parse (public keys: nothing secret is kept). */
const parsedPublicKeys = new Map<string, KeyObject | undefined>();

/** Parses a public key once: a gateway verifies every signed connect against the same few keys. */
function parsedPublicKey(pem: string): KeyObject | undefined {
  if (parsedPublicKeys.has(pem)) return parsedPublicKeys.get(pem);
  let key: KeyObject | undefined;
  try {
    key = createPublicKey(pem);
  } catch {
    key = undefined;
  }
  if (parsedPublicKeys.size >= PARSED_KEY_CACHE_LIMIT) parsedPublicKeys.clear();
  parsedPublicKeys.set(pem, key);
  return key;
}
