import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as path from 'node:path';
import fc from 'fast-check';
import type { IClientOptions } from 'mqtt';
import { DEFAULTS, demoDeviceCertificateFiles, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { useLocalIot } from '../support/local-iot-harness';
import { TestClient } from '../support/mqtt-test-client';
import { REPO_ROOT } from '../support/synthesized-stack';
import { withTimeout } from '../support/wait';
import { testCertificate, type TestCertificate } from '../support/x509-certificates';

// The stack's CUSTOM_AUTH_X509 domain configuration served by local-iot's X.509 listener, reached by clients
// this project did not write (mqtt.js, mosquitto_pub) with the demo device certificate the synth created in
// .keys/ and registered (AWS::IoT::Certificate, SNI_ONLY, ACTIVE), and with certificates it did not register.

const served = useLocalIot();

// The default prefix's demo files (`.keys/test-mtls-demo-cert.pem`, `-key.pem`), named after their CN.
const DEMO_FILES = demoDeviceCertificateFiles(DEFAULTS.clientIdPrefix);
const DEMO_CLIENT_ID = DEMO_FILES.subjectCn;
const demoFiles = {
  certFile: path.join(REPO_ROOT, DEMO_FILES.directory, DEMO_FILES.certificate),
  keyFile: path.join(REPO_ROOT, DEMO_FILES.directory, DEMO_FILES.privateKey),
};
// Read once the served stack's synth has made sure the files exist (useLocalIot's beforeAll runs first).
let demo: { cert: string; key: string };
beforeAll(() => {
  expect(served.outputs[STACK_OUTPUTS.clientIdPrefix]).toBe(DEFAULTS.clientIdPrefix);
  demo = { cert: readFileSync(demoFiles.certFile, 'utf8'), key: readFileSync(demoFiles.keyFile, 'utf8') };
});

const clients: TestClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.end();
});

/** mqtt.js options for the X.509 listener: SNI = its host, ALPN mqtt, the local CA, a client certificate. */
function x509Options(clientId: string, certificate?: { cert: string; key: string }): IClientOptions {
  const x509 = served.local.connection.x509;
  if (x509 === undefined) throw new Error('connection.json has no x509 listener');
  return {
    host: '127.0.0.1',
    port: x509.port,
    protocol: 'mqtts',
    servername: x509.endpoint,
    ca: readFileSync(served.local.connection.caFile),
    ALPNProtocols: ['mqtt'],
    clientId,
    ...(certificate && { cert: certificate.cert, key: certificate.key }),
  };
}

async function connackCode(options: IClientOptions): Promise<number> {
  const x509 = served.local.connection.x509;
  const { client, reasonCode } = await TestClient.open(`mqtts://127.0.0.1:${x509?.port ?? 0}`, options);
  clients.push(client);
  return reasonCode;
}

/** The authorizer Lambda's JSON decision lines (the stack logs JSON), newest last. */
function lambdaDecisions(): Record<string, unknown>[] {
  return served.functionLog
    .map((line) => /^\[[^\]]+\] (\{.*\})$/.exec(line)?.[1])
    .filter((json): json is string => json !== undefined)
    .map((json) => JSON.parse(json) as { message?: unknown })
    .map((entry) => entry.message)
    .filter((message): message is Record<string, unknown> => typeof message === 'object' && message !== null);
}

let unregistered: TestCertificate;
beforeAll(async () => {
  unregistered = await testCertificate({ commonName: DEMO_CLIENT_ID });
});

describe('the X.509 listener (CUSTOM_AUTH_X509 domain configuration) with mqtt.js', () => {
  it('is described by connection.json and the X509Endpoint output', () => {
    const { connection } = served.local;
    expect(connection.x509).toEqual({
      endpoint: connection.endpoint,
      port: expect.any(Number) as unknown,
      domainConfigurationName: served.output(STACK_OUTPUTS.x509DomainConfigurationName),
    });
    expect(connection.x509?.port).not.toBe(connection.port);
    expect(served.output(STACK_OUTPUTS.x509Endpoint)).toBe(connection.x509?.endpoint);
    const written = JSON.parse(readFileSync(served.local.connectionFile, 'utf8')) as typeof connection;
    expect(written.x509).toEqual(connection.x509);
  });

  it('admits the demo certificate: the Lambda sees it, the log asserts the certificate was verified', async () => {
    expect(await connackCode(x509Options(DEMO_CLIENT_ID, demo))).toBe(0);
    const certificateId = served.output(STACK_OUTPUTS.demoCertificateId);
    expect(served.log.matching('connect', { clientId: DEMO_CLIENT_ID }).at(-1)).toMatchObject({
      transport: 'mqtt',
      authentication: 'CUSTOM_AUTH_X509',
      clientCertificateId: certificateId,
      serverName: served.local.connection.x509?.endpoint,
      authorizer: served.output(STACK_OUTPUTS.x509AuthorizerName),
      signature: 'not-required',
      lambdaInvoked: true,
      decision: 'allow',
    });
    expect(lambdaDecisions().at(-1)).toMatchObject({
      mode: 'x509',
      decision: 'ALLOW',
      reason: 'X509_OK',
      certificateId,
      subjectCn: DEMO_CLIENT_ID,
      clientId: DEMO_CLIENT_ID,
    });
    // The decision line names the certificate, never its PEM.
    expect(served.functionLog.join('\n')).not.toContain('BEGIN CERTIFICATE');
  });

  it('ignores an authorizer named in the username (AllowAuthorizerOverride false)', async () => {
    const options = {
      ...x509Options(DEMO_CLIENT_ID, demo),
      username: served.unsignedUsername(DEMO_CLIENT_ID),
    };
    expect(await connackCode(options)).toBe(0);
    expect(served.log.matching('connect', { clientId: DEMO_CLIENT_ID }).at(-1)).toMatchObject({
      authorizer: served.output(STACK_OUTPUTS.x509AuthorizerName),
      decision: 'allow',
    });
  });

  it('refuses a client id other than the certificate CN with the Lambda reason', async () => {
    expect(await connackCode(x509Options('test-mtls-other', demo))).toBe(0x86);
    expect(served.log.matching('connect', { clientId: 'test-mtls-other' }).at(-1)).toMatchObject({
      authentication: 'CUSTOM_AUTH_X509',
      decision: 'deny',
      reasonCode: '0x86',
    });
    expect(lambdaDecisions().at(-1)).toMatchObject({
      mode: 'x509',
      decision: 'DENY',
      reason: 'X509_CLIENT_ID_MISMATCH',
      clientId: 'test-mtls-other',
    });
  });

  it('refuses a certificate the stack did not register before the Lambda', async () => {
    const before = served.runtime.invocationCount();
    await expect(
      connackCode(x509Options(DEMO_CLIENT_ID, { cert: unregistered.certPem, key: unregistered.keyPem })),
    ).rejects.toThrow('connection closed before CONNACK');
    const refusal = await served.log.waitFor('tls-refused', { clientCertificateId: unregistered.id });
    expect(refusal).toMatchObject({
      cause: 'client-certificate-not-registered',
      reason: expect.stringContaining('is not registered in the stack') as unknown,
    });
    expect(served.runtime.invocationCount()).toBe(before);
  });

  it('refuses a connection without a client certificate before the Lambda', async () => {
    const before = served.runtime.invocationCount();
    const refusedBefore = served.log.matching('tls-refused', { cause: 'no-client-certificate' }).length;
    await expect(connackCode(x509Options(DEMO_CLIENT_ID))).rejects.toThrow();
    await served.log.waitForCount('tls-refused', { cause: 'no-client-certificate' }, refusedBefore + 1);
    expect(served.runtime.invocationCount()).toBe(before);
  });

  it('survives garbage in the ClientHello and after the handshake', async () => {
    const x509 = served.local.connection.x509;
    if (x509 === undefined) throw new Error('no x509 listener');
    const ca = readFileSync(served.local.connection.caFile);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.boolean(), async (bytes, tls) => {
        await withTimeout(
          new Promise<void>((resolve) => {
            const socket = tls
              ? tlsConnect({
                  host: '127.0.0.1',
                  port: x509.port,
                  servername: x509.endpoint,
                  ca,
                  cert: demo.cert,
                  key: demo.key,
                  ALPNProtocols: ['mqtt'],
                })
              : netConnect({ host: '127.0.0.1', port: x509.port });
            socket.once(tls ? 'secureConnect' : 'connect', () => socket.end(Buffer.from(bytes)));
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
            socket.resume();
          }),
          'the gateway to close a garbage connection',
          20_000,
        );
      }),
      { numRuns: 25 },
    );
    // Still serving: a device connects as before.
    expect(await connackCode(x509Options(DEMO_CLIENT_ID, demo))).toBe(0);
  }, 120_000);
});

describe('the X.509 listener with mosquitto_pub', () => {
  /** Runs mosquitto_pub against the X.509 listener; resolves with its exit code and standard error. */
  function mosquittoPub(
    clientId: string,
    certificate?: { certFile: string; keyFile: string },
  ): Promise<{ code: number; stderr: string }> {
    const x509 = served.local.connection.x509;
    return new Promise((resolve) => {
      execFile(
        'mosquitto_pub',
        [
          ...['-h', x509?.endpoint ?? '', '-p', String(x509?.port ?? 0), '-V', 'mqttv5'],
          ...['--cafile', served.local.connection.caFile, '--tls-alpn', 'mqtt', '-i', clientId],
          ...(certificate ? ['--cert', certificate.certFile, '--key', certificate.keyFile] : []),
          ...['-t', `devices/${clientId}/hello`, '-m', 'hi', '-q', '1'],
        ],
        { timeout: 30_000 },
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
      );
    });
  }

  beforeAll(
    () =>
      new Promise<void>((resolve, reject) =>
        execFile(
          path.join(REPO_ROOT, 'scripts', 'ensure-debian-packages.sh'),
          ['mosquitto_pub=mosquitto-clients'],
          { timeout: 300_000 },
          (error, _o, stderr) =>
            error ? reject(new Error(`cannot install mosquitto-clients: ${stderr}`)) : resolve(),
        ),
      ),
    300_000,
  );

  it('connects and publishes with the demo certificate', async () => {
    const result = await mosquittoPub(DEMO_CLIENT_ID, demoFiles);
    expect(result).toEqual({ code: 0, stderr: '' });
    expect(served.log.matching('connect', { clientId: DEMO_CLIENT_ID }).at(-1)).toMatchObject({
      authentication: 'CUSTOM_AUTH_X509',
      clientCertificateId: served.output(STACK_OUTPUTS.demoCertificateId),
      decision: 'allow',
    });
  });

  it('is refused without a client certificate, and with a client id other than the CN', async () => {
    expect((await mosquittoPub(DEMO_CLIENT_ID)).code).not.toBe(0);
    const mismatch = await mosquittoPub('test-mtls-mosquitto', demoFiles);
    expect(mismatch.code).not.toBe(0);
    expect(served.log.matching('connect', { clientId: 'test-mtls-mosquitto' }).at(-1)).toMatchObject({
      decision: 'deny',
      reasonCode: '0x86',
    });
  });
});
