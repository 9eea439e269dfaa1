import fc from 'fast-check';
import { DEFAULT_STACK_NAME } from '@iot-custom-auth/protocol';
import { InfraError, parseAppSettings } from '../src';
import { expectInfraError } from './helpers';

describe('parseAppSettings', () => {
  it('defaults the stack name and leaves everything else to the constructs', () => {
    expect(parseAppSettings({})).toEqual({
      stackName: DEFAULT_STACK_NAME,
      clientIdPrefix: undefined,
      refreshAfterSeconds: undefined,
      disconnectAfterSeconds: undefined,
      tokenKeyName: undefined,
      tokenSigningPublicKeyFile: undefined,
      // The X.509 domain is on, with the demo certificate and an AWS-managed domain.
      x509: { certificateFile: undefined, caCertificateFile: undefined },
    });
  });

  it('takes numbers from cdk.json and digit strings from -c key=value', () => {
    expect(
      parseAppSettings({
        stackName: 'Lab',
        clientIdPrefix: 'dev-',
        refreshAfterSeconds: '600',
        disconnectAfterSeconds: 3600,
        tokenKeyName: 'tk',
        tokenSigningPublicKeyFile: 'keys/public.pem',
      }),
    ).toEqual({
      stackName: 'Lab',
      clientIdPrefix: 'dev-',
      refreshAfterSeconds: 600,
      disconnectAfterSeconds: 3600,
      tokenKeyName: 'tk',
      tokenSigningPublicKeyFile: 'keys/public.pem',
      x509: { certificateFile: undefined, caCertificateFile: undefined },
    });
  });

  it('takes the X.509 settings: off, own certificate or CA, customer-managed domain, pinning', () => {
    expect(parseAppSettings({ x509: 'false' }).x509).toBe(false);
    expect(parseAppSettings({ x509: false }).x509).toBe(false);
    expect(parseAppSettings({ x509: 'true' }).x509).toEqual({
      certificateFile: undefined,
      caCertificateFile: undefined,
    });
    expect(
      parseAppSettings({
        x509CertificateFile: 'device.pem',
        x509CaCertificateFile: 'ca.pem',
        x509DomainName: 'iot.example.com',
        x509ServerCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
        x509ValidationCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/def',
        x509TrustedCertificateFingerprints: 'aa, bb',
      }).x509,
    ).toEqual({
      certificateFile: 'device.pem',
      caCertificateFile: 'ca.pem',
      customDomain: {
        domainName: 'iot.example.com',
        serverCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
        validationCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/def',
      },
      trustedCertificateFingerprints: ['aa', 'bb'],
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'x509 neither true nor false',
      { x509: 'no' },
      'context `x509` must be true or false (-c x509=false), but "no" was provided',
    ],
    [
      'X.509 options with x509=false',
      { x509: 'false', x509CertificateFile: 'a.pem', x509DomainName: 'iot.example.com' },
      'context `x509=false` leaves the X.509 domain out, but it is configured by `x509DomainName`, `x509CertificateFile`: remove one or the other',
    ],
    [
      'a domain name without its server certificate',
      { x509DomainName: 'iot.example.com' },
      'a customer-managed X.509 domain needs both `-c x509DomainName=<fully qualified name>` and `-c x509ServerCertificateArn=<ACM certificate ARN>`, but only one was provided',
    ],
    [
      'a server certificate without its domain name',
      { x509ServerCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' },
      'a customer-managed X.509 domain needs both `-c x509DomainName=<fully qualified name>` and `-c x509ServerCertificateArn=<ACM certificate ARN>`, but only one was provided',
    ],
    [
      'a validation certificate without a custom domain',
      { x509ValidationCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' },
      'context `x509ValidationCertificateArn` is only for a customer-managed domain: also give `-c x509DomainName=...` and `-c x509ServerCertificateArn=...`, or remove it',
    ],
  ])('rejects %s', (_case, raw, message) => {
    expectInfraError(() => parseAppSettings(raw), message);
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a word for a number',
      { refreshAfterSeconds: 'ten' },
      'context `refreshAfterSeconds` must be a whole number of seconds (-c refreshAfterSeconds=600), but "ten" was provided',
    ],
    [
      'a fraction',
      { disconnectAfterSeconds: '300.5' },
      'context `disconnectAfterSeconds` must be a whole number of seconds (-c disconnectAfterSeconds=600), but "300.5" was provided',
    ],
    [
      'a boolean for a number',
      { refreshAfterSeconds: true },
      'context `refreshAfterSeconds` must be a whole number of seconds (-c refreshAfterSeconds=600), but true was provided',
    ],
    [
      'an empty stack name',
      { stackName: '' },
      'context `stackName` must be a non-empty string (-c stackName=...), but "" was provided',
    ],
    [
      'an object for a string',
      { clientIdPrefix: { a: 1 } },
      'context `clientIdPrefix` must be a non-empty string (-c clientIdPrefix=...), but a value of type object was provided',
    ],
    [
      'an array for a file',
      { tokenSigningPublicKeyFile: ['a'] },
      'context `tokenSigningPublicKeyFile` must be a non-empty string (-c tokenSigningPublicKeyFile=...), but an array was provided',
    ],
  ])('rejects %s', (_case, raw, message) => {
    expectInfraError(() => parseAppSettings(raw), message);
  });

  it('never throws anything but InfraError, whatever the context holds', () => {
    const keys = [
      'stackName',
      'clientIdPrefix',
      'refreshAfterSeconds',
      'disconnectAfterSeconds',
      'tokenKeyName',
      'tokenSigningPublicKeyFile',
    ];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), fc.jsonValue()), (raw) => {
        try {
          parseAppSettings(raw);
        } catch (error) {
          expect(error).toBeInstanceOf(InfraError);
          expect((error as Error).message).toMatch(/^context `\w+` must be .*, but .+ was provided$/s);
        }
      }),
    );
  });

  it('never throws anything but InfraError for X.509 settings either', () => {
    const keys = [
      'x509',
      'x509DomainName',
      'x509ServerCertificateArn',
      'x509ValidationCertificateArn',
      'x509CertificateFile',
      'x509CaCertificateFile',
      'x509TrustedCertificateFingerprints',
    ];
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...keys), fc.oneof(fc.jsonValue(), fc.constantFrom('true', 'false'))),
        (raw) => {
          try {
            parseAppSettings(raw);
          } catch (error) {
            expect(error).toBeInstanceOf(InfraError);
            expect((error as Error).message).toMatch(/x509/);
          }
        },
      ),
    );
  });
});
