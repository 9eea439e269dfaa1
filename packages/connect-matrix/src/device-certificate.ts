import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Device certificates made at run time (no openssl), for the rows and tests that need a certificate the stack
 * did not register, or one with a given subject, validity or key.
 */

/** A certificate and its private key, as PEM (PKCS#8 key). */
export interface DeviceCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface DeviceCertificateOptions {
  /** The subject's common name, the client id an X.509 authorizer admits it as. */
  readonly commonName: string;
  /** @default an hour ago */
  readonly notBefore?: Date;
  /** @default a day from now */
  readonly notAfter?: Date;
  /** @default 'EC' (P-256) */
  readonly keyType?: 'EC' | 'RSA';
}

const HOUR_MS = 3_600_000;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;

/**
 * A self-signed device certificate with the extensions a TLS client certificate carries (clientAuth), as a
 * device brings its own: AWS IoT admits such a certificate only once it is registered (`SNI_ONLY`).
 */
export async function createDeviceCertificate(options: DeviceCertificateOptions): Promise<DeviceCertificate> {
  const crypto = webcrypto;
  const algorithm = options.keyType === 'RSA' ? RSA : EC;
  const keys = await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${options.commonName}`,
      keys,
      notBefore: options.notBefore ?? new Date(Date.now() - HOUR_MS),
      notAfter: options.notAfter ?? new Date(Date.now() + 24 * HOUR_MS),
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return {
    certPem: `${certificate.toString('pem')}\n`,
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
