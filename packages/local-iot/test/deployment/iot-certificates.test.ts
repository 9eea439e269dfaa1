import { join } from 'node:path';
import { STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import fc from 'fast-check';
import { IntrinsicResolver, type CfnTemplate } from '../../src/deployment/intrinsics';
import { readX509Side } from '../../src/deployment/iot-certificates';
import { loadLocalDeployment, type LocalDeployment } from '../../src/deployment/local-deployment';
import { DeploymentError } from '../../src/errors';
import {
  demoStackNames,
  FUNCTIONS_DIR,
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
} from '../fixtures/assembly';
import { testCertificate, type TestCertificate } from '../support/x509-certificates';
import { x509Template as shapedTemplate, type X509TemplateOptions } from '../fixtures/x509-assembly';

// The X.509 side of a stack as mtls-infra synthesizes it (the template shape its construct writes): the
// X.509 authorizer, the CUSTOM_AUTH_X509 domain configuration, the DescribeDomainConfiguration custom
// resource giving its domain name, the SNI_ONLY certificate and, optionally, a CA.

const STACK = 'X509Test';
const HOST = 'gateway.localhost';
const names = demoStackNames(STACK);
const { publicKey } = rsaKeyPair();

let root: string;
let device: TestCertificate;
let ca: TestCertificate;
beforeAll(async () => {
  device = await testCertificate();
  ca = await testCertificate({ commonName: 'test CA', ca: true });
});
beforeEach(() => {
  root = tempDir('x509-deployment');
});
afterEach(() => removeDir(root));

/** The X.509 stack with this file's device certificate and CA. */
function x509Template(
  options: Omit<
    X509TemplateOptions,
    'stackName' | 'publicKeyPem' | 'certificatePem' | 'caCertificatePem'
  > = {},
): CfnTemplate {
  return shapedTemplate({
    stackName: STACK,
    publicKeyPem: publicKey,
    certificatePem: device.certPem,
    caCertificatePem: ca.certPem,
    ...options,
  });
}

function load(template: CfnTemplate, x509EndpointHost?: string): LocalDeployment {
  const cdkOut = writeAssembly(join(root, 'cdk.out'), STACK, template, {
    fn: join(FUNCTIONS_DIR, 'behaviours'),
  });
  return loadLocalDeployment({
    cdkOut,
    stateDir: join(root, 'state'),
    endpointHost: HOST,
    ...(x509EndpointHost !== undefined && { x509EndpointHost }),
  });
}

describe('the X.509 side of a deployment', () => {
  it('reads the domain configuration, the certificate and the outputs with local values', () => {
    const deployment = load(x509Template());
    const domainName = deployment.outputs[STACK_OUTPUTS.x509DomainConfigurationName];
    expect(domainName).toMatch(new RegExp(`^${STACK}-X509Domain-[0-9a-f]{8}$`));
    expect(deployment.x509Domain).toEqual({
      logicalId: 'X509DomainDomainConfiguration',
      name: domainName,
      arn: `arn:aws:iot:us-east-1:000000000000:domainconfiguration/${domainName}`,
      applicationProtocol: 'SECURE_MQTT',
      endpointHost: HOST,
      defaultAuthorizerName: `${STACK}-X509Domain-X509Authorizer`,
      allowAuthorizerOverride: false,
    });
    expect(deployment.certificates).toEqual([
      {
        logicalId: 'X509DomainDeviceCertificate',
        id: device.id,
        pem: device.certPem,
        status: 'ACTIVE',
        mode: 'SNI_ONLY',
      },
    ]);
    expect(deployment.outputs).toMatchObject({
      [STACK_OUTPUTS.x509Endpoint]: HOST,
      [STACK_OUTPUTS.demoCertificateId]: device.id,
      CertificateArn: `arn:aws:iot:us-east-1:000000000000:cert/${device.id}`,
    });
    expect(deployment.notices).toEqual([]);
    // The X.509 domain's authorizer is not the gateway port's default: connections there name theirs.
    expect(deployment.defaultAuthorizerName).toBeUndefined();
    expect(deployment.authorizers.map((a) => a.name)).toContain(`${STACK}-X509Domain-X509Authorizer`);
    expect(deployment.authorizers.map((a) => a.name)).toContain(names.unsignedAuthorizer);
  });

  it('resolves X509Endpoint to the X.509 host name when one is given', () => {
    const deployment = load(x509Template(), 'mtls.localhost');
    expect(deployment.outputs[STACK_OUTPUTS.x509Endpoint]).toBe('mtls.localhost');
    expect(deployment.x509Domain?.endpointHost).toBe('mtls.localhost');
    // The data endpoint stays the gateway's.
    expect(deployment.outputs[STACK_OUTPUTS.endpoint]).toBe(HOST);
  });

  it('resolves GetAtt DomainName of the domain configuration too', () => {
    const template = x509Template();
    const deployment = load({
      ...template,
      Outputs: {
        ...template.Outputs,
        [STACK_OUTPUTS.x509Endpoint]: {
          Value: { 'Fn::GetAtt': ['X509DomainDomainConfiguration', 'DomainName'] },
        },
      },
    });
    expect(deployment.outputs[STACK_OUTPUTS.x509Endpoint]).toBe(HOST);
  });

  it('reads a registered CA with its auto-registration', () => {
    const deployment = load(x509Template({ certificate: false, caCertificate: true }));
    expect(deployment.certificates).toEqual([]);
    expect(deployment.caCertificates).toEqual([
      {
        logicalId: 'X509DomainCaCertificate',
        id: ca.id,
        pem: ca.certPem,
        status: 'ACTIVE',
        autoRegistration: true,
      },
    ]);
  });

  it('says what it does not serve instead of failing', () => {
    const deployment = load(
      x509Template({
        certificate: { CertificatePem: undefined, CertificateSigningRequest: 'CSR' },
        extraResources: {
          SigV4Domain: {
            Type: 'AWS::IoT::DomainConfiguration',
            Properties: { DomainConfigurationName: 'sigv4', AuthenticationType: 'AWS_SIGV4' },
          },
          HttpsX509Domain: {
            Type: 'AWS::IoT::DomainConfiguration',
            Properties: {
              DomainConfigurationName: 'https-x509',
              AuthenticationType: 'CUSTOM_AUTH_X509',
              ApplicationProtocol: 'HTTPS',
            },
          },
          DisabledX509Domain: {
            Type: 'AWS::IoT::DomainConfiguration',
            Properties: {
              DomainConfigurationName: 'disabled-x509',
              AuthenticationType: 'CUSTOM_AUTH_X509',
              DomainConfigurationStatus: 'DISABLED',
            },
          },
        },
      }),
    );
    expect(deployment.x509Domain?.logicalId).toBe('X509DomainDomainConfiguration');
    expect(deployment.certificates).toEqual([]);
    expect(deployment.notices).toEqual([
      expect.stringContaining(
        'X509DomainDeviceCertificate: an AWS::IoT::Certificate made from a CertificateSigningRequest',
      ),
      expect.stringContaining("SigV4Domain: domain configuration 'sigv4' has AuthenticationType AWS_SIGV4"),
      expect.stringContaining(
        "HttpsX509Domain: domain configuration 'https-x509' (CUSTOM_AUTH_X509) has ApplicationProtocol HTTPS",
      ),
      expect.stringContaining("DisabledX509Domain: domain configuration 'disabled-x509' is DISABLED"),
    ]);
  });

  it('serves a domain with a client certificate callback, saying the callback does not run', () => {
    const deployment = load(
      x509Template({
        domain: {
          ClientCertificateConfig: {
            ClientCertificateCallbackArn: 'arn:aws:lambda:us-east-1:000000000000:function:check',
          },
        },
      }),
    );
    expect(deployment.x509Domain?.logicalId).toBe('X509DomainDomainConfiguration');
    expect(deployment.notices).toEqual([
      expect.stringContaining('has a ClientCertificateConfig callback Lambda; local-iot does not run it'),
    ]);
  });

  it('refuses a default authorizer that is not in the stack, naming the property', () => {
    expect(() =>
      load(x509Template({ domain: { AuthorizerConfig: { DefaultAuthorizerName: 'nobody' } } })),
    ).toThrow(
      new DeploymentError(
        "Resources.X509DomainDomainConfiguration.Properties.AuthorizerConfig.DefaultAuthorizerName: 'nobody' is not an authorizer of this stack",
      ),
    );
  });

  it('refuses a CertificatePem that is not a certificate, naming the property', () => {
    expect(() => load(x509Template({ certificate: { CertificatePem: 'not a PEM' } }))).toThrow(
      /^Resources\.X509DomainDeviceCertificate\.Properties\.CertificatePem is not a PEM X\.509 certificate/,
    );
  });
});

describe('readX509Side on untrusted template values', () => {
  it('either reads a certificate resource or names the property, never anything else', () => {
    const pem = fc.oneof(
      fc.string(),
      fc.constant(device.certPem),
      fc.string().map((s) => `-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----\n`),
    );
    fc.assert(
      fc.property(pem, fc.option(fc.string()), fc.option(fc.string()), (certificatePem, status, mode) => {
        const template: CfnTemplate = {
          Resources: {
            Device: {
              Type: 'AWS::IoT::Certificate',
              Properties: {
                CertificatePem: certificatePem,
                ...(status !== null && { Status: status }),
                ...(mode !== null && { CertificateMode: mode }),
              },
            },
          },
        };
        const resolver = new IntrinsicResolver(template, {
          stackName: STACK,
          region: 'us-east-1',
          endpointHost: HOST,
        });
        const resources = Object.entries(template.Resources ?? {});
        try {
          const side = readX509Side(resources, resolver, HOST);
          expect(side.certificates).toHaveLength(1);
          expect(side.certificates[0]?.id).toMatch(/^[0-9a-f]{64}$/);
        } catch (error) {
          expect(error).toBeInstanceOf(DeploymentError);
          expect((error as Error).message).toMatch(
            /^Resources\.Device\.Properties\.CertificatePem is not a PEM X\.509 certificate/,
          );
        }
      }),
    );
  });
});
