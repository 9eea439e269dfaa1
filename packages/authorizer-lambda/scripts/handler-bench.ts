/**
 * Rough throughput of the authorizer's decision paths, warm (credentials cached, Secrets Manager stubbed
 * with aws-sdk-client-mock, logging off). Not part of `npm test`:
 *
 *   npx tsx packages/authorizer-lambda/scripts/handler-bench.ts [invocations per case]
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DEFAULT_DEVICE_USERNAME, createToken } from '@iot-custom-auth/protocol';
import { mockClient } from 'aws-sdk-client-mock';
import { DeviceCredentialsCache, createHandler, loadConfig } from '../src';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench-AbCdEf';
const CONTEXT = { invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:bench' };
const PASSWORD = 'bench-password-0123456789';

function unsignedEvent(password: string, clientId: string): unknown {
  return {
    signatureVerified: false,
    protocols: ['tls', 'mqtt'],
    protocolData: {
      mqtt: {
        username: `${DEFAULT_DEVICE_USERNAME}?x-amz-customauthorizer-name=Bench&SDK=IoTDeviceSDK/JS&Platform=Unix`,
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
  const secretsManager = mockClient(SecretsManagerClient);
  secretsManager
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ username: DEFAULT_DEVICE_USERNAME, password: PASSWORD }) });
  const config = loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN });
  const handler = createHandler({
    config,
    credentials: new DeviceCredentialsCache({
      client: new SecretsManagerClient({ region: 'eu-west-1' }),
      secretId: SECRET_ARN,
      ttlSeconds: 3600,
    }),
    log: () => undefined,
  });

  const token = createToken({ clientId: 'test-bench', lifetimeSeconds: 3600 });
  const cases: [string, unknown, boolean][] = [
    ['allow unsigned (password)', unsignedEvent(PASSWORD, 'test-bench'), true],
    [
      'allow signed (token)',
      { token, signatureVerified: true, protocolData: { mqtt: { clientId: 'test-bench' } } },
      true,
    ],
    ['deny wrong password', unsignedEvent('wrong-password', 'test-bench'), false],
    ['deny unsafe client id', unsignedEvent(PASSWORD, 'test-#'), false],
  ];

  await handler(cases[0]?.[1], CONTEXT); // warm the credentials cache
  console.log(`${iterations} sequential invocations per case, warm, Node ${process.version}`);
  for (const [name, event, expected] of cases) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      const result = await handler(event, CONTEXT);
      if (result.isAuthenticated !== expected) throw new Error(`${name}: unexpected decision`);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const perSecond = Math.round(iterations / seconds);
    console.log(
      `${name.padEnd(28)} ${String(perSecond).padStart(8)} invocations/s  ${((seconds / iterations) * 1e6).toFixed(1)} µs each`,
    );
  }
  secretsManager.restore();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
