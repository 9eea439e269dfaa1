import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMasterSecret, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { readCloudAssembly } from '../../src/deployment/cloud-assembly';
import { DeploymentError } from '../../src/errors';
import type { CfnTemplate } from '../../src/deployment/intrinsics';
import {
  findSecret,
  loadLocalDeployment,
  type LocalDeployment,
  outputsFileContent,
  SECRETS_STATE_FILE,
} from '../../src/deployment/local-deployment';
import {
  demoTemplate,
  FUNCTIONS_DIR,
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
} from '../fixtures/assembly';
import { modeOf, useUmask } from '../support/permissive-umask';

const STACK = 'LocalIotTest';
const HOST = 'local-iot.localhost';
const { publicKey } = rsaKeyPair();

let root: string;
beforeEach(() => {
  root = tempDir('deployment');
});
afterEach(() => removeDir(root));

function load(template: CfnTemplate, extra: { region?: string; stateDir?: string } = {}): LocalDeployment {
  const cdkOut = writeAssembly(join(root, 'cdk.out'), STACK, template, {
    fn: join(FUNCTIONS_DIR, 'behaviours'),
  });
  return loadLocalDeployment({
    cdkOut,
    stateDir: extra.stateDir ?? join(root, 'state'),
    endpointHost: HOST,
    ...extra,
  });
}

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('readCloudAssembly', () => {
  it('tells to run cdk synth when there is no manifest', () => {
    const error = errorOf(() => readCloudAssembly(root));
    expect(error).toBeInstanceOf(DeploymentError);
    expect(error.message).toBe(`no ${join(root, 'manifest.json')}: run \`npx cdk synth\` first`);
    expect(errorOf(() => readCloudAssembly(join(root, 'missing'))).message).toBe(
      `no cloud assembly at ${join(root, 'missing')}: run \`npx cdk synth\` first`,
    );
  });

  it('names the stacks when the requested one is absent or several exist', () => {
    const cdkOut = writeAssembly(root, STACK, demoTemplate({ asset: 'fn', publicKeyPem: publicKey }));
    expect(readCloudAssembly(cdkOut).stackName).toBe(STACK);
    expect(readCloudAssembly(cdkOut, STACK).templateFile).toBe(join(root, `${STACK}.template.json`));
    expect(errorOf(() => readCloudAssembly(cdkOut, 'Other')).message).toBe(
      `stack 'Other' is not in ${join(root, 'manifest.json')} (it has: ${STACK}): check the stack name, or run \`npx cdk synth\` first`,
    );
    const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, unknown>;
    };
    manifest.artifacts.Second = {
      type: 'aws:cloudformation:stack',
      environment: 'aws://123456789012/eu-central-1',
      properties: { templateFile: `${STACK}.template.json`, stackName: 'SecondStack' },
    };
    writeFileSync(join(root, 'manifest.json'), JSON.stringify(manifest));
    expect(errorOf(() => readCloudAssembly(cdkOut)).message).toBe(
      `${join(root, 'manifest.json')} has 2 stacks (${STACK}, SecondStack): choose one by name`,
    );
    const second = readCloudAssembly(cdkOut, 'SecondStack');
    expect([second.stackName, second.artifactId, second.region]).toEqual([
      'SecondStack',
      'Second',
      'eu-central-1',
    ]);
  });

  it('refuses a manifest that is not JSON', () => {
    writeFileSync(join(root, 'manifest.json'), '{');
    expect(errorOf(() => readCloudAssembly(root)).message).toMatch(
      /^.*manifest\.json is not valid JSON \(.*\): run `npx cdk synth` first$/,
    );
  });
});

describe('loadLocalDeployment', () => {
  it('builds the model of the demo stack with local values', () => {
    const deployment = load(demoTemplate({ asset: 'fn', publicKeyPem: publicKey }));
    const fnArn = `arn:aws:lambda:us-east-1:000000000000:function:${STACK}-AuthorizerFunction`;
    const secret = deployment.secrets[0];
    expect(secret?.arn).toMatch(
      new RegExp(
        `^arn:aws:secretsmanager:us-east-1:000000000000:secret:${STACK}-DeviceSecret-[A-Za-z0-9]{6}$`,
      ),
    );
    expect(deployment).toEqual({
      stackName: STACK,
      region: 'us-east-1',
      accountId: '000000000000',
      partition: 'aws',
      endpointHost: HOST,
      authorizers: [
        {
          logicalId: 'UnsignedAuthorizer',
          name: `${STACK}-unsigned`,
          arn: `arn:aws:iot:us-east-1:000000000000:authorizer/${STACK}-unsigned`,
          status: 'ACTIVE',
          signingDisabled: true,
          tokenSigningPublicKeys: {},
          enableCachingForHttp: false,
          functionArn: fnArn,
          functionName: `${STACK}-AuthorizerFunction`,
          invokePermission: {
            granted: true,
            reason: `AWS::Lambda::Permission 'UnsignedAuthorizerInvokePermission' lets iot.amazonaws.com invoke ${STACK}-AuthorizerFunction`,
          },
        },
        {
          logicalId: 'SignedAuthorizer',
          name: `${STACK}-signed`,
          arn: `arn:aws:iot:us-east-1:000000000000:authorizer/${STACK}-signed`,
          status: 'ACTIVE',
          signingDisabled: false,
          tokenKeyName: 'token',
          tokenSigningPublicKeys: { TokenSigningKey: publicKey },
          enableCachingForHttp: false,
          functionArn: fnArn,
          functionName: `${STACK}-AuthorizerFunction`,
          invokePermission: {
            granted: true,
            reason: `AWS::Lambda::Permission 'SignedAuthorizerInvokePermission' lets iot.amazonaws.com invoke ${STACK}-AuthorizerFunction`,
          },
        },
      ],
      functions: [
        {
          logicalId: 'AuthorizerFunction',
          name: `${STACK}-AuthorizerFunction`,
          arn: fnArn,
          codeDirectory: join(root, 'cdk.out', 'asset.fn'),
          handler: 'index.handler',
          runtime: 'nodejs24.x',
          timeoutSeconds: 4,
          memorySizeMb: 256,
          environment: { DEVICE_SECRET_ARN: secret?.arn, CLIENT_ID_PREFIX: 'test-' },
          logFormat: 'Text',
          logGroupName: `/aws/lambda/${STACK}-AuthorizerFunction`,
        },
      ],
      lambdaPermissions: ['UnsignedAuthorizer', 'SignedAuthorizer'].map((authorizer) => ({
        logicalId: `${authorizer}InvokePermission`,
        statementId: expect.stringContaining(`${authorizer}InvokePermission`) as unknown,
        action: 'lambda:InvokeFunction',
        principal: 'iot.amazonaws.com',
        functionName: fnArn,
        sourceArn: `arn:aws:iot:us-east-1:000000000000:authorizer/${STACK}-${authorizer === 'UnsignedAuthorizer' ? 'unsigned' : 'signed'}`,
        sourceAccount: '000000000000',
      })),
      secrets: [
        {
          logicalId: 'DeviceSecret',
          name: `${STACK}-DeviceSecret`,
          arn: secret?.arn,
          secretString: expect.any(String) as unknown,
          versionId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
          createdDate: expect.any(Date) as unknown,
        },
      ],
      policies: [
        {
          logicalId: 'ConnectPolicy',
          name: `${STACK}-connect`,
          arn: `arn:aws:iot:us-east-1:000000000000:policy/${STACK}-connect`,
          document: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'ConnectWithPrefix',
                Effect: 'Allow',
                Action: 'iot:Connect',
                Resource: 'arn:aws:iot:us-east-1:000000000000:client/test-*',
              },
            ],
          },
        },
      ],
      outputs: {
        [STACK_OUTPUTS.endpoint]: HOST,
        [STACK_OUTPUTS.region]: 'us-east-1',
        [STACK_OUTPUTS.unsignedAuthorizerName]: `${STACK}-unsigned`,
        [STACK_OUTPUTS.signedAuthorizerName]: `${STACK}-signed`,
        [STACK_OUTPUTS.tokenKeyName]: 'token',
        [STACK_OUTPUTS.deviceSecretArn]: secret?.arn,
        [STACK_OUTPUTS.connectPolicyName]: `${STACK}-connect`,
        [STACK_OUTPUTS.clientIdPrefix]: 'test-',
      },
      certificates: [],
      caCertificates: [],
      notices: [],
    });
    expect(outputsFileContent(deployment)).toEqual({ [STACK]: deployment.outputs });
  });

  it('generates the master secret once per local deployment, 0600, and reuses it on restart', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    const first = load(template).secrets[0];
    const parsed = parseMasterSecret(first?.secretString);
    expect(parsed.ok && parsed.secret.masterKey).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(parsed.ok && parsed.secret.revokedDevices).toEqual(new Map());
    const stateFile = join(root, 'state', SECRETS_STATE_FILE);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    const again = load(template).secrets[0];
    expect(again?.secretString).toBe(first?.secretString);
    expect(again?.versionId).toBe(first?.versionId);
  });

  describe('with a permissive umask', () => {
    useUmask(0o000);

    it('writes secrets.json 0600 in a 0700 state directory', () => {
      load(demoTemplate({ asset: 'fn', publicKeyPem: publicKey }));
      const stateDir = join(root, 'state');
      expect([stateDir, join(stateDir, SECRETS_STATE_FILE)].map(modeOf)).toEqual([0o700, 0o600]);
    });

    it('sets a reused secrets.json back to 0600 when it was looser', () => {
      const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
      const first = load(template).secrets[0]?.secretString;
      const stateFile = join(root, 'state', SECRETS_STATE_FILE);
      chmodSync(stateFile, 0o644);
      expect(load(template).secrets[0]?.secretString).toBe(first);
      expect(modeOf(stateFile)).toBe(0o600);
    });
  });

  it('generates a new secret value when the generation settings change', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    const first = load(template).secrets[0]?.secretString;
    const resources = template.Resources as Record<string, { Properties: Record<string, unknown> }>;
    (resources.DeviceSecret as { Properties: Record<string, unknown> }).Properties.GenerateSecretString = {
      SecretStringTemplate: JSON.stringify({ username: 'device' }),
      GenerateStringKey: 'password',
      PasswordLength: 12,
      ExcludePunctuation: true,
    };
    const changed = load(template).secrets[0]?.secretString;
    expect((JSON.parse(changed ?? '{}') as { password?: string }).password).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(changed).not.toBe(first);
  });

  it('finds a secret by ARN, name or ARN without its suffix', () => {
    const deployment = load(demoTemplate({ asset: 'fn', publicKeyPem: publicKey }));
    const secret = deployment.secrets[0];
    expect(findSecret(deployment, secret?.arn ?? '')).toBe(secret);
    expect(findSecret(deployment, `${STACK}-DeviceSecret`)).toBe(secret);
    expect(findSecret(deployment, (secret?.arn ?? '').slice(0, -7))).toBe(secret);
    expect(findSecret(deployment, 'other')).toBeUndefined();
  });

  it('follows the template: signing off, another prefix, another timeout, JSON logs, region', () => {
    const deployment = load(
      demoTemplate({
        asset: 'fn',
        publicKeyPem: publicKey,
        signedSigningDisabled: true,
        clientIdPrefix: 'dev-',
        timeoutSeconds: 2,
        logFormat: 'JSON',
      }),
      { region: 'eu-west-1' },
    );
    expect(deployment.authorizers[1]?.signingDisabled).toBe(true);
    expect(deployment.functions[0]).toMatchObject({
      timeoutSeconds: 2,
      logFormat: 'JSON',
      applicationLogLevel: 'INFO',
      environment: { CLIENT_ID_PREFIX: 'dev-' },
    });
    expect(deployment.policies[0]?.document).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ConnectWithPrefix',
          Effect: 'Allow',
          Action: 'iot:Connect',
          Resource: 'arn:aws:iot:eu-west-1:000000000000:client/dev-*',
        },
      ],
    });
    expect(deployment.outputs[STACK_OUTPUTS.region]).toBe('eu-west-1');
  });

  it('records a missing invoke permission as the reason AWS IoT would never invoke the Lambda', () => {
    const deployment = load(demoTemplate({ asset: 'fn', publicKeyPem: publicKey, permissions: false }));
    expect(deployment.authorizers[0]?.invokePermission).toEqual({
      granted: false,
      reason: `no AWS::Lambda::Permission lets iot.amazonaws.com invoke function ${STACK}-AuthorizerFunction for authorizer arn:aws:iot:us-east-1:000000000000:authorizer/${STACK}-unsigned (principal iot.amazonaws.com, action lambda:InvokeFunction, SourceArn = the authorizer ARN): AWS IoT would never invoke it`,
    });
  });

  it('finds the default authorizer set with SetDefaultAuthorizer or a domain configuration', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    expect(load(template).defaultAuthorizerName).toBeUndefined();
    const resources = template.Resources as Record<string, unknown>;
    resources.Domain = {
      Type: 'AWS::IoT::DomainConfiguration',
      Properties: { AuthorizerConfig: { DefaultAuthorizerName: { Ref: 'SignedAuthorizer' } } },
    };
    expect(load(template).defaultAuthorizerName).toBe(`${STACK}-signed`);
    resources.SetDefault = {
      Type: 'Custom::AWS',
      Properties: {
        Create: {
          'Fn::Join': [
            '',
            [
              '{"service":"Iot","action":"setDefaultAuthorizer","parameters":{"authorizerName":"',
              { Ref: 'UnsignedAuthorizer' },
              '"}}',
            ],
          ],
        },
      },
    };
    expect(load(template).defaultAuthorizerName).toBe(`${STACK}-unsigned`);
  });

  it('refuses an authorizer pointing at a function outside the stack, naming the property', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    const resources = template.Resources as Record<string, { Properties: Record<string, unknown> }>;
    (
      resources.UnsignedAuthorizer as { Properties: Record<string, unknown> }
    ).Properties.AuthorizerFunctionArn = 'arn:aws:lambda:us-east-1:123456789012:function:elsewhere';
    const error = errorOf(() => load(template));
    expect(error).toBeInstanceOf(DeploymentError);
    expect(error.message).toBe(
      'Resources.UnsignedAuthorizer.Properties.AuthorizerFunctionArn: arn:aws:lambda:us-east-1:123456789012:function:elsewhere is not a Lambda function of this stack; local-iot can only run functions defined in the synthesized template',
    );
  });

  it('refuses a non-Node.js runtime and a missing asset, naming the resource', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    const fn = (
      template.Resources as Record<string, { Properties: Record<string, unknown>; Metadata: object }>
    ).AuthorizerFunction as { Properties: Record<string, unknown>; Metadata: Record<string, unknown> };
    fn.Properties.Runtime = 'python3.12';
    expect(errorOf(() => load(template)).message).toBe(
      'Resources.AuthorizerFunction.Properties.Runtime is "python3.12"; local-iot runs only Node.js functions (nodejs*.x)',
    );
    fn.Properties.Runtime = 'nodejs20.x';
    fn.Metadata['aws:asset:path'] = 'asset.gone';
    expect(errorOf(() => load(template)).message).toBe(
      `Lambda function 'AuthorizerFunction': its code ${join(root, 'cdk.out', 'asset.gone')} does not exist: run \`npx cdk synth\` first`,
    );
  });

  it('finds the code through the asset manifest when asset metadata is off', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    const fn = (
      template.Resources as Record<string, { Properties: Record<string, unknown>; Metadata?: object }>
    ).AuthorizerFunction as { Properties: Record<string, unknown>; Metadata?: object };
    delete fn.Metadata;
    fn.Properties.Code = { S3Bucket: 'b', S3Key: 'fn.zip' };
    expect(load(template).functions[0]?.codeDirectory).toBe(join(root, 'cdk.out', 'asset.fn'));
  });

  it('refuses a TokenKeyName AWS IoT would reject, and a secrets state file that is not JSON', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    const signed = (template.Resources as Record<string, { Properties: Record<string, unknown> }>)
      .SignedAuthorizer as { Properties: Record<string, unknown> };
    signed.Properties.TokenKeyName = 'my token';
    expect(errorOf(() => load(template)).message).toBe(
      'Resources.SignedAuthorizer.Properties.TokenKeyName must match ^[a-zA-Z0-9_-]{1,128}$, but "my token" was given',
    );
    signed.Properties.TokenKeyName = 'token';
    load(template);
    writeFileSync(join(root, 'state', SECRETS_STATE_FILE), '{');
    expect(errorOf(() => load(template)).message).toBe(
      `${join(root, 'state', SECRETS_STATE_FILE)} is not valid JSON: delete it to generate new secret values`,
    );
  });

  it('refuses a policy document string that is not JSON, naming the resource, the property and the fix', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    const policy = (template.Resources as Record<string, { Properties: Record<string, unknown> }>)
      .ConnectPolicy as { Properties: Record<string, unknown> };
    const notJson = '{"Version": "2012-10-17",';
    policy.Properties.PolicyDocument = notJson;
    const syntaxError = errorOf(() => JSON.parse(notJson));
    const error = errorOf(() => load(template));
    expect(error).toBeInstanceOf(DeploymentError);
    expect(error.message).toBe(
      `Resources.ConnectPolicy.Properties.PolicyDocument is a string that is not valid JSON (${syntaxError.message}): ` +
        'give the policy document as an object, or as a string holding a JSON object',
    );
    expect(error.cause).toBeInstanceOf(SyntaxError);
    // A string holding a JSON object is accepted, as CloudFormation accepts it.
    policy.Properties.PolicyDocument = JSON.stringify({ Version: '2012-10-17', Statement: [] });
    expect(load(template).policies[0]?.document).toEqual({ Version: '2012-10-17', Statement: [] });
  });

  it('refuses a signing-enabled authorizer without token key or public keys, as AWS does', () => {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: publicKey });
    const signed = (template.Resources as Record<string, { Properties: Record<string, unknown> }>)
      .SignedAuthorizer as { Properties: Record<string, unknown> };
    delete signed.Properties.TokenSigningPublicKeys;
    expect(errorOf(() => load(template)).message).toBe(
      'Resources.SignedAuthorizer.Properties: signing is enabled (SigningDisabled is not true), so TokenKeyName and TokenSigningPublicKeys are required, as AWS requires',
    );
  });
});
