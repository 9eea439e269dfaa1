// End-to-end: the real `npx cdk synth` from the repository root, through cdk.json and bin/app.ts, with the
// locally installed esbuild. Each run writes its cloud assembly to a temporary directory, never ./cdk.out.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AUTHORIZER_ENV, DEFAULT_STACK_NAME, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { generateSelfSignedDeviceCertificate } from '../src';
import { REPO_ROOT } from './helpers';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const CDK = path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk');

function synth(outdir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return run(CDK, ['synth', '--quiet', '--no-notices', '--output', outdir, ...args], env);
}

interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

interface Template {
  readonly Resources: Record<string, TemplateResource>;
  readonly Outputs: Record<string, { Value: unknown }>;
}

function readTemplate(outdir: string, stackName: string): Template {
  return JSON.parse(fs.readFileSync(path.join(outdir, `${stackName}.template.json`), 'utf8')) as Template;
}

function resourcesOfType(template: Template, type: string): TemplateResource[] {
  return Object.values(template.Resources).filter((resource) => resource.Type === type);
}

let workdir: string;
beforeAll(() => {
  workdir = fs.mkdtempSync(path.join(tmpdir(), 'infra-synth-'));
});
afterAll(() => {
  fs.rmSync(workdir, { recursive: true, force: true });
});

describe('npx cdk synth from the repository root', () => {
  it('synthesizes the stack with the esbuild bundle of the handler and the .keys public key', async () => {
    const outdir = path.join(workdir, 'default');
    // A device certificate of our own, so that this test never writes the demo certificate into the real .keys/
    // (demo-device-certificate.test.ts covers that in a temporary root).
    const device = await generateSelfSignedDeviceCertificate({ commonName: 'test-synth-device' });
    const certificateFile = path.join(workdir, 'device-cert.pem');
    fs.writeFileSync(certificateFile, device.certificatePem);
    const result = await synth(outdir, ['-c', `x509CertificateFile=${certificateFile}`]);
    expect(result.stderr).not.toMatch(/AwsSolutions-|Validation failed/);
    expect(result.code).toBe(0);

    const template = readTemplate(outdir, DEFAULT_STACK_NAME);
    const [fn, ...otherFunctions] = resourcesOfType(template, 'AWS::Lambda::Function').filter(
      (resource) => resource.Properties.Handler === 'index.handler' && resource.Properties.Architectures,
    );
    expect(otherFunctions).toEqual([]);
    expect(fn?.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Timeout: 4 });

    // The asset is the esbuild bundle: one file (and its source map), no node_modules, the AWS SDK left to the
    // runtime, the protocol package bundled in.
    const assetDir = path.join(outdir, String(fn?.Metadata?.['aws:asset:path']));
    expect(fs.readdirSync(assetDir).sort()).toEqual(['index.js', 'index.js.map']);
    const bundle = fs.readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(bundle).toContain('require("@aws-sdk/client-secrets-manager")');
    expect(bundle).not.toMatch(/@smithy\/|require\("@iot-custom-auth\/protocol"\)/);
    expect(bundle).toContain(`"${AUTHORIZER_ENV.deviceSecretArn}"`);
    expect(bundle.length).toBeLessThan(200_000);
    // The bundle loads on its own (the SDK resolved as the Lambda runtime would provide it) and exports a
    // handler that denies a malformed event.
    const probe = await run(
      process.execPath,
      [
        '-e',
        `const { handler } = require(${JSON.stringify(path.join(assetDir, 'index.js'))});
         handler({}, { invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:f' })
           .then((result) => process.stdout.write('\\nRESULT ' + JSON.stringify({ type: typeof handler, isAuthenticated: result.isAuthenticated })));`,
      ],
      {
        NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
        [AUTHORIZER_ENV.deviceSecretArn]:
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-AbCdEf',
        AWS_REGION: 'eu-west-1',
      },
    );
    expect(probe.code).toBe(0);
    expect(JSON.parse(probe.stdout.split('\nRESULT ')[1] ?? 'null')).toEqual({
      type: 'function',
      isAuthenticated: false,
    });
    const sourceMap = JSON.parse(fs.readFileSync(path.join(assetDir, 'index.js.map'), 'utf8')) as {
      sources: string[];
    };
    expect(
      sourceMap.sources.some((source) => source.endsWith('packages/authorizer-lambda/src/handler.ts')),
    ).toBe(true);
    expect(sourceMap.sources.some((source) => source.includes('packages/protocol/src/'))).toBe(true);

    // The signed authorizer trusts the public key of the pair in .keys/, created on demand.
    const publicKey = fs.readFileSync(path.join(REPO_ROOT, '.keys', 'token-signing-public.pem'), 'utf8');
    const authorizers = resourcesOfType(template, 'AWS::IoT::Authorizer');
    // Unsigned, signed and X.509 (signing disabled: AWS IoT verified the client certificate instead).
    expect(authorizers.map((a) => a.Properties.SigningDisabled).sort()).toEqual([false, true, true]);
    expect(authorizers.find((a) => a.Properties.SigningDisabled === false)?.Properties).toMatchObject({
      Status: 'ACTIVE',
      TokenKeyName: 'token',
      TokenSigningPublicKeys: { TokenSigningKey: publicKey },
    });
    if (process.platform !== 'win32') {
      expect(fs.statSync(path.join(REPO_ROOT, '.keys', 'token-signing-private.pem')).mode & 0o777).toBe(
        0o600,
      );
    }

    // Three authorizers (unsigned, signed, X.509), one permission each.
    expect(resourcesOfType(template, 'AWS::Lambda::Permission')).toHaveLength(3);
    expect(resourcesOfType(template, 'AWS::IoT::Policy')).toHaveLength(1);
    // The data endpoint lookup, and the X.509 domain's lookup (which disables it on delete) and detachment.
    expect(resourcesOfType(template, 'Custom::AWS')).toHaveLength(3);
    expect(resourcesOfType(template, 'AWS::IoT::DomainConfiguration').map((r) => r.Properties)).toEqual([
      expect.objectContaining({ AuthenticationType: 'CUSTOM_AUTH_X509', ApplicationProtocol: 'SECURE_MQTT' }),
    ]);
    expect(resourcesOfType(template, 'AWS::IoT::Certificate').map((r) => r.Properties)).toEqual([
      { CertificateMode: 'SNI_ONLY', CertificatePem: device.certificatePem, Status: 'ACTIVE' },
    ]);
    // Every output but the demo certificate's id (this certificate is our own).
    expect(Object.keys(template.Outputs).sort()).toEqual(
      Object.values(STACK_OUTPUTS)
        .filter((name) => name !== STACK_OUTPUTS.demoCertificateId)
        .sort(),
    );

    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
  }, 60_000);

  it("takes the stack name, settings and the user's own public key from context and the environment", async () => {
    const outdir = path.join(workdir, 'custom');
    const keyFile = path.join(workdir, 'my-public.pem');
    const pem = generateKeyPairSync('rsa', { modulusLength: 3072 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    fs.writeFileSync(keyFile, pem);
    const result = await synth(
      outdir,
      [
        '-c',
        'stackName=SynthTest',
        '-c',
        'clientIdPrefix=dev-',
        '-c',
        'refreshAfterSeconds=600',
        // As for GovCloud (US), which has no custom authentication with X.509 client certificates.
        '-c',
        'x509=false',
      ],
      { TOKEN_SIGNING_PUBLIC_KEY_FILE: keyFile },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('demo-device');

    const template = readTemplate(outdir, 'SynthTest');
    expect(template.Outputs[STACK_OUTPUTS.clientIdPrefix]?.Value).toBe('dev-');
    expect(template.Outputs[STACK_OUTPUTS.signedAuthorizerName]?.Value).toBe(
      'SynthTest-CustomAuthorizer-SignedAuthorizer',
    );
    expect(
      resourcesOfType(template, 'AWS::IoT::Authorizer').map((a) => a.Properties.TokenSigningPublicKeys),
    ).toContainEqual({ TokenSigningKey: pem });
    // x509=false: nothing of the X.509 domain, none of its outputs.
    for (const type of [
      'AWS::IoT::DomainConfiguration',
      'AWS::IoT::Certificate',
      'AWS::IoT::CACertificate',
    ]) {
      expect(resourcesOfType(template, type)).toEqual([]);
    }
    expect(resourcesOfType(template, 'AWS::IoT::Authorizer')).toHaveLength(2);
    for (const name of [
      STACK_OUTPUTS.x509Endpoint,
      STACK_OUTPUTS.x509DomainConfigurationName,
      STACK_OUTPUTS.x509AuthorizerName,
      STACK_OUTPUTS.demoCertificateId,
    ]) {
      expect(template.Outputs).not.toHaveProperty(name);
    }
    const fn = resourcesOfType(template, 'AWS::Lambda::Function').find((r) => r.Properties.Architectures);
    expect(fn?.Properties.Environment).toMatchObject({
      Variables: { CLIENT_ID_PREFIX: 'dev-', REFRESH_AFTER_SECONDS: '600' },
    });
  }, 60_000);

  it('fails with one clear line for a bad setting', async () => {
    const result = await synth(path.join(workdir, 'bad'), ['-c', 'refreshAfterSeconds=10']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'Error: `refreshAfterSeconds` must be between 300 and 86400, but 10 was provided',
    );
    // A known configuration error prints no stack trace.
    expect(result.stderr).not.toMatch(/^\s+at /m);
  }, 60_000);

  it('fails with one clear line for a bad X.509 setting, before creating any file', async () => {
    const result = await synth(path.join(workdir, 'bad-x509'), ['-c', 'x509DomainName=iot.example.com']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'Error: a customer-managed X.509 domain needs both `-c x509DomainName=<fully qualified name>` and `-c x509ServerCertificateArn=<ACM certificate ARN>`, but only one was provided',
    );
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('Created');
  }, 60_000);
});

describe('npm run keys', () => {
  it('creates or keeps the pair in .keys/ and names both files', async () => {
    const result = await run('npm', ['run', '--silent', 'keys', '-w', 'infra']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^(Created|Kept) .*\.keys[/\\]token-signing-private\.pem$/),
      expect.stringMatching(/^(Created|Kept) .*\.keys[/\\]token-signing-public\.pem$/),
    ]);
  }, 30_000);
});
