import { Aws, CfnResource } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AUTHORIZER_ENV, buildConnectPolicy, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import {
  generateSelfSignedDeviceCertificate,
  IOT_DATA_ATS_ENDPOINT_TYPE,
  TOKEN_SIGNING_PUBLIC_KEY_NAME,
} from '../src';
import {
  caCertificatePem,
  evaluatePseudoParameters,
  expectInfraError,
  onlyLogicalId,
  PUBLIC_KEY_PEM,
  synthCustomAuthorizerStack,
} from './helpers';

const DEPLOYMENT = { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012' };

/** The outputs of the X.509 domain (present only with `x509`). */
const X509_OUTPUT_NAMES: string[] = [
  STACK_OUTPUTS.x509Endpoint,
  STACK_OUTPUTS.x509DomainConfigurationName,
  STACK_OUTPUTS.x509AuthorizerName,
  STACK_OUTPUTS.demoCertificateId,
];

describe('CustomAuthorizerStack', () => {
  const { stack, template } = synthCustomAuthorizerStack();
  const secretId = onlyLogicalId(template, 'AWS::SecretsManager::Secret');
  const endpointId = onlyLogicalId(template, 'Custom::AWS');

  it('has no X.509 domain unless asked for', () => {
    template.resourceCountIs('AWS::IoT::DomainConfiguration', 0);
    template.resourceCountIs('AWS::IoT::Certificate', 0);
    expect(stack.x509Domain).toBeUndefined();
  });

  it('deploys the authorizers, their Lambda and the device credentials', () => {
    template.resourceCountIs('AWS::IoT::Authorizer', 2);
    template.resourceCountIs('AWS::Lambda::Permission', 2);
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::IoT::Authorizer', {
      AuthorizerName: 'IotCustomAuthorizerStack-CustomAuthorizer-UnsignedAuthorizer',
      Status: 'ACTIVE',
      SigningDisabled: true,
    });
    template.hasResourceProperties('AWS::IoT::Authorizer', {
      AuthorizerName: 'IotCustomAuthorizerStack-CustomAuthorizer-SignedAuthorizer',
      Status: 'ACTIVE',
      SigningDisabled: false,
      TokenKeyName: 'token',
      TokenSigningPublicKeys: { [TOKEN_SIGNING_PUBLIC_KEY_NAME]: PUBLIC_KEY_PEM },
    });
  });

  it('deploys the test-* connect policy with the document the protocol builder makes', () => {
    const policies = template.findResources('AWS::IoT::Policy');
    expect(Object.values(policies)).toEqual([
      {
        Type: 'AWS::IoT::Policy',
        Properties: {
          PolicyName: 'IotCustomAuthorizerStack-ConnectPolicy',
          PolicyDocument: stack.resolve(
            buildConnectPolicy({
              partition: Aws.PARTITION,
              region: Aws.REGION,
              account: Aws.ACCOUNT_ID,
              clientIdPrefix: 'test-',
            }),
          ) as unknown,
        },
      },
    ]);
    const deployed = evaluatePseudoParameters(Object.values(policies)[0], DEPLOYMENT) as {
      Properties: { PolicyDocument: unknown };
    };
    expect(deployed.Properties.PolicyDocument).toEqual(
      buildConnectPolicy({ region: 'eu-west-1', account: '123456789012' }),
    );
    expect(deployed.Properties.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ConnectWithPrefix',
          Effect: 'Allow',
          Action: 'iot:Connect',
          Resource: 'arn:aws:iot:eu-west-1:123456789012:client/test-*',
        },
      ],
    });
  });

  it('reads the ATS data endpoint with IoT DescribeEndpoint, installing no SDK', () => {
    const resource = template.findResources('Custom::AWS')[endpointId] as {
      Properties: { Create: string; Update: string; InstallLatestAwsSdk: boolean; ServiceToken: unknown };
    };
    const call = {
      service: '@aws-sdk/client-iot',
      action: 'DescribeEndpointCommand',
      parameters: { endpointType: IOT_DATA_ATS_ENDPOINT_TYPE },
      physicalResourceId: { responsePath: 'endpointAddress' },
    };
    expect(IOT_DATA_ATS_ENDPOINT_TYPE).toBe('iot:Data-ATS');
    expect(JSON.parse(resource.Properties.Create)).toEqual(call);
    expect(JSON.parse(resource.Properties.Update)).toEqual(call);
    expect(resource.Properties.InstallLatestAwsSdk).toBe(false);

    // The provider function runs with a role that may describe the endpoint and write its own logs only.
    const providerId = (resource.Properties.ServiceToken as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ][0];
    const provider = template.findResources('AWS::Lambda::Function')[providerId] as {
      Properties: { Role: { 'Fn::GetAtt': [string, string] }; LoggingConfig: { LogGroup: { Ref: string } } };
    };
    const roleId = provider.Properties.Role['Fn::GetAtt'][0];
    const logGroupId = provider.Properties.LoggingConfig.LogGroup.Ref;
    expect(template.findResources('AWS::Logs::LogGroup')[logGroupId]).toMatchObject({
      Properties: { RetentionInDays: 30 },
    });
    expect(template.findResources('AWS::IAM::Role')[roleId]).toMatchObject({
      Properties: {
        Policies: [
          {
            PolicyName: 'DescribeEndpointPolicy',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Sid: 'DescribeIotEndpoint',
                  Effect: 'Allow',
                  Action: 'iot:DescribeEndpoint',
                  Resource: '*',
                },
                {
                  Sid: 'WriteOwnLogs',
                  Effect: 'Allow',
                  Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                  Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
                },
              ],
            },
          },
        ],
      },
    });
    expect(template.findResources('AWS::IAM::Role')[roleId]).not.toHaveProperty(
      'Properties.ManagedPolicyArns',
    );
    template.resourceCountIs('AWS::IAM::Policy', 0);
  });

  it('outputs everything the client needs under the protocol names', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    // Without `x509` the stack has no X.509 domain, so its four outputs are absent.
    expect(Object.keys(outputs).sort()).toEqual(
      Object.values(STACK_OUTPUTS)
        .filter((name) => !X509_OUTPUT_NAMES.includes(name))
        .sort(),
    );
    const values = Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.Value]));
    expect(values).toEqual({
      [STACK_OUTPUTS.endpoint]: { 'Fn::GetAtt': [endpointId, 'endpointAddress'] },
      [STACK_OUTPUTS.region]: { Ref: 'AWS::Region' },
      [STACK_OUTPUTS.unsignedAuthorizerName]: 'IotCustomAuthorizerStack-CustomAuthorizer-UnsignedAuthorizer',
      [STACK_OUTPUTS.signedAuthorizerName]: 'IotCustomAuthorizerStack-CustomAuthorizer-SignedAuthorizer',
      [STACK_OUTPUTS.tokenKeyName]: 'token',
      [STACK_OUTPUTS.deviceSecretArn]: { Ref: secretId },
      [STACK_OUTPUTS.connectPolicyName]: 'IotCustomAuthorizerStack-ConnectPolicy',
      [STACK_OUTPUTS.clientIdPrefix]: 'test-',
      [STACK_OUTPUTS.authorizerFunctionName]: stack.resolve(
        stack.authorizer.function.functionName,
      ) as unknown,
      [STACK_OUTPUTS.authorizerLogGroupName]: stack.resolve(
        stack.authorizer.logGroup.logGroupName,
      ) as unknown,
      [STACK_OUTPUTS.iotLogLevel]: 'NOT_MANAGED',
    });
    for (const output of Object.values(outputs)) expect(output.Description.length).toBeGreaterThan(20);
  });

  it('exposes its parts', () => {
    expect(stack.connectPolicyName).toBe('IotCustomAuthorizerStack-ConnectPolicy');
    expect(stack.resolve(stack.dataEndpoint.address)).toEqual({
      'Fn::GetAtt': [endpointId, 'endpointAddress'],
    });
    expect(stack.authorizer.clientIdPrefix).toBe('test-');
  });
});

describe('CustomAuthorizerStack settings', () => {
  it('carry the stack name, client id prefix, token key name and TTLs to every resource and output', () => {
    const { template } = synthCustomAuthorizerStack(
      { clientIdPrefix: 'dev-', tokenKeyName: 'tk', refreshAfterSeconds: 900, disconnectAfterSeconds: 7200 },
      'Lab',
    );
    template.hasResourceProperties('AWS::IoT::Policy', {
      PolicyName: 'Lab-ConnectPolicy',
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Resource: {
              'Fn::Join': ['', Match.arrayWith([':client/dev-*'])],
            },
          }),
        ],
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          CLIENT_ID_PREFIX: 'dev-',
          REFRESH_AFTER_SECONDS: '900',
          DISCONNECT_AFTER_SECONDS: '7200',
        }),
      },
    });
    template.hasResourceProperties('AWS::IoT::Authorizer', {
      AuthorizerName: 'Lab-CustomAuthorizer-SignedAuthorizer',
      TokenKeyName: 'tk',
    });
    template.hasOutput(STACK_OUTPUTS.clientIdPrefix, { Value: 'dev-' });
    template.hasOutput(STACK_OUTPUTS.tokenKeyName, { Value: 'tk' });
    template.hasOutput(STACK_OUTPUTS.unsignedAuthorizerName, {
      Value: 'Lab-CustomAuthorizer-UnsignedAuthorizer',
    });
    template.hasOutput(STACK_OUTPUTS.connectPolicyName, { Value: 'Lab-ConnectPolicy' });
  });

  it('keeps a description unless one is given', () => {
    expect(synthCustomAuthorizerStack().template.toJSON().Description).toMatch(
      /^AWS IoT Core custom authentication/,
    );
    expect(synthCustomAuthorizerStack({ description: 'mine' }).template.toJSON().Description).toBe('mine');
  });
});

describe('CustomAuthorizerStack with the X.509 domain', () => {
  let demoPem: string;
  beforeAll(async () => {
    demoPem = (await generateSelfSignedDeviceCertificate({ commonName: 'test-mtls-demo' })).certificatePem;
  });

  it('adds the domain on the same Lambda and outputs all four X.509 values under the protocol names', () => {
    const { stack, template } = synthCustomAuthorizerStack({
      x509: { deviceCertificatePem: demoPem, deviceCertificateIsDemo: true },
    });
    const domain = stack.x509Domain;
    if (domain === undefined) throw new Error('no X.509 domain');
    const functionId = stack.getLogicalId(stack.authorizer.function.node.defaultChild as CfnResource);
    template.resourceCountIs('AWS::IoT::Authorizer', 3);
    template.resourceCountIs('AWS::Lambda::Permission', 3);
    template.hasResourceProperties('AWS::IoT::Authorizer', {
      AuthorizerName: 'IotCustomAuthorizerStack-X509Domain-X509Authorizer',
      AuthorizerFunctionArn: { 'Fn::GetAtt': [functionId, 'Arn'] },
      SigningDisabled: true,
      Status: 'ACTIVE',
    });
    template.hasResourceProperties('AWS::IoT::DomainConfiguration', {
      AuthenticationType: 'CUSTOM_AUTH_X509',
      ApplicationProtocol: 'SECURE_MQTT',
      ServiceType: 'DATA',
      AuthorizerConfig: {
        DefaultAuthorizerName: 'IotCustomAuthorizerStack-X509Domain-X509Authorizer',
        AllowAuthorizerOverride: false,
      },
    });
    template.hasResourceProperties('AWS::IoT::Certificate', {
      CertificateMode: 'SNI_ONLY',
      Status: 'ACTIVE',
      CertificatePem: demoPem,
    });

    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    expect(Object.keys(outputs).sort()).toEqual(Object.values(STACK_OUTPUTS).sort());
    const lookupId = Object.keys(template.findResources('Custom::AWS')).find((id) =>
      id.startsWith('X509DomainEndpointAddress'),
    );
    expect(outputs[STACK_OUTPUTS.x509Endpoint]?.Value).toEqual({ 'Fn::GetAtt': [lookupId, 'domainName'] });
    expect(outputs[STACK_OUTPUTS.x509DomainConfigurationName]?.Value).toEqual(
      stack.resolve(domain.domainConfigurationName),
    );
    expect(outputs[STACK_OUTPUTS.x509AuthorizerName]?.Value).toBe(
      'IotCustomAuthorizerStack-X509Domain-X509Authorizer',
    );
    expect(outputs[STACK_OUTPUTS.demoCertificateId]?.Value).toEqual({
      Ref: onlyLogicalId(template, 'AWS::IoT::Certificate'),
    });
    // The other outputs are those of the stack without X.509.
    expect(outputs[STACK_OUTPUTS.endpoint]?.Value).toEqual({
      'Fn::GetAtt': [
        stack.getLogicalId(stack.dataEndpoint.node.findChild('Resource').node.defaultChild as CfnResource),
        'endpointAddress',
      ],
    });
  });

  it('outputs no DemoCertificateId for a certificate or CA of your own', async () => {
    const ca = await caCertificatePem();
    for (const x509 of [{ deviceCertificatePem: demoPem }, { caCertificatePem: ca }]) {
      const { template } = synthCustomAuthorizerStack({ x509 });
      const outputs = Object.keys(template.toJSON().Outputs as object);
      expect(outputs).toEqual(
        expect.arrayContaining([STACK_OUTPUTS.x509Endpoint, STACK_OUTPUTS.x509AuthorizerName]),
      );
      expect(outputs).not.toContain(STACK_OUTPUTS.demoCertificateId);
    }
  });

  it('passes certificate pinning to the Lambda only when given', () => {
    const fingerprint = 'AB:'.repeat(31) + 'CD';
    const pinned = synthCustomAuthorizerStack({
      x509: { deviceCertificatePem: demoPem, trustedCertificateFingerprints: [fingerprint, 'e'.repeat(64)] },
    }).template;
    pinned.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [AUTHORIZER_ENV.x509TrustedCertificateFingerprints]: `${'ab'.repeat(31)}cd,${'e'.repeat(64)}`,
        }),
      },
    });
    const unpinned = synthCustomAuthorizerStack({ x509: { deviceCertificatePem: demoPem } }).template;
    const fn = Object.values(unpinned.findResources('AWS::Lambda::Function')).find(
      (resource) => (resource as { Properties: { Architectures?: unknown } }).Properties.Architectures,
    ) as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(fn.Properties.Environment.Variables).not.toHaveProperty(
      AUTHORIZER_ENV.x509TrustedCertificateFingerprints,
    );
  });

  it('refuses a fingerprint the Lambda could not read, and a demo flag without a certificate', () => {
    expectInfraError(
      () => synthCustomAuthorizerStack({ x509: { trustedCertificateFingerprints: ['abc'] } }),
      '`x509TrustedCertificateFingerprints` must be SHA-256 certificate fingerprints (64 hex digits, colons allowed, as `openssl x509 -noout -fingerprint -sha256` prints them, or AWS IoT certificate ids), but "abc" was provided',
    );
    expectInfraError(
      () => synthCustomAuthorizerStack({ x509: { trustedCertificateFingerprints: [] } }),
      '`x509TrustedCertificateFingerprints` must hold at least one SHA-256 fingerprint, but the list is empty: leave it unset to turn pinning off',
    );
    expectInfraError(
      () => synthCustomAuthorizerStack({ x509: { deviceCertificateIsDemo: true } }),
      '`x509.deviceCertificateIsDemo` is true, but no `x509.deviceCertificatePem` was provided: pass the demo certificate',
    );
  });
});
