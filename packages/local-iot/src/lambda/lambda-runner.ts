import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { LocalIotError } from '../errors';
import type { LocalFunction } from '../deployment/local-deployment';
import type { InvokeMessage, LambdaWorkerData, WorkerMessage } from './worker-protocol';

/** Receives the functions' console output, one line per call, prefixed with `[<function name>]`. */
export type LogSink = (line: string) => void;

/** How to run the functions. */
export interface LambdaRunnerOptions {
  readonly functions: readonly LocalFunction[];
  readonly region: string;
  /**
   * URL of the local AWS API (e.g. `http://127.0.0.1:4567`): the functions' AWS SDK clients reach it through
   * `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SECRETS_MANAGER` and `AWS_ENDPOINT_URL_IOT`.
   */
  readonly awsEndpointUrl: string;
  /** Warm workers kept per function; invocations beyond wait for one. @default 2 */
  readonly maxWorkersPerFunction?: number;
  /**
   * Where modules the bundle leaves external (`@aws-sdk/*`, which the Lambda runtime provides) are found:
   * set as the worker's `NODE_PATH`, which Node consults only after the bundle's own `node_modules`, exactly
   * as Lambda's runtime puts its SDK on `NODE_PATH`.
   * @default every `node_modules` directory from this package up to the file system root (the repository's)
   */
  readonly runtimeModulePaths?: readonly string[];
  /** @default writes to standard error */
  readonly log?: LogSink;
}

/** One invocation's outcome. */
export type InvocationResult =
  | {
      readonly ok: true;
      /** The handler's result, JSON round-tripped as Lambda returns it (`null` for `undefined`). */
      readonly value: unknown;
      readonly durationMs: number;
      readonly requestId: string;
    }
  | {
      readonly ok: false;
      /**
       * `error`: the handler threw or rejected (or its module failed to load); `timeout`: it did not answer in
       * time and its worker was terminated; `crash`: its worker died (process.exit, uncaught exception, out of memory).
       */
      readonly kind: 'error' | 'timeout' | 'crash';
      readonly errorType: string;
      readonly errorMessage: string;
      readonly durationMs: number;
      readonly requestId: string;
    };

/** Per-invocation settings. */
export interface InvokeOptions {
  /** The caller's limit (AWS IoT's 5 s for authorizers); the function's own Timeout applies when shorter. */
  readonly timeoutMs?: number;
}

interface Pending {
  readonly fn: LocalFunction;
  readonly requestId: string;
  readonly event: unknown;
  readonly started: number;
  readonly limitMs: number;
  readonly resolve: (result: InvocationResult) => void;
  timer?: NodeJS.Timeout;
  slot?: Slot;
  settled: boolean;
}

interface Slot {
  readonly worker: Worker;
  current?: Pending;
  dead: boolean;
}

interface Pool {
  readonly slots: Slot[];
  readonly queue: Pending[];
}

/**
 * Runs Lambda bundles as the Lambda Node.js runtime does, in worker threads: each function gets a small pool
 * of warm workers (module state survives between invocations; never one per connection), its own
 * `process.env` (its resolved environment plus Lambda's reserved variables and the local AWS endpoint), a
 * context object, and a timeout of min(function Timeout, the caller's limit). A handler that throws, hangs,
 * exits or crashes only loses its worker (terminated and replaced on the next invocation); the host goes on.
 *
 * Worker threads share the host process: `process.abort()` or a native crash in a function would still end it.
 */
export class LambdaRunner {
  private readonly functions = new Map<string, LocalFunction>();
  private readonly pools = new Map<string, Pool>();
  private readonly counts = new Map<string, number>();
  private readonly maxWorkers: number;
  private readonly modulePaths: readonly string[];
  private readonly log: LogSink;
  private readonly workerScript: WorkerScript;
  private closed = false;

  constructor(private readonly options: LambdaRunnerOptions) {
    for (const fn of options.functions) this.functions.set(fn.name, fn);
    this.maxWorkers = options.maxWorkersPerFunction ?? 2;
    if (!Number.isInteger(this.maxWorkers) || this.maxWorkers < 1) {
      throw new LocalIotError(
        `maxWorkersPerFunction must be a positive integer, but ${this.maxWorkers} was given`,
      );
    }
    this.modulePaths = options.runtimeModulePaths ?? defaultModulePaths();
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.workerScript = lambdaWorkerScript();
  }

  /** How many times `functionName` was invoked (every attempt, whatever its outcome). */
  invocationCount(functionName: string): number {
    return this.counts.get(functionName) ?? 0;
  }

  /** Number of live workers of a function (for tests: the pool never grows past its limit). */
  workerCount(functionName: string): number {
    return this.pools.get(functionName)?.slots.length ?? 0;
  }

  /**
   * Invokes `functionName` with `event`. Never rejects for anything the function does: failures are results.
   * @throws LocalIotError when the function is unknown or the runner is closed.
   */
  invoke(functionName: string, event: unknown, options: InvokeOptions = {}): Promise<InvocationResult> {
    if (this.closed) return Promise.reject(new LocalIotError('the Lambda runner is closed'));
    const fn = this.functions.get(functionName);
    if (fn === undefined) {
      return Promise.reject(
        new LocalIotError(
          `no function '${functionName}' (known: ${[...this.functions.keys()].join(', ') || 'none'})`,
        ),
      );
    }
    this.counts.set(functionName, this.invocationCount(functionName) + 1);
    const limitMs = Math.min(fn.timeoutSeconds * 1000, options.timeoutMs ?? Number.POSITIVE_INFINITY);
    return new Promise<InvocationResult>((resolve) => {
      const pending: Pending = {
        fn,
        requestId: randomUUID(),
        event,
        started: performance.now(),
        limitMs,
        resolve,
        settled: false,
      };
      pending.timer = setTimeout(() => this.timeOut(pending), limitMs);
      this.pool(fn.name).queue.push(pending);
      this.dispatch(fn);
    });
  }

  /** Terminates every worker; invocations still running end as crashes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const workers: Promise<number>[] = [];
    for (const pool of this.pools.values()) {
      for (const pending of pool.queue.splice(0))
        this.settleFailure(pending, 'crash', 'Shutdown', 'local-iot is shutting down');
      for (const slot of pool.slots.splice(0)) {
        slot.dead = true;
        if (slot.current) this.settleFailure(slot.current, 'crash', 'Shutdown', 'local-iot is shutting down');
        workers.push(slot.worker.terminate());
      }
    }
    await Promise.all(workers);
  }

  private pool(name: string): Pool {
    let pool = this.pools.get(name);
    if (pool === undefined) {
      pool = { slots: [], queue: [] };
      this.pools.set(name, pool);
    }
    return pool;
  }

  private dispatch(fn: LocalFunction): void {
    const pool = this.pool(fn.name);
    while (pool.queue.length > 0 && !this.closed) {
      let slot = pool.slots.find((s) => !s.dead && s.current === undefined);
      if (slot === undefined && pool.slots.length < this.maxWorkers) slot = this.spawn(fn, pool);
      if (slot === undefined) return;
      const pending = pool.queue.shift() as Pending;
      slot.current = pending;
      pending.slot = slot;
      const deadline = Date.now() + pending.fn.timeoutSeconds * 1000 - (performance.now() - pending.started);
      const invoke: InvokeMessage = {
        type: 'invoke',
        requestId: pending.requestId,
        event: pending.event,
        deadline,
      };
      slot.worker.postMessage(invoke);
    }
  }

  private spawn(fn: LocalFunction, pool: Pool): Slot {
    const workerData: LambdaWorkerData = {
      codeDirectory: fn.codeDirectory,
      handler: fn.handler,
      context: {
        functionName: fn.name,
        functionVersion: '$LATEST',
        invokedFunctionArn: fn.arn,
        memoryLimitInMB: String(fn.memorySizeMb),
        logGroupName: `/aws/lambda/${fn.name}`,
        logStreamName: logStreamName(),
      },
    };
    const worker = new Worker(this.workerScript.filename, {
      ...(this.workerScript.execArgv !== undefined && { execArgv: [...this.workerScript.execArgv] }),
      env: this.environment(fn),
      workerData,
      stdout: true,
      stderr: true,
      // A runaway allocation ends this worker (ERR_WORKER_OUT_OF_MEMORY), not the host.
      resourceLimits: { maxOldGenerationSizeMb: Math.max(fn.memorySizeMb, 256) },
    });
    // Pending invocations keep the host alive through their timers; an idle worker must not.
    worker.unref();
    const slot: Slot = { worker, dead: false };
    pool.slots.push(slot);
    for (const [stream, level] of [
      [worker.stdout, 'STDOUT'],
      [worker.stderr, 'STDERR'],
    ] as const) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (buffered + chunk).split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) this.log(`[${fn.name}] ${level} ${line}`);
      });
      stream.on('end', () => {
        if (buffered) this.log(`[${fn.name}] ${level} ${buffered}`);
      });
    }
    worker.on('message', (message: WorkerMessage) => this.onMessage(fn, slot, message));
    worker.on('error', (error: Error) => this.onDeath(fn, slot, `${error.name}: ${error.message}`));
    worker.on('exit', (code: number) => this.onDeath(fn, slot, `the function exited with code ${code}`));
    return slot;
  }

  private onMessage(fn: LocalFunction, slot: Slot, message: WorkerMessage): void {
    if (message.type === 'log') {
      this.log(
        message.json
          ? `[${fn.name}] ${message.message}`
          : `[${fn.name}] ${message.requestId ?? '-'} ${message.level} ${message.message}`,
      );
      return;
    }
    const pending = slot.current;
    if (pending === undefined || pending.requestId !== message.requestId) return;
    slot.current = undefined;
    if (message.ok) {
      this.settle(pending, {
        ok: true,
        value: message.value,
        durationMs: elapsed(pending),
        requestId: pending.requestId,
      });
    } else {
      this.settleFailure(pending, 'error', message.errorType, message.errorMessage);
    }
    // A module that failed to load leaves nothing warm worth keeping, as Lambda resets the sandbox.
    if (message.fatal) this.retire(fn, slot);
    this.dispatch(fn);
  }

  private onDeath(fn: LocalFunction, slot: Slot, why: string): void {
    if (slot.dead) return;
    const pending = slot.current;
    slot.current = undefined;
    this.retire(fn, slot);
    this.log(`[${fn.name}] ${pending?.requestId ?? '-'} ERROR worker ended: ${why}`);
    if (pending)
      this.settleFailure(
        pending,
        'crash',
        'Runtime.ExitError',
        `${why} while handling request ${pending.requestId}`,
      );
    this.dispatch(fn);
  }

  private timeOut(pending: Pending): void {
    if (pending.settled) return;
    const pool = this.pool(pending.fn.name);
    const queued = pool.queue.indexOf(pending);
    if (queued >= 0) pool.queue.splice(queued, 1);
    const slot = pending.slot;
    this.settleFailure(
      pending,
      'timeout',
      'Sandbox.Timedout',
      `Task timed out after ${(pending.limitMs / 1000).toFixed(2)} seconds${queued >= 0 ? ' (waiting for a free worker)' : ''}`,
    );
    if (slot !== undefined) {
      // The handler may never return: end its worker and let the next invocation start a fresh one.
      slot.current = undefined;
      this.retire(pending.fn, slot);
    }
    this.dispatch(pending.fn);
  }

  private retire(fn: LocalFunction, slot: Slot): void {
    if (slot.dead) return;
    slot.dead = true;
    const pool = this.pool(fn.name);
    const index = pool.slots.indexOf(slot);
    if (index >= 0) pool.slots.splice(index, 1);
    slot.worker.terminate().catch(() => undefined);
  }

  private settleFailure(
    pending: Pending,
    kind: 'error' | 'timeout' | 'crash',
    errorType: string,
    errorMessage: string,
  ): void {
    this.settle(pending, {
      ok: false,
      kind,
      errorType,
      errorMessage,
      durationMs: elapsed(pending),
      requestId: pending.requestId,
    });
  }

  private settle(pending: Pending, result: InvocationResult): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    pending.resolve(result);
  }

  /** The worker's whole `process.env`: nothing of the host's leaks in, as in a Lambda sandbox. */
  private environment(fn: LocalFunction): Record<string, string> {
    const { region, awsEndpointUrl } = this.options;
    return {
      ...fn.environment,
      // Lambda's reserved variables win over the function's own, as Lambda refuses to let them be set.
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySizeMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      AWS_LAMBDA_LOG_FORMAT: fn.logFormat,
      ...(fn.applicationLogLevel !== undefined && { AWS_LAMBDA_LOG_LEVEL: fn.applicationLogLevel }),
      LAMBDA_TASK_ROOT: fn.codeDirectory,
      AWS_ACCESS_KEY_ID: 'LOCALIOTACCESSKEYID0',
      AWS_SECRET_ACCESS_KEY: 'local-iot-dummy-secret-access-key',
      AWS_SESSION_TOKEN: 'local-iot-dummy-session-token',
      // Every AWS SDK call goes to the local AWS API, never to AWS.
      AWS_ENDPOINT_URL: awsEndpointUrl,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: awsEndpointUrl,
      AWS_ENDPOINT_URL_IOT: awsEndpointUrl,
      // The developer's ~/.aws files could carry profiles or ignore_configured_endpoint_urls: keep them out.
      AWS_CONFIG_FILE: join(fn.codeDirectory, '.local-iot-no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(fn.codeDirectory, '.local-iot-no-aws-credentials'),
      NODE_PATH: this.modulePaths.join(delimiter),
      // The function's runtime (e.g. nodejs24.x) is newer than the Node.js running local-iot; the SDK's warning
      // about the host's older Node.js would not appear in Lambda and would only bury the decision lines.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      PATH: process.env.PATH ?? '',
      LANG: 'en_US.UTF-8',
    };
  }
}

function elapsed(pending: Pending): number {
  return Math.round((performance.now() - pending.started) * 10) / 10;
}

function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  return `${day}/[$LATEST]${randomUUID().replace(/-/g, '')}`;
}

/** The worker's entry script, and the Node.js flags it needs (undefined: the host's, as by default). */
interface WorkerScript {
  readonly filename: string;
  readonly execArgv?: readonly string[];
}

/**
 * The worker script `lambda-worker`, next to this module and in the same form: the compiled `.js` when this
 * module runs from `dist`, the `.ts` source when it runs from sources (Jest with ts-jest, `tsx`). Pairing by
 * this module's own extension, rather than taking a `.js` whenever one exists, means sources never run a
 * stale compiled worker.
 *
 * A `.ts` worker runs through tsx's CommonJS hook, preloaded with `--require <tsx/cjs>`: that hook registers
 * synchronously inside the worker before its entry script loads. `--import tsx` does not work here: on
 * Node.js 20 the hooks it registers do not reach a worker's entry script (ERR_UNKNOWN_FILE_EXTENSION). The
 * path is resolved here because a worker resolves `--require` from the current directory, not from this
 * package, and the flags are given in full rather than added to the inherited ones, which may hold flags a
 * worker refuses (ERR_WORKER_INVALID_EXEC_ARGV).
 * @throws LocalIotError when the script is missing, or tsx is for the `.ts` one.
 */
function lambdaWorkerScript(): WorkerScript {
  const fromSources = __filename.endsWith('.ts');
  const filename = join(__dirname, fromSources ? 'lambda-worker.ts' : 'lambda-worker.js');
  if (!existsSync(filename)) {
    throw new LocalIotError(
      `the Lambda worker script ${filename} is missing: rebuild local-iot (npm run build)`,
    );
  }
  if (!fromSources) return { filename };
  let tsxHook: string;
  try {
    tsxHook = require.resolve('tsx/cjs');
  } catch (error) {
    throw new LocalIotError(
      `local-iot runs from its TypeScript sources, so its Lambda worker (${filename}) needs tsx, which cannot be found: ` +
        "install the repository's devDependencies (npm ci), or run local-iot from dist (npm run build)",
      { cause: error },
    );
  }
  return { filename, execArgv: ['--require', tsxHook] };
}

/** Every `node_modules` directory from this module's directory up to the root, nearest first. */
function defaultModulePaths(): string[] {
  const paths: string[] = [];
  let directory = __dirname;
  for (;;) {
    const candidate = join(directory, 'node_modules');
    if (existsSync(candidate)) paths.push(candidate);
    const parent = dirname(directory);
    if (parent === directory) return paths;
    directory = parent;
  }
}
