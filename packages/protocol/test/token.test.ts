import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import {
  MAX_TOKEN_LENGTH,
  ProtocolError,
  checkTokenClaims,
  createToken,
  decodeToken,
  signToken,
  verifyTokenSignature,
} from '../src';

const keyPair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const signer = keyPair();
const other = keyPair();
const now = new Date('2026-11-28T12:00:00Z');
const nowSeconds = now.getTime() / 1000;
const rules = { now, maxLifetimeSeconds: 3600, clockSkewSeconds: 60 };

describe('createToken / decodeToken', () => {
  it('round-trips the claims as base64url JSON', () => {
    const token = createToken({ clientId: 'test-1', lifetimeSeconds: 300, now });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(token, 'base64url').toString())).toEqual({
      clientId: 'test-1',
      iat: nowSeconds,
      exp: nowSeconds + 300,
    });
    expect(decodeToken(token)).toEqual({
      ok: true,
      claims: { clientId: 'test-1', iat: nowSeconds, exp: nowSeconds + 300 },
    });
  });

  it('rejects a lifetime that is not a positive integer', () => {
    expect(() => createToken({ clientId: 'a', lifetimeSeconds: 0 })).toThrow(
      new ProtocolError('lifetimeSeconds must be a positive integer, but 0 was provided'),
    );
    expect(() => createToken({ clientId: 'a', lifetimeSeconds: 1.5 })).toThrow(ProtocolError);
  });

  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  it.each([
    [undefined, 'token is missing'],
    ['', 'token is missing'],
    [42, 'token is missing'],
    ['a'.repeat(MAX_TOKEN_LENGTH + 1), `token is longer than ${MAX_TOKEN_LENGTH} characters`],
    ['abc+/=', 'token is not base64url'],
    ['bm90IGpzb24', 'token is not base64url-encoded JSON'],
    [encode([1]), 'token claims are not a JSON object'],
    [encode(null), 'token claims are not a JSON object'],
    [encode({ iat: 1, exp: 2 }), 'token claim clientId is missing or not a string'],
    [
      encode({ clientId: 'a', iat: '1', exp: 2 }),
      'token claims iat and exp must be integers (seconds since the epoch)',
    ],
    [
      encode({ clientId: 'a', iat: 1, exp: 2.5 }),
      'token claims iat and exp must be integers (seconds since the epoch)',
    ],
  ])('decodeToken(%j) fails with %j', (token, reason) => {
    expect(decodeToken(token)).toEqual({ ok: false, reason });
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.anything()), (input) => {
        const result = decodeToken(input);
        expect(typeof result.ok).toBe('boolean');
      }),
    );
  });
});

describe('checkTokenClaims', () => {
  const claims = (iatOffset: number, lifetime: number, clientId = 'test-1') => ({
    clientId,
    iat: nowSeconds + iatOffset,
    exp: nowSeconds + iatOffset + lifetime,
  });

  it.each([
    ['a fresh token', claims(0, 300), undefined],
    ['a token issued within the clock skew in the future', claims(59, 300), undefined],
    ['a token expired within the clock skew', claims(-350, 300), undefined],
    ['an expired token', claims(-500, 300), { code: 'EXPIRED', message: 'token has expired' }],
    [
      'a token issued in the future',
      claims(120, 300),
      { code: 'NOT_YET_VALID', message: 'token is issued in the future' },
    ],
    [
      'a token living too long',
      claims(0, 3601),
      { code: 'LIFETIME_TOO_LONG', message: 'token lifetime 3601s exceeds the maximum of 3600s' },
    ],
    [
      'a token expiring before issue',
      claims(0, -1),
      { code: 'INVALID_LIFETIME', message: 'token expires before it was issued' },
    ],
  ])('%s -> %j', (_name, value, expected) => {
    expect(checkTokenClaims(value, rules)).toEqual(expected);
  });

  it('binds the token to the client id when one is sent', () => {
    expect(checkTokenClaims(claims(0, 300), { ...rules, clientId: 'test-1' })).toBeUndefined();
    expect(checkTokenClaims(claims(0, 300), { ...rules, clientId: 'test-2' })).toEqual({
      code: 'CLIENT_ID_MISMATCH',
      message: 'token was issued for another client id',
    });
  });
});

describe('signToken / verifyTokenSignature', () => {
  const token = createToken({ clientId: 'test-1', lifetimeSeconds: 300, now });

  it('signs with RSA-SHA256 in standard base64 and verifies against any configured key', () => {
    const signature = signToken(token, signer.privateKey);
    expect(signature).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(signature, 'base64')).toHaveLength(256);
    expect(verifyTokenSignature(token, signature, [signer.publicKey])).toBe(true);
    expect(verifyTokenSignature(token, signature, [other.publicKey, signer.publicKey])).toBe(true);
  });

  it('rejects another key, another token, base64url and garbage keys without throwing', () => {
    const signature = signToken(token, signer.privateKey);
    expect(verifyTokenSignature(token, signature, [other.publicKey])).toBe(false);
    expect(verifyTokenSignature(`${token}x`, signature, [signer.publicKey])).toBe(false);
    expect(
      verifyTokenSignature(token, Buffer.from(signature, 'base64').toString('base64url'), [signer.publicKey]),
    ).toBe(false);
    expect(verifyTokenSignature(token, signature, ['not a key'])).toBe(false);
    expect(verifyTokenSignature(token, signature, [])).toBe(false);
  });

  it('explains an unreadable private key', () => {
    expect(() => signToken(token, 'nope')).toThrow(ProtocolError);
    expect(() => signToken(token, 'nope')).toThrow(
      'cannot sign the token: the private key is not a readable RSA PEM key',
    );
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => signToken(token, ec.privateKey)).toThrow(
      'cannot sign the token: the private key is a ec key; AWS IoT verifies RSA (PKCS#1 v1.5, SHA-256) signatures',
    );
  });
});
