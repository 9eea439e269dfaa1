import { generateKeyPairSync } from 'node:crypto';
import * as path from 'node:path';
import { CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AUTHORIZER_ENV, DEVICE_SECRET_FIELDS } from '@iot-custom-auth/protocol';
import { IotCustomAuthorizer, type IotCustomAuthorizerProps } from '../src';
import {
  expectInfraError,
  newStack,
  onlyLogicalId,
  PUBLIC_KEY_PEM,
  REPO_ROOT,
  rsaPublicKeyPem,
} from './helpers';

function synth(
  props: Partial<IotCustomAuthorizerProps> = {},
  stack: Stack = newStack(),
): { authorizer: IotCustomAuthorizer; template: Template; stack: Stack } {
  const authorizer = new IotCustomAuthorizer(stack, 'Auth', {
    tokenSigningPublicKeys: { primary: PUBLIC_KEY_PEM },
    ...props,
  });
  return { authorizer, template: Template.fromStack(stack), stack };
}

describe('IotCustomAuthorizer with default props', () => {
  const { authorizer, template, stack } = synth();
  const functionId = onlyLogicalId(template, 'AWS::Lambda::Function');
  const secretId = onlyLogicalId(template, 'AWS::SecretsManager::Secret');
  const logGroupId = onlyLogicalId(template, 'AWS::Logs::LogGroup');
  const roleId = onlyLogicalId(template, 'AWS::IAM::Role');
  const authorizers = template.findResources('AWS::IoT::Authorizer');
  const idOfAuthorizer = (name: string): string => {
    const entry = Object.entries(authorizers).find(
      ([, resource]) =>
        (resource as { Properties: { AuthorizerName: string } }).Properties.AuthorizerName === name,
    );
    if (!entry) throw new Error(`no authorizer named ${name}`);
    return entry[0];
  };
  const unsignedId = idOfAuthorizer('TestStack-Auth-UnsignedAuthorizer');
  const signedId = idOfAuthorizer('TestStack-Auth-SignedAuthorizer');

  it('bundles the authorizer Lambda: Node.js 24, arm64, 4 s, 256 MB, JSON logs to its own log group', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 4,
      MemorySize: 256,
      Role: { 'Fn::GetAtt': [roleId, 'Arn'] },
      LoggingConfig: {
        LogFormat: 'JSON',
        LogGroup: { Ref: logGroupId },
        ApplicationLogLevel: 'INFO',
        SystemLogLevel: 'WARN',
      },
      Code: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp('^[0-9a-f]{64}\\.zip$') },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('configures the Lambda through the protocol environment variables only', () => {
    const fn = template.findResources('AWS::Lambda::Function')[functionId] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    expect(fn.Properties.Environment.Variables).toEqual({
      [AUTHORIZER_ENV.deviceSecretArn]: { Ref: secretId },
      [AUTHORIZER_ENV.clientIdPrefix]: 'test-',
      [AUTHORIZER_ENV.topicRoot]: 'devices',
      [AUTHORIZER_ENV.refreshAfterSeconds]: '300',
      [AUTHORIZER_ENV.disconnectAfterSeconds]: '86400',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('gives the Lambda a role that may read its own secret and write its own logs, nothing else', () => {
    expect(template.findResources('AWS::IAM::Role')[roleId]).toEqual({
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
          ],
        },
        Description: 'Execution role of the AWS IoT custom authorizer Lambda TestStack/Auth',
        Policies: [
          {
            PolicyName: 'AuthorizerPolicy',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Sid: 'ReadDeviceCredentials',
                  Effect: 'Allow',
                  Action: 'secretsmanager:GetSecretValue',
                  Resource: { Ref: secretId },
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
    // No managed policy (AWSLambdaBasicExecutionRole) and no separate policy adding statements to the role.
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  it('generates the master secret: a 64-character master key and no revoked devices', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description:
        'Master key the device passwords of the AWS IoT custom authorizer TestStack/Auth derive from, and revoked devices',
      GenerateSecretString: {
        SecretStringTemplate: JSON.stringify({ [DEVICE_SECRET_FIELDS.revokedDevices]: {} }),
        GenerateStringKey: DEVICE_SECRET_FIELDS.masterKey,
        ExcludePunctuation: true,
        PasswordLength: 64,
      },
    });
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    // No rotation schedule: rotating changes every device password (see the SMG4 acknowledgement).
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
  });

  it('lets the Lambda read only the master secret, and only with GetSecretValue (no write, no other secret)', () => {
    const role = template.findResources('AWS::IAM::Role')[roleId] as {
      Properties: { Policies: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } }[] };
    };
    const statements = role.Properties.Policies.flatMap((policy) => policy.PolicyDocument.Statement);
    const secretStatements = statements.filter((statement) =>
      JSON.stringify(statement.Action).includes('secretsmanager:'),
    );
    expect(secretStatements).toEqual([
      expect.objectContaining({ Action: 'secretsmanager:GetSecretValue', Resource: { Ref: secretId } }),
    ]);
  });

  it('creates an ACTIVE unsigned authorizer (signing disabled) on the Lambda', () => {
    expect(authorizers[unsignedId]).toEqual({
      Type: 'AWS::IoT::Authorizer',
      Properties: {
        AuthorizerName: 'TestStack-Auth-UnsignedAuthorizer',
        AuthorizerFunctionArn: { 'Fn::GetAtt': [functionId, 'Arn'] },
        Status: 'ACTIVE',
        SigningDisabled: true,
      },
    });
  });

  it('creates an ACTIVE signed authorizer with the token key name and the public key', () => {
    expect(authorizers[signedId]).toEqual({
      Type: 'AWS::IoT::Authorizer',
      Properties: {
        AuthorizerName: 'TestStack-Auth-SignedAuthorizer',
        AuthorizerFunctionArn: { 'Fn::GetAtt': [functionId, 'Arn'] },
        Status: 'ACTIVE',
        SigningDisabled: false,
        TokenKeyName: 'token',
        TokenSigningPublicKeys: { primary: PUBLIC_KEY_PEM },
      },
    });
  });

  it('lets each authorizer, and only it, invoke the Lambda', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    expect(permissions).toHaveLength(2);
    const expected = (authorizerId: string): unknown => ({
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [functionId, 'Arn'] },
        Principal: 'iot.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [authorizerId, 'Arn'] },
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    });
    expect(permissions).toEqual(expect.arrayContaining([expected(unsignedId), expected(signedId)]));
  });

  it('exposes the names, settings and resources it created', () => {
    expect(authorizer.unsignedAuthorizerName).toBe('TestStack-Auth-UnsignedAuthorizer');
    expect(authorizer.signedAuthorizerName).toBe('TestStack-Auth-SignedAuthorizer');
    expect(authorizer.tokenKeyName).toBe('token');
    expect(authorizer.clientIdPrefix).toBe('test-');
    expect(authorizer.topicRoot).toBe('devices');
    expect(stack.resolve(authorizer.deviceSecret.secretArn)).toEqual({ Ref: secretId });
    expect(stack.resolve(authorizer.function.functionArn)).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
    expect(stack.resolve(authorizer.unsignedAuthorizer.attrArn)).toEqual({
      'Fn::GetAtt': [unsignedId, 'Arn'],
    });
    expect(stack.resolve(authorizer.signedAuthorizer.attrArn)).toEqual({ 'Fn::GetAtt': [signedId, 'Arn'] });
  });
});

describe('IotCustomAuthorizer with every optional prop set', () => {
  it('uses the props everywhere they apply', () => {
    const second = rsaPublicKeyPem(3072);
    const { template } = synth({
      tokenSigningPublicKeys: { current: PUBLIC_KEY_PEM, 'next:2': second },
      clientIdPrefix: 'dev-',
      topicRoot: 'fleet/a',
      tokenKeyName: 'X-Token_1',
      refreshAfterSeconds: 600,
      disconnectAfterSeconds: 3600,
      unsignedAuthorizerName: 'my-unsigned',
      signedAuthorizerName: 'my=signed,@x',
      timeout: Duration.seconds(5),
      memorySize: 512,
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 5,
      MemorySize: 512,
      Environment: {
        Variables: Match.objectLike({
          CLIENT_ID_PREFIX: 'dev-',
          TOPIC_ROOT: 'fleet/a',
          REFRESH_AFTER_SECONDS: '600',
          DISCONNECT_AFTER_SECONDS: '3600',
        }),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    template.hasResourceProperties('AWS::IoT::Authorizer', {
      AuthorizerName: 'my-unsigned',
      SigningDisabled: true,
    });
    template.hasResourceProperties('AWS::IoT::Authorizer', {
      AuthorizerName: 'my=signed,@x',
      TokenKeyName: 'X-Token_1',
      TokenSigningPublicKeys: { current: PUBLIC_KEY_PEM, 'next:2': second },
    });
  });

  it('stores any accepted PEM form as the canonical SPKI PEM', () => {
    const pkcs1 = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const { template } = synth({
      tokenSigningPublicKeys: { primary: pkcs1.export({ type: 'pkcs1', format: 'pem' }).toString() },
    });
    template.hasResourceProperties('AWS::IoT::Authorizer', {
      TokenSigningPublicKeys: { primary: pkcs1.export({ type: 'spki', format: 'pem' }).toString() },
    });
  });

  it('passes deploy-time values through without validating them', () => {
    const stack = newStack();
    const refresh = new CfnParameter(stack, 'Refresh', { type: 'Number' });
    const prefix = new CfnParameter(stack, 'Prefix');
    const { template } = synth(
      { refreshAfterSeconds: refresh.valueAsNumber, clientIdPrefix: prefix.valueAsString },
      stack,
    );
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          REFRESH_AFTER_SECONDS: { Ref: 'Refresh' },
          CLIENT_ID_PREFIX: { Ref: 'Prefix' },
        }),
      },
    });
  });
});

describe('IotCustomAuthorizer default names', () => {
  it('derive from the stack name and construct path, so two constructs never collide', () => {
    const stack = newStack('Fleet');
    const a = new IotCustomAuthorizer(stack, 'A', { tokenSigningPublicKeys: { k: PUBLIC_KEY_PEM } });
    const b = new IotCustomAuthorizer(stack, 'B', { tokenSigningPublicKeys: { k: PUBLIC_KEY_PEM } });
    expect([a.unsignedAuthorizerName, a.signedAuthorizerName, b.unsignedAuthorizerName]).toEqual([
      'Fleet-A-UnsignedAuthorizer',
      'Fleet-A-SignedAuthorizer',
      'Fleet-B-UnsignedAuthorizer',
    ]);
  });

  it('stay within 128 characters and unique when the stack name is long', () => {
    const stack = newStack(`S${'x'.repeat(120)}`);
    const { unsignedAuthorizerName, signedAuthorizerName } = new IotCustomAuthorizer(stack, 'Auth', {
      tokenSigningPublicKeys: { k: PUBLIC_KEY_PEM },
    });
    for (const name of [unsignedAuthorizerName, signedAuthorizerName]) {
      expect(name).toHaveLength(128);
      expect(name).toMatch(/^Sx+-[0-9A-F]{8}$/);
    }
    expect(unsignedAuthorizerName).not.toBe(signedAuthorizerName);
  });
});

describe('IotCustomAuthorizer validation', () => {
  it('says where it looked for the handler when projectRoot is wrong', () => {
    const projectRoot = path.join(REPO_ROOT, 'packages');
    expectInfraError(
      () => synth({ projectRoot }),
      `cannot find the authorizer handler ${path.join(projectRoot, 'packages', 'authorizer-lambda', 'src', 'handler.ts')}: \`projectRoot\` must be the repository root holding packages/authorizer-lambda, but ${JSON.stringify(projectRoot)} was provided`,
    );
  });

  const ed25519 = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const rsaPrivate = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

  it.each<[string, Partial<IotCustomAuthorizerProps>, string]>([
    [
      'refreshAfterSeconds below the minimum',
      { refreshAfterSeconds: 10 },
      '`refreshAfterSeconds` must be between 300 and 86400, but 10 was provided',
    ],
    [
      'refreshAfterSeconds not whole',
      { refreshAfterSeconds: 300.5 },
      '`refreshAfterSeconds` must be a whole number between 300 and 86400, but 300.5 was provided',
    ],
    [
      'disconnectAfterSeconds above the maximum',
      { disconnectAfterSeconds: 86_401 },
      '`disconnectAfterSeconds` must be between 300 and 86400, but 86401 was provided',
    ],
    [
      'disconnectAfterSeconds not a number',
      { disconnectAfterSeconds: NaN },
      '`disconnectAfterSeconds` must be a whole number between 300 and 86400, but NaN was provided',
    ],
    [
      'a timeout past the AWS IoT limit',
      { timeout: Duration.seconds(6) },
      '`timeout` must be between 1 and 5 seconds, but 6 was provided',
    ],
    [
      'a timeout in milliseconds',
      { timeout: Duration.millis(1500) },
      '`timeout` must be a whole number between 1 and 5 seconds, but 1.5 was provided',
    ],
    [
      'too little memory',
      { memorySize: 64 },
      '`memorySize` must be between 128 and 10240 MB, but 64 was provided',
    ],
    [
      'a token key name with a space',
      { tokenKeyName: 'my token' },
      '`tokenKeyName` must be 1 to 128 characters from A-Z a-z 0-9 _ -, but "my token" was provided',
    ],
    [
      'an empty token key name',
      { tokenKeyName: '' },
      '`tokenKeyName` must be 1 to 128 characters from A-Z a-z 0-9 _ -, but "" was provided',
    ],
    [
      'a client id prefix with a policy wildcard',
      { clientIdPrefix: 'test-*' },
      '`clientIdPrefix` must be a valid start of a client id (client id contains "*"; only A-Z a-z 0-9 _ . : - are allowed), but "test-*" was provided',
    ],
    [
      'an empty client id prefix',
      { clientIdPrefix: '' },
      '`clientIdPrefix` must be a valid start of a client id (client id is empty), but "" was provided',
    ],
    [
      'a topic root with an MQTT wildcard',
      { topicRoot: 'devices/#' },
      '`topicRoot` must be 1 to 128 characters of topic levels separated by single / using only A-Z a-z 0-9 _ . : - (no wildcards), but "devices/#" was provided',
    ],
    [
      'a topic root with an empty level',
      { topicRoot: 'a//b' },
      '`topicRoot` must be 1 to 128 characters of topic levels separated by single / using only A-Z a-z 0-9 _ . : - (no wildcards), but "a//b" was provided',
    ],
    [
      'an authorizer name with a slash',
      { unsignedAuthorizerName: 'a/b' },
      '`unsignedAuthorizerName` must be 1 to 128 characters from A-Z a-z 0-9 _ = , @ -, but "a/b" was provided',
    ],
    [
      'an authorizer name too long',
      { signedAuthorizerName: 'a'.repeat(129) },
      `\`signedAuthorizerName\` must be 1 to 128 characters from A-Z a-z 0-9 _ = , @ -, but "${'a'.repeat(129)}" was provided`,
    ],
    [
      'the same name for both authorizers',
      { unsignedAuthorizerName: 'same', signedAuthorizerName: 'same' },
      '`unsignedAuthorizerName` and `signedAuthorizerName` must differ, but both are "same"',
    ],
    [
      'no public key',
      { tokenSigningPublicKeys: {} },
      '`tokenSigningPublicKeys` must hold at least one public key, but none was provided: run `npm run keys` and pass .keys/token-signing-public.pem',
    ],
    [
      'a public key name with a space',
      { tokenSigningPublicKeys: { 'my key': PUBLIC_KEY_PEM } },
      '`tokenSigningPublicKeys` must be keyed by names of 1 to 128 characters from A-Z a-z 0-9 : _ -, but "my key" was provided',
    ],
    [
      'a 1024-bit public key',
      { tokenSigningPublicKeys: { primary: rsaPublicKeyPem(1024) } },
      '`tokenSigningPublicKeys.primary` must be an RSA public key of at least 2048 bits, but a 1024-bit key was provided',
    ],
    [
      'an Ed25519 public key',
      { tokenSigningPublicKeys: { primary: ed25519 } },
      '`tokenSigningPublicKeys.primary` must be an RSA public key (AWS IoT verifies RSA SHA-256 signatures), but a key of type ed25519 was provided',
    ],
    [
      'a private key',
      { tokenSigningPublicKeys: { primary: rsaPrivate } },
      '`tokenSigningPublicKeys.primary` must be an RSA public key, but a private key was provided: pass the public key (for example .keys/token-signing-public.pem) and keep the private key out of the stack',
    ],
    [
      'text that is no PEM',
      { tokenSigningPublicKeys: { primary: 'not a key' } },
      '`tokenSigningPublicKeys.primary` must be an RSA public key in PEM format (-----BEGIN PUBLIC KEY-----), but the value provided could not be read as one',
    ],
  ])('rejects %s', (_case, props, message) => {
    expectInfraError(
      () =>
        new IotCustomAuthorizer(newStack(), 'Auth', {
          tokenSigningPublicKeys: { primary: PUBLIC_KEY_PEM },
          ...props,
        }),
      message,
    );
  });
});
