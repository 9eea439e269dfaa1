import { createPublicKey, type KeyObject } from 'node:crypto';
import { Token } from 'aws-cdk-lib';
import {
  clientIdProblem,
  isValidTopicRoot,
  MAX_TOPIC_ROOT_LENGTH,
  TOKEN_KEY_NAME_PATTERN,
} from '@iot-custom-auth/protocol';
import { InfraError } from './errors';

/**
 * Prop and context checks shared by the constructs and the app. Every check is skipped for an unresolved CDK
 * token (the value is only known at deploy time) and throws an {@link InfraError} whose message names the
 * prop, the rule and the value given.
 */

/** Smallest RSA modulus AWS IoT accepts for `TokenSigningPublicKeys`. */
export const MIN_TOKEN_SIGNING_KEY_BITS = 2048;

/** AWS IoT's rule for an authorizer name (`CreateAuthorizer`). */
export const AUTHORIZER_NAME_PATTERN = /^[\w=,@-]{1,128}$/;

/** AWS IoT's rule for the name of a key in `TokenSigningPublicKeys`. */
export const TOKEN_SIGNING_KEY_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

/** Throws unless `value` is a whole number within `min..max` (both inclusive). */
export function validateIntegerInRange(
  name: string,
  value: number,
  min: number,
  max: number,
  unit = '',
): void {
  if (Token.isUnresolved(value)) return;
  const suffix = unit ? ` ${unit}` : '';
  if (!Number.isInteger(value)) {
    throw new InfraError(
      `\`${name}\` must be a whole number between ${min} and ${max}${suffix}, but ${value} was provided`,
    );
  }
  if (value < min || value > max) {
    throw new InfraError(`\`${name}\` must be between ${min} and ${max}${suffix}, but ${value} was provided`);
  }
}

/** Throws unless `value` matches `pattern`; `rule` says in words what the pattern allows. */
export function validatePattern(name: string, value: string, pattern: RegExp, rule: string): void {
  if (Token.isUnresolved(value)) return;
  if (!pattern.test(value)) {
    throw new InfraError(`\`${name}\` must be ${rule}, but ${JSON.stringify(value)} was provided`);
  }
}

/** `tokenKeyName`: the query parameter / header that carries the token (AWS IoT's `TokenKeyName`). */
export function validateTokenKeyName(name: string, value: string): void {
  validatePattern(name, value, TOKEN_KEY_NAME_PATTERN, '1 to 128 characters from A-Z a-z 0-9 _ -');
}

/** An authorizer name, as AWS IoT allows it. */
export function validateAuthorizerName(name: string, value: string): void {
  validatePattern(name, value, AUTHORIZER_NAME_PATTERN, '1 to 128 characters from A-Z a-z 0-9 _ = , @ -');
}

/**
 * The client id prefix ends up in the connect policy as `client/<prefix>*`: it must itself be a valid start
 * of a client id under the protocol's client id rules, so a wildcard can never widen the policy.
 */
export function validateClientIdPrefix(name: string, value: string): void {
  if (Token.isUnresolved(value)) return;
  const problem = clientIdProblem(value, value);
  if (problem !== undefined) {
    throw new InfraError(
      `\`${name}\` must be a valid start of a client id (${problem}), but ${JSON.stringify(value)} was provided`,
    );
  }
}

/**
 * The topic root devices publish under (`<topicRoot>/<clientId>`): topic levels of characters that are safe in
 * both MQTT topics and IoT policy resources (protocol's `isValidTopicRoot`).
 */
export function validateTopicRoot(name: string, value: string): void {
  if (Token.isUnresolved(value)) return;
  if (!isValidTopicRoot(value)) {
    throw new InfraError(
      `\`${name}\` must be 1 to ${MAX_TOPIC_ROOT_LENGTH} characters of topic levels separated by single / using only A-Z a-z 0-9 _ . : - (no wildcards), but ${JSON.stringify(value)} was provided`,
    );
  }
}

/**
 * Checks that `pem` is an RSA public key of at least 2048 bits, as AWS IoT requires for signed tokens, and
 * returns it in the canonical SPKI PEM form (`-----BEGIN PUBLIC KEY-----`). A private key is refused rather
 * than turned into its public half: it must never travel into a template.
 *
 * @param what how the message names the value, e.g. "`tokenSigningPublicKeys.primary`"
 */
export function validateTokenSigningPublicKey(what: string, pem: string): string {
  if (Token.isUnresolved(pem)) return pem;
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new InfraError(
      `${what} must be an RSA public key, but a private key was provided: pass the public key (for example .keys/token-signing-public.pem) and keep the private key out of the stack`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new InfraError(
      `${what} must be an RSA public key in PEM format (-----BEGIN PUBLIC KEY-----), but the value provided could not be read as one`,
      { cause: error },
    );
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new InfraError(
      `${what} must be an RSA public key (AWS IoT verifies RSA SHA-256 signatures), but a key of type ${String(key.asymmetricKeyType)} was provided`,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_TOKEN_SIGNING_KEY_BITS) {
    throw new InfraError(
      `${what} must be an RSA public key of at least ${MIN_TOKEN_SIGNING_KEY_BITS} bits, but a ${bits}-bit key was provided`,
    );
  }
  return key.export({ type: 'spki', format: 'pem' }).toString();
}
