import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IoTCustomAuthorizerResult } from 'aws-lambda';
import { createDeviceCertificate, certificateEvent, newKeys } from './support/certificates';
import { CONTEXT, DEVICE_SECRET_STRING, SECRET_ARN, devicePolicies, fixture } from './support/events';
import { FakeSecretsManager } from './support/fake-secrets-manager';

const run = promisify(execFile);
const PACKAGE_DIR = join(__dirname, '..');
const BUNDLE = join(PACKAGE_DIR, 'dist', 'bundle', 'index.js');
/** Budget for the minified bundle: the AWS SDK stays external, so this is our code and protocol only. */
const MAX_BUNDLE_BYTES = 64 * 1024;

/** Loads the bundle in a plain Node process, as the Lambda runtime (or local-iot's worker) does, and invokes it. */
const INVOKE_SCRIPT = `
const { handler } = require(process.env.BUNDLE);
handler(JSON.parse(process.env.EVENT), JSON.parse(process.env.CONTEXT)).then((result) => {
  process.stdout.write('RESULT ' + JSON.stringify(result) + '\\n');
});
`;

describe('the Lambda bundle (npm run bundle)', () => {
  let fake: FakeSecretsManager;

  beforeAll(async () => {
    await run('npm', ['run', '--silent', 'bundle'], { cwd: PACKAGE_DIR });
    fake = await FakeSecretsManager.start();
    fake.behaviour = { kind: 'secret', secretString: DEVICE_SECRET_STRING };
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('is small and keeps the AWS SDK external', () => {
    expect(statSync(BUNDLE).size).toBeLessThan(MAX_BUNDLE_BYTES);
    const code = readFileSync(BUNDLE, 'utf8');
    expect(code).toContain('require("@aws-sdk/client-secrets-manager")');
    // Nothing of the SDK's own code (its clients, its HTTP handler) is inlined.
    expect(code).not.toMatch(/@smithy|node-http-handler|SignatureV4/);
  });

  /** Runs the bundle's handler on `event` in a plain Node process: its result and its decision lines. */
  async function invokeBundle(event: unknown) {
    const { stdout } = await run(process.execPath, ['-e', INVOKE_SCRIPT], {
      cwd: PACKAGE_DIR,
      env: {
        PATH: process.env.PATH,
        BUNDLE,
        EVENT: JSON.stringify(event),
        CONTEXT: JSON.stringify(CONTEXT),
        DEVICE_SECRET_ARN: SECRET_ARN,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: fake.url,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'AKIDTEST',
        AWS_SECRET_ACCESS_KEY: 'test-secret-key',
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      },
    });
    const lines = stdout.trim().split('\n');
    const result = JSON.parse(
      lines.find((line) => line.startsWith('RESULT '))?.slice('RESULT '.length) ?? 'null',
    ) as IoTCustomAuthorizerResult;
    // Outside Lambda (text log format) the decision is one JSON line on stdout.
    const decisions = lines
      .filter((line) => !line.startsWith('RESULT '))
      .map((line) => JSON.parse(line) as unknown);
    return { result, decisions };
  }

  it('loads in a plain Node process and allows the JS SDK direct event', async () => {
    const requestsBefore = fake.requests.length;
    const { result, decisions } = await invokeBundle(fixture('sdk-direct-unsigned'));
    expect(result).toEqual({
      isAuthenticated: true,
      principalId: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
      disconnectAfterInSeconds: 86_400,
      refreshAfterInSeconds: 300,
      policyDocuments: devicePolicies('test-direct-1'),
    });
    expect(decisions).toEqual([
      expect.objectContaining({ decision: 'ALLOW', reason: 'PASSWORD_OK', clientId: 'test-direct-1' }),
    ]);
    expect(fake.requests.length - requestsBefore).toBe(1);
  });

  it('allows an X.509 event with its certificate id as principal, without any Secrets Manager request', async () => {
    const certificate = await createDeviceCertificate(await newKeys(), { commonName: 'test-mtls-demo' });
    const requestsBefore = fake.requests.length;
    const { result, decisions } = await invokeBundle(certificateEvent(certificate));
    expect(result).toEqual({
      isAuthenticated: true,
      principalId: certificate.certificateId,
      disconnectAfterInSeconds: 86_400,
      refreshAfterInSeconds: 300,
      policyDocuments: devicePolicies('test-mtls-demo'),
    });
    expect(decisions).toEqual([
      expect.objectContaining({
        decision: 'ALLOW',
        reason: 'X509_OK',
        mode: 'x509',
        certificateId: certificate.certificateId,
        subjectCn: 'test-mtls-demo',
      }),
    ]);
    expect(fake.requests.length).toBe(requestsBefore);
  });
});
