/**
 * Device and CA certificates for the X.509 tests, made as a device maker would (EC P-256, @peculiar/x509):
 * self-signed, or issued by a test CA; with any subject CN and validity.
 */
import { createHash, KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;

/** A certificate with its private key (PEM) and its AWS IoT certificate id. */
export interface TestCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** Lower-case hex SHA-256 of the DER. */
  readonly id: string;
  /** Signs certificates (CAs only). */
  readonly keys: webcrypto.CryptoKeyPair;
  readonly subject: string;
}

export interface TestCertificateOptions {
  /** @default 'test-mtls-demo' */
  readonly commonName?: string;
  /** @default one hour ago */
  readonly notBefore?: Date;
  /** @default in 365 days */
  readonly notAfter?: Date;
  /** Issued by this CA instead of self-signed. */
  readonly issuer?: TestCertificate;
  /** Make a CA certificate. */
  readonly ca?: boolean;
}

/** A new key pair and certificate. */
export async function testCertificate(options: TestCertificateOptions = {}): Promise<TestCertificate> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const subject = `CN=${options.commonName ?? 'test-mtls-demo'}`;
  const extensions = options.ca
    ? [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ]
    : [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)];
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 16),
      subject,
      issuer: options.issuer?.subject ?? subject,
      publicKey: keys.publicKey,
      signingKey: options.issuer?.keys.privateKey ?? keys.privateKey,
      notBefore: options.notBefore ?? new Date(now - 3_600_000),
      notAfter: options.notAfter ?? new Date(now + 365 * DAY_MS),
      signingAlgorithm: ALGORITHM,
      extensions,
    },
    webcrypto,
  );
  const certPem = `${certificate.toString('pem')}\n`;
  return {
    certPem,
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    id: createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex'),
    keys,
    subject,
  };
}
