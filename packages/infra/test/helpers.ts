import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as x509 from '@peculiar/x509';
import { CustomAuthorizerStack, InfraError, type CustomAuthorizerStackProps } from '../src';

/** The repository root (tests do not depend on the code under test to find it). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** An RSA public key in SPKI PEM form. */
export function rsaPublicKeyPem(modulusLength = 2048): string {
  return generateKeyPairSync('rsa', { modulusLength })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
}

/** A 2048-bit public key shared by the tests that only need some valid key. */
export const PUBLIC_KEY_PEM = rsaPublicKeyPem();

/** The feature flags of the root cdk.json, so in-memory apps behave as `npx cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/** A new app with the root cdk.json context. */
export function newApp(): App {
  return new App({ context: cdkJsonContext() });
}

/** A stack to put a construct under test in. */
export function newStack(id = 'TestStack'): Stack {
  return new Stack(newApp(), id);
}

/** The custom authorizer stack with a test key, and its template. */
export function synthCustomAuthorizerStack(
  props: Partial<CustomAuthorizerStackProps> = {},
  id = 'IotCustomAuthorizerStack',
): { stack: CustomAuthorizerStack; template: Template } {
  const stack = new CustomAuthorizerStack(newApp(), id, {
    tokenSigningPublicKeyPem: PUBLIC_KEY_PEM,
    ...props,
  });
  return { stack, template: Template.fromStack(stack) };
}

/** The logical id of the only resource of `type` in `template`. */
export function onlyLogicalId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}: ${ids.join(', ')}`);
  return ids[0] as string;
}

/**
 * Evaluates the intrinsics CDK emits for pseudo parameters (`Ref AWS::*`, `Fn::Join`, `Fn::Select`, `Fn::Split`),
 * so a test can compare a
 * template value with the plain string a deployment in `region`/`account` would see.
 */
export function evaluatePseudoParameters(value: unknown, pseudo: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => evaluatePseudoParameters(item, pseudo));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  const ref = object.Ref;
  if (typeof ref === 'string' && Object.keys(object).length === 1) {
    const resolved = pseudo[ref];
    if (resolved === undefined) throw new Error(`no value for Ref ${ref}`);
    return resolved;
  }
  const join = object['Fn::Join'];
  if (Array.isArray(join) && Object.keys(object).length === 1) {
    const [separator, parts] = join as [string, unknown[]];
    return parts.map((part) => evaluatePseudoParameters(part, pseudo)).join(separator);
  }
  const select = object['Fn::Select'];
  if (Array.isArray(select) && Object.keys(object).length === 1) {
    const [index, list] = select as [number, unknown];
    return (evaluatePseudoParameters(list, pseudo) as unknown[])[index];
  }
  const split = object['Fn::Split'];
  if (Array.isArray(split) && Object.keys(object).length === 1) {
    const [separator, text] = split as [string, unknown];
    return String(evaluatePseudoParameters(text, pseudo)).split(separator);
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, evaluatePseudoParameters(v, pseudo)]));
}

/** Asserts that `action` throws an `InfraError` (by class and name) with exactly `message`. */
export function expectInfraError(action: () => unknown, message: string): void {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InfraError);
  expect((thrown as InfraError).name).toBe('InfraError');
  expect((thrown as InfraError).message).toBe(message);
}

/** A self-signed CA certificate (basicConstraints CA:TRUE), PEM, for the CA registration tests. */
export async function caCertificatePem(commonName = 'Test Device CA'): Promise<string> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${commonName}`,
      keys,
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 30 * 86_400_000),
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ],
    },
    webcrypto,
  );
  return `${certificate.toString('pem')}\n`;
}
