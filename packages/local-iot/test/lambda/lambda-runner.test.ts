import { join } from 'node:path';
import { LocalIotError } from '../../src/errors';
import { type InvocationResult, LambdaRunner } from '../../src/lambda/lambda-runner';
import type { LocalFunction } from '../../src/deployment/local-deployment';
import { FUNCTIONS_DIR } from '../fixtures/assembly';

const REGION = 'eu-west-1';
const ENDPOINT = 'http://127.0.0.1:9';

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
    ...extra,
  };
}

function failure(result: InvocationResult): { kind: string; errorType: string; errorMessage: string } {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  return { kind: result.kind, errorType: result.errorType, errorMessage: result.errorMessage };
}

function value(result: InvocationResult): unknown {
  if (!result.ok) throw new Error(`expected a result, got ${result.errorType}: ${result.errorMessage}`);
  return result.value;
}

describe('LambdaRunner', () => {
  let runner: LambdaRunner;
  let lines: string[];
  const behaviours = fixture('behaviours');

  beforeEach(() => {
    lines = [];
    runner = new LambdaRunner({
      functions: [
        behaviours,
        fixture('callback'),
        fixture('broken'),
        fixture('esm'),
        fixture('short', { codeDirectory: join(FUNCTIONS_DIR, 'behaviours'), timeoutSeconds: 0.3 }),
        fixture('json-logs', {
          codeDirectory: join(FUNCTIONS_DIR, 'behaviours'),
          logFormat: 'JSON',
          applicationLogLevel: 'WARN',
        }),
      ],
      region: REGION,
      awsEndpointUrl: ENDPOINT,
      log: (line) => lines.push(line),
    });
  });

  afterEach(async () => {
    await runner.close();
  });

  it('runs the handler with Lambda environment, context and the local endpoint, in its own process.env', async () => {
    const result = value(await runner.invoke(behaviours.name, { behaviour: 'echo', n: 1 })) as {
      env: Record<string, unknown>;
      context: Record<string, unknown>;
      event: unknown;
    };
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
      awsRequestId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      memoryLimitInMB: '256',
      remaining: expect.any(Number) as unknown,
    });
    expect(result.context.remaining).toBeGreaterThan(2000);
    expect(result.context.remaining).toBeLessThanOrEqual(3000);
    expect(process.env.FIXTURE_SETTING).toBeUndefined();
  });

  it("gives the handler its function record's ARN as invokedFunctionArn", async () => {
    const arn = 'arn:aws-cn:lambda:cn-north-1:210987654321:function:fixture-behaviours';
    const other = new LambdaRunner({
      functions: [fixture('behaviours', { arn })],
      region: REGION,
      awsEndpointUrl: ENDPOINT,
      log: () => undefined,
    });
    try {
      const result = value(await other.invoke(behaviours.name, { behaviour: 'echo' })) as {
        context: Record<string, unknown>;
      };
      expect(result.context.invokedFunctionArn).toBe(arn);
    } finally {
      await other.close();
    }
  });

  it('keeps module state warm between invocations and never grows the pool past its limit', async () => {
    const counts = [];
    for (let i = 0; i < 3; i++) {
      counts.push(
        (value(await runner.invoke(behaviours.name, { behaviour: 'echo' })) as { invocations: number })
          .invocations,
      );
    }
    expect(counts).toEqual([1, 2, 3]);
    const parallel = await Promise.all(
      Array.from({ length: 6 }, () => runner.invoke(behaviours.name, { behaviour: 'echo' })),
    );
    expect(parallel.every((r) => r.ok)).toBe(true);
    expect(runner.workerCount(behaviours.name)).toBeLessThanOrEqual(2);
    expect(runner.invocationCount(behaviours.name)).toBe(9);
  });

  it('captures console output, prefixed with the function name and request id', async () => {
    const result = await runner.invoke(behaviours.name, { behaviour: 'allow-anything' });
    expect(lines).toEqual([`[fixture-behaviours] ${result.requestId} INFO behaviour allow-anything`]);
  });

  it('writes JSON log lines filtered by the application log level when the function logs JSON', async () => {
    await runner.invoke('fixture-json-logs', { behaviour: 'allow' });
    // console.log is INFO, below the function's WARN level: dropped, as Lambda does.
    expect(lines).toEqual([]);
    const result = await runner.invoke('fixture-json-logs', { behaviour: 'warn-object' });
    expect(lines).toHaveLength(1);
    const [prefix, json] = [lines[0]?.slice(0, 20), lines[0]?.slice(20)];
    expect(prefix).toBe('[fixture-json-logs] ');
    expect(JSON.parse(json ?? '')).toEqual({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
      level: 'WARN',
      requestId: result.requestId,
      message: { decision: 'deny', reason: 'fixture' },
    });
  });

  it('reports a throw as an error and keeps the worker warm', async () => {
    expect(failure(await runner.invoke(behaviours.name, { behaviour: 'throw' }))).toEqual({
      kind: 'error',
      errorType: 'Error',
      errorMessage: 'fixture failure',
    });
    expect(value(await runner.invoke(behaviours.name, { behaviour: 'echo' }))).toMatchObject({
      invocations: 2,
    });
  });

  it.each([
    ['hang', 'a promise that never settles'],
    ['spin', 'a busy loop'],
  ])(
    'times out %s (%s) at the caller limit, terminates the worker and serves the next call fresh',
    async (behaviour) => {
      const started = Date.now();
      expect(failure(await runner.invoke(behaviours.name, { behaviour }, { timeoutMs: 200 }))).toEqual({
        kind: 'timeout',
        errorType: 'Sandbox.Timedout',
        errorMessage: 'Task timed out after 0.20 seconds',
      });
      expect(Date.now() - started).toBeLessThan(1500);
      expect(runner.workerCount(behaviours.name)).toBe(0);
      // A fresh worker: the module state of the timed-out one is gone, as after a Lambda timeout.
      expect(value(await runner.invoke(behaviours.name, { behaviour: 'echo' }))).toMatchObject({
        invocations: 1,
      });
    },
  );

  it("applies the function's own Timeout when it is shorter than the caller's limit", async () => {
    expect(failure(await runner.invoke('fixture-short', { behaviour: 'hang' }, { timeoutMs: 5000 }))).toEqual(
      {
        kind: 'timeout',
        errorType: 'Sandbox.Timedout',
        errorMessage: 'Task timed out after 0.30 seconds',
      },
    );
  });

  it('survives process.exit in the function and an uncaught exception, reporting each as a crash', async () => {
    expect(failure(await runner.invoke(behaviours.name, { behaviour: 'exit' }))).toEqual({
      kind: 'crash',
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringMatching(
        /^the function exited with code 3 while handling request [0-9a-f-]{36}$/,
      ) as unknown,
    });
    expect(failure(await runner.invoke(behaviours.name, { behaviour: 'uncaught' }))).toEqual({
      kind: 'crash',
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringMatching(/^Error: uncaught in a timer while handling request /) as unknown,
    });
    expect(value(await runner.invoke(behaviours.name, { behaviour: 'echo' }))).toMatchObject({
      invocations: 1,
    });
    expect(lines.filter((line) => line.includes('ERROR worker ended'))).toHaveLength(2);
  });

  it('runs callback-style and ES module handlers', async () => {
    expect(value(await runner.invoke('fixture-callback', {}))).toEqual({
      style: 'callback',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
    });
    expect(value(await runner.invoke('fixture-esm', { value: 7 }))).toEqual({ style: 'esm', echo: 7 });
  });

  it('answers null for a handler returning undefined, as Lambda does', async () => {
    expect(value(await runner.invoke(behaviours.name, { behaviour: 'undefined' }))).toBeNull();
  });

  it('reports a module that fails to load, then retries the load on the next invocation', async () => {
    const expected = { kind: 'error', errorType: 'Error', errorMessage: 'DEVICE_SECRET_ARN is not set' };
    expect(failure(await runner.invoke('fixture-broken', {}))).toEqual(expected);
    expect(failure(await runner.invoke('fixture-broken', {}))).toEqual(expected);
    expect(runner.invocationCount('fixture-broken')).toBe(2);
  });

  it('reports a missing handler export as Runtime.HandlerNotFound', async () => {
    const other = new LambdaRunner({
      functions: [fixture('esm', { handler: 'index.missing' })],
      region: REGION,
      awsEndpointUrl: ENDPOINT,
      log: () => undefined,
    });
    try {
      expect(failure(await other.invoke('fixture-esm', {}))).toEqual({
        kind: 'error',
        errorType: 'Runtime.HandlerNotFound',
        errorMessage: 'index.missing is undefined or not exported',
      });
    } finally {
      await other.close();
    }
  });

  it('refuses unknown functions and invocations after close', async () => {
    await expect(runner.invoke('nope', {})).rejects.toThrow(
      new LocalIotError(
        "no function 'nope' (known: fixture-behaviours, fixture-callback, fixture-broken, fixture-esm, fixture-short, fixture-json-logs)",
      ),
    );
    await runner.close();
    await expect(runner.invoke(behaviours.name, {})).rejects.toThrow('the Lambda runner is closed');
  });

  it('ends invocations still running when closed', async () => {
    const running = runner.invoke(behaviours.name, { behaviour: 'hang' });
    await runner.close();
    expect(failure(await running)).toEqual({
      kind: 'crash',
      errorType: 'Shutdown',
      errorMessage: 'local-iot is shutting down',
    });
  });
});
