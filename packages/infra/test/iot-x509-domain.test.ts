import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Template } from 'aws-cdk-lib/assertions';
import {
  generateSelfSignedDeviceCertificate,
  IotDataEndpoint,
  IotX509Domain,
  X509_DOMAIN_SETTINGS,
  type IotX509DomainProps,
} from '../src';
import {
  caCertificatePem,
  evaluatePseudoParameters,
  expectInfraError,
  newStack,
  onlyLogicalId,
  rsaPublicKeyPem,
} from './helpers';

const STACK_UUID = '1a2b3c4d-1111-2222-3333-444455556666';
const DEPLOYMENT = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
  'AWS::StackId': `arn:aws:cloudformation:eu-west-1:123456789012:stack/TestStack/${STACK_UUID}`,
};
const SERVER_CERTIFICATE_ARN =
  'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab';
const VALIDATION_CERTIFICATE_ARN =
  'arn:aws:acm:eu-west-1:123456789012:certificate/9f8e7d6c-aaaa-bbbb-cccc-0123456789ab';

let devicePem: string;
let caPem: string;
beforeAll(async () => {
  devicePem = (await generateSelfSignedDeviceCertificate({ commonName: 'test-device-1' })).certificatePem;
  caPem = await caCertificatePem();
});

interface Synthesized {
  readonly domain: IotX509Domain;
  readonly template: Template;
  readonly functionId: string;
  readonly resolve: (value: unknown) => unknown;
}

/** The construct in a stack beside an authorizer-like Lambda and the data endpoint (as CustomAuthorizerStack has). */
function synthDomain(props: Partial<IotX509DomainProps> = {}): Synthesized {
  const stack = newStack('TestStack');
  const fn = new lambda.Function(stack, 'AuthorizerFunction', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ isAuthenticated: false });'),
  });
  new IotDataEndpoint(stack, 'DataEndpoint');
  const domain = new IotX509Domain(stack, 'X509Domain', { authorizerFunction: fn, ...props });
  const template = Template.fromStack(stack);
  return {
    domain,
    template,
    functionId: stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction),
    resolve: (value): unknown => stack.resolve(value) as unknown,
  };
}

interface Resource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DependsOn?: string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

function onlyResource(template: Template, type: string): { id: string; resource: Resource } {
  const id = onlyLogicalId(template, type);
  return { id, resource: template.findResources(type)[id] as Resource };
}

/** An `AwsCustomResource` call as the deployed provider receives it (stack id evaluated). */
function deployedCall(value: unknown): unknown {
  return JSON.parse(String(evaluatePseudoParameters(value, DEPLOYMENT)));
}

describe('IotX509Domain on an AWS-managed domain (the default)', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synthDomain({ deviceCertificatePem: devicePem });
  });

  it('adds a third authorizer on the given Lambda, signing disabled, with its own invoke permission', () => {
    const { template, functionId } = synthesized;
    const { id: authorizerId, resource } = onlyResource(template, 'AWS::IoT::Authorizer');
    expect(resource.Properties).toEqual({
      AuthorizerName: 'TestStack-X509Domain-X509Authorizer',
      AuthorizerFunctionArn: { 'Fn::GetAtt': [functionId, 'Arn'] },
      Status: 'ACTIVE',
      SigningDisabled: true,
    });
    expect(onlyResource(template, 'AWS::Lambda::Permission').resource.Properties).toEqual({
      FunctionName: { 'Fn::GetAtt': [functionId, 'Arn'] },
      Action: 'lambda:InvokeFunction',
      Principal: 'iot.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [authorizerId, 'Arn'] },
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
  });

  it('configures CUSTOM_AUTH_X509 over SECURE_MQTT with that authorizer as the default and no override', () => {
    const { template } = synthesized;
    const authorizerId = onlyLogicalId(template, 'AWS::IoT::Authorizer');
    const { resource } = onlyResource(template, 'AWS::IoT::DomainConfiguration');
    expect(X509_DOMAIN_SETTINGS).toEqual({
      serviceType: 'DATA',
      authenticationType: 'CUSTOM_AUTH_X509',
      applicationProtocol: 'SECURE_MQTT',
    });
    expect(evaluatePseudoParameters(resource.Properties, DEPLOYMENT)).toEqual({
      DomainConfigurationName: 'TestStack-X509Domain-1a2b3c4d',
      ServiceType: 'DATA',
      AuthenticationType: 'CUSTOM_AUTH_X509',
      ApplicationProtocol: 'SECURE_MQTT',
      AuthorizerConfig: {
        DefaultAuthorizerName: 'TestStack-X509Domain-X509Authorizer',
        AllowAuthorizerOverride: false,
      },
      DomainConfigurationStatus: 'ENABLED',
    });
    // AWS-managed: no domain name or certificates of ours.
    expect(resource.Properties).not.toHaveProperty('DomainName');
    expect(resource.Properties).not.toHaveProperty('ServerCertificateArns');
    // The default authorizer is named by a plain string: the dependency must be explicit.
    expect(resource.DependsOn).toEqual([authorizerId]);
    // AWS IoT refuses to delete an AWS-managed configuration until 7 days after it was disabled.
    expect(resource.DeletionPolicy).toBe('Retain');
    expect(resource.UpdateReplacePolicy).toBe('Retain');
  });

  it('names the configuration after the stack and its id, so a re-created stack never collides with a retained one', () => {
    const { template } = synthesized;
    const { resource } = onlyResource(template, 'AWS::IoT::DomainConfiguration');
    const other = {
      ...DEPLOYMENT,
      'AWS::StackId': DEPLOYMENT['AWS::StackId'].replace('1a2b3c4d', 'ffee0011'),
    };
    expect(evaluatePseudoParameters(resource.Properties.DomainConfigurationName, other)).toBe(
      'TestStack-X509Domain-ffee0011',
    );
  });

  /** The custom resource of the X.509 domain whose id starts with `X509Domain<child>`. */
  function customResource(template: Template, child: string): { id: string; resource: Resource } {
    const resources = template.findResources('Custom::AWS');
    const ids = Object.keys(resources).filter((key) => key.startsWith(`X509Domain${child}`));
    expect(ids).toHaveLength(1);
    const id = String(ids[0]);
    return { id, resource: resources[id] as Resource };
  }

  it('reads the domain name with DescribeDomainConfiguration, and disables the configuration on delete', () => {
    const { template, domain, resolve } = synthesized;
    const { id, resource } = customResource(template, 'EndpointAddress');
    const describe = {
      service: '@aws-sdk/client-iot',
      action: 'DescribeDomainConfigurationCommand',
      parameters: { domainConfigurationName: 'TestStack-X509Domain-1a2b3c4d' },
      physicalResourceId: { responsePath: 'domainName' },
    };
    expect(deployedCall(resource.Properties.Create)).toEqual(describe);
    expect(deployedCall(resource.Properties.Update)).toEqual(describe);
    // The call CloudFormation's own delete handler makes before deleting: known to be accepted.
    expect(deployedCall(resource.Properties.Delete)).toEqual({
      service: '@aws-sdk/client-iot',
      action: 'UpdateDomainConfigurationCommand',
      parameters: {
        domainConfigurationName: 'TestStack-X509Domain-1a2b3c4d',
        domainConfigurationStatus: 'DISABLED',
      },
      ignoreErrorCodesMatching: 'ResourceNotFoundException',
    });
    expect(resource.Properties.InstallLatestAwsSdk).toBe(false);
    expect(resolve(domain.endpoint)).toEqual({ 'Fn::GetAtt': [id, 'domainName'] });
  });

  it('detaches the authorizer on delete, after the disable, never failing the stack deletion for it', () => {
    const { template } = synthesized;
    const { id, resource } = customResource(template, 'AuthorizerDetachment');
    expect(resource.Properties).not.toHaveProperty('Create');
    expect(resource.Properties).not.toHaveProperty('Update');
    expect(deployedCall(resource.Properties.Delete)).toEqual({
      service: '@aws-sdk/client-iot',
      action: 'UpdateDomainConfigurationCommand',
      parameters: { domainConfigurationName: 'TestStack-X509Domain-1a2b3c4d', removeAuthorizerConfig: true },
      ignoreErrorCodesMatching: 'ResourceNotFoundException|InvalidRequestException',
    });
    // CloudFormation deletes dependents first: the lookup (whose delete disables) depends on the detachment,
    // and both on the configuration, which depends on the authorizer.
    const domainId = onlyLogicalId(template, 'AWS::IoT::DomainConfiguration');
    const lookup = customResource(template, 'EndpointAddress').resource;
    expect(lookup.DependsOn).toEqual(expect.arrayContaining([id, domainId]));
    expect(resource.DependsOn).toEqual(expect.arrayContaining([domainId]));
  });

  it('lets the custom resources read and update this domain configuration only, in the provider role of the stack', () => {
    const { template } = synthesized;
    const domainId = onlyLogicalId(template, 'AWS::IoT::DomainConfiguration');
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
    expect(policies.map((policy) => policy.Properties.PolicyDocument)).toEqual([
      {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DetachOwnDomainConfigurationAuthorizer',
            Effect: 'Allow',
            Action: 'iot:UpdateDomainConfiguration',
            Resource: { 'Fn::GetAtt': [domainId, 'Arn'] },
          },
        ],
      },
      {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'ReadAndDisableOwnDomainConfiguration',
            Effect: 'Allow',
            Action: ['iot:DescribeDomainConfiguration', 'iot:UpdateDomainConfiguration'],
            Resource: { 'Fn::GetAtt': [domainId, 'Arn'] },
          },
        ],
      },
    ]);
    // The one provider Lambda of the stack (CDK singleton) runs with the data endpoint's explicit role.
    const providers = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => (fn as Resource).Properties.Timeout === 60,
    ) as Resource[];
    expect(providers).toHaveLength(1);
    const providerRole = (providers[0]?.Properties.Role as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ][0];
    expect(providerRole).toMatch(/^DataEndpointRole/);
    for (const policy of policies) expect(policy.Properties.Roles).toEqual([{ Ref: providerRole }]);
  });

  it('registers the device certificate with SNI_ONLY, ACTIVE, and exposes its id', () => {
    const { template, domain, resolve } = synthesized;
    const { id, resource } = onlyResource(template, 'AWS::IoT::Certificate');
    expect(resource.Properties).toEqual({
      CertificateMode: 'SNI_ONLY',
      CertificatePem: devicePem,
      Status: 'ACTIVE',
    });
    expect(resolve(domain.deviceCertificateId)).toEqual({ Ref: id });
    template.resourceCountIs('AWS::IoT::CACertificate', 0);
  });
});

describe('IotX509Domain options', () => {
  it('registers nothing by default', () => {
    const { template, domain } = synthDomain();
    template.resourceCountIs('AWS::IoT::Certificate', 0);
    template.resourceCountIs('AWS::IoT::CACertificate', 0);
    expect(domain.deviceCertificateId).toBeUndefined();
  });

  it('registers a CA with SNI_ONLY, ACTIVE and auto-registration, needing no verification certificate', () => {
    const { template } = synthDomain({ caCertificatePem: caPem });
    expect(onlyResource(template, 'AWS::IoT::CACertificate').resource.Properties).toEqual({
      CACertificatePem: caPem,
      CertificateMode: 'SNI_ONLY',
      Status: 'ACTIVE',
      AutoRegistrationStatus: 'ENABLE',
    });
    template.resourceCountIs('AWS::IoT::Certificate', 0);
  });

  it('uses a customer-managed domain: its name and ACM certificates, deleted with the stack, no lookup', () => {
    const { template, domain } = synthDomain({
      customDomain: {
        domainName: 'iot.example.com',
        serverCertificateArn: SERVER_CERTIFICATE_ARN,
        validationCertificateArn: VALIDATION_CERTIFICATE_ARN,
      },
    });
    const { resource } = onlyResource(template, 'AWS::IoT::DomainConfiguration');
    expect(resource.Properties).toMatchObject({
      DomainName: 'iot.example.com',
      ServerCertificateArns: [SERVER_CERTIFICATE_ARN],
      ValidationCertificateArn: VALIDATION_CERTIFICATE_ARN,
      AuthenticationType: 'CUSTOM_AUTH_X509',
      ApplicationProtocol: 'SECURE_MQTT',
    });
    // Deleted with the stack (no DeletionPolicy): CloudFormation disables it, then deletes it, which AWS IoT
    // allows at once for a custom domain.
    expect(resource.DeletionPolicy).toBeUndefined();
    template.resourceCountIs('Custom::AWS', 1); // the data endpoint's only
    template.resourceCountIs('AWS::IAM::Policy', 0);
    expect(domain.endpoint).toBe('iot.example.com');
  });

  it('leaves the validation certificate out unless given', () => {
    const { template } = synthDomain({
      customDomain: { domainName: 'iot.example.com', serverCertificateArn: SERVER_CERTIFICATE_ARN },
    });
    expect(onlyResource(template, 'AWS::IoT::DomainConfiguration').resource.Properties).not.toHaveProperty(
      'ValidationCertificateArn',
    );
  });

  it('takes the names given', () => {
    const { template, domain } = synthDomain({
      authorizerName: 'my-x509',
      domainConfigurationName: 'my.domain-1',
    });
    template.hasResourceProperties('AWS::IoT::Authorizer', { AuthorizerName: 'my-x509' });
    template.hasResourceProperties('AWS::IoT::DomainConfiguration', {
      DomainConfigurationName: 'my.domain-1',
      AuthorizerConfig: { DefaultAuthorizerName: 'my-x509', AllowAuthorizerOverride: false },
    });
    expect(domain.domainConfigurationName).toBe('my.domain-1');
    expect(domain.authorizerName).toBe('my-x509');
  });
});

describe('IotX509Domain validation', () => {
  it.each<[string, () => Partial<IotX509DomainProps>, string]>([
    [
      'an authorizer name AWS IoT refuses',
      () => ({ authorizerName: 'has space' }),
      '`authorizerName` must be 1 to 128 characters from A-Z a-z 0-9 _ = , @ -, but "has space" was provided',
    ],
    [
      'a domain configuration name AWS IoT refuses',
      () => ({ domainConfigurationName: 'a/b' }),
      '`domainConfigurationName` must be 1 to 128 characters from A-Z a-z 0-9 _ . -, but "a/b" was provided',
    ],
    [
      'a domain that is not a fully qualified name',
      () => ({ customDomain: { domainName: 'localhost', serverCertificateArn: SERVER_CERTIFICATE_ARN } }),
      '`customDomain.domainName` must be a fully qualified domain name such as iot.example.com, but "localhost" was provided',
    ],
    [
      'a server certificate that is not an ACM ARN',
      () => ({ customDomain: { domainName: 'iot.example.com', serverCertificateArn: 'arn:aws:iam::1:x' } }),
      '`customDomain.serverCertificateArn` must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>), but "arn:aws:iam::1:x" was provided',
    ],
    [
      'a validation certificate that is not an ACM ARN',
      () => ({
        customDomain: {
          domainName: 'iot.example.com',
          serverCertificateArn: SERVER_CERTIFICATE_ARN,
          validationCertificateArn: 'nope',
        },
      }),
      '`customDomain.validationCertificateArn` must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>), but "nope" was provided',
    ],
    [
      'a private key instead of a certificate',
      () => ({ deviceCertificatePem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }),
      '`deviceCertificatePem` must be a certificate, but a private key was provided: pass the certificate (-----BEGIN CERTIFICATE-----) and keep the key on the device',
    ],
    [
      'something that is not a certificate',
      () => ({ deviceCertificatePem: rsaPublicKeyPem() }),
      '`deviceCertificatePem` must be an X.509 certificate in PEM format (-----BEGIN CERTIFICATE-----), but the value provided could not be read as one',
    ],
    [
      'a CA as the device certificate',
      () => ({ deviceCertificatePem: caPem }),
      '`deviceCertificatePem` must be a device certificate, but "CN=Test Device CA" is a CA certificate: register it as `caCertificatePem`',
    ],
    [
      'a device certificate as the CA',
      () => ({ caCertificatePem: devicePem }),
      '`caCertificatePem` must be a CA certificate (basicConstraints CA:TRUE), but "CN=test-device-1" is not one: register a device certificate as `deviceCertificatePem`',
    ],
  ])('refuses %s', (_what, props, message) => {
    expectInfraError(() => synthDomain(props()), message);
  });
});
