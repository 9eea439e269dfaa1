import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { awsIotCertificateId, DEFAULTS } from '@iot-custom-auth/protocol';
import { ConfigError } from './errors';
import { readConfigFile, type ReadTextFile } from './read-config-file';

/**
 * The device's X.509 certificate and private key for custom authentication with a client certificate
 * (`CUSTOM_AUTH_X509`), read and checked before anything is sent: a certificate AWS IoT would refuse in the
 * TLS handshake (a wrong key, an expired certificate) is one clear line here instead of a silent hang-up there.
 */

/** A client certificate ready to connect with. The key is only ever handed to the TLS stack. */
export interface ClientCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** The PEM as read (a chain may follow the device certificate). */
  readonly certPem: string;
  readonly keyPem: string;
  /**
   * The AWS IoT certificate id: the lower-case hex SHA-256 of the certificate's DER, which is what AWS IoT puts
   * in `protocolData.tls.principalId` (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html).
   */
  readonly certificateId: string;
  /** The subject's common name (CN), the client id the X.509 authorizer admits it as; absent when it has none. */
  readonly subjectCn?: string;
  /** `notAfter`, ISO 8601. */
  readonly validTo: string;
}

/** Where the files came from, for the fix in each message. */
export type ClientCertificateSource =
  | { readonly kind: 'flags' }
  /**
   * `--mtls`: the demo certificate of the stack's client id prefix, which the first `npx cdk synth` with that
   * prefix creates.
   */
  | { readonly kind: 'demo'; readonly clientIdPrefix: string };

/** The synth that creates the demo certificate of `clientIdPrefix` (the prefix only when it is not the default). */
function demoSynthCommand(clientIdPrefix: string): string {
  return clientIdPrefix === DEFAULTS.clientIdPrefix
    ? 'npx cdk synth'
    : `npx cdk synth -c clientIdPrefix=${clientIdPrefix}`;
}

/** Reads `--cert` and `--key` (or the demo files) and checks them against each other and the clock. */
export async function readClientCertificate(
  readFile: ReadTextFile,
  files: { readonly certFile: string; readonly keyFile: string },
  source: ClientCertificateSource,
  nowMs: number,
): Promise<ClientCertificate> {
  const { certFile, keyFile } = files;
  const certWhat = source.kind === 'demo' ? `the demo device certificate ${certFile}` : `--cert ${certFile}`;
  const keyWhat = source.kind === 'demo' ? `the demo device key ${keyFile}` : `--key ${keyFile}`;
  const synth = source.kind === 'demo' ? demoSynthCommand(source.clientIdPrefix) : undefined;
  const unreadable =
    (what: string) =>
    (error: NodeJS.ErrnoException): string =>
      error.code === 'ENOENT' && synth !== undefined
        ? `${what} does not exist: run \`${synth}\` at the repository root (the first synth with that client id prefix creates ${certFile} and ${keyFile}), or give your own --cert and --key`
        : `cannot read ${what}: ${error.code ?? error.message}`;
  const certPem = await readConfigFile(readFile, certFile, unreadable(certWhat));
  const keyPem = await readConfigFile(readFile, keyFile, unreadable(keyWhat));

  const certificate = parseCertificate(certPem, certWhat);
  const key = parsePrivateKey(keyPem, keyWhat);
  if (!certificate.checkPrivateKey(key)) {
    throw new ConfigError(
      `${keyWhat} is not the private key of ${certWhat}: give the key the certificate was issued for`,
    );
  }
  const certificateId = awsIotCertificateId(certificate);
  if (nowMs < Date.parse(certificate.validFrom)) {
    throw new ConfigError(
      `${certWhat} (certificate id ${certificateId}) is not valid before ${isoDate(certificate.validFrom)}: AWS IoT refuses it in the TLS handshake; check this machine's clock or use a certificate valid now`,
    );
  }
  if (nowMs > Date.parse(certificate.validTo)) {
    throw new ConfigError(
      `${certWhat} (certificate id ${certificateId}) expired on ${isoDate(certificate.validTo)}: AWS IoT refuses it in the TLS handshake; ${synth !== undefined ? `remove ${certFile} and ${keyFile} and run \`${synth}\` (then deploy) to create and register a new one` : 'issue a new certificate and register it with AWS IoT'}`,
    );
  }
  const subjectCn = commonNameOf(certificate);
  return {
    certFile,
    keyFile,
    certPem,
    keyPem,
    certificateId,
    ...(subjectCn === undefined ? {} : { subjectCn }),
    validTo: isoDate(certificate.validTo),
  };
}

/** The subject's CN (the first, if several); `undefined` when the subject has none. */
export function commonNameOf(certificate: X509Certificate): string | undefined {
  // Node.js prints the subject one attribute per line, `CN=value`.
  const line = certificate.subject.split('\n').find((attribute) => attribute.startsWith('CN='));
  return line === undefined ? undefined : line.slice('CN='.length);
}

function parseCertificate(pem: string, what: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    const holds = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)
      ? 'it holds a private key: are --cert and --key swapped?'
      : 'it has no -----BEGIN CERTIFICATE----- block';
    throw new ConfigError(`${what} is not a PEM certificate (${holds}); give the device certificate`);
  }
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new ConfigError(
      `${what} is not a valid PEM certificate (${(error as Error).message}); give the device certificate`,
      { cause: error },
    );
  }
}

function parsePrivateKey(pem: string, what: string): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    const holds = pem.includes('-----BEGIN CERTIFICATE-----')
      ? 'it holds a certificate: are --cert and --key swapped?'
      : pem.includes('PUBLIC KEY-----')
        ? 'it holds a public key; the private key is needed'
        : 'it has no -----BEGIN PRIVATE KEY----- block';
    throw new ConfigError(`${what} is not a PEM private key (${holds}); give the certificate's private key`);
  }
  try {
    return createPrivateKey(pem);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE' || pem.includes('ENCRYPTED')) {
      throw new ConfigError(
        `${what} is encrypted: give it unencrypted (openssl pkey -in <encrypted> -out <file>, then chmod 600 <file>)`,
        { cause: error },
      );
    }
    throw new ConfigError(`${what} is not a valid PEM private key (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/** `Jan  1 00:00:00 2027 GMT` (Node.js's form) as ISO 8601. */
function isoDate(text: string): string {
  return new Date(text).toISOString();
}
