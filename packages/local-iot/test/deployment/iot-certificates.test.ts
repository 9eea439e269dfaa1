import { join } from 'node:path';
import { STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import type { CfnResource, CfnTemplate } from '../../src/deployment/intrinsics';
import { loadLocalDeployment, type LocalDeployment } from '../../src/deployment/local-deployment';
import { DeploymentError } from '../../src/errors';
import {
  demoStackNames,
  demoTemplate,
  FUNCTIONS_DIR,
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
} from '../fixtures/assembly';
import { testCertificate, type TestCertificate } from '../support/x509-certificates';

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

const DOMAIN_NAME = {
  'Fn::Join': [
    '',
    [
      `${STACK}-X509Domain-`,
      {
        'Fn::Select': [
          0,
          { 'Fn::Split': ['-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }] },
        ],
      },
    ],
  ],
};

interface X509TemplateOptions {
  readonly domain?: Record<string, unknown>;
  readonly certificate?: Record<string, unknown> | false;
  readonly caCertificate?: boolean;
  readonly extraResources?: Record<string, CfnResource>;
}

function x509Template(options: X509TemplateOptions = {}): CfnTemplate {
  const base = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
  const describe = JSON.stringify({
    service: '@aws-sdk/client-iot',
    action: 'DescribeDomainConfigurationCommand',
    parameters: { domainConfigurationName: '${DomainName}' },
    physicalResourceId: { responsePath: 'domainName' },
  });
  return {
    ...base,
    Resources: {
      ...base.Resources,
      X509DomainX509Authorizer: {
        Type: 'AWS::IoT::Authorizer',
        Properties: {
          AuthorizerName: `${STACK}-X509Domain-X509Authorizer`,
          AuthorizerFunctionArn: { 'Fn::GetAtt': ['AuthorizerFunction', 'Arn'] },
          Status: 'ACTIVE',
          SigningDisabled: true,
        },
      },
      X509DomainDomainConfiguration: {
        Type: 'AWS::IoT::DomainConfiguration',
        Properties: {
          DomainConfigurationName: DOMAIN_NAME,
          ServiceType: 'DATA',
          AuthenticationType: 'CUSTOM_AUTH_X509',
          ApplicationProtocol: 'SECURE_MQTT',
          AuthorizerConfig: {
            DefaultAuthorizerName: `${STACK}-X509Domain-X509Authorizer`,
            AllowAuthorizerOverride: false,
          },
          DomainConfigurationStatus: 'ENABLED',
          ...options.domain,
        },
      },
      X509DomainEndpointAddress: {
        Type: 'Custom::AWS',
        Properties: {
          ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:provider',
          Create: { 'Fn::Sub': [describe, { DomainName: DOMAIN_NAME }] },
        },
      },
      ...(options.certificate !== false && {
        X509DomainDeviceCertificate: {
          Type: 'AWS::IoT::Certificate',
          Properties: {
            CertificateMode: 'SNI_ONLY',
            Status: 'ACTIVE',
            CertificatePem: device.certPem,
            ...options.certificate,
          },
        },
      }),
      ...(options.caCertificate && {
        X509DomainCaCertificate: {
          Type: 'AWS::IoT::CACertificate',
          Properties: {
            CACertificatePem: ca.certPem,
            CertificateMode: 'SNI_ONLY',
            Status: 'ACTIVE',
            AutoRegistrationStatus: 'ENABLE',
          },
        },
      }),
      ...options.extraResources,
    },
    Outputs: {
      ...base.Outputs,
      [STACK_OUTPUTS.x509Endpoint]: { Value: { 'Fn::GetAtt': ['X509DomainEndpointAddress', 'domainName'] } },
      [STACK_OUTPUTS.x509DomainConfigurationName]: { Value: DOMAIN_NAME },
      [STACK_OUTPUTS.x509AuthorizerName]: { Value: `${STACK}-X509Domain-X509Authorizer` },
      ...(options.certificate !== false && {
        [STACK_OUTPUTS.demoCertificateId]: { Value: { Ref: 'X509DomainDeviceCertificate' } },
        CertificateArn: { Value: { 'Fn::GetAtt': ['X509DomainDeviceCertificate', 'Arn'] } },
      }),
    },
  };
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
