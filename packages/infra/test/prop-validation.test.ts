import { generateKeyPairSync } from 'node:crypto';
import { Token } from 'aws-cdk-lib';
import fc from 'fast-check';
import { clientIdProblem } from '@iot-custom-auth/protocol';
import {
  InfraError,
  validateClientIdPrefix,
  validateIntegerInRange,
  validateTokenKeyName,
  validateTokenSigningPublicKey,
  validateTopicRoot,
} from '../src';
import { expectInfraError, rsaPublicKeyPem } from './helpers';

/** Runs `check` and returns the InfraError message, `undefined` when it passed; anything else fails. */
function problemOf(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(InfraError);
    return (error as InfraError).message;
  }
}

describe('validateIntegerInRange', () => {
  it('accepts exactly the whole numbers in range, and says why for anything else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -100_000, max: 200_000 }), fc.double()), (value) => {
        const problem = problemOf(() => validateIntegerInRange('refreshAfterSeconds', value, 300, 86_400));
        if (Number.isInteger(value) && value >= 300 && value <= 86_400) {
          expect(problem).toBeUndefined();
        } else if (Number.isInteger(value)) {
          expect(problem).toBe(
            `\`refreshAfterSeconds\` must be between 300 and 86400, but ${value} was provided`,
          );
        } else {
          expect(problem).toBe(
            `\`refreshAfterSeconds\` must be a whole number between 300 and 86400, but ${value} was provided`,
          );
        }
      }),
    );
  });

  it('accepts both ends of the range and names the unit when there is one', () => {
    expect(problemOf(() => validateIntegerInRange('x', 300, 300, 86_400))).toBeUndefined();
    expect(problemOf(() => validateIntegerInRange('x', 86_400, 300, 86_400))).toBeUndefined();
    expectInfraError(
      () => validateIntegerInRange('memorySize', 0, 128, 10_240, 'MB'),
      '`memorySize` must be between 128 and 10240 MB, but 0 was provided',
    );
  });

  it('skips unresolved tokens', () => {
    expect(
      problemOf(() => validateIntegerInRange('x', Token.asNumber({ Ref: 'P' }), 300, 86_400)),
    ).toBeUndefined();
  });
});

describe('validateTokenKeyName', () => {
  it('follows AWS IoT: 1 to 128 of A-Z a-z 0-9 _ -', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), (value) => {
        const problem = problemOf(() => validateTokenKeyName('tokenKeyName', value));
        const valid = /^[A-Za-z0-9_-]{1,128}$/.test(value);
        expect(problem).toBe(
          valid
            ? undefined
            : `\`tokenKeyName\` must be 1 to 128 characters from A-Z a-z 0-9 _ -, but ${JSON.stringify(value)} was provided`,
        );
      }),
    );
  });
});

describe('validateClientIdPrefix', () => {
  it('accepts a prefix exactly when it is itself a valid client id start under the protocol rules', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), (value) => {
        const expected = clientIdProblem(value, value);
        const problem = problemOf(() => validateClientIdPrefix('clientIdPrefix', value));
        expect(problem).toBe(
          expected === undefined
            ? undefined
            : `\`clientIdPrefix\` must be a valid start of a client id (${expected}), but ${JSON.stringify(value)} was provided`,
        );
      }),
    );
  });
});

describe('validateTopicRoot', () => {
  it.each(['devices', 'fleet/a', 'a.b/c:d/e_f-g'])('accepts %j', (value) => {
    expect(problemOf(() => validateTopicRoot('topicRoot', value))).toBeUndefined();
  });

  it.each([
    '',
    '/devices',
    'devices/',
    'a//b',
    'devices/+',
    'devices/#',
    'a*',
    'a?',
    '$aws',
    'a b',
    'x'.repeat(129),
  ])('rejects %j', (value) => {
    expectInfraError(
      () => validateTopicRoot('topicRoot', value),
      `\`topicRoot\` must be 1 to 128 characters of topic levels separated by single / using only A-Z a-z 0-9 _ . : - (no wildcards), but ${JSON.stringify(value)} was provided`,
    );
  });
});

describe('validateTokenSigningPublicKey', () => {
  it('returns the canonical SPKI PEM of an RSA key of 2048 bits or more', () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const spki = key.export({ type: 'spki', format: 'pem' }).toString();
    expect(validateTokenSigningPublicKey('key', spki)).toBe(spki);
    expect(validateTokenSigningPublicKey('key', `\n${spki}\n\n`)).toBe(spki);
    expect(
      validateTokenSigningPublicKey('key', key.export({ type: 'pkcs1', format: 'pem' }).toString()),
    ).toBe(spki);
    const big = rsaPublicKeyPem(4096);
    expect(validateTokenSigningPublicKey('key', big)).toBe(big);
  });

  it('refuses a private key even though a public key could be derived from it', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    for (const type of ['pkcs1', 'pkcs8'] as const) {
      expectInfraError(
        () => validateTokenSigningPublicKey('the key', privateKey.export({ type, format: 'pem' }).toString()),
        'the key must be an RSA public key, but a private key was provided: pass the public key (for example .keys/token-signing-public.pem) and keep the private key out of the stack',
      );
    }
  });

  it('refuses an RSA-PSS key: AWS IoT verifies PKCS#1 v1.5 signatures', () => {
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey;
    expectInfraError(
      () => validateTokenSigningPublicKey('key', pss.export({ type: 'spki', format: 'pem' }).toString()),
      'key must be an RSA public key (AWS IoT verifies RSA SHA-256 signatures), but a key of type rsa-pss was provided',
    );
  });

  it('never throws anything but InfraError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (value) => {
        expect(problemOf(() => validateTokenSigningPublicKey('key', value))).toMatch(
          /^key must be an RSA public key/,
        );
      }),
    );
  });
});
