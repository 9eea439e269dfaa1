import { createPrivateKey, KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import { awsIotCertificateId, clientIdProblem, demoDeviceCertificateFiles } from '@iot-custom-auth/protocol';
import { InfraError } from './errors';
import { writeFileIfAbsent } from './key-files';

/** How long a new demo certificate is valid. */
export const DEMO_DEVICE_CERTIFICATE_VALIDITY_DAYS = 365;

const DAY_MS = 86_400_000;

/** How long a synth waits for the certificate of a key another process has just written. */
const CONCURRENT_CREATION_WAIT_MS = 10_000;

/**
 * How far a new certificate's `notBefore` lies in the past, so a device whose clock runs a little behind (or
 * AWS IoT's, by a second) still finds it valid.
 */
const BACKDATE_MS = 3_600_000;

/** ECDSA P-256 with SHA-256: a key type AWS IoT accepts for client certificates, and fast to generate. */
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** RSA 2048 with PKCS#1 v1.5 and SHA-256: the other key type AWS IoT accepts, for devices that bring one. */
const RSA_KEY_ALGORITHM = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;

/** The subject CN (= client id) of the demo certificate for `clientIdPrefix`: `<prefix>mtls-demo`. */
export function demoDeviceClientId(clientIdPrefix: string): string {
  return demoDeviceCertificateFiles(clientIdPrefix).subjectCn;
}

/** Where one client id prefix's demo device certificate and its key live under a repository root. */
export interface DemoDeviceCertificatePaths {
  /** `<repoRoot>/.keys` (mode 0700) */
  readonly directory: string;
  /** `<repoRoot>/.keys/<prefix>mtls-demo-cert.pem`: the certificate the stack registers (not secret). */
  readonly certificateFile: string;
  /** `<repoRoot>/.keys/<prefix>mtls-demo-key.pem`: its private key (PKCS#8, mode 0600); never leaves the machine. */
  readonly privateKeyFile: string;
}

/**
 * The paths under `repoRoot` for `clientIdPrefix`, named by the protocol so the client finds the same files
 * (`--mtls`). The names carry the certificate's CN, so each prefix has its own pair and a synth with another
 * prefix (`-c clientIdPrefix=dev-`) neither reuses nor replaces the default prefix's.
 */
export function demoDeviceCertificatePaths(
  repoRoot: string,
  clientIdPrefix: string,
): DemoDeviceCertificatePaths {
  const files = demoDeviceCertificateFiles(clientIdPrefix);
  const directory = path.join(repoRoot, files.directory);
  return {
    directory,
    certificateFile: path.join(directory, files.certificate),
    privateKeyFile: path.join(directory, files.privateKey),
  };
}

/** A device certificate and what the stack and its tests need to know about it. */
export interface DeviceCertificateInfo {
  /** The certificate, PEM. */
  readonly certificatePem: string;
  /** The subject's common name (the device's client id). */
  readonly commonName: string;
  /**
   * The AWS IoT certificate id AWS IoT gives it: the lower-case hex SHA-256 of the DER, which is also what
   * the Lambda receives as `protocolData.tls.principalId`.
   */
  readonly certificateId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** What {@link ensureDemoDeviceCertificate} found or made. */
export interface DemoDeviceCertificate extends DemoDeviceCertificatePaths, DeviceCertificateInfo {
  /** The files this call wrote (empty when a valid pair already existed). */
  readonly createdFiles: readonly string[];
}

/** Knobs of {@link ensureDemoDeviceCertificate}. */
export interface EnsureDemoDeviceCertificateOptions {
  /** The stack's client id prefix; the certificate's CN is `<prefix>mtls-demo`. */
  readonly clientIdPrefix: string;
  /** The current time (tests). @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * Makes sure `<repoRoot>/.keys/` holds the demo device certificate of `options.clientIdPrefix` and its private
 * key (`<prefix>mtls-demo-cert.pem`, `<prefix>mtls-demo-key.pem`), creating both when neither exists: a self-signed certificate (AWS IoT registers it with `CertificateMode: SNI_ONLY`, which needs
 * no registered CA), EC P-256, subject CN `<clientIdPrefix>mtls-demo`, valid for one year; the key PKCS#8 PEM,
 * mode 0600, in a 0700 directory. The key is written first and the certificate last, each atomically and never
 * over an existing file, so a reader that finds the certificate also finds its key.
 *
 * An existing pair is kept as long as it works, and otherwise stops the synth instead of being replaced
 * silently (the deployed stack registers that certificate, and devices may hold copies of the key).
 * @throws InfraError when the prefix makes no valid client id, only one of the two files exists, a file is not a
 *   certificate / private key, the key is not the certificate's, its CN is not the one its name carries (a file
 *   renamed or copied by hand), or it is expired or not yet valid. The message names the file and the fix.
 */
export async function ensureDemoDeviceCertificate(
  repoRoot: string,
  options: EnsureDemoDeviceCertificateOptions,
): Promise<DemoDeviceCertificate> {
  const commonName = demoDeviceClientId(options.clientIdPrefix);
  // Checked before any path is made: the CN is also the file name, which only the client id alphabet keeps
  // inside .keys/ (no "/").
  const problem = clientIdProblem(commonName, options.clientIdPrefix);
  if (problem !== undefined) {
    throw new InfraError(
      `the demo device certificate's client id ${JSON.stringify(commonName)} is not valid (${problem}): choose a clientIdPrefix made of A-Z a-z 0-9 _ . : -`,
    );
  }
  const paths = demoDeviceCertificatePaths(repoRoot, options.clientIdPrefix);
  const now = (options.now ?? (() => new Date()))();
  fs.mkdirSync(paths.directory, { recursive: true, mode: 0o700 });
  const createdFiles: string[] = [];

  if (!fs.existsSync(paths.privateKeyFile) && !fs.existsSync(paths.certificateFile)) {
    const generated = await generateSelfSignedDeviceCertificate({ commonName, now });
    if (writeFileIfAbsent(paths.privateKeyFile, generated.privateKeyPem, 0o600)) {
      createdFiles.push(paths.privateKeyFile);
      if (!writeFileIfAbsent(paths.certificateFile, generated.certificatePem, 0o644)) {
        throw new InfraError(
          `${paths.certificateFile} appeared while ${paths.privateKeyFile} was being created: delete both files and synthesize again`,
        );
      }
      createdFiles.push(paths.certificateFile);
    } else {
      // Another process (a parallel synth) won the race for the key: its certificate follows in a moment.
      await waitForFile(paths.certificateFile, CONCURRENT_CREATION_WAIT_MS);
    }
  }

  const info = readExistingPair(paths, { commonName, now });
  return { ...paths, ...info, createdFiles };
}

/** Reads and checks an existing pair (see {@link ensureDemoDeviceCertificate} for the rules). */
function readExistingPair(
  paths: DemoDeviceCertificatePaths,
  expected: { readonly commonName: string; readonly now: Date },
): DeviceCertificateInfo {
  const fix = `delete ${paths.certificateFile} and ${paths.privateKeyFile} to create a new demo certificate on the next synth (then deploy, which registers it)`;
  const certificateText = readOptional(paths.certificateFile);
  const keyText = readOptional(paths.privateKeyFile);
  if (certificateText === undefined || keyText === undefined) {
    const [found, missing] =
      certificateText === undefined
        ? [paths.privateKeyFile, paths.certificateFile]
        : [paths.certificateFile, paths.privateKeyFile];
    throw new InfraError(
      `found ${found} but not ${missing}: restore the missing file, or delete ${found} to create a new demo certificate on the next synth`,
    );
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificateText);
  } catch (error) {
    throw new InfraError(`${paths.certificateFile} is not an X.509 certificate in PEM format: ${fix}`, {
      cause: error,
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (error) {
    throw new InfraError(`${paths.privateKeyFile} is not a private key in PEM format: ${fix}`, {
      cause: error,
    });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new InfraError(
      `${paths.privateKeyFile} is not the private key of ${paths.certificateFile}: ${fix}`,
    );
  }
  const info = describeCertificate(certificate, certificateText);
  // The file name carries the CN, so only a file renamed or copied over by hand gets here; the stack would
  // register a certificate the X.509 authorizer admits under another client id than the one --mtls uses.
  if (info.commonName !== expected.commonName) {
    throw new InfraError(
      `${paths.certificateFile} holds the certificate of client id ${JSON.stringify(info.commonName)} (its subject CN), not of ${JSON.stringify(expected.commonName)} as its name says (was it renamed or copied by hand?): ${fix}`,
    );
  }
  if (info.notAfter.getTime() <= expected.now.getTime()) {
    throw new InfraError(
      `${paths.certificateFile} expired on ${info.notAfter.toISOString()}, so AWS IoT would refuse it: ${fix}`,
    );
  }
  if (info.notBefore.getTime() > expected.now.getTime()) {
    throw new InfraError(
      `${paths.certificateFile} is not valid before ${info.notBefore.toISOString()} (is the clock right?): ${fix}`,
    );
  }
  return info;
}

/** The facts about `certificate` the stack and the tests use; `pem` is returned as given. */
export function describeCertificate(certificate: X509Certificate, pem: string): DeviceCertificateInfo {
  return {
    certificatePem: pem,
    commonName: subjectCommonName(certificate) ?? '',
    certificateId: awsIotCertificateId(certificate),
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
  };
}

/** The subject's CN, or `undefined` when it has none. */
function subjectCommonName(certificate: X509Certificate): string | undefined {
  // node:crypto renders the subject one attribute per line (`CN=test-mtls-demo`).
  const line = certificate.subject.split('\n').find((entry) => entry.startsWith('CN='));
  return line?.slice('CN='.length);
}

/** Resolves once `file` exists, or after `timeoutMs` (the caller then reports the missing file). */
async function waitForFile(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function readOptional(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InfraError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** What {@link generateSelfSignedDeviceCertificate} makes. */
export interface GeneratedDeviceCertificate {
  readonly certificatePem: string;
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
}

/** Inputs of {@link generateSelfSignedDeviceCertificate}. */
export interface GenerateDeviceCertificateOptions {
  /** Subject CN: the device's client id. */
  readonly commonName: string;
  /** @default new Date() */
  readonly now?: Date;
  /** @default DEMO_DEVICE_CERTIFICATE_VALIDITY_DAYS (365) */
  readonly validityDays?: number;
  /** Start of validity. @default an hour before `now` (a device clock a little behind still accepts it) */
  readonly notBefore?: Date;
  /** End of validity. @default `validityDays` after `now` */
  readonly notAfter?: Date;
  /** @default 'EC' (P-256) */
  readonly keyType?: 'EC' | 'RSA';
}

/**
 * A new self-signed TLS client certificate (EC P-256 with ECDSA-SHA256, or RSA 2048) with subject
 * `CN=<commonName>`, the extensions a strict TLS server checks on a client certificate (basicConstraints
 * CA:false, keyUsage digitalSignature, extendedKeyUsage clientAuth, subject key identifier), and a random 16-byte
 * serial number: a certificate a device brings, which AWS IoT admits once it is registered (`SNI_ONLY`). The
 * demo certificate, and the connect matrix's and tests' certificates of other subjects, validity or keys.
 */
export async function generateSelfSignedDeviceCertificate(
  options: GenerateDeviceCertificateOptions,
): Promise<GeneratedDeviceCertificate> {
  const now = options.now ?? new Date();
  const validityDays = options.validityDays ?? DEMO_DEVICE_CERTIFICATE_VALIDITY_DAYS;
  const crypto = webcrypto;
  const algorithm = options.keyType === 'RSA' ? RSA_KEY_ALGORITHM : KEY_ALGORITHM;
  const keys = await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const serial = Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
  // A positive INTEGER: clear the top bit so DER needs no leading zero and it never reads as negative.
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: [{ CN: [options.commonName] }],
      keys,
      notBefore: options.notBefore ?? new Date(now.getTime() - BACKDATE_MS),
      notAfter: options.notAfter ?? new Date(now.getTime() + validityDays * DAY_MS),
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
    certificatePem: `${certificate.toString('pem')}\n`,
    privateKeyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
