import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { X509AppSettings } from './app-settings';
import type { CustomAuthorizerStackX509Props } from './custom-authorizer-stack';
import { ensureDemoDeviceCertificate } from './demo-device-certificate';
import { InfraError } from './errors';

/** Where {@link loadX509StackProps} reads and creates files. */
export interface X509CertificateSource {
  /** The repository root, whose `.keys/` holds the demo certificate (created when missing). */
  readonly repoRoot: string;
  /** The stack's client id prefix: the demo certificate's CN is `<prefix>mtls-demo`. */
  readonly clientIdPrefix: string;
  /** Relative certificate files are resolved against this. @default process.cwd() */
  readonly cwd?: string;
  /** The current time (tests). @default () => new Date() */
  readonly now?: () => Date;
}

/** The stack's X.509 props and the files created to provide them. */
export interface LoadedX509StackProps {
  readonly props: CustomAuthorizerStackX509Props;
  /** Files written (the demo certificate and key, the first time). */
  readonly createdFiles: readonly string[];
}

/**
 * Turns the `-c x509...` settings into the stack's X.509 props:
 * - `x509CertificateFile` and/or `x509CaCertificateFile`: the user's own certificate / CA, read and checked
 *   (`.keys/` is neither read nor created);
 * - neither: the demo certificate of `.keys/`, created on the first synth (see `ensureDemoDeviceCertificate`).
 * @throws InfraError naming the file and the fix when a file is missing, not a certificate, a CA where a device
 *   certificate belongs (or the reverse), or expired.
 */
export async function loadX509StackProps(
  settings: X509AppSettings,
  source: X509CertificateSource,
): Promise<LoadedX509StackProps> {
  const now = (source.now ?? (() => new Date()))();
  const cwd = source.cwd ?? process.cwd();
  const common = {
    customDomain: settings.customDomain,
    trustedCertificateFingerprints: settings.trustedCertificateFingerprints,
  };
  if (settings.certificateFile === undefined && settings.caCertificateFile === undefined) {
    const demo = await ensureDemoDeviceCertificate(source.repoRoot, {
      clientIdPrefix: source.clientIdPrefix,
      now: () => now,
    });
    return {
      props: { ...common, deviceCertificatePem: demo.certificatePem, deviceCertificateIsDemo: true },
      createdFiles: demo.createdFiles,
    };
  }
  return {
    props: {
      ...common,
      ...(settings.certificateFile !== undefined && {
        deviceCertificatePem: readCertificateFile('x509CertificateFile', settings.certificateFile, {
          cwd,
          now,
          ca: false,
        }),
      }),
      ...(settings.caCertificateFile !== undefined && {
        caCertificatePem: readCertificateFile('x509CaCertificateFile', settings.caCertificateFile, {
          cwd,
          now,
          ca: true,
        }),
      }),
    },
    createdFiles: [],
  };
}

/** Reads one PEM certificate for the context option `option` and checks what AWS IoT would refuse. */
function readCertificateFile(
  option: string,
  file: string,
  expected: { readonly cwd: string; readonly now: Date; readonly ca: boolean },
): string {
  const absolute = path.resolve(expected.cwd, file);
  const what = expected.ca ? 'a CA certificate' : 'a device certificate';
  let pem: string;
  try {
    pem = fs.readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new InfraError(
      `cannot read the ${option} file ${absolute} (${(error as NodeJS.ErrnoException).code ?? 'unknown error'}): point -c ${option}=... at ${what} in PEM format`,
      { cause: error },
    );
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new InfraError(
      `${absolute} (${option}) holds a private key: point -c ${option}=... at the certificate only; the key stays on the device and out of the stack`,
    );
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new InfraError(
      `${absolute} (${option}) is not an X.509 certificate in PEM format (-----BEGIN CERTIFICATE-----): point -c ${option}=... at ${what}`,
      { cause: error },
    );
  }
  if (certificate.ca !== expected.ca) {
    throw new InfraError(
      expected.ca
        ? `${absolute} (x509CaCertificateFile) is not a CA certificate (no basicConstraints CA:TRUE): pass it as -c x509CertificateFile=... to register it as a device certificate`
        : `${absolute} (x509CertificateFile) is a CA certificate: pass it as -c x509CaCertificateFile=... to register the CA`,
    );
  }
  const notAfter = new Date(certificate.validTo);
  if (notAfter.getTime() <= expected.now.getTime()) {
    throw new InfraError(
      `${absolute} (${option}) expired on ${notAfter.toISOString()}, so AWS IoT would refuse it: point -c ${option}=... at a valid certificate`,
    );
  }
  return pem;
}
