import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { IClientOptions } from 'mqtt';
import { AWS_IOT_LOG_GROUP, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { DeploymentError } from '../../src/errors';
import type { LocalIot } from '../../src/local-iot';
import { demoTemplate, FUNCTIONS_DIR, rsaKeyPair, writeAssembly } from '../fixtures/assembly';
import { x509Template } from '../fixtures/x509-assembly';
import { useLocalIot } from '../support/local-iot-harness';
import { TestClient } from '../support/mqtt-test-client';
import { serveStack, type ServeOptions } from '../support/served-stack';
import { signedIotCall } from '../support/sigv4-signing';
import { withTimeout } from '../support/wait';
import { testCertificate, type TestCertificate } from '../support/x509-certificates';

// The X.509 listener across a redeploy (watch mode swaps the deployment in place): same port, same CA, and
// the new deployment's certificate registrations apply from the next connection on. Served from the fixture
// stack in mtls-infra's template shape, whose authorizer is the behaviours fixture ('x509-principal': allow
// with the certificate id as principalId).

const STACK = 'X509RedeployStack';
const { publicKey } = rsaKeyPair();
let cdkOut: string;
let device: TestCertificate;

function writeStack(certificateStatus: string): void {
  writeAssembly(
    cdkOut,
    STACK,
    x509Template({
      stackName: STACK,
      publicKeyPem: publicKey,
      certificatePem: device.certPem,
      certificate: { Status: certificateStatus },
    }),
    { fn: join(FUNCTIONS_DIR, 'behaviours') },
  );
}

const served = useLocalIot({
  assembly: async (scratch) => {
    device = await testCertificate();
    cdkOut = join(scratch, 'cdk.out');
    writeStack('ACTIVE');
    return cdkOut;
  },
  serve: { isolation: 'thread' },
});

const clients: TestClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.end();
});

function x509Options(alpn: readonly string[] | undefined, local: LocalIot = served.local): IClientOptions {
  const { x509 } = local.connection;
  return {
    host: '127.0.0.1',
    port: x509?.port ?? 0,
    protocol: 'mqtts',
    servername: x509?.endpoint ?? '',
    ca: readFileSync(local.connection.caFile),
    cert: device.certPem,
    key: device.keyPem,
    ...(alpn && { ALPNProtocols: [...alpn] }),
    clientId: 'test-mtls-demo',
    username: 'x509-principal',
  };
}

async function connackCode(
  alpn: readonly string[] | undefined = ['mqtt'],
  local: LocalIot = served.local,
): Promise<number> {
  const { client, reasonCode } = await TestClient.open(
    `mqtts://127.0.0.1:${local.connection.x509?.port ?? 0}`,
    x509Options(alpn, local),
  );
  clients.push(client);
  return reasonCode;
}

describe('the X.509 listener of a fixture stack', () => {
  it('admits the registered certificate with ALPN mqtt, x-amzn-mqtt-ca or none', async () => {
    expect(await connackCode(['mqtt'])).toBe(0);
    expect(await connackCode(['x-amzn-mqtt-ca'])).toBe(0);
    expect(await connackCode(undefined)).toBe(0);
    expect(served.log.matching('connect', { clientId: 'test-mtls-demo' }).at(-1)).toMatchObject({
      authentication: 'CUSTOM_AUTH_X509',
      clientCertificateId: device.id,
      decision: 'allow',
    });
    expect(served.output(STACK_OUTPUTS.demoCertificateId)).toBe(device.id);
    expect(served.log.matching('listening', { authentication: 'CUSTOM_AUTH_X509' })).toEqual([
      expect.objectContaining({ port: served.local.connection.x509?.port }),
    ]);
    expect(served.local.notices).toEqual([]);
  });

  it('answers DescribeDomainConfiguration and DescribeCertificate on the local IoT API', async () => {
    const { connection } = served.local;
    const name = served.output(STACK_OUTPUTS.x509DomainConfigurationName);
    const domain = await signedIotCall(
      connection,
      'GET',
      `${connection.awsEndpointUrl}/domainConfigurations/${encodeURIComponent(name)}`,
    );
    expect(domain.status).toBe(200);
    expect(await domain.json()).toMatchObject({
      domainConfigurationName: name,
      domainName: connection.x509?.endpoint,
      authenticationType: 'CUSTOM_AUTH_X509',
      applicationProtocol: 'SECURE_MQTT',
      domainConfigurationStatus: 'ENABLED',
      authorizerConfig: {
        defaultAuthorizerName: served.output(STACK_OUTPUTS.x509AuthorizerName),
        allowAuthorizerOverride: false,
      },
    });
    const certificate = await signedIotCall(
      connection,
      'GET',
      `${connection.awsEndpointUrl}/certificates/${device.id}`,
    );
    expect(await certificate.json()).toMatchObject({
      certificateDescription: {
        certificateId: device.id,
        status: 'ACTIVE',
        certificateMode: 'SNI_ONLY',
        certificatePem: device.certPem,
      },
    });
    const unknown = await signedIotCall(
      connection,
      'GET',
      `${connection.awsEndpointUrl}/certificates/${'0'.repeat(64)}`,
    );
    expect(unknown.status).toBe(404);
  });

  it('refuses ALPN it does not speak during the handshake, saying what it speaks', async () => {
    const { x509 } = served.local.connection;
    await withTimeout(
      new Promise<void>((resolve) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: x509?.port ?? 0,
          servername: x509?.endpoint ?? '',
          ca: readFileSync(served.local.connection.caFile),
          cert: device.certPem,
          key: device.keyPem,
          ALPNProtocols: ['http/1.1'],
        });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
      }),
      'the handshake to fail',
    );
    const refusal = await served.log.waitFor('tls-refused', {});
    expect(refusal.reason).toBe(
      "the client offered ALPN 'http/1.1'; this port speaks 'mqtt', 'x-amzn-mqtt-ca' (MQTT over TLS with a client certificate)",
    );
  });

  it('keeps its port and CA across a redeploy, whose registrations apply to the next connection', async () => {
    const before = { ...served.local.connection };
    const ca = readFileSync(before.caFile, 'utf8');
    writeStack('INACTIVE');
    const swap = await served.local.redeploy();
    expect(swap.notices).toEqual([]);
    expect(served.local.connection.x509).toEqual(before.x509);
    expect(served.local.gateway.x509?.port).toBe(before.x509?.port);
    expect(readFileSync(before.caFile, 'utf8')).toBe(ca);
    await expect(connackCode()).rejects.toThrow('connection closed before CONNACK');
    const refusal = await served.log.waitFor('tls-refused', { cause: 'client-certificate-inactive' });
    expect(refusal).toMatchObject({ clientCertificateId: device.id });
    // AWS IoT's Connect entry: an authentication failure before any authorizer, with the exact reason.
    const entries = (served.local.logs.group(AWS_IOT_LOG_GROUP)?.events ?? []).map(
      (event) => JSON.parse(event.message) as Record<string, unknown>,
    );
    expect(entries.find((entry) => entry.traceId === refusal.connectionId)).toMatchObject({
      status: 'Failure',
      reason: 'AUTHENTICATION_FAILURE',
      details: refusal.reason,
    });
    writeStack('ACTIVE');
    await served.local.redeploy();
    expect(await connackCode()).toBe(0);
  });
});

describe('an X.509 endpoint host of its own', () => {
  it('is the domain name, the certificate names it, and a name that does not resolve is a notice', async () => {
    const other = await serveStack(
      (scratch) =>
        writeAssembly(
          join(scratch, 'cdk.out'),
          STACK,
          x509Template({ stackName: STACK, publicKeyPem: publicKey, certificatePem: device.certPem }),
          { fn: join(FUNCTIONS_DIR, 'behaviours') },
        ),
      { isolation: 'thread', x509EndpointHost: 'mtls.invalid' },
    );
    try {
      const { connection, runtime, notices } = other.local;
      expect(connection.x509?.endpoint).toBe('mtls.invalid');
      expect(runtime.outputs[STACK_OUTPUTS.x509Endpoint]).toBe('mtls.invalid');
      expect(runtime.outputs[STACK_OUTPUTS.endpoint]).toBe('localhost');
      expect(
        new X509Certificate(readFileSync(join(dirname(connection.caFile), 'server.pem'))).subjectAltName,
      ).toContain('DNS:mtls.invalid');
      expect(notices).toEqual([
        expect.stringMatching(
          /^the X\.509 endpoint host 'mtls\.invalid' does not resolve \(\w+\), so clients cannot reach it by name: add it to \/etc\/hosts/,
        ),
      ]);
    } finally {
      await other.close();
    }
  });
});

describe('a CUSTOM_AUTH_X509 domain configuration a redeploy adds', () => {
  /** Serves the stack without its X.509 side; `addX509` and `removeX509` rewrite its cdk.out. */
  async function serveWithoutX509(options: ServeOptions = {}) {
    let stackDir = '';
    const writeTemplate = (withX509: boolean): void => {
      writeAssembly(
        stackDir,
        STACK,
        withX509
          ? x509Template({ stackName: STACK, publicKeyPem: publicKey, certificatePem: device.certPem })
          : demoTemplate({ asset: 'fn', publicKeyPem: publicKey }),
        { fn: join(FUNCTIONS_DIR, 'behaviours') },
      );
    };
    const stack = await serveStack(
      (scratch) => {
        stackDir = join(scratch, 'cdk.out');
        writeTemplate(false);
        return stackDir;
      },
      { isolation: 'thread', ...options },
    );
    return { ...stack, addX509: () => writeTemplate(true), removeX509: () => writeTemplate(false) };
  }

  it('is served from that redeploy on: its listener starts and connection.json names it', async () => {
    const stack = await serveWithoutX509();
    try {
      expect(stack.local.gateway.x509).toBeUndefined();
      expect(stack.local.connection.x509).toBeUndefined();
      stack.addX509();
      const swap = await stack.local.redeploy();
      const { x509 } = stack.local.connection;
      expect(x509).toEqual({
        endpoint: 'localhost',
        port: stack.local.gateway.x509?.port,
        domainConfigurationName: stack.local.runtime.outputs[STACK_OUTPUTS.x509DomainConfigurationName],
      });
      expect(swap.x509Started).toEqual(x509);
      expect(swap.notices).toEqual([]);
      expect(JSON.parse(readFileSync(stack.local.connectionFile, 'utf8'))).toMatchObject({ x509 });
      expect(statSync(stack.local.connectionFile).mode & 0o777).toBe(0o600);
      expect(stack.log.matching('listening', { authentication: 'CUSTOM_AUTH_X509' })).toEqual([
        expect.objectContaining({ port: x509?.port }),
      ]);
      expect(await connackCode(['mqtt'], stack.local)).toBe(0);
      expect(stack.log.matching('connect', { clientId: 'test-mtls-demo' }).at(-1)).toMatchObject({
        authentication: 'CUSTOM_AUTH_X509',
        clientCertificateId: device.id,
        decision: 'allow',
      });
      // A redeploy that changes nothing of it keeps the listener and reports nothing started.
      const again = await stack.local.redeploy();
      expect(again.x509Started).toBeUndefined();
      expect(stack.local.connection.x509).toEqual(x509);
      // Redeployed without it (and without the certificate), the port refuses the device at TLS, saying why;
      // redeployed with it, the same port serves it again.
      stack.removeX509();
      await stack.local.redeploy();
      expect(stack.local.connection.x509).toBeUndefined();
      await expect(
        TestClient.open(`mqtts://127.0.0.1:${x509?.port ?? 0}`, {
          ...x509Options(['mqtt'], stack.local),
          port: x509?.port ?? 0,
          servername: x509?.endpoint ?? '',
        }),
      ).rejects.toThrow('connection closed before CONNACK');
      expect(
        await stack.log.waitFor('tls-refused', { cause: 'client-certificate-not-registered' }),
      ).toMatchObject({ clientCertificateId: device.id });
      stack.addX509();
      expect((await stack.local.redeploy()).x509Started).toBeUndefined();
      expect(stack.local.gateway.x509?.port).toBe(x509?.port);
      expect(await connackCode(['mqtt'], stack.local)).toBe(0);
    } finally {
      await stack.close();
    }
  });

  it('leaves the current deployment served when its port cannot be bound, and a later redeploy serves it', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    const stack = await serveWithoutX509({ x509Port: taken });
    try {
      stack.addX509();
      const failed = stack.local.redeploy();
      await expect(failed).rejects.toThrow(DeploymentError);
      await expect(failed).rejects.toThrow(
        new RegExp(
          `^cannot serve the new domain configuration '${STACK}-X509Domain-\\w+' \\(CUSTOM_AUTH_X509\\): cannot listen on 127\\.0\\.0\\.1:${taken} \\(EADDRINUSE\\): stop the process using it or choose another port \\(--x509-port\\); the current deployment stays$`,
        ),
      );
      expect(stack.local.runtime.deployment.x509Domain).toBeUndefined();
      expect(stack.local.gateway.x509).toBeUndefined();
      expect(JSON.parse(readFileSync(stack.local.connectionFile, 'utf8'))).not.toHaveProperty('x509');
      await new Promise<void>((resolve, reject) =>
        squatter.close((error) => (error ? reject(error) : resolve())),
      );
      const swap = await stack.local.redeploy();
      expect(swap.x509Started?.port).toBe(taken);
      expect(await connackCode(['mqtt'], stack.local)).toBe(0);
    } finally {
      squatter.close();
      await stack.close();
    }
  });

  it('on a host of its own, says when that name does not resolve here', async () => {
    const stack = await serveWithoutX509({ x509EndpointHost: 'mtls.invalid' });
    try {
      stack.addX509();
      const swap = await stack.local.redeploy();
      expect(swap.x509Started).toMatchObject({ endpoint: 'mtls.invalid' });
      expect(swap.notices).toEqual([
        expect.stringMatching(/^the X\.509 endpoint host 'mtls\.invalid' does not resolve \(\w+\)/),
      ]);
    } finally {
      await stack.close();
    }
  });
});
