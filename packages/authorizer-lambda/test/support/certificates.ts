import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Device certificates made in memory with @peculiar/x509 (no openssl), and the X.509 event AWS IoT sends for
 * them on a CUSTOM_AUTH_X509 domain
 * (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html).
 */

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;

export type Keys = webcrypto.CryptoKeyPair;

/** A P-256 key pair: one signs many certificates, so tests generate it once. */
export function newKeys(): Promise<Keys> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

export interface DeviceCertificate {
  readonly pem: string;
  /** DER, base64 (the PEM's body without line breaks). */
  readonly derBase64: string;
  /** Its AWS IoT certificate id: the lower-case hex SHA-256 of the DER. */
  readonly certificateId: string;
}

export interface DeviceCertificateOptions {
  /** The subject CN (ignored when `subject` is given). @default 'test-mtls-demo' */
  readonly commonName?: string;
  /** The whole subject, one object per RDN (`[{ CN: ['a', 'b'] }]` is two CNs; `[{ O: ['x'] }]` none). */
  readonly subject?: x509.JsonName;
  /** @default a day ago */
  readonly notBefore?: Date;
  /** @default a year after now */
  readonly notAfter?: Date;
  /** Signed by this issuer; self-signed by default. */
  readonly issuer?: { readonly certificate: x509.X509Certificate; readonly keys: Keys };
}

/** A device certificate for `keys` (self-signed unless an issuer is given). */
export async function createDeviceCertificate(
  keys: Keys,
  options: DeviceCertificateOptions = {},
): Promise<DeviceCertificate> {
  const name = literalName(options.subject ?? [{ CN: [options.commonName ?? 'test-mtls-demo'] }]);
  const certificate = await x509.X509CertificateGenerator.create(
    {
      subject: name,
      issuer: options.issuer?.certificate.subjectName ?? name,
      publicKey: keys.publicKey,
      signingKey: (options.issuer?.keys ?? keys).privateKey,
      notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS),
      notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
      signingAlgorithm: ALGORITHM,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
    },
    webcrypto,
  );
  const der = Buffer.from(certificate.rawData);
  return {
    pem: `${certificate.toString('pem')}\n`,
    derBase64: der.toString('base64'),
    certificateId: createHash('sha256').update(der).digest('hex'),
  };
}

/**
 * The subject with every value taken literally. Given plain strings, @peculiar/x509 reads them as RFC 4514 text:
 * a leading '#' as hex DER, double quotes as a quoted string, a backslash as an escape. A test CN such as '#',
 * '""' or 'a\\b' would then be made into another CN, or fail to be made at all. Typed values are encoded as given
 * (PrintableString where the value allows it, as most CAs do, UTF8String otherwise).
 */
function literalName(subject: x509.JsonName): x509.Name {
  return new x509.Name(
    subject.map((rdn) =>
      Object.fromEntries(
        Object.entries(rdn).map(([type, values]) => [
          type,
          values.map((value) =>
            x509.Name.isPrintableString(value) ? { printableString: value } : { utf8String: value },
          ),
        ]),
      ),
    ),
  );
}

/** A CA certificate, to issue device certificates from. */
export async function createCaCertificate(
  keys: Keys,
  commonName = 'test device CA',
): Promise<{ certificate: x509.X509Certificate; keys: Keys }> {
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: new x509.Name([{ CN: [commonName] }]),
      keys,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 365 * DAY_MS),
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ],
    },
    webcrypto,
  );
  return { certificate, keys };
}

/** The AWS IoT server name of the X.509 domain configuration in the tests. */
export const X509_SERVER_NAME = 'x509-demo.iot.eu-west-1.amazonaws.com';
export const X509_CONNECTION_ID = '6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e';

/**
 * The event of an MQTT CONNECT on a CUSTOM_AUTH_X509 domain, in the documented shape: `tls` carries the
 * server name, the certificate's PEM and its id (`principalId`); `mqtt` the client id when the device sent
 * one. Fields given as `undefined` are left out.
 */
export function x509Event(options: {
  pem?: unknown;
  principalId?: unknown;
  clientId?: unknown;
  username?: unknown;
  password?: unknown;
}): Record<string, unknown> {
  const tls: Record<string, unknown> = { serverName: X509_SERVER_NAME };
  if (options.pem !== undefined) tls['x509CertificatePem'] = options.pem;
  if (options.principalId !== undefined) tls['principalId'] = options.principalId;
  const mqtt: Record<string, unknown> = {};
  for (const key of ['clientId', 'username', 'password'] as const) {
    if (options[key] !== undefined) mqtt[key] = options[key];
  }
  return {
    signatureVerified: false,
    protocols: ['tls', 'mqtt'],
    protocolData: { tls, mqtt },
    connectionMetadata: { id: X509_CONNECTION_ID },
  };
}

/** The event for `certificate` as AWS IoT sends it, with the client id the device sent. */
export function certificateEvent(
  certificate: DeviceCertificate,
  clientId = 'test-mtls-demo',
): Record<string, unknown> {
  return x509Event({ pem: certificate.pem, principalId: certificate.certificateId, clientId });
}
