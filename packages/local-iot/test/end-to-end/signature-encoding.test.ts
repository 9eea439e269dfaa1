import { join } from 'node:path';
import {
  AUTHORIZER_SIGNATURE_PARAM,
  buildCustomAuthUsername,
  createToken,
  signToken,
} from '@iot-custom-auth/protocol';
import { demoStackNames, FUNCTIONS_DIR, rsaKeyPair, writeDemoAssembly } from '../fixtures/assembly';
import { useLocalIot } from '../support/local-iot-harness';

// A token signature in the CONNECT username must be URL-encoded, as AWS IoT's custom-auth page says: the
// username's query string is read as application/x-www-form-urlencoded, so the raw `+` of a standard
// base64 signature is a space and the signature fails, before any Lambda runs. The same signature
// URL-encoded (`+` as %2B) is accepted. The client is `mqtt` from npm over TLS with ALPN mqtt.

const STACK = 'SignatureEncodingEndToEnd';
const { signedAuthorizer: SIGNED, authorizerFunction: FUNCTION } = demoStackNames(STACK);
const keys = rsaKeyPair();

const served = useLocalIot({
  assembly: (dir) =>
    writeDemoAssembly(dir, STACK, {
      bundle: join(FUNCTIONS_DIR, 'behaviours'),
      publicKeyPem: keys.publicKey,
    }),
});

/** A token for `clientId` whose signature contains a `+` (a few tries at most: most signatures do). */
function tokenSignedWithPlus(clientId: string): { token: string; signature: string } {
  for (let lifetime = 600; lifetime < 700; lifetime++) {
    const token = createToken({ clientId, lifetimeSeconds: lifetime });
    const signature = signToken(token, keys.privateKey);
    if (signature.includes('+')) return { token, signature };
  }
  throw new Error('no signature with a + in 100 tokens');
}

/** The `open` fixture behaviour through the signed authorizer, the signature appended as given. */
function usernameWith(token: string, signatureInQuery: string): string {
  const base = buildCustomAuthUsername({
    user: 'open',
    authorizerName: SIGNED,
    tokenKeyName: 'token',
    token,
  });
  return `${base}&${AUTHORIZER_SIGNATURE_PARAM}=${signatureInQuery}`;
}

describe('a token signature in the CONNECT username', () => {
  it('refuses a raw signature with + (read as a space) with 0x87 without invoking the Lambda, saying why', async () => {
    const { token, signature } = tokenSignedWithPlus('test-raw-plus');
    const before = served.runtime.invocationCount(FUNCTION);
    expect(
      await served.connackCode('test-raw-plus', {
        username: usernameWith(token, signature),
        password: undefined,
      }),
    ).toBe(0x87);
    expect(await served.log.waitFor('connect', { clientId: 'test-raw-plus' })).toMatchObject({
      decision: 'deny',
      signature: 'failed',
      lambdaInvoked: false,
      reason: `authorizer '${SIGNED}': the token signature has a space after URL-decoding: a '+' that is not URL-encoded reads as a space in a query string; URL-encode the signature (+ as %2B, / as %2F, = as %3D)`,
    });
    expect(served.runtime.invocationCount(FUNCTION)).toBe(before);
  });

  it('accepts the same signature URL-encoded', async () => {
    const { token, signature } = tokenSignedWithPlus('test-encoded-plus');
    expect(
      await served.connackCode('test-encoded-plus', {
        username: usernameWith(token, encodeURIComponent(signature)),
        password: undefined,
      }),
    ).toBe(0x00);
    expect(await served.log.waitFor('connect', { clientId: 'test-encoded-plus' })).toMatchObject({
      decision: 'allow',
      signature: 'verified',
    });
  });
});
