// The Lambda runner alone, behind the custom-auth pipeline, in both isolations side by side: cold starts
// (environment start, Init, first secret fetch), warm invocations, and the CPU each warm invocation costs the
// host plus its environment processes. Runs in the benchmark's own process, with nothing else in it running.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { STACK_OUTPUTS, buildCustomAuthUsername } from '@iot-custom-auth/protocol';
import type { ConnectAttempt } from '../../src/auth/connect-types';
import { findSecret } from '../../src/deployment/local-deployment';
import type { InvocationTelemetry, Isolation } from '../../src/lambda/lambda-runner';
import { createLocalRuntime, type LocalRuntime } from '../../src/local-runtime';
import { unsignedLoginFor } from './device-credentials';
import { CLOCK_TICKS_PER_SECOND, readAllProcStats } from './process-cpu';

export interface IsolationFigures {
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
  /** The environment processes' CPU per warm invocation; 0 for threads (they are in the host's). */
  readonly environmentCpuPerWarmMs: number;
}

/** `coldStarts` fresh runtimes, each with one cold invocation; the last then runs `warm` warm ones. */
export async function benchIsolation(
  cdkOut: string,
  isolation: Isolation,
  coldStarts: number,
  warm: number,
): Promise<IsolationFigures> {
  const figures = {
    cold: [] as number[],
    init: [] as number[],
    warm: [] as number[],
    reported: [] as number[],
    hostCpuMs: 0,
    environmentCpuMs: 0,
  };
  for (let round = 0; round < coldStarts; round++) {
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
      if (round === coldStarts - 1) {
        const functionName = runtime.deployment.functions[0]?.name as string;
        const pids = runtime.runner
          .environments(functionName)
          .map((environment) => environment.pid)
          .filter((pid): pid is number => pid !== undefined);
        const hostBefore = process.cpuUsage();
        const environmentsBefore = ownCpuMs(pids);
        for (let i = 1; i <= warm; i++) figures.warm.push(await timedConnect(runtime, attempt(i)));
        const host = process.cpuUsage(hostBefore);
        figures.environmentCpuMs = ownCpuMs(pids) - environmentsBefore;
        figures.hostCpuMs = (host.user + host.system) / 1000;
        figures.reported.push(...reports.slice(1).map((report) => report.durationMs));
      }
    } finally {
      await runtime.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  const hostCpuPerWarmMs = figures.hostCpuMs / warm;
  const environmentCpuPerWarmMs = figures.environmentCpuMs / warm;
  return {
    cold: figures.cold,
    init: figures.init,
    warm: figures.warm,
    reported: figures.reported,
    hostCpuPerWarmMs,
    environmentCpuPerWarmMs,
    cpuPerWarmMs: hostCpuPerWarmMs + environmentCpuPerWarmMs,
  };
}

/** User + system CPU of `pids` themselves, in ms. */
function ownCpuMs(pids: readonly number[]): number {
  const ticks = readAllProcStats()
    .filter((stat) => pids.includes(stat.pid))
    .reduce((sum, stat) => sum + stat.utime + stat.stime, 0);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Builds the n-th connect attempt a device makes through the unsigned authorizer. */
function connectAttempt(runtime: LocalRuntime): (n: number) => ConnectAttempt {
  const arn = runtime.outputs[STACK_OUTPUTS.deviceSecretArn] as string;
  const secretString = findSecret(runtime.deployment, arn)?.secretString;
  return (n) => {
    const clientId = `test-bench-${n}`;
    const login = unsignedLoginFor(secretString, clientId);
    return {
      connectionId: `bench-${n}`,
      transport: 'mqtt',
      alpn: 'mqtt',
      serverName: 'localhost',
      clientId,
      username: buildCustomAuthUsername({
        user: login.username,
        authorizerName: runtime.outputs[STACK_OUTPUTS.unsignedAuthorizerName],
      }),
      password: Buffer.from(login.password),
    };
  };
}

async function timedConnect(runtime: LocalRuntime, attempt: ConnectAttempt): Promise<number> {
  const started = performance.now();
  const decision = await runtime.authorizer.authorize(attempt);
  const elapsed = performance.now() - started;
  if (!decision.allowed) throw new Error(`the benchmark connect was refused: ${decision.reason}`);
  return elapsed;
}
