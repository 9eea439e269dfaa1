/**
 * Throughput and CPU time of the authorizer's decision paths, warm (master secret cached, Secrets Manager
 * stubbed with aws-sdk-client-mock, logging off). Not part of `npm test`:
 *
 *   npx tsx packages/authorizer-lambda/scripts/handler-bench.ts [invocations per case]
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createToken, deriveDevicePassword } from '@iot-custom-auth/protocol';
import { mockClient } from 'aws-sdk-client-mock';
import { MasterSecretCache, createHandler, loadConfig } from '../src';
import { certificateEvent, createDeviceCertificate, newKeys } from '../test/support/certificates';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench-AbCdEf';
const CONTEXT = { invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:bench' };
const MASTER_KEY = 'bench-master-key-0123456789abcdefghijklmnopqrstuvwxyz';
const PREVIOUS_KEY = 'bench-previous-master-key-0123456789abcdefghijklmnop';
const DEVICE = 'test-bench';
/** A revocation list of this many devices (the bench device not among them). */
const REVOKED_DEVICES = 1000;

function unsignedEvent(password: string, clientId: string, deviceId = DEVICE): unknown {
  return {
    signatureVerified: false,
    protocols: ['tls', 'mqtt'],
    protocolData: {
      mqtt: {
        username: `${deviceId}?x-amz-customauthorizer-name=Bench&SDK=IoTDeviceSDK/JS&Platform=Unix`,
        password: Buffer.from(password).toString('base64'),
        clientId,
      },
    },
    connectionMetadata: { id: 'e56f08c3-c559-490f-aa9f-7e8427d0f57b' },
  };
}

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 20_000);
  if (!Number.isInteger(iterations) || iterations <= 0) {
    throw new Error(
      `the number of invocations must be a positive integer, but '${process.argv[2]}' was given`,
    );
  }
  const revokedDevices = Object.fromEntries(
    Array.from({ length: REVOKED_DEVICES }, (_, i) => [`test-revoked-${i}`, '2026-01-01T00:00:00.000Z']),
  );
  const secretsManager = mockClient(SecretsManagerClient);
  secretsManager.on(GetSecretValueCommand).resolves({
    SecretString: JSON.stringify({
      masterKey: MASTER_KEY,
      revokedDevices,
      // A rotation in its grace period: the worst case, two derivations per connection.
      previousMasterKey: PREVIOUS_KEY,
      previousMasterKeyValidUntil: new Date(Date.now() + 3600_000).toISOString(),
    }),
  });
  const config = loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN });
  const handler = createHandler({
    config,
    masterSecret: new MasterSecretCache({
      client: new SecretsManagerClient({ region: 'eu-west-1' }),
      secretId: SECRET_ARN,
      ttlSeconds: 3600,
    }),
    log: () => undefined,
  });

  const password = deriveDevicePassword(MASTER_KEY, DEVICE);
  const token = createToken({ clientId: 'test-bench', lifetimeSeconds: 3600 });
  // X.509 mode parses the certificate (node:crypto) and hashes its DER on every connection; no Secrets Manager.
  const certificate = await createDeviceCertificate(await newKeys(), { commonName: 'test-mtls-demo' });
  const cases: [string, unknown, boolean][] = [
    ['allow unsigned (password)', unsignedEvent(password, DEVICE), true],
    [
      'allow unsigned (previous key)',
      unsignedEvent(deriveDevicePassword(PREVIOUS_KEY, DEVICE), DEVICE),
      true,
    ],
    [
      'allow signed (token)',
      { token, signatureVerified: true, protocolData: { mqtt: { clientId: 'test-bench' } } },
      true,
    ],
    ['deny wrong password', unsignedEvent('x'.repeat(43), DEVICE), false],
    [
      'deny revoked device',
      unsignedEvent(deriveDevicePassword(MASTER_KEY, 'test-revoked-7'), 'test-revoked-7', 'test-revoked-7'),
      false,
    ],
    ['deny unsafe client id', unsignedEvent(password, 'test-#'), false],
    ['allow x509 (certificate)', certificateEvent(certificate), true],
    ['deny x509 client id not the CN', certificateEvent(certificate, 'test-other'), false],
  ];

  await handler(cases[0]?.[1], CONTEXT); // warm the master secret cache
  console.log(
    `${iterations} sequential invocations per case, warm, ${REVOKED_DEVICES} revoked devices, rotation grace on, Node ${process.version}`,
  );
  for (const [name, event, expected] of cases) {
    const cpuStarted = process.cpuUsage();
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      const result = await handler(event, CONTEXT);
      if (result.isAuthenticated !== expected) throw new Error(`${name}: unexpected decision`);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuStarted);
    const cpuMicros = (cpu.user + cpu.system) / iterations;
    const perSecond = Math.round(iterations / seconds);
    console.log(
      `${name.padEnd(30)} ${String(perSecond).padStart(8)} invocations/s  ${((seconds / iterations) * 1e6).toFixed(1)} µs each  ${cpuMicros.toFixed(1)} µs CPU each`,
    );
  }
  secretsManager.restore();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
