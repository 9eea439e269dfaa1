import { createHash, createPrivateKey, sign, verify, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { demoDeviceCertificateFiles, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import {
  demoDeviceCertificatePaths,
  demoDeviceClientId,
  ensureDemoDeviceCertificate,
  generateSelfSignedDeviceCertificate,
  InfraError,
  loadX509StackProps,
} from '../src';
import { caCertificatePem, rsaPublicKeyPem, synthCustomAuthorizerStack } from './helpers';

// Every test works in its own temporary repository root: nothing here touches the real .keys/.
let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(tmpdir(), 'demo-device-certificate-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const DAY_MS = 86_400_000;
const mode = (file: string): number => fs.statSync(file).mode & 0o777;

/** The InfraError `action` rejects with (fails the test for anything else). */
async function infraError(action: () => Promise<unknown>): Promise<InfraError> {
  let thrown: unknown;
  try {
    await action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InfraError);
  return thrown as InfraError;
}

describe('demoDeviceCertificatePaths', () => {
  it('names the files after the CN, as the protocol does, so the client finds them', () => {
    expect(demoDeviceCertificatePaths('/repo', 'test-')).toEqual({
      directory: path.join('/repo', demoDeviceCertificateFiles('test-').directory),
      certificateFile: path.join('/repo', '.keys', 'test-mtls-demo-cert.pem'),
      privateKeyFile: path.join('/repo', '.keys', 'test-mtls-demo-key.pem'),
    });
    expect(demoDeviceCertificatePaths('/repo', 'dev-')).toMatchObject({
      certificateFile: path.join('/repo', '.keys', 'dev-mtls-demo-cert.pem'),
      privateKeyFile: path.join('/repo', '.keys', 'dev-mtls-demo-key.pem'),
    });
    expect(demoDeviceClientId('test-')).toBe('test-mtls-demo');
    expect(demoDeviceClientId('dev-')).toBe(demoDeviceCertificateFiles('dev-').subjectCn);
  });
});

describe('ensureDemoDeviceCertificate', () => {
  it('creates a self-signed EC P-256 client certificate for <prefix>mtls-demo, valid a year, key mode 0600', async () => {
    const now = new Date('2026-06-01T12:00:00Z');
    const demo = await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-', now: () => now });
    const paths = demoDeviceCertificatePaths(root, 'test-');
    expect(demo.createdFiles).toEqual([paths.privateKeyFile, paths.certificateFile]);
    expect(demo.commonName).toBe('test-mtls-demo');

    const certificatePem = fs.readFileSync(paths.certificateFile, 'utf8');
    expect(demo.certificatePem).toBe(certificatePem);
    const certificate = new X509Certificate(certificatePem);
    expect(certificate.subject).toBe('CN=test-mtls-demo');
    expect(certificate.issuer).toBe(certificate.subject);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.ca).toBe(false);
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // extendedKeyUsage clientAuth
    expect(certificate.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(new Date(certificate.validTo).getTime() - now.getTime()).toBe(365 * DAY_MS);
    expect(new Date(certificate.validFrom).getTime()).toBeLessThan(now.getTime());
    // The id AWS IoT gives it (and the Lambda sees as principalId): SHA-256 of the DER, lower-case hex.
    expect(demo.certificateId).toBe(createHash('sha256').update(certificate.raw).digest('hex'));
    expect(demo.certificateId).toBe(certificate.fingerprint256.replaceAll(':', '').toLowerCase());

    // The key is the certificate's: what it signs, the certificate's public key verifies.
    const key = createPrivateKey(fs.readFileSync(paths.privateKeyFile, 'utf8'));
    expect(certificate.checkPrivateKey(key)).toBe(true);
    const data = Buffer.from('client hello');
    expect(verify('sha256', data, certificate.publicKey, sign('sha256', data, key))).toBe(true);

    if (process.platform !== 'win32') {
      expect(mode(paths.privateKeyFile)).toBe(0o600);
      expect(mode(paths.certificateFile)).toBe(0o644);
      expect(mode(paths.directory)).toBe(0o700);
    }
    expect(fs.readdirSync(paths.directory).sort()).toEqual([
      'test-mtls-demo-cert.pem',
      'test-mtls-demo-key.pem',
    ]);
  });

  it('keeps an existing valid pair as it is', async () => {
    const first = await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'dev-' });
    const second = await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'dev-' });
    expect(second.createdFiles).toEqual([]);
    expect(second.certificatePem).toBe(first.certificatePem);
    expect(second.certificateId).toBe(first.certificateId);
    expect(second.commonName).toBe('dev-mtls-demo');
  });

  it('ends with one pair when several synths create it at the same time', async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, () => ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' })),
    );
    expect(new Set(results.map((result) => result.certificatePem)).size).toBe(1);
    expect(results.flatMap((result) => result.createdFiles)).toHaveLength(2);
    const { certificateFile, privateKeyFile } = demoDeviceCertificatePaths(root, 'test-');
    const certificate = new X509Certificate(fs.readFileSync(certificateFile, 'utf8'));
    expect(certificate.checkPrivateKey(createPrivateKey(fs.readFileSync(privateKeyFile, 'utf8')))).toBe(true);
  });

  describe('refuses an existing pair that cannot work, naming the file and the fix', () => {
    const fixFor = (prefix = 'test-'): string => {
      const { certificateFile, privateKeyFile } = demoDeviceCertificatePaths(root, prefix);
      return `delete ${certificateFile} and ${privateKeyFile} to create a new demo certificate on the next synth (then deploy, which registers it)`;
    };

    it('when its CN is not the one its name carries (a pair renamed or copied by hand)', async () => {
      const made = await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' });
      const dev = demoDeviceCertificatePaths(root, 'dev-');
      fs.renameSync(made.certificateFile, dev.certificateFile);
      fs.renameSync(made.privateKeyFile, dev.privateKeyFile);
      const error = await infraError(() => ensureDemoDeviceCertificate(root, { clientIdPrefix: 'dev-' }));
      expect(error.message).toBe(
        `${dev.certificateFile} holds the certificate of client id "test-mtls-demo" (its subject CN), not of "dev-mtls-demo" as its name says (was it renamed or copied by hand?): ${fixFor('dev-')}`,
      );
    });

    it('when it expired', async () => {
      const made = await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' });
      const later = new Date(made.notAfter.getTime() + 1000);
      const error = await infraError(() =>
        ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-', now: () => later }),
      );
      expect(error.message).toBe(
        `${made.certificateFile} expired on ${made.notAfter.toISOString()}, so AWS IoT would refuse it: ${fixFor()}`,
      );
    });

    it('when it is not valid yet (the clock moved back)', async () => {
      const made = await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' });
      const earlier = new Date(made.notBefore.getTime() - DAY_MS);
      const error = await infraError(() =>
        ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-', now: () => earlier }),
      );
      expect(error.message).toBe(
        `${made.certificateFile} is not valid before ${made.notBefore.toISOString()} (is the clock right?): ${fixFor()}`,
      );
    });

    it('when the key is not the certificate’s', async () => {
      const { privateKeyFile, certificateFile } = demoDeviceCertificatePaths(root, 'test-');
      await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' });
      const other = await generateSelfSignedDeviceCertificate({ commonName: 'test-mtls-demo' });
      fs.writeFileSync(privateKeyFile, other.privateKeyPem);
      const error = await infraError(() => ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' }));
      expect(error.message).toBe(
        `${privateKeyFile} is not the private key of ${certificateFile}: ${fixFor()}`,
      );
    });

    it('when a file does not hold what its name says', async () => {
      const { privateKeyFile, certificateFile } = demoDeviceCertificatePaths(root, 'test-');
      await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' });
      const key = fs.readFileSync(privateKeyFile, 'utf8');
      fs.writeFileSync(certificateFile, 'not a certificate');
      let error = await infraError(() => ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' }));
      expect(error.message).toBe(`${certificateFile} is not an X.509 certificate in PEM format: ${fixFor()}`);

      fs.writeFileSync(
        certificateFile,
        (await generateSelfSignedDeviceCertificate({ commonName: 'x' })).certificatePem,
      );
      fs.writeFileSync(privateKeyFile, rsaPublicKeyPem());
      error = await infraError(() => ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' }));
      expect(error.message).toBe(`${privateKeyFile} is not a private key in PEM format: ${fixFor()}`);
      expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    });

    it('when only one of the two files exists', async () => {
      const { privateKeyFile, certificateFile } = demoDeviceCertificatePaths(root, 'test-');
      await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' });
      fs.rmSync(certificateFile);
      let error = await infraError(() => ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' }));
      expect(error.message).toBe(
        `found ${privateKeyFile} but not ${certificateFile}: restore the missing file, or delete ${privateKeyFile} to create a new demo certificate on the next synth`,
      );
      // Nothing was overwritten or created in the attempt.
      expect(fs.existsSync(certificateFile)).toBe(false);

      fs.rmSync(privateKeyFile);
      await ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' });
      fs.rmSync(privateKeyFile);
      error = await infraError(() => ensureDemoDeviceCertificate(root, { clientIdPrefix: 'test-' }));
      expect(error.message).toBe(
        `found ${certificateFile} but not ${privateKeyFile}: restore the missing file, or delete ${certificateFile} to create a new demo certificate on the next synth`,
      );
    });
  });

  it('refuses a prefix that makes no valid client id', async () => {
    const error = await infraError(() => ensureDemoDeviceCertificate(root, { clientIdPrefix: 'a/b' }));
    expect(error.message).toBe(
      'the demo device certificate\'s client id "a/bmtls-demo" is not valid (client id contains "/"; only A-Z a-z 0-9 _ . : - are allowed): choose a clientIdPrefix made of A-Z a-z 0-9 _ . : -',
    );
    expect(fs.existsSync(demoDeviceCertificatePaths(root, 'test-').directory)).toBe(false);
  });
});

describe('generateSelfSignedDeviceCertificate', () => {
  it('makes the validity window and key type asked for, a client certificate of its own key', async () => {
    const notBefore = new Date(Date.UTC(2030, 0, 1));
    const notAfter = new Date(Date.UTC(2030, 0, 2));
    const generated = await generateSelfSignedDeviceCertificate({
      commonName: 'test-rsa-device',
      keyType: 'RSA',
      notBefore,
      notAfter,
    });
    const certificate = new X509Certificate(generated.certificatePem);
    expect(certificate.subject).toBe('CN=test-rsa-device');
    expect(new Date(certificate.validFrom).getTime()).toBe(notBefore.getTime());
    expect(new Date(certificate.validTo).getTime()).toBe(notAfter.getTime());
    expect(certificate.publicKey.asymmetricKeyType).toBe('rsa');
    expect(certificate.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(certificate.checkPrivateKey(createPrivateKey(generated.privateKeyPem))).toBe(true);
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('is EC P-256, valid from an hour before now for a year, by default', async () => {
    const now = new Date(Date.UTC(2031, 5, 1, 12));
    const certificate = new X509Certificate(
      (await generateSelfSignedDeviceCertificate({ commonName: 'test-ec-device', now })).certificatePem,
    );
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(new Date(certificate.validFrom).getTime()).toBe(now.getTime() - 3_600_000);
    expect(new Date(certificate.validTo).getTime()).toBe(now.getTime() + 365 * DAY_MS);
  });
});

describe('loadX509StackProps', () => {
  const source = (): { repoRoot: string; clientIdPrefix: string; cwd: string } => ({
    repoRoot: root,
    clientIdPrefix: 'test-',
    cwd: root,
  });

  it('registers the demo certificate by default, creating it in .keys/', async () => {
    const loaded = await loadX509StackProps({}, source());
    const { certificateFile } = demoDeviceCertificatePaths(root, 'test-');
    expect(loaded.props).toEqual({
      deviceCertificatePem: fs.readFileSync(certificateFile, 'utf8'),
      deviceCertificateIsDemo: true,
      customDomain: undefined,
      trustedCertificateFingerprints: undefined,
    });
    expect(loaded.createdFiles).toHaveLength(2);
  });

  it('gives each client id prefix its own pair: a synth with -c clientIdPrefix=dev- keeps the default one', async () => {
    const first = await loadX509StackProps({}, source());
    const dev = await loadX509StackProps({}, { ...source(), clientIdPrefix: 'dev-' });
    const again = await loadX509StackProps({}, source());
    const defaultPaths = demoDeviceCertificatePaths(root, 'test-');
    const devPaths = demoDeviceCertificatePaths(root, 'dev-');
    expect(dev.createdFiles).toEqual([devPaths.privateKeyFile, devPaths.certificateFile]);
    expect(again).toEqual({ props: first.props, createdFiles: [] });
    expect(fs.readdirSync(defaultPaths.directory).sort()).toEqual([
      'dev-mtls-demo-cert.pem',
      'dev-mtls-demo-key.pem',
      'test-mtls-demo-cert.pem',
      'test-mtls-demo-key.pem',
    ]);
    const subjectOf = (file: string): string => new X509Certificate(fs.readFileSync(file, 'utf8')).subject;
    expect(subjectOf(defaultPaths.certificateFile)).toBe('CN=test-mtls-demo');
    expect(subjectOf(devPaths.certificateFile)).toBe('CN=dev-mtls-demo');

    // The dev- stack registers the dev- certificate, outputs its id, and names the prefix --mtls finds it by.
    const { template } = synthCustomAuthorizerStack({ clientIdPrefix: 'dev-', x509: dev.props });
    template.hasResourceProperties('AWS::IoT::Certificate', {
      CertificatePem: fs.readFileSync(devPaths.certificateFile, 'utf8'),
    });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs).toHaveProperty(STACK_OUTPUTS.demoCertificateId);
    expect(outputs[STACK_OUTPUTS.clientIdPrefix]?.Value).toBe('dev-');
  });

  it("registers the user's own certificate or CA instead, without touching .keys/", async () => {
    const device = await generateSelfSignedDeviceCertificate({ commonName: 'test-sensor-7' });
    const ca = await caCertificatePem();
    fs.writeFileSync(path.join(root, 'device.pem'), device.certificatePem);
    fs.writeFileSync(path.join(root, 'ca.pem'), ca);
    const customDomain = { domainName: 'iot.example.com', serverCertificateArn: 'arn:x' };

    expect(await loadX509StackProps({ certificateFile: 'device.pem', customDomain }, source())).toEqual({
      props: {
        deviceCertificatePem: device.certificatePem,
        customDomain,
        trustedCertificateFingerprints: undefined,
      },
      createdFiles: [],
    });
    expect(await loadX509StackProps({ caCertificateFile: path.join(root, 'ca.pem') }, source())).toEqual({
      props: { caCertificatePem: ca, customDomain: undefined, trustedCertificateFingerprints: undefined },
      createdFiles: [],
    });
    const both = await loadX509StackProps(
      { certificateFile: 'device.pem', caCertificateFile: 'ca.pem' },
      source(),
    );
    expect(both.props).toMatchObject({ deviceCertificatePem: device.certificatePem, caCertificatePem: ca });
    expect(fs.existsSync(path.join(root, '.keys'))).toBe(false);
  });

  it('refuses a file AWS IoT would refuse, naming the file, the option and the fix', async () => {
    const device = await generateSelfSignedDeviceCertificate({ commonName: 'test-sensor-7' });
    const expired = await generateSelfSignedDeviceCertificate({
      commonName: 'test-old',
      now: new Date(Date.now() - 400 * DAY_MS),
    });
    const files = {
      device: path.join(root, 'device.pem'),
      key: path.join(root, 'key.pem'),
      ca: path.join(root, 'ca.pem'),
      expired: path.join(root, 'expired.pem'),
      garbage: path.join(root, 'garbage.pem'),
    };
    fs.writeFileSync(files.device, device.certificatePem);
    fs.writeFileSync(files.key, device.privateKeyPem);
    fs.writeFileSync(files.ca, await caCertificatePem());
    fs.writeFileSync(files.expired, expired.certificatePem);
    fs.writeFileSync(files.garbage, 'hello');
    const missing = path.join(root, 'missing.pem');

    const cases: [Parameters<typeof loadX509StackProps>[0], string][] = [
      [
        { certificateFile: 'missing.pem' },
        `cannot read the x509CertificateFile file ${missing} (ENOENT): point -c x509CertificateFile=... at a device certificate in PEM format`,
      ],
      [
        { certificateFile: 'key.pem' },
        `${files.key} (x509CertificateFile) holds a private key: point -c x509CertificateFile=... at the certificate only; the key stays on the device and out of the stack`,
      ],
      [
        { caCertificateFile: 'garbage.pem' },
        `${files.garbage} (x509CaCertificateFile) is not an X.509 certificate in PEM format (-----BEGIN CERTIFICATE-----): point -c x509CaCertificateFile=... at a CA certificate`,
      ],
      [
        { certificateFile: 'ca.pem' },
        `${files.ca} (x509CertificateFile) is a CA certificate: pass it as -c x509CaCertificateFile=... to register the CA`,
      ],
      [
        { caCertificateFile: 'device.pem' },
        `${files.device} (x509CaCertificateFile) is not a CA certificate (no basicConstraints CA:TRUE): pass it as -c x509CertificateFile=... to register it as a device certificate`,
      ],
      [
        { certificateFile: 'expired.pem' },
        `${files.expired} (x509CertificateFile) expired on ${new Date(new X509Certificate(expired.certificatePem).validTo).toISOString()}, so AWS IoT would refuse it: point -c x509CertificateFile=... at a valid certificate`,
      ],
    ];
    for (const [settings, message] of cases) {
      const error = await infraError(() => loadX509StackProps(settings, source()));
      expect(error.message).toBe(message);
    }
  });
});
