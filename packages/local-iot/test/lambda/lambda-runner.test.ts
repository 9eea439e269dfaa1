import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { LocalIotError } from '../../src/errors';
import { lambdaHeapLimits } from '../../src/lambda/execution-environment';
import {
  type InvocationResult,
  type InvocationTelemetry,
  ISOLATIONS,
  type Isolation,
  LambdaRunner,
  type LambdaRunnerOptions,
} from '../../src/lambda/lambda-runner';
import type { LocalFunction } from '../../src/deployment/local-deployment';
import { FUNCTIONS_DIR } from '../fixtures/assembly';
import { WAIT_MS } from '../support/wait';

const REGION = 'eu-west-1';
const ENDPOINT = 'http://127.0.0.1:9';
const UUID = /^[0-9a-f-]{36}$/;

function fixture(name: string, extra: Partial<LocalFunction> = {}): LocalFunction {
  return {
    logicalId: name,
    name: `fixture-${name}`,
    arn: `arn:aws:lambda:${REGION}:000000000000:function:fixture-${name}`,
    codeDirectory: join(FUNCTIONS_DIR, name),
    handler: 'index.handler',
    runtime: 'nodejs20.x',
    timeoutSeconds: 3,
    memorySizeMb: 256,
    environment: { FIXTURE_SETTING: 'from-template' },
    logFormat: 'Text',
    logGroupName: `/aws/lambda/fixture-${name}`,
    ...extra,
  };
}

/** The behaviours bundle under another function name (and other settings). */
function behaviours(name: string, extra: Partial<LocalFunction> = {}): LocalFunction {
  return fixture(name, { codeDirectory: join(FUNCTIONS_DIR, 'behaviours'), ...extra });
}

function failure(result: InvocationResult): { kind: string; errorType: string; errorMessage: string } {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  return { kind: result.kind, errorType: result.errorType, errorMessage: result.errorMessage };
}

function value(result: InvocationResult): unknown {
  if (!result.ok) throw new Error(`expected a result, got ${result.errorType}: ${result.errorMessage}`);
  return result.value;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Re-checks `condition` until it holds (a process's end has no event outside its parent); never sleeps blind. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A REPORT line's fields after the request id (tab-separated, as Lambda writes them). */
const REPORT_FIELDS = String.raw`\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: \d+ MB`;
const INIT_FIELD = String.raw`\tInit Duration: \d+\.\d\d ms`;

describe.each(ISOLATIONS)('LambdaRunner with %s isolation', (isolation: Isolation) => {
  let lines: string[];
  let runners: LambdaRunner[];
  let runner: LambdaRunner;
  const main = behaviours('behaviours');

  function start(options: Partial<LambdaRunnerOptions> = {}): LambdaRunner {
    const started = new LambdaRunner({
      functions: [
        main,
        fixture('callback'),
        fixture('broken'),
        fixture('esm'),
        behaviours('short', { timeoutSeconds: 0.3 }),
        behaviours('json-logs', { logFormat: 'JSON', applicationLogLevel: 'WARN' }),
        behaviours('small', { memorySizeMb: 128 }),
        behaviours('reserved', { reservedConcurrency: 1 }),
        behaviours('disabled', { reservedConcurrency: 0 }),
      ],
      region: REGION,
      awsEndpointUrl: ENDPOINT,
      isolation,
      log: (line) => lines.push(line),
      ...options,
    });
    runners.push(started);
    return started;
  }

  beforeEach(() => {
    lines = [];
    runners = [];
    runner = start();
  });

  afterEach(async () => {
    await Promise.all(runners.map((r) => r.close()));
  });

  it('runs the handler with Lambda environment, context and the local endpoint, in its own process.env', async () => {
    const result = value(await runner.invoke(main.name, { behaviour: 'echo', n: 1 })) as {
      env: Record<string, unknown>;
      context: Record<string, unknown>;
      event: unknown;
    };
    expect(runner.isolation).toBe(isolation);
    expect(result.event).toEqual({ behaviour: 'echo', n: 1 });
    expect(result.env).toEqual({
      region: REGION,
      defaultRegion: REGION,
      functionName: 'fixture-behaviours',
      memory: '256',
      endpoint: ENDPOINT,
      secretsEndpoint: ENDPOINT,
      iotEndpoint: ENDPOINT,
      accessKey: 'LOCALIOTACCESSKEYID0',
      fixtureSetting: 'from-template',
    });
    expect(result.context).toEqual({
      functionName: 'fixture-behaviours',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:fixture-behaviours',
      awsRequestId: expect.stringMatching(UUID) as unknown,
      memoryLimitInMB: '256',
      remaining: expect.any(Number) as unknown,
    });
    // The function's Timeout counts from the start of the invocation, after the cold start's Init.
    expect(result.context.remaining).toBeGreaterThan(2000);
    expect(result.context.remaining).toBeLessThanOrEqual(3000);
    expect(process.env.FIXTURE_SETTING).toBeUndefined();
  });

  it("gives the handler its function record's ARN as invokedFunctionArn", async () => {
    const arn = 'arn:aws-cn:lambda:cn-north-1:210987654321:function:fixture-behaviours';
    const other = start({ functions: [behaviours('behaviours', { arn })] });
    const result = value(await other.invoke(main.name, { behaviour: 'echo' })) as {
      context: Record<string, unknown>;
    };
    expect(result.context.invokedFunctionArn).toBe(arn);
  });

  it('keeps an environment warm and runs one invocation at a time in each, adding environments on demand', async () => {
    const sequential: InvocationResult[] = [];
    for (let i = 0; i < 3; i++) sequential.push(await runner.invoke(main.name, { behaviour: 'echo' }));
    expect(sequential.map((r) => (value(r) as { invocations: number }).invocations)).toEqual([1, 2, 3]);
    expect(new Set(sequential.map((r) => r.ok && r.environmentId)).size).toBe(1);
    expect(runner.environmentCount(main.name)).toBe(1);

    const parallel = await Promise.all(
      Array.from({ length: 3 }, () => runner.invoke(main.name, { behaviour: 'echo' })),
    );
    // One was served warm by the first environment, the two others each started their own.
    expect(new Set(parallel.map((r) => r.ok && r.environmentId)).size).toBe(3);
    expect(runner.environmentCount(main.name)).toBe(3);
    expect(runner.environments(main.name).map((e) => e.state)).toEqual(['idle', 'idle', 'idle']);
    expect(runner.invocationCount(main.name)).toBe(6);
  });

  it('throttles an invocation that finds every environment busy, as Lambda throttles a synchronous invoke', async () => {
    const limited = start({ concurrencyLimit: 2 });
    const hanging = [
      limited.invoke(main.name, { behaviour: 'hang' }),
      limited.invoke(main.name, { behaviour: 'hang' }),
    ];
    const throttled = await limited.invoke(main.name, { behaviour: 'allow' });
    expect(throttled).toEqual({
      ok: false,
      kind: 'throttle',
      errorType: 'TooManyRequestsException',
      errorMessage: 'Rate Exceeded.',
      durationMs: 0,
      requestId: expect.stringMatching(UUID) as unknown,
      throttle: { reason: 'ConcurrentInvocationLimitExceeded', concurrencyLimit: 2 },
    });
    expect(limited.environmentCount(main.name)).toBe(2);
    expect(limited.invocationCount(main.name)).toBe(2);
    expect(limited.throttleCount(main.name)).toBe(1);
    await limited.close();
    expect((await Promise.all(hanging)).map((r) => failure(r).errorType)).toEqual(['Shutdown', 'Shutdown']);
  });

  it('limits a function to its ReservedConcurrentExecutions, and throttles every invocation at 0', async () => {
    expect(runner.concurrencyLimitOf('fixture-reserved')).toBe(1);
    const first = runner.invoke('fixture-reserved', { behaviour: 'hang' });
    const second = await runner.invoke('fixture-reserved', { behaviour: 'allow' });
    expect(second).toMatchObject({
      kind: 'throttle',
      throttle: { reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', concurrencyLimit: 1 },
    });
    expect(await runner.invoke('fixture-disabled', { behaviour: 'allow' })).toMatchObject({
      kind: 'throttle',
      throttle: { reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', concurrencyLimit: 0 },
    });
    expect(runner.environmentCount('fixture-disabled')).toBe(0);
    // Nothing of a throttled invocation reaches the function's log.
    expect(lines.filter((line) => line.startsWith('[fixture-disabled]'))).toEqual([]);
    await runner.close();
    await first;
  });

  it('writes START, the console lines, END and REPORT in Text, with Init Duration on a cold start only', async () => {
    const cold = await runner.invoke(main.name, { behaviour: 'allow-anything' });
    const warm = await runner.invoke(main.name, { behaviour: 'allow-anything' });
    const [coldId, warmId] = [cold.requestId, warm.requestId];
    expect(lines).toEqual([
      `[fixture-behaviours] START RequestId: ${coldId} Version: $LATEST`,
      `[fixture-behaviours] ${coldId} INFO behaviour allow-anything`,
      `[fixture-behaviours] END RequestId: ${coldId}`,
      expect.stringMatching(
        new RegExp(`^\\[fixture-behaviours\\] REPORT RequestId: ${coldId}${REPORT_FIELDS}${INIT_FIELD}$`),
      ) as unknown,
      `[fixture-behaviours] START RequestId: ${warmId} Version: $LATEST`,
      `[fixture-behaviours] ${warmId} INFO behaviour allow-anything`,
      `[fixture-behaviours] END RequestId: ${warmId}`,
      expect.stringMatching(
        new RegExp(`^\\[fixture-behaviours\\] REPORT RequestId: ${warmId}${REPORT_FIELDS}$`),
      ) as unknown,
    ]);
  });

  it('reports each invocation to telemetry subscribers, with the environment that ran it', async () => {
    const events: InvocationTelemetry[] = [];
    const unsubscribe = runner.onTelemetry((event) => events.push(event));
    const cold = await runner.invoke(main.name, { behaviour: 'allow' });
    const warm = await runner.invoke(main.name, { behaviour: 'throw' });
    unsubscribe();
    await runner.invoke(main.name, { behaviour: 'allow' });
    const environmentId = cold.ok ? cold.environmentId : '';
    const started = (requestId: string, coldStart: boolean): InvocationTelemetry => ({
      type: 'platform.start',
      functionName: main.name,
      requestId,
      environmentId,
      coldStart,
    });
    const reported = (report: Record<string, unknown>): unknown => ({
      type: 'platform.report',
      functionName: main.name,
      environmentId,
      report: {
        durationMs: expect.any(Number) as unknown,
        maxMemoryUsedMb: expect.any(Number) as unknown,
        platformFailure: false,
        ...report,
      },
    });
    expect(events).toEqual([
      started(cold.requestId, true),
      reported({
        requestId: cold.requestId,
        initDurationMs: expect.any(Number) as unknown,
        status: 'success',
      }),
      started(warm.requestId, false),
      reported({ requestId: warm.requestId, status: 'error', errorType: 'Error' }),
    ]);
  });

  it('writes JSON platform.start and platform.report records and JSON console lines filtered by level', async () => {
    const quiet = await runner.invoke('fixture-json-logs', { behaviour: 'allow' });
    const warned = await runner.invoke('fixture-json-logs', { behaviour: 'warn-object' });
    const records = lines.map((line) => {
      expect(line.startsWith('[fixture-json-logs] ')).toBe(true);
      return JSON.parse(line.slice('[fixture-json-logs] '.length)) as Record<string, unknown>;
    });
    const time = expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) as unknown;
    const arn = 'arn:aws:lambda:eu-west-1:000000000000:function:fixture-json-logs';
    const metrics = (cold: boolean): unknown => ({
      durationMs: expect.any(Number) as unknown,
      billedDurationMs: expect.any(Number) as unknown,
      memorySizeMB: 256,
      maxMemoryUsedMB: expect.any(Number) as unknown,
      ...(cold && { initDurationMs: expect.any(Number) as unknown }),
    });
    // console.log is INFO, below the function's WARN level: dropped, as Lambda does.
    expect(records).toEqual([
      {
        time,
        type: 'platform.start',
        record: { requestId: quiet.requestId, functionArn: arn, version: '$LATEST' },
      },
      {
        time,
        type: 'platform.report',
        record: { requestId: quiet.requestId, metrics: metrics(true), status: 'success' },
      },
      {
        time,
        type: 'platform.start',
        record: { requestId: warned.requestId, functionArn: arn, version: '$LATEST' },
      },
      {
        timestamp: time,
        level: 'WARN',
        requestId: warned.requestId,
        message: { decision: 'deny', reason: 'fixture' },
      },
      {
        time,
        type: 'platform.report',
        record: { requestId: warned.requestId, metrics: metrics(false), status: 'success' },
      },
    ]);
    const report = records[1]?.record as {
      metrics: { durationMs: number; billedDurationMs: number; initDurationMs: number };
    };
    // Lambda bills the invocation and its Init, rounded up to the millisecond.
    expect(report.metrics.billedDurationMs).toBe(
      Math.ceil(report.metrics.durationMs + report.metrics.initDurationMs),
    );
  });

  it("reports a throw as an error, logs the runtime's Invoke Error record and keeps the environment warm", async () => {
    const thrown = await runner.invoke(main.name, { behaviour: 'throw' });
    expect(failure(thrown)).toEqual({ kind: 'error', errorType: 'Error', errorMessage: 'fixture failure' });
    const record = lines.find((line) => line.includes(' ERROR Invoke Error '));
    expect(record).toMatch(
      new RegExp(`^\\[fixture-behaviours\\] ${thrown.requestId} ERROR Invoke Error \t\\{`),
    );
    expect(JSON.parse(record?.split('\t')[1] ?? '')).toEqual({
      errorType: 'Error',
      errorMessage: 'fixture failure',
      stack: expect.arrayContaining(['Error: fixture failure']) as unknown,
    });
    // A handler's own error is no platform failure: the REPORT has no Status.
    expect(lines.at(-1)).toMatch(
      new RegExp(`REPORT RequestId: ${thrown.requestId}${REPORT_FIELDS}${INIT_FIELD}$`),
    );
    expect(value(await runner.invoke(main.name, { behaviour: 'echo' }))).toMatchObject({ invocations: 2 });
  });

  it('writes the JSON error record for a throw when the function logs JSON', async () => {
    const thrown = await runner.invoke('fixture-json-logs', { behaviour: 'throw' });
    const records = lines.map(
      (line) => JSON.parse(line.slice('[fixture-json-logs] '.length)) as Record<string, unknown>,
    );
    expect(records[1]).toEqual({
      timestamp: expect.any(String) as unknown,
      level: 'ERROR',
      requestId: thrown.requestId,
      message: {
        errorType: 'Error',
        errorMessage: 'fixture failure',
        stackTrace: expect.arrayContaining(['Error: fixture failure']) as unknown,
      },
    });
    expect(records[2]).toMatchObject({
      type: 'platform.report',
      record: { requestId: thrown.requestId, status: 'error', errorType: 'Error' },
    });
  });

  it.each([
    ['hang', 'a promise that never settles'],
    ['spin', 'a busy loop'],
  ])(
    'times out %s (%s) at the caller limit, ends the environment and serves the next call fresh',
    async (behaviour) => {
      // Warm first: on a loaded machine a cold start's Init alone can outlast 200 ms, which is another case.
      await runner.invoke(main.name, { behaviour: 'echo' });
      const timedOut = await runner.invoke(main.name, { behaviour }, { timeoutMs: 200 });
      expect(failure(timedOut)).toEqual({
        kind: 'timeout',
        errorType: 'Sandbox.Timedout',
        errorMessage: 'Task timed out after 0.20 seconds',
      });
      expect(runner.environmentCount(main.name)).toBe(0);
      expect(lines.slice(-3)).toEqual([
        `[fixture-behaviours] ${timedOut.requestId} Task timed out after 0.20 seconds`,
        `[fixture-behaviours] END RequestId: ${timedOut.requestId}`,
        expect.stringMatching(
          new RegExp(`REPORT RequestId: ${timedOut.requestId}${REPORT_FIELDS}\tStatus: timeout$`),
        ) as unknown,
      ]);
      // A fresh environment: the module state of the timed-out one is gone, as after a Lambda timeout.
      expect(value(await runner.invoke(main.name, { behaviour: 'echo' }))).toMatchObject({ invocations: 1 });
    },
  );

  it("applies the function's own Timeout from the start of the invocation, not from the call", async () => {
    const events: InvocationTelemetry[] = [];
    runner.onTelemetry((event) => events.push(event));
    expect(failure(await runner.invoke('fixture-short', { behaviour: 'hang' }, { timeoutMs: 5000 }))).toEqual(
      {
        kind: 'timeout',
        errorType: 'Sandbox.Timedout',
        errorMessage: 'Task timed out after 0.30 seconds',
      },
    );
    const report = events.find((event) => event.type === 'platform.report');
    // The REPORT's Duration (from START) reached the whole 0.3 s although the cold start's Init came first.
    expect(report?.type === 'platform.report' && report.report).toMatchObject({
      status: 'timeout',
      initDurationMs: expect.any(Number) as unknown,
    });
    expect(report?.type === 'platform.report' && report.report.durationMs).toBeGreaterThanOrEqual(299);
  });

  it('survives process.exit and an uncaught exception, reporting each as a runtime exit', async () => {
    const exited = await runner.invoke(main.name, { behaviour: 'exit' });
    expect(failure(exited)).toEqual({
      kind: 'crash',
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${exited.requestId} Error: Runtime exited with error: exit status 3`,
    });
    expect(lines.slice(-4)).toEqual([
      `[fixture-behaviours] RequestId: ${exited.requestId} Error: Runtime exited with error: exit status 3`,
      '[fixture-behaviours] Runtime.ExitError',
      `[fixture-behaviours] END RequestId: ${exited.requestId}`,
      expect.stringMatching(/\tStatus: error\tError Type: Runtime\.ExitError$/) as unknown,
    ]);
    const uncaught = await runner.invoke(main.name, { behaviour: 'uncaught' });
    expect(failure(uncaught)).toEqual({
      kind: 'crash',
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${uncaught.requestId} Error: Runtime exited with error: exit status 129`,
    });
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^\\[fixture-behaviours\\] ${uncaught.requestId} ERROR Uncaught Exception \t\\{"errorType":"Error","errorMessage":"uncaught in a timer","stack":\\[`,
        ),
      ),
    );
    expect(value(await runner.invoke(main.name, { behaviour: 'echo' }))).toMatchObject({ invocations: 1 });
  });

  it('enforces MemorySize with the heap limit Lambda derives from it, and reports running out as the invocation error', async () => {
    const facts = value(await runner.invoke('fixture-small', { behaviour: 'runtime-facts' })) as {
      heapSizeLimitMb: number;
    };
    const { oldSpaceMb } = lambdaHeapLimits(128);
    expect(facts.heapSizeLimitMb).toBeGreaterThanOrEqual(oldSpaceMb);
    expect(facts.heapSizeLimitMb).toBeLessThan(128 + 32);
    const exhausted = await runner.invoke('fixture-small', { behaviour: 'out-of-memory' });
    expect(failure(exhausted)).toEqual({
      kind: 'crash',
      errorType: 'Runtime.OutOfMemory',
      errorMessage: expect.stringMatching(
        new RegExp(`^RequestId: ${exhausted.requestId} Error: Runtime exited with error: `),
      ) as unknown,
    });
    expect(lines.at(-1)).toMatch(
      /\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t.*Status: error\tError Type: Runtime\.OutOfMemory$/,
    );
    expect(value(await runner.invoke('fixture-small', { behaviour: 'allow' }))).toMatchObject({
      isAuthenticated: true,
    });
  });

  it('runs callback-style and ES module handlers', async () => {
    expect(value(await runner.invoke('fixture-callback', {}))).toEqual({
      style: 'callback',
      requestId: expect.stringMatching(UUID) as unknown,
    });
    expect(value(await runner.invoke('fixture-esm', { value: 7 }))).toEqual({ style: 'esm', echo: 7 });
  });

  it('answers null for a handler returning undefined, as Lambda does', async () => {
    expect(value(await runner.invoke(main.name, { behaviour: 'undefined' }))).toBeNull();
  });

  it('reports a module that fails to load, logging its error record, then loads it afresh on the next invocation', async () => {
    const expected = { kind: 'error', errorType: 'Error', errorMessage: 'DEVICE_SECRET_ARN is not set' };
    const first = await runner.invoke('fixture-broken', {});
    expect(failure(first)).toEqual(expected);
    expect(failure(await runner.invoke('fixture-broken', {}))).toEqual(expected);
    expect(runner.invocationCount('fixture-broken')).toBe(2);
    expect(lines.slice(0, 4)).toEqual([
      expect.stringMatching(
        /^\[fixture-broken\] - ERROR Uncaught Exception \t\{"errorType":"Error","errorMessage":"DEVICE_SECRET_ARN is not set","stack":\[/,
      ) as unknown,
      `[fixture-broken] START RequestId: ${first.requestId} Version: $LATEST`,
      `[fixture-broken] END RequestId: ${first.requestId}`,
      expect.stringMatching(/\tStatus: error\tError Type: Error$/) as unknown,
    ]);
  });

  it('reports a missing handler export as Runtime.HandlerNotFound', async () => {
    const other = start({ functions: [fixture('esm', { handler: 'index.missing' })] });
    expect(failure(await other.invoke('fixture-esm', {}))).toEqual({
      kind: 'error',
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.missing is undefined or not exported',
    });
  });

  it('refuses unknown functions and invocations after close', async () => {
    await expect(runner.invoke('nope', {})).rejects.toThrow(
      new LocalIotError(
        "no function 'nope' (known: fixture-behaviours, fixture-callback, fixture-broken, fixture-esm, fixture-short, fixture-json-logs, fixture-small, fixture-reserved, fixture-disabled)",
      ),
    );
    await runner.close();
    await expect(runner.invoke(main.name, {})).rejects.toThrow('the Lambda runner is closed');
  });

  it('ends invocations still running when closed', async () => {
    const running = runner.invoke(main.name, { behaviour: 'hang' });
    await runner.close();
    expect(failure(await running)).toEqual({
      kind: 'crash',
      errorType: 'Shutdown',
      errorMessage: 'local-iot is shutting down',
    });
  });
});

describe('LambdaRunner with process isolation', () => {
  const lines: string[] = [];
  let runner: LambdaRunner;
  const main = behaviours('behaviours');

  beforeEach(() => {
    lines.splice(0);
    runner = new LambdaRunner({
      functions: [main],
      region: REGION,
      awsEndpointUrl: ENDPOINT,
      log: (line) => lines.push(line),
    });
  });

  afterEach(() => runner.close());

  it('runs each environment in its own OS process, in the code directory, as Lambda runs it in /var/task', async () => {
    expect(runner.isolation).toBe('process');
    const facts = value(await runner.invoke(main.name, { behaviour: 'runtime-facts' })) as {
      pid: number;
      cwd: string;
    };
    expect(facts.pid).not.toBe(process.pid);
    expect(runner.environments(main.name)).toEqual([
      {
        id: expect.stringMatching(/^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/) as unknown,
        pid: facts.pid,
        state: 'idle',
      },
    ]);
    expect(facts.cwd).toBe(main.codeDirectory);
  });

  it('survives a function that SIGKILLs its own process, reporting the signal as Lambda does', async () => {
    const killed = await runner.invoke(main.name, { behaviour: 'sigkill' });
    expect(failure(killed)).toEqual({
      kind: 'crash',
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${killed.requestId} Error: Runtime exited with error: signal: killed`,
    });
    expect(lines).toContain(
      `[fixture-behaviours] RequestId: ${killed.requestId} Error: Runtime exited with error: signal: killed`,
    );
    expect(value(await runner.invoke(main.name, { behaviour: 'echo' }))).toMatchObject({ invocations: 1 });
  });

  it('leaves no process behind after close, busy or idle', async () => {
    const busy = runner.invoke(main.name, { behaviour: 'spin' });
    await runner.invoke(main.name, { behaviour: 'allow' });
    const pids = runner.environments(main.name).map((environment) => environment.pid as number);
    expect(pids).toHaveLength(2);
    expect(pids.every(isAlive)).toBe(true);
    await runner.close();
    await busy;
    expect(pids.filter(isAlive)).toEqual([]);
  });

  /** Runs `lambda-host.ts` in `mode` in a process of its own; resolves with the pids it printed and the rest. */
  async function runHost(mode: 'die' | 'close'): Promise<{ pids: number[]; rest: string[] }> {
    const host = join(__dirname, 'lambda-host.ts');
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--require', require.resolve('tsx/cjs'), host, mode], (error, stdout) =>
        // Killed by its own SIGKILL it ends in error, but with its output.
        stdout ? resolve(stdout) : reject(error ?? new Error('the host printed nothing')),
      );
    });
    const [pids = '', ...rest] = output.trim().split('\n');
    return { pids: pids.split(' ').map(Number), rest };
  }

  it('ends its environments when the host dies, even one blocked in a busy loop', async () => {
    const { pids } = await runHost('die');
    expect(pids).toHaveLength(2);
    await eventually(() => !pids.some(isAlive), `environments ${pids.join(', ')} to end`);
  });

  it('keeps a host that has nothing else to do alive until close has ended its environments', async () => {
    const { pids, rest } = await runHost('close');
    expect(rest).toEqual(['closed']);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});

describe('LambdaRunner settings', () => {
  const base = { functions: [], region: REGION, awsEndpointUrl: ENDPOINT };

  it('refuses a concurrency limit that is not a positive integer', () => {
    expect(() => new LambdaRunner({ ...base, concurrencyLimit: 0 })).toThrow(
      new LocalIotError('concurrencyLimit must be a positive integer, but 0 was given'),
    );
  });

  it('refuses an unknown isolation', () => {
    expect(() => new LambdaRunner({ ...base, isolation: 'vm' as Isolation })).toThrow(
      new LocalIotError('isolation must be one of process, thread, but "vm" was given'),
    );
  });
});
