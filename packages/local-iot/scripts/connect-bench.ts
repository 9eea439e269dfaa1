// Connect benchmark: how fast local-iot runs the custom-auth connect path. Not a test: it prints figures and
// never fails on timing. Run after a synth:
//   npx cdk synth --quiet && npx --no -- tsx packages/local-iot/scripts/connect-bench.ts [connections] [concurrency] [warm]
// (`--cdk-out DIR` serves another assembly than the repository's cdk.out).
//
// 1. The Lambda side by side in both isolations (`process`, the default, and `thread`): the real bundle behind
//    the custom-auth pipeline (authorizer pick, invocation, response validation, policy evaluation), cold
//    starts and warm invocations, with the CPU time each warm invocation costs (the host's, plus the
//    environment processes' own from /proc where there is one).
// 2. The whole connect path for an independent MQTT client (`mqtt` from npm: TLS, MQTT 5 CONNECT, the
//    pipeline, CONNACK) with the default isolation.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  STACK_OUTPUTS,
  buildCustomAuthUsername,
  findWorkspaceRoot,
  parseDeviceCredentials,
  type DeviceCredentials,
} from '@iot-custom-auth/protocol';
import { connect } from 'mqtt';
import type { ConnectAttempt } from '../src/auth/connect-types';
import { findSecret } from '../src/deployment/local-deployment';
import { ISOLATIONS, type InvocationTelemetry, type Isolation } from '../src/lambda/lambda-runner';
import { startLocalIot } from '../src/local-iot';
import { createLocalRuntime, type LocalRuntime } from '../src/local-runtime';

/** Cold starts measured per isolation (each in a fresh runtime). */
const COLD_STARTS = 5;

const args = parseArgs({ allowPositionals: true, options: { 'cdk-out': { type: 'string' } } });
const cdkOut = path.resolve(
  args.values['cdk-out'] ?? path.join(findWorkspaceRoot(__dirname) as string, 'cdk.out'),
);

async function main(): Promise<void> {
  const [total = 300, concurrency = 8, warm = 200] = args.positionals.map(Number);
  console.log(
    `local-iot ${__filename.endsWith('.ts') ? 'from its sources (environments load through tsx)' : 'from dist'}, Node.js ${process.version}`,
  );
  console.log('');
  console.log(
    `Lambda behind the custom-auth pipeline, real bundle: ${COLD_STARTS} cold starts and ${warm} warm invocations per isolation`,
  );
  console.log(
    'isolation  cold p50 ms  cold max ms  Init p50 ms  warm p50 ms  warm p95 ms  REPORT p50 ms  CPU/warm ms (host + environments)',
  );
  for (const isolation of ISOLATIONS) {
    const figures = await benchIsolation(isolation, warm);
    console.log(
      [
        isolation.padEnd(9),
        fixed(percentile(figures.cold, 0.5)).padStart(11),
        fixed(percentile(figures.cold, 1)).padStart(12),
        fixed(percentile(figures.init, 0.5)).padStart(12),
        fixed(percentile(figures.warm, 0.5), 2).padStart(12),
        fixed(percentile(figures.warm, 0.95), 2).padStart(12),
        fixed(percentile(figures.reported, 0.5), 2).padStart(14),
        `${fixed(figures.cpuPerWarmMs, 2)} (${fixed(figures.hostCpuPerWarmMs, 2)} + ${figures.environmentCpuPerWarmMs === undefined ? 'n/a' : fixed(figures.environmentCpuPerWarmMs, 2)})`.padStart(
          18,
        ),
      ].join('  '),
    );
  }
  console.log('');
  await benchConnects(total, concurrency);
}

interface IsolationFigures {
  /** Call to answer of each cold invocation (environment start, Init, the first secret fetch). */
  readonly cold: number[];
  /** Each cold start's Init Duration (from the REPORT). */
  readonly init: number[];
  /** Call to answer of each warm invocation, through the pipeline. */
  readonly warm: number[];
  /** Each warm invocation's REPORT Duration (inside the environment). */
  readonly reported: number[];
  readonly cpuPerWarmMs: number;
  readonly hostCpuPerWarmMs: number;
  /** The environment processes' CPU per warm invocation; undefined without /proc (or for threads: 0). */
  readonly environmentCpuPerWarmMs: number | undefined;
}

async function benchIsolation(isolation: Isolation, warm: number): Promise<IsolationFigures> {
  const figures = {
    cold: [] as number[],
    init: [] as number[],
    warm: [] as number[],
    reported: [] as number[],
    hostCpuMs: 0,
    environmentCpuMs: 0 as number | undefined,
    warmCount: 0,
  };
  for (let round = 0; round < COLD_STARTS; round++) {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'local-iot-bench-'));
    const runtime = await createLocalRuntime({
      cdkOut,
      stateDir,
      endpointHost: 'localhost',
      isolation,
      log: () => undefined,
    });
    const reports: Extract<InvocationTelemetry, { type: 'platform.report' }>['report'][] = [];
    runtime.runner.onTelemetry((event) => {
      if (event.type === 'platform.report') reports.push(event.report);
    });
    try {
      const attempt = connectAttempt(runtime);
      figures.cold.push(await timedConnect(runtime, attempt(0)));
      figures.init.push(reports[0]?.initDurationMs ?? Number.NaN);
      // The last round measures the warm invocations (the others only add cold starts).
      if (round === COLD_STARTS - 1) {
        const functionName = runtime.deployment.functions[0]?.name as string;
        const pids = runtime.runner
          .environments(functionName)
          .map((environment) => environment.pid)
          .filter((pid): pid is number => pid !== undefined);
        const hostBefore = process.cpuUsage();
        const environmentsBefore = processCpuMs(pids);
        for (let i = 1; i <= warm; i++) figures.warm.push(await timedConnect(runtime, attempt(i)));
        const host = process.cpuUsage(hostBefore);
        const environmentsAfter = processCpuMs(pids);
        figures.hostCpuMs = (host.user + host.system) / 1000;
        figures.environmentCpuMs =
          environmentsBefore === undefined || environmentsAfter === undefined
            ? undefined
            : environmentsAfter - environmentsBefore;
        figures.warmCount = warm;
        figures.reported.push(...reports.slice(1).map((report) => report.durationMs));
      }
    } finally {
      await runtime.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  const hostCpuPerWarmMs = figures.hostCpuMs / figures.warmCount;
  const environmentCpuPerWarmMs =
    figures.environmentCpuMs === undefined ? undefined : figures.environmentCpuMs / figures.warmCount;
  return {
    cold: figures.cold,
    init: figures.init,
    warm: figures.warm,
    reported: figures.reported,
    hostCpuPerWarmMs,
    environmentCpuPerWarmMs,
    cpuPerWarmMs: hostCpuPerWarmMs + (environmentCpuPerWarmMs ?? 0),
  };
}

/** Builds the n-th connect attempt a device makes through the unsigned authorizer. */
function connectAttempt(runtime: LocalRuntime): (n: number) => ConnectAttempt {
  const credentials = deviceCredentials(runtime);
  const username = buildCustomAuthUsername({
    user: credentials.username,
    authorizerName: runtime.outputs[STACK_OUTPUTS.unsignedAuthorizerName],
  });
  return (n) => ({
    connectionId: `bench-${n}`,
    transport: 'mqtt',
    alpn: 'mqtt',
    serverName: 'localhost',
    clientId: `test-bench-${n}`,
    username,
    password: Buffer.from(credentials.password),
  });
}

/** The device credentials the stack generated (read from the deployment: the bench measures the Lambda). */
function deviceCredentials(runtime: LocalRuntime): DeviceCredentials {
  const arn = runtime.outputs[STACK_OUTPUTS.deviceSecretArn] as string;
  const credentials = parseDeviceCredentials(findSecret(runtime.deployment, arn)?.secretString);
  if (credentials === undefined) throw new Error(`the device secret ${arn} is not readable`);
  return credentials;
}

async function timedConnect(runtime: LocalRuntime, attempt: ConnectAttempt): Promise<number> {
  const started = performance.now();
  const decision = await runtime.authorizer.authorize(attempt);
  const elapsed = performance.now() - started;
  if (!decision.allowed) throw new Error(`the benchmark connect was refused: ${decision.reason}`);
  return elapsed;
}

/** Clock ticks per second of /proc's CPU times. */
const clockTicks = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of `pids` in ms, from /proc/<pid>/stat; undefined where there is no /proc. */
function processCpuMs(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
    // Fields after the command name (which may hold spaces) start at the state: utime and stime are 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  }
  return total;
}

async function benchConnects(total: number, concurrency: number): Promise<void> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'local-iot-bench-'));
  const local = await startLocalIot({ cdkOut, stateDir, port: 0, log: () => {}, functionLog: () => {} });
  try {
    const { connection } = local;
    const credentials = deviceCredentials(local.runtime);
    const username = buildCustomAuthUsername({
      user: credentials.username,
      authorizerName: local.runtime.outputs[STACK_OUTPUTS.unsignedAuthorizerName],
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

    // Warm one environment and the secret cache, as a warm AWS Lambda would be; the run then starts more
    // environments on demand, up to its concurrency.
    await connectOnce(-1);
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) latencies.push(await connectOnce(next++));
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const functionName = local.runtime.deployment.functions[0]?.name as string;
    console.log(`Connect path with mqtt from npm (isolation ${local.runtime.runner.isolation}):`);
    console.log(`connects: ${total} with concurrency ${concurrency} in ${seconds.toFixed(2)} s`);
    console.log(`throughput: ${(total / seconds).toFixed(0)} connects/s`);
    console.log(
      `latency ms: p50 ${fixed(percentile(latencies, 0.5))}  p95 ${fixed(percentile(latencies, 0.95))}  p99 ${fixed(percentile(latencies, 0.99))}  max ${fixed(percentile(latencies, 1))}`,
    );
    console.log(
      `Lambda invocations: ${local.runtime.invocationCount()}, throttled: ${local.runtime.runner.throttleCount(functionName)}, environments: ${local.runtime.runner.environmentCount(functionName)}`,
    );
  } finally {
    await local.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
