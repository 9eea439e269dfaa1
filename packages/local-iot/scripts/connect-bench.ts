// Connect benchmark: how fast local-iot runs the whole custom-auth connect path (TLS, MQTT 5 CONNECT, authorizer
// pick, Lambda invocation in a worker, response validation, policy evaluation, CONNACK) for an independent
// MQTT client. Not a test: it prints figures. Run after a synth:
//   npx cdk synth --quiet && npx tsx packages/local-iot/scripts/connect-bench.ts [connections] [concurrency]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  STACK_OUTPUTS,
  buildCustomAuthUsername,
  findWorkspaceRoot,
  parseDeviceCredentials,
} from '@iot-custom-auth/protocol';
import { connect } from 'mqtt';
import { startLocalIot } from '../src/local-iot';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 300);
  const concurrency = Number(process.argv[3] ?? 8);
  const repoRoot = findWorkspaceRoot(__dirname) as string;
  const stateDir = mkdtempSync(path.join(tmpdir(), 'local-iot-bench-'));
  const local = await startLocalIot({
    cdkOut: path.join(repoRoot, 'cdk.out'),
    stateDir,
    port: 0,
    log: () => {},
  });
  try {
    const { connection } = local;
    const outputs = local.runtime.outputs;
    const secrets = new SecretsManagerClient({
      region: connection.region,
      endpoint: connection.awsEndpointUrl,
      credentials: connection.credentials,
    });
    const secret = await secrets.send(
      new GetSecretValueCommand({ SecretId: outputs[STACK_OUTPUTS.deviceSecretArn] }),
    );
    secrets.destroy();
    const credentials = parseDeviceCredentials(secret.SecretString);
    if (credentials === undefined) throw new Error('the device secret is not readable');
    const username = buildCustomAuthUsername({
      user: credentials.username,
      authorizerName: outputs[STACK_OUTPUTS.unsignedAuthorizerName],
    });
    const ca = readFileSync(connection.caFile);

    const connectOnce = (i: number): Promise<number> =>
      new Promise((resolve, reject) => {
        const started = performance.now();
        const client = connect(`mqtts://${connection.endpoint}:${connection.port}`, {
          protocolVersion: 5,
          clientId: `test-bench-${i}`,
          username,
          password: credentials.password,
          ca,
          ALPNProtocols: ['mqtt'],
          reconnectPeriod: 0,
        });
        client.once('connect', () => {
          const elapsed = performance.now() - started;
          client.end(true, () => resolve(elapsed));
        });
        client.once('error', (error) => {
          client.end(true);
          reject(error);
        });
      });

    await connectOnce(-1); // warm the Lambda worker and the secret cache, as a warm AWS Lambda would be
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) latencies.push(await connectOnce(next++));
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number): string =>
      (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
    console.log(`connects: ${total} with concurrency ${concurrency} in ${seconds.toFixed(2)} s`);
    console.log(`throughput: ${(total / seconds).toFixed(0)} connects/s`);
    console.log(`latency ms: p50 ${pct(0.5)}  p95 ${pct(0.95)}  p99 ${pct(0.99)}  max ${pct(1)}`);
    console.log(`Lambda invocations: ${local.runtime.invocationCount()}`);
  } finally {
    await local.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
