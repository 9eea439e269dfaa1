import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { createDeviceCertificate, type DeviceCertificate } from './support/device-certificates';
import { parseArgs, usage, type CliConfig } from '../src/args';
import { prepareConnection, type PlanDeps } from '../src/connect-plan';
import { ConfigError, UsageError } from '../src/errors';
import { runDiagnose } from '../src/diagnose/run-diagnose';
import { readClientCertificate, type ClientCertificateSource } from '../src/mtls';
import { parseStormArgs } from '../src/storm/storm-args';
import type { LoadedOutputs, OutputsRequest } from '../src/outputs';
import type { SecretInput } from '../src/secret-input';
import { jsonReport, connectingLines } from '../src/report';
import { rejectionOf, thrownBy } from './fixtures/caught';
import { inMemoryFiles } from './fixtures/in-memory-files';

// Custom authentication with an X.509 client certificate (CUSTOM_AUTH_X509): the flag rules, the checks of the
// certificate and key before any network call, and the connection plan (endpoint, port, SNI, ALPN, client id).

const NOW = Date.UTC(2026, 5, 1);
const DAY_MS = 86_400_000;
const X509_ENDPOINT = 'abc123-x509.iot.eu-west-1.amazonaws.com';

/** No environment, no files, no warnings: only the flags count. */
const NO_SECRETS: SecretInput = {
  env: {},
  readSecretFile: () => {
    throw new Error('no secret file in these tests');
  },
  readStdin: () => '',
  checkMode: true,
  warn: () => undefined,
};

const parse = (argv: readonly string[]): CliConfig => parseArgs(argv, NO_SECRETS);

let demo: DeviceCertificate;
let devDemo: DeviceCertificate;
let other: DeviceCertificate;
let expired: DeviceCertificate;
let future: DeviceCertificate;
let rsa: DeviceCertificate;

beforeAll(async () => {
  [demo, devDemo, other, expired, future, rsa] = await Promise.all([
    createDeviceCertificate({
      commonName: 'test-mtls-demo',
      notBefore: new Date(NOW - DAY_MS),
      notAfter: new Date(NOW + 365 * DAY_MS),
    }),
    createDeviceCertificate({ commonName: 'dev-mtls-demo', notBefore: new Date(NOW - DAY_MS) }),
    createDeviceCertificate({ commonName: 'test-other', notBefore: new Date(NOW - DAY_MS) }),
    createDeviceCertificate({
      commonName: 'test-expired',
      notBefore: new Date(NOW - 10 * DAY_MS),
      notAfter: new Date(NOW - DAY_MS),
    }),
    createDeviceCertificate({
      commonName: 'test-future',
      notBefore: new Date(NOW + DAY_MS),
      notAfter: new Date(NOW + 10 * DAY_MS),
    }),
    createDeviceCertificate({
      commonName: 'test-rsa',
      keyType: 'RSA',
      notBefore: new Date(NOW - DAY_MS),
      notAfter: new Date(NOW + DAY_MS),
    }),
  ]);
}, 60_000);

describe('flags', () => {
  it('reads --cert and --key, and --mtls', () => {
    expect(parse(['--cert', 'c.pem', '--key', 'k.pem'])).toMatchObject({
      certFile: 'c.pem',
      keyFile: 'k.pem',
    });
    expect(parse(['--mtls']).mtls).toBe(true);
    expect(parse(['--mtls', 'false']).mtls).toBeUndefined();
  });

  it.each([
    [
      ['--key', 'k.pem'],
      '--key needs --cert: give the device certificate with --cert <file> (or use --mtls for the demo certificate)',
    ],
    [
      ['--mtls', '--cert', 'c.pem', '--key', 'k.pem'],
      '--mtls connects with the demo certificate (.keys/<ClientIdPrefix>mtls-demo-cert.pem and .keys/<ClientIdPrefix>mtls-demo-key.pem; .keys/test-mtls-demo-cert.pem and .keys/test-mtls-demo-key.pem by default): leave it out when you give your own --cert and --key',
    ],
    [
      ['--mtls', '--use_websockets'],
      '--use_websockets cannot be used with --mtls: the X.509 domain configuration authenticates client certificates (CUSTOM_AUTH_X509) on direct MQTT over TLS (SECURE_MQTT) only; leave out --use_websockets',
    ],
    [
      ['--cert', 'c.pem', '--key', 'k.pem', '--signed'],
      "--signed cannot be used with --cert/--key: with a client certificate the X.509 domain configuration's own authorizer decides (signing disabled, no token); leave out --signed",
    ],
    [
      ['--mtls', '--custom_auth_token_key_name', 'token'],
      '--custom_auth_token_key_name cannot be used with --mtls: the X.509 authorizer has signing disabled and takes no token; leave it out (a user name and password may still be sent)',
    ],
    [
      ['--mtls', '--custom_auth_authorizer_name', 'Other'],
      '--custom_auth_authorizer_name cannot be used with --mtls: the X.509 domain configuration invokes its own default authorizer (the X509AuthorizerName output) and this stack allows no override; leave it out',
    ],
  ])('refuses %j with a usage error naming the fix', (argv, message) => {
    const error = thrownBy(() => parse(argv));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe(message);
  });

  it('names a token from the environment by its variable', () => {
    const error = thrownBy(() =>
      parseArgs(['--mtls'], {
        ...NO_SECRETS,
        env: { IOT_CUSTOM_AUTH_TOKEN: 't', IOT_CUSTOM_AUTH_SIGNATURE: 's' },
      }),
    );
    expect(error.message).toMatch(/^IOT_CUSTOM_AUTH_TOKEN cannot be used with --mtls/);
  });

  it('--help shows the three flags in the connection section and an example of each way', () => {
    const text = usage();
    const connection = text.slice(text.indexOf('Connection:'), text.indexOf('Custom authentication:'));
    expect(connection).toMatch(
      /^ {2}--cert <file> +Device certificate \(PEM\) for custom authentication with an X\.509/m,
    );
    expect(connection).toMatch(/^ {2}--key <file> +Private key \(PEM\) of --cert/m);
    expect(connection).toMatch(
      /^ {2}--mtls +Connect with the demo device certificate of the ClientIdPrefix output\s+\(\.keys\/<ClientIdPrefix>mtls-demo-cert\.pem/m,
    );
    expect(text).toContain('npm run connect -w client -- --mtls ');
    expect(text).toContain('npm run connect -w client -- --cert device.pem --key device.key');
    expect(text).not.toContain('--cert is not supported');
  });

  it('allows a user name and password with a certificate', () => {
    expect(parse(['--mtls', '--custom_auth_username', 'u', '--custom_auth_password', 'p'])).toMatchObject({
      mtls: true,
      username: 'u',
      password: 'p',
    });
  });
});

describe('readClientCertificate', () => {
  const read = (
    files: Record<string, string>,
    source: ClientCertificateSource = { kind: 'flags' },
    now = NOW,
  ) => readClientCertificate(inMemoryFiles(files), { certFile: '/c.pem', keyFile: '/k.pem' }, source, now);

  it('returns the certificate id (SHA-256 of the DER), the subject CN and the validity, EC and RSA', async () => {
    for (const pair of [demo, rsa]) {
      const certificate = await read({ '/c.pem': pair.certPem, '/k.pem': pair.keyPem });
      const der = new X509Certificate(pair.certPem).raw;
      expect(certificate.certificateId).toBe(createHash('sha256').update(der).digest('hex'));
      expect(certificate.certificateId).toMatch(/^[0-9a-f]{64}$/);
      expect(certificate).toMatchObject({ certPem: pair.certPem, keyPem: pair.keyPem, certFile: '/c.pem' });
    }
    expect((await read({ '/c.pem': demo.certPem, '/k.pem': demo.keyPem })).subjectCn).toBe('test-mtls-demo');
  });

  it.each<[string, () => Record<string, string>, RegExp]>([
    ['a missing certificate', () => ({ '/k.pem': demo.keyPem }), /^cannot read --cert \/c\.pem: ENOENT$/],
    ['a missing key', () => ({ '/c.pem': demo.certPem }), /^cannot read --key \/k\.pem: ENOENT$/],
    [
      'a certificate file that is not PEM',
      () => ({ '/c.pem': 'hello', '/k.pem': demo.keyPem }),
      /^--cert \/c\.pem is not a PEM certificate \(it has no -----BEGIN CERTIFICATE----- block\)/,
    ],
    [
      'swapped files',
      () => ({ '/c.pem': demo.keyPem, '/k.pem': demo.certPem }),
      /^--cert \/c\.pem is not a PEM certificate \(it holds a private key: are --cert and --key swapped\?\)/,
    ],
    [
      'a public key instead of the private key',
      () => ({
        '/c.pem': demo.certPem,
        '/k.pem': createPublicKey(demo.keyPem).export({ type: 'spki', format: 'pem' }).toString(),
      }),
      /^--key \/k\.pem is not a PEM private key \(it holds a public key; the private key is needed\)/,
    ],
    [
      'an encrypted key',
      () => ({
        '/c.pem': demo.certPem,
        '/k.pem': generateKeyPairSync('ec', {
          namedCurve: 'P-256',
          privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' },
          publicKeyEncoding: { type: 'spki', format: 'pem' },
        }).privateKey,
      }),
      /^--key \/k\.pem is encrypted: give it unencrypted \(openssl pkey/,
    ],
    [
      "another certificate's key",
      () => ({ '/c.pem': demo.certPem, '/k.pem': other.keyPem }),
      /^--key \/k\.pem is not the private key of --cert \/c\.pem: give the key the certificate was issued for$/,
    ],
    [
      'an expired certificate',
      () => ({ '/c.pem': expired.certPem, '/k.pem': expired.keyPem }),
      /^--cert \/c\.pem \(certificate id [0-9a-f]{64}\) expired on 2026-05-31T00:00:00\.000Z: AWS IoT refuses it in the TLS handshake; issue a new certificate/,
    ],
    [
      'a certificate not valid yet',
      () => ({ '/c.pem': future.certPem, '/k.pem': future.keyPem }),
      /^--cert \/c\.pem \(certificate id [0-9a-f]{64}\) is not valid before 2026-06-02T00:00:00\.000Z: .*check this machine's clock/,
    ],
  ])('refuses %s with one configuration error', async (_, files, message) => {
    const error = await rejectionOf(read(files()));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
    // The key never appears in a message.
    expect(error.message).not.toContain('PRIVATE KEY');
  });

  it('names the synth of the prefix and both files when the demo certificate does not exist', async () => {
    let error = await rejectionOf(read({}, { kind: 'demo', clientIdPrefix: 'test-' }));
    expect(error.message).toBe(
      'the demo device certificate /c.pem does not exist: run `npx cdk synth` at the repository root (the first synth with that client id prefix creates /c.pem and /k.pem), or give your own --cert and --key',
    );
    error = await rejectionOf(read({ '/c.pem': demo.certPem }, { kind: 'demo', clientIdPrefix: 'dev-' }));
    expect(error.message).toBe(
      'the demo device key /k.pem does not exist: run `npx cdk synth -c clientIdPrefix=dev-` at the repository root (the first synth with that client id prefix creates /c.pem and /k.pem), or give your own --cert and --key',
    );
  });

  it('names both demo files and the synth of the prefix when the demo certificate expired', async () => {
    const error = await rejectionOf(
      read({ '/c.pem': expired.certPem, '/k.pem': expired.keyPem }, { kind: 'demo', clientIdPrefix: 'dev-' }),
    );
    expect(error.message).toMatch(
      /^the demo device certificate \/c\.pem \(certificate id [0-9a-f]{64}\) expired on 2026-05-31T00:00:00\.000Z: AWS IoT refuses it in the TLS handshake; remove \/c\.pem and \/k\.pem and run `npx cdk synth -c clientIdPrefix=dev-` \(then deploy\) to create and register a new one$/,
    );
  });

  it('turns any garbage in either file into a configuration error, never another exception', async () => {
    const pem = (label: string) =>
      fc.base64String().map((body) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`);
    const content = fc.oneof(
      fc.string(),
      pem('CERTIFICATE'),
      pem('PRIVATE KEY'),
      pem('EC PRIVATE KEY'),
      fc.constant(demo.certPem),
      fc.constant(other.keyPem),
    );
    await fc.assert(
      fc.asyncProperty(content, content, async (cert, key) => {
        try {
          await read({ '/c.pem': cert, '/k.pem': key });
          // Only the real pair... and no generated garbage is a valid pair of the demo certificate.
          expect([cert, key]).toEqual([demo.certPem, demo.keyPem]);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('the connection plan', () => {
  const OUTPUTS: LoadedOutputs = {
    source: '/repo/cdk-outputs.json',
    stackName: 'IotCustomAuthorizerStack',
    values: {
      endpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com',
      region: 'eu-west-1',
      unsignedAuthorizerName: 'Stack-Unsigned',
      clientIdPrefix: 'test-',
      x509Endpoint: X509_ENDPOINT,
      x509AuthorizerName: 'Stack-X509',
      authorizerLogGroupName: '/aws/lambda/Stack-Authorizer',
    },
  };
  const LOCAL_OUTPUTS: LoadedOutputs = {
    ...OUTPUTS,
    source: '/repo/.local-iot/outputs.json',
    values: { ...OUTPUTS.values, x509Endpoint: 'localhost' },
    connection: {
      file: '/repo/.local-iot/connection.json',
      info: {
        endpoint: 'localhost',
        port: 8443,
        caFile: '/repo/.local-iot/ca.pem',
        awsEndpointUrl: 'http://127.0.0.1:4566',
        region: 'eu-west-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 's' },
        x509: { endpoint: 'localhost', port: 8444, domainConfigurationName: 'Stack-X509Domain' },
      },
    },
  };

  function planDeps(
    outputs: LoadedOutputs | undefined,
    files: Record<string, string> = {},
  ): { deps: PlanDeps; reads: OutputsRequest[] } {
    const reads: OutputsRequest[] = [];
    return {
      reads,
      deps: {
        outputs: {
          read: (request) => {
            reads.push(request);
            return Promise.resolve(outputs);
          },
        },
        credentials: {
          deviceCredentials: () =>
            Promise.reject(new Error('a certificate connection reads no device secret')),
          signedToken: () => Promise.reject(new Error('a certificate connection signs no token')),
        },
        readFile: inMemoryFiles({
          '/repo/.keys/test-mtls-demo-cert.pem': demo.certPem,
          '/repo/.keys/test-mtls-demo-key.pem': demo.keyPem,
          '/repo/.keys/dev-mtls-demo-cert.pem': devDemo.certPem,
          '/repo/.keys/dev-mtls-demo-key.pem': devDemo.keyPem,
          '/work/own-cert.pem': other.certPem,
          '/work/own-key.pem': other.keyPem,
          '/repo/.local-iot/ca.pem': demo.certPem,
          ...files,
        }),
        clock: () => NOW,
        randomId: () => 'id',
        paths: { invocationDir: '/work', repoRoot: '/repo' },
      },
    };
  }

  it('--mtls: the demo certificate, the X509Endpoint output on 443, ALPN mqtt, client id = subject CN, no password', async () => {
    const { deps } = planDeps(OUTPUTS);
    const prepared = await prepareConnection(parse(['--mtls']), deps);
    expect(prepared.request).toMatchObject({
      endpoint: X509_ENDPOINT,
      port: 443,
      transport: 'mqtt',
      clientId: 'test-mtls-demo',
      auth: {},
      clientCertificate: { certPem: demo.certPem, keyPem: demo.keyPem },
    });
    expect(prepared.request.caPem).toBeUndefined();
    expect(prepared.plan).toMatchObject({
      alpn: 'mqtt',
      authentication: 'CUSTOM_AUTH_X509',
      authorizerName: 'Stack-X509',
      clientCertificate: { file: '/repo/.keys/test-mtls-demo-cert.pem', subjectCn: 'test-mtls-demo' },
    });
    expect(prepared.warnings).toEqual([]);
    expect(prepared.context).toMatchObject({
      authorizerName: 'Stack-X509',
      passwordSource: 'none',
      signed: false,
    });
    const id = prepared.plan.clientCertificate?.id as string;
    expect(connectingLines(prepared.plan)[0]).toBe(
      `Connecting to ${X509_ENDPOINT}:443 over MQTT over mTLS (client certificate, ALPN mqtt) with authorizer Stack-X509 (CUSTOM_AUTH_X509), client id test-mtls-demo`,
    );
    expect(prepared.plan.credentials).toContain(`id ${id}`);
    const report = jsonReport({ plan: prepared.plan, durationMs: 1 });
    expect(report).toMatchObject({
      transport: 'mqtt',
      alpn: 'mqtt',
      authentication: 'CUSTOM_AUTH_X509',
      clientCertificate: { id, subjectCn: 'test-mtls-demo' },
    });
    expect(JSON.stringify(report)).not.toContain('PRIVATE');
    expect(JSON.stringify(prepared.plan)).not.toContain('PRIVATE');
  });

  it('against local-iot: the connection file x509 listener, its port and the local CA', async () => {
    const { deps } = planDeps(LOCAL_OUTPUTS);
    const prepared = await prepareConnection(parse(['--cert', 'own-cert.pem', '--key', 'own-key.pem']), deps);
    expect(prepared.request).toMatchObject({
      endpoint: 'localhost',
      port: 8444,
      clientId: 'test-other',
      caPem: demo.certPem,
    });
    expect(prepared.plan.clientCertificate?.file).toBe('/work/own-cert.pem');
  });

  it('--endpoint and --port win; no outputs are needed then', async () => {
    const { deps, reads } = planDeps(undefined);
    const prepared = await prepareConnection(
      parse([
        '--mtls',
        '--endpoint',
        'mine.example.com',
        '--port',
        '8443',
        '--custom_auth_username',
        'u',
        '--custom_auth_password',
        'p',
      ]),
      deps,
    );
    expect(reads[0]?.required).toBe(false);
    expect(prepared.request).toMatchObject({
      endpoint: 'mine.example.com',
      port: 8443,
      auth: { username: 'u', password: 'p' },
    });
    expect(prepared.plan.credentials).toContain(
      'user name u, password <redacted> (1 bytes, from --custom_auth_password)',
    );
  });

  it('warns before connecting when --client_id is not the subject CN (the authorizer refuses it)', async () => {
    const { deps } = planDeps(OUTPUTS);
    const prepared = await prepareConnection(parse(['--mtls', '--client_id', 'test-someone-else']), deps);
    expect(prepared.request.clientId).toBe('test-someone-else');
    expect(prepared.warnings).toEqual([
      "the client id is not the certificate's subject CN test-mtls-demo: the X.509 authorizer of stack IotCustomAuthorizerStack will refuse client id test-someone-else (CONNACK 0x86)",
    ]);
  });

  it.each<[string, LoadedOutputs | undefined, RegExp]>([
    [
      'outputs without X509Endpoint',
      { ...OUTPUTS, values: { ...OUTPUTS.values, x509Endpoint: undefined } },
      /^no X\.509 endpoint: \/repo\/cdk-outputs\.json \(stack IotCustomAuthorizerStack\) has no X509Endpoint output\. Deploy the stack .*`npm run local`.*--endpoint <domain name>$/,
    ],
    [
      'a local-iot without an X.509 listener',
      {
        ...LOCAL_OUTPUTS,
        connection: {
          ...LOCAL_OUTPUTS.connection!,
          info: { ...LOCAL_OUTPUTS.connection!.info, x509: undefined },
        },
      },
      /^\/repo\/\.local-iot\/connection\.json names no X\.509 endpoint: .*Run `npx cdk synth`.*restart `npm run local`/,
    ],
  ])('says which command fixes %s', async (_, outputs, message) => {
    const { deps } = planDeps(outputs);
    const error = await rejectionOf(prepareConnection(parse(['--mtls']), deps));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
  });

  it('--cert/--key: checks the certificate before it reads the outputs (no network, no AWS call for a bad key)', async () => {
    const { deps, reads } = planDeps(OUTPUTS, { '/work/own-key.pem': demo.keyPem });
    const error = await rejectionOf(
      prepareConnection(parse(['--cert', 'own-cert.pem', '--key', 'own-key.pem']), deps),
    );
    expect(error.message).toBe(
      '--key /work/own-key.pem is not the private key of --cert /work/own-cert.pem: give the key the certificate was issued for',
    );
    expect(reads).toEqual([]);
  });

  it("--mtls: the demo pair of the outputs' ClientIdPrefix, the default prefix's without outputs", async () => {
    const devOutputs: LoadedOutputs = { ...OUTPUTS, values: { ...OUTPUTS.values, clientIdPrefix: 'dev-' } };
    const dev = await prepareConnection(parse(['--mtls']), planDeps(devOutputs).deps);
    expect(dev.request).toMatchObject({
      clientId: 'dev-mtls-demo',
      clientCertificate: { certPem: devDemo.certPem, keyPem: devDemo.keyPem },
    });
    expect(dev.plan.clientCertificate).toMatchObject({
      file: '/repo/.keys/dev-mtls-demo-cert.pem',
      subjectCn: 'dev-mtls-demo',
    });
    expect(dev.warnings).toEqual([]);

    const withoutPrefix: LoadedOutputs = {
      ...OUTPUTS,
      values: { ...OUTPUTS.values, clientIdPrefix: undefined },
    };
    const fallback = await prepareConnection(parse(['--mtls']), planDeps(withoutPrefix).deps);
    expect(fallback.plan.clientCertificate?.file).toBe('/repo/.keys/test-mtls-demo-cert.pem');
    const local = await prepareConnection(
      parse(['--mtls', '--endpoint', 'localhost']),
      planDeps(undefined).deps,
    );
    expect(local.request.clientId).toBe('test-mtls-demo');
  });

  it("--mtls: names the exact files of the outputs' prefix when they are missing or do not match", async () => {
    const fleet: LoadedOutputs = { ...OUTPUTS, values: { ...OUTPUTS.values, clientIdPrefix: 'fleet-' } };
    let error = await rejectionOf(prepareConnection(parse(['--mtls']), planDeps(fleet).deps));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      'the demo device certificate /repo/.keys/fleet-mtls-demo-cert.pem does not exist: run `npx cdk synth -c clientIdPrefix=fleet-` at the repository root (the first synth with that client id prefix creates /repo/.keys/fleet-mtls-demo-cert.pem and /repo/.keys/fleet-mtls-demo-key.pem), or give your own --cert and --key',
    );
    const { deps } = planDeps(OUTPUTS, { '/repo/.keys/test-mtls-demo-key.pem': other.keyPem });
    error = await rejectionOf(prepareConnection(parse(['--mtls']), deps));
    expect(error.message).toBe(
      'the demo device key /repo/.keys/test-mtls-demo-key.pem is not the private key of the demo device certificate /repo/.keys/test-mtls-demo-cert.pem: give the key the certificate was issued for',
    );
  });

  it('--mtls: refuses a ClientIdPrefix output that would name a file outside .keys/, before reading any', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom('../', '/etc/', 'a/b', '..\\x'),
          fc.string().filter((prefix) => /[^A-Za-z0-9_.:-]/.test(prefix)),
        ),
        async (prefix) => {
          const outputs: LoadedOutputs = {
            ...OUTPUTS,
            values: { ...OUTPUTS.values, clientIdPrefix: prefix },
          };
          const read: string[] = [];
          const { deps } = planDeps(outputs);
          const readFile = deps.readFile;
          const error = await rejectionOf(
            prepareConnection(parse(['--mtls']), {
              ...deps,
              readFile: (file) => {
                read.push(file);
                return readFile(file);
              },
            }),
          );
          expect(error).toBeInstanceOf(ConfigError);
          expect(error.message).toMatch(
            /^the ClientIdPrefix output .* in \/repo\/cdk-outputs\.json makes no valid client id for the demo certificate \(.*\): fix the outputs, or give your own --cert and --key$/s,
          );
          expect(read).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('the commands built on connect', () => {
  it('storm refuses the certificate flags: one certificate is admitted only as its own CN', () => {
    for (const argv of [['--mtls'], ['--cert', 'c.pem'], ['--key', 'k.pem']]) {
      const error = thrownBy(() => parseStormArgs([...argv, '--connections', '2']));
      expect(error).toBeInstanceOf(UsageError);
      expect(error.message).toMatch(
        new RegExp(`^${argv[0] as string} is not a storm flag: .*admitted only as its own subject CN`),
      );
    }
  });

  it('diagnose refuses them with the command that explains a certificate refusal', async () => {
    let stderr = '';
    const unused = (): never => {
      throw new Error('diagnose must stop before any check');
    };
    const code = await runDiagnose(['--mtls'], {
      stdout: unused,
      stderr: (text) => (stderr += text),
      connector: { connect: unused },
      tlsProbe: unused,
      websocketProbe: unused,
      lookupHost: unused,
      aws: unused,
      outputs: { read: unused },
      credentials: { deviceCredentials: unused, signedToken: unused },
      readFile: unused,
      clock: () => NOW,
      randomId: () => 'id',
      paths: { invocationDir: '/work', repoRoot: '/repo' },
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^Error: diagnose checks custom authentication on the data endpoint, .*npm run connect -w client -- --mtls/,
    );
  });
});
