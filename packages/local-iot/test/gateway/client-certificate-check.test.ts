import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import type { LocalCaCertificate, LocalCertificate } from '../../src/deployment/iot-certificates';
import { checkClientCertificate } from '../../src/gateway/client-certificate-check';
import { testCertificate, type TestCertificate } from '../support/x509-certificates';

const DAY_MS = 86_400_000;

let device: TestCertificate;
let ca: TestCertificate;
let issued: TestCertificate;
beforeAll(async () => {
  device = await testCertificate();
  ca = await testCertificate({ commonName: 'test CA', ca: true });
  issued = await testCertificate({ commonName: 'test-issued', issuer: ca });
});

const registered = (certificate: TestCertificate, status = 'ACTIVE'): LocalCertificate => ({
  logicalId: 'DeviceCertificate',
  id: certificate.id,
  pem: certificate.certPem,
  status,
  mode: 'SNI_ONLY',
});
const registeredCa = (autoRegistration: boolean): LocalCaCertificate => ({
  logicalId: 'CaCertificate',
  id: ca.id,
  pem: ca.certPem,
  status: 'ACTIVE',
  autoRegistration,
});
const parsed = (certificate: TestCertificate): X509Certificate => new X509Certificate(certificate.certPem);

describe('checkClientCertificate', () => {
  it('accepts a registered ACTIVE certificate inside its validity, with its id and PEM', () => {
    const check = checkClientCertificate(
      { certificates: [registered(device)], caCertificates: [] },
      parsed(device),
    );
    expect(check).toEqual({
      ok: true,
      id: device.id,
      pem: parsed(device).toString(),
      subject: 'CN=test-mtls-demo',
    });
  });

  it('refuses no certificate, saying one is required', () => {
    expect(
      checkClientCertificate({ certificates: [registered(device)], caCertificates: [] }, undefined),
    ).toEqual({
      ok: false,
      cause: 'no-client-certificate',
      reason:
        'the client sent no certificate; this CUSTOM_AUTH_X509 endpoint requires a client certificate registered in the stack (AWS::IoT::Certificate, ACTIVE)',
    });
  });

  it('refuses a certificate that is not registered, naming how to register it', () => {
    expect(checkClientCertificate({ certificates: [], caCertificates: [] }, parsed(device))).toEqual({
      ok: false,
      cause: 'client-certificate-not-registered',
      certificateId: device.id,
      reason: `client certificate ${device.id} (CN=test-mtls-demo) is not registered in the stack: register it (AWS::IoT::Certificate, CertificateMode SNI_ONLY, Status ACTIVE)`,
    });
  });

  it('refuses a certificate only its registered CA knows: just-in-time registration refuses the first connect', () => {
    const withAutoRegistration = checkClientCertificate(
      { certificates: [], caCertificates: [registeredCa(true)] },
      parsed(issued),
    );
    expect(withAutoRegistration).toMatchObject({
      ok: false,
      cause: 'client-certificate-not-registered',
      reason: expect.stringContaining(
        'its CA CaCertificate has auto-registration enabled, so AWS IoT registers it as PENDING_ACTIVATION and refuses this first connect',
      ) as unknown,
    });
    expect(
      checkClientCertificate({ certificates: [], caCertificates: [registeredCa(false)] }, parsed(issued)),
    ).toMatchObject({
      reason: expect.stringContaining('registered without auto-registration') as unknown,
    });
    // Registered itself, it connects (its CA registered or not).
    expect(
      checkClientCertificate(
        { certificates: [registered(issued)], caCertificates: [registeredCa(false)] },
        parsed(issued),
      ),
    ).toMatchObject({ ok: true, id: issued.id });
  });

  it('refuses a registered certificate that is not ACTIVE', () => {
    for (const status of ['INACTIVE', 'REVOKED', 'PENDING_ACTIVATION']) {
      expect(
        checkClientCertificate(
          { certificates: [registered(device, status)], caCertificates: [] },
          parsed(device),
        ),
      ).toEqual({
        ok: false,
        cause: 'client-certificate-inactive',
        certificateId: device.id,
        reason: `client certificate ${device.id} (DeviceCertificate) has status ${status}; only an ACTIVE certificate may connect`,
      });
    }
  });

  it('refuses a registered certificate outside its validity', async () => {
    const expired = await testCertificate({
      notBefore: new Date(Date.now() - 10 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    const check = checkClientCertificate(
      { certificates: [registered(expired)], caCertificates: [] },
      parsed(expired),
    );
    expect(check).toMatchObject({
      ok: false,
      cause: 'client-certificate-expired',
      certificateId: expired.id,
    });
    // The device's certificate, checked before it is valid.
    expect(
      checkClientCertificate(
        { certificates: [registered(device)], caCertificates: [] },
        parsed(device),
        new Date(Date.now() - DAY_MS),
      ),
    ).toMatchObject({ ok: false, cause: 'client-certificate-expired' });
  });

  it('never throws on a registry holding garbage PEM for a CA', () => {
    fc.assert(
      fc.property(fc.string(), (pem) => {
        const check = checkClientCertificate(
          { certificates: [], caCertificates: [{ ...registeredCa(true), pem }] },
          parsed(issued),
        );
        expect(check).toMatchObject({ ok: false, cause: 'client-certificate-not-registered' });
      }),
    );
  });
});
