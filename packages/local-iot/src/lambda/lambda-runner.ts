import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalIotError } from '../errors';
import { stderrLine } from '../logs/turn-batched-writer';
import type { LocalFunction } from '../deployment/local-deployment';
import type { LocalAwsCredentials } from '@iot-custom-auth/protocol';
import {
  type EnvironmentEntry,
  type EnvironmentExit,
  type EnvironmentTransport,
  ISOLATIONS,
  type Isolation,
  resolveEnvironmentEntry,
  startEnvironment,
} from './execution-environment';
import { type InvocationReport, PlatformLog } from './platform-log';
import type {
  FunctionError,
  LambdaWorkerData,
  ReadyMessage,
  ResultMessage,
  WorkerMessage,
} from './worker-protocol';

export { ISOLATIONS, type Isolation } from './execution-environment';

/** Receives the functions' log, one line per call, prefixed with `[<function name>]`. */
export type LogSink = (line: string) => void;

/**
 * Receives every line a function's log gets, as Lambda writes it to CloudWatch Logs: into the function's log
 * group (`fn.logGroupName`), in the log stream of the execution environment that wrote it.
 */
export type FunctionLogWriter = (fn: LocalFunction, logStreamName: string, line: string) => void;

/**
 * Execution environments a function may have at once when its template reserves no concurrency: enough for a
 * developer's connect bursts (the connect matrix, the benchmark's concurrency of 8) while bounding the
 * processes one function can start on a laptop (each is a Node.js process of about 40 to 60 MB). Lambda's own
 * account default (1,000) is meant for a fleet, not one machine.
 */
export const DEFAULT_CONCURRENCY_LIMIT = 10;

/** Lambda's limit on a function's Init phase (module load) before the first invocation can start. */
const INIT_LIMIT_MS = 10_000;

/** How to run the functions. */
export interface LambdaRunnerOptions {
  readonly functions: readonly LocalFunction[];
  readonly region: string;
  /**
   * URL of the local AWS API (e.g. `http://127.0.0.1:4567`): the functions' AWS SDK clients reach it through
   * `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SECRETS_MANAGER` and `AWS_ENDPOINT_URL_IOT`.
   */
  readonly awsEndpointUrl: string;
  /**
   * The access key pair the local AWS API verifies signatures against, given to the functions as
   * `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (as Lambda gives a function its role's credentials).
   * @default a fixed pair no local AWS API accepts (for runners whose functions call no AWS API)
   */
  readonly awsCredentials?: LocalAwsCredentials;
  /** Where each execution environment runs (see `Isolation`). @default 'process' */
  readonly isolation?: Isolation;
  /**
   * Execution environments per function whose template sets no `ReservedConcurrentExecutions`; an invocation
   * finding them all busy is throttled, as Lambda throttles a synchronous invoke.
   * @default DEFAULT_CONCURRENCY_LIMIT (10)
   */
  readonly concurrencyLimit?: number;
  /**
   * Where modules the bundle leaves external (`@aws-sdk/*`, which the Lambda runtime provides) are found:
   * set as the environment's `NODE_PATH`, which Node consults only after the bundle's own `node_modules`,
   * exactly as Lambda's runtime puts its SDK on `NODE_PATH`.
   * @default every `node_modules` directory from this package up to the file system root (the repository's)
   */
  readonly runtimeModulePaths?: readonly string[];
  /** @default writes to standard error */
  readonly log?: LogSink;
  /** Also receives each line, by log group and stream (local CloudWatch Logs). @default none */
  readonly functionLog?: FunctionLogWriter;
}

/** The default `awsCredentials`: shaped like an access key pair, accepted by no local AWS API. */
const UNACCEPTED_CREDENTIALS: LocalAwsCredentials = {
  accessKeyId: 'LOCALIOTACCESSKEYID0',
  secretAccessKey: 'local-iot-dummy-secret-access-key',
};

/** Why Lambda throttled an invocation (its `TooManyRequestsException`'s `Reason`). */
export type ThrottleReason =
  'ReservedFunctionConcurrentInvocationLimitExceeded' | 'ConcurrentInvocationLimitExceeded';

/** One invocation's outcome. */
export type InvocationResult =
  | {
      readonly ok: true;
      /** The handler's result, JSON round-tripped as Lambda returns it (`null` for `undefined`). */
      readonly value: unknown;
      /** From the call to the answer, as the caller waited (a cold start's Init included). */
      readonly durationMs: number;
      readonly requestId: string;
      /** The execution environment that ran it (its log stream name). */
      readonly environmentId: string;
    }
  | InvocationFailure;

/** An invocation that did not answer. */
export type InvocationFailure = {
  readonly ok: false;
  readonly errorType: string;
  readonly errorMessage: string;
  readonly durationMs: number;
  readonly requestId: string;
} & (
  | {
      /**
       * `error`: the handler threw or rejected (or its module failed to load); `timeout`: it did not answer in
       * time and its environment was ended; `crash`: its environment ended under it (process.exit, a signal,
       * an uncaught exception, out of memory).
       */
      readonly kind: 'error' | 'timeout' | 'crash';
      /** The execution environment that ran it. */
      readonly environmentId: string;
    }
  | {
      /** Every environment the function may have was busy: no environment ran it. */
      readonly kind: 'throttle';
      /** Lambda's reason and the limit that was reached. */
      readonly throttle: { readonly reason: ThrottleReason; readonly concurrencyLimit: number };
    }
);

/** How an invocation failed. */
export type InvocationFailureKind = InvocationFailure['kind'];

/** Per-invocation settings. */
export interface InvokeOptions {
  /**
   * The caller's limit, from the call (AWS IoT's 5 s for authorizers, which a cold start counts against);
   * the function's own Timeout applies from the start of the invocation when it ends sooner.
   */
  readonly timeoutMs?: number;
}

/** What a subscriber hears about invocations, as Lambda's Telemetry API tells an extension. */
export type InvocationTelemetry =
  | {
      readonly type: 'platform.start';
      readonly functionName: string;
      readonly requestId: string;
      readonly environmentId: string;
      /** This invocation started its environment. */
      readonly coldStart: boolean;
    }
  | {
      readonly type: 'platform.report';
      readonly functionName: string;
      readonly environmentId: string;
      readonly report: InvocationReport;
    };

/** One execution environment of a function, as `environments()` shows it. */
export interface EnvironmentInfo {
  /** Its log stream name (`YYYY/MM/DD/[$LATEST]<id>`), which Lambda gives each environment. */
  readonly id: string;
  /** The OS process of a `process` environment. */
  readonly pid: number | undefined;
  readonly state: 'initializing' | 'idle' | 'busy';
}

interface Invocation {
  readonly fn: LocalFunction;
  readonly requestId: string;
  readonly event: unknown;
  /** `performance.now()` at the call. */
  readonly called: number;
  /** The caller's deadline (`performance.now()` scale), if it set a limit. */
  readonly callerDeadline: number | undefined;
  /** What a timeout reports: min(function Timeout, caller's limit). */
  readonly limitMs: number;
  /** Before START: whether the caller's limit (rather than Lambda's Init limit) bounds the Init phase. */
  readonly callerBoundsInit: boolean;
  readonly resolve: (result: InvocationResult) => void;
  readonly environment: Environment;
  /** `performance.now()` at START, once the environment is ready. */
  started?: number;
  timer?: NodeJS.Timeout;
  settled: boolean;
}

interface Environment {
  readonly id: string;
  readonly fn: LocalFunction;
  transport: EnvironmentTransport;
  state: 'initializing' | 'idle' | 'busy' | 'dead';
  current?: Invocation;
  /** `performance.now()` when it was started. */
  readonly spawned: number;
  /**
   * From start to ready: Lambda's Init phase (the runtime starting, then the function's module loading).
   * Reported by the first invocation it runs (the cold start's).
   */
  initDurationMs?: number;
  coldStartReported: boolean;
  maxMemoryUsedMb: number;
}

interface Pool {
  readonly environments: Environment[];
  readonly limit: number;
  readonly log: PlatformLog;
  invocations: number;
  throttles: number;
}

/**
 * Runs Lambda bundles as Lambda runs them: each function gets execution environments (by default each its own
 * OS process; see `Isolation`) that stay warm between invocations and run one invocation at a time, created on
 * demand up to the function's concurrency limit (its `ReservedConcurrentExecutions`, else `concurrencyLimit`);
 * an invocation that finds them all busy is throttled at once (TooManyRequestsException, "Rate Exceeded."),
 * never queued. Each environment has its own `process.env` (the function's resolved environment plus
 * Lambda's reserved variables and the local AWS endpoint), a heap limit derived from `MemorySize`, and a
 * context object; an invocation times out after the function's Timeout counted from its start, or at the
 * caller's limit counted from the call. A handler that throws, hangs, exits, kills its process or runs out
 * of memory fails only its invocation (a dead environment is replaced on demand); the host goes on.
 *
 * The function's log gets Lambda's platform lines (START, END, REPORT, timeouts and runtime exits) and the
 * runtime's error records, in the function's log format (see `platform-log.ts`).
 */
export class LambdaRunner {
  private readonly functions = new Map<string, LocalFunction>();
  private readonly pools = new Map<string, Pool>();
  private readonly concurrencyLimit: number;
  private readonly entry: EnvironmentEntry;
  private readonly modulePaths: readonly string[];
  private readonly log: LogSink;
  private readonly listeners = new Set<(event: InvocationTelemetry) => void>();
  private closed = false;

  constructor(private readonly options: LambdaRunnerOptions) {
    for (const fn of options.functions) this.functions.set(fn.name, fn);
    this.concurrencyLimit = options.concurrencyLimit ?? DEFAULT_CONCURRENCY_LIMIT;
    if (!Number.isInteger(this.concurrencyLimit) || this.concurrencyLimit < 1) {
      throw new LocalIotError(
        `concurrencyLimit must be a positive integer, but ${this.concurrencyLimit} was given`,
      );
    }
    const isolation = options.isolation ?? 'process';
    if (!ISOLATIONS.includes(isolation)) {
      throw new LocalIotError(
        `isolation must be one of ${ISOLATIONS.join(', ')}, but ${JSON.stringify(isolation)} was given`,
      );
    }
    this.entry = resolveEnvironmentEntry(isolation);
    this.modulePaths = options.runtimeModulePaths ?? defaultModulePaths();
    this.log = options.log ?? stderrLine;
  }

  /** Where the environments run. */
  get isolation(): Isolation {
    return this.entry.isolation;
  }

  /** How many times `functionName` ran: every invocation an environment took, whatever its outcome. */
  invocationCount(functionName: string): number {
    return this.pools.get(functionName)?.invocations ?? 0;
  }

  /** How many invocations of `functionName` were throttled (no environment ran them). */
  throttleCount(functionName: string): number {
    return this.pools.get(functionName)?.throttles ?? 0;
  }

  /** The concurrency limit of `functionName`: its reserved concurrency, else the runner's default. */
  concurrencyLimitOf(functionName: string): number {
    const fn = this.functions.get(functionName);
    return fn?.reservedConcurrency ?? this.concurrencyLimit;
  }

  /** The live execution environments of `functionName`. */
  environments(functionName: string): EnvironmentInfo[] {
    const live = (this.pools.get(functionName)?.environments ?? []).filter(
      (environment): environment is Environment & { state: EnvironmentInfo['state'] } =>
        environment.state !== 'dead',
    );
    return live.map(({ id, transport, state }) => ({ id, pid: transport.pid, state }));
  }

  /** Number of live execution environments of `functionName` (never more than its concurrency limit). */
  environmentCount(functionName: string): number {
    return this.pools.get(functionName)?.environments.length ?? 0;
  }

  /** Subscribes to every invocation's start and report; returns the unsubscribe. */
  onTelemetry(listener: (event: InvocationTelemetry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Invokes `functionName` with `event`. Never rejects for anything the function does: failures (a throttle
   * included) are results.
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
    const pool = this.pool(fn);
    const called = performance.now();
    let environment = pool.environments.find((e) => e.state === 'idle');
    if (environment === undefined) {
      if (pool.environments.length >= pool.limit) return Promise.resolve(this.throttled(fn, pool));
      environment = this.spawn(fn, pool);
    }
    pool.invocations += 1;
    const limitMs = Math.min(fn.timeoutSeconds * 1000, options.timeoutMs ?? Number.POSITIVE_INFINITY);
    return new Promise<InvocationResult>((resolve) => {
      const invocation: Invocation = {
        fn,
        requestId: randomUUID(),
        event,
        called,
        callerDeadline: options.timeoutMs === undefined ? undefined : called + options.timeoutMs,
        limitMs,
        callerBoundsInit: (options.timeoutMs ?? Number.POSITIVE_INFINITY) <= INIT_LIMIT_MS,
        resolve,
        environment,
        settled: false,
      };
      environment.current = invocation;
      if (environment.state === 'idle') {
        this.begin(invocation);
      } else {
        // Cold: the environment is in its Init phase; the caller's limit runs, the function's Timeout not yet.
        const initLimit = invocation.callerBoundsInit ? (options.timeoutMs as number) : INIT_LIMIT_MS;
        invocation.timer = setTimeout(() => this.timeOut(invocation), initLimit);
      }
    });
  }

  /** Ends every environment; invocations still running end as crashes. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ending: Promise<void>[] = [];
    for (const pool of this.pools.values()) {
      for (const environment of pool.environments.splice(0)) {
        environment.state = 'dead';
        const invocation = environment.current;
        if (invocation)
          this.fail(invocation, 'crash', {
            errorType: 'Shutdown',
            errorMessage: 'local-iot is shutting down',
          });
        ending.push(environment.transport.kill());
      }
    }
    await Promise.all(ending);
  }

  private pool(fn: LocalFunction): Pool {
    let pool = this.pools.get(fn.name);
    if (pool === undefined) {
      pool = {
        environments: [],
        limit: fn.reservedConcurrency ?? this.concurrencyLimit,
        log: new PlatformLog(fn),
        invocations: 0,
        throttles: 0,
      };
      this.pools.set(fn.name, pool);
    }
    return pool;
  }

  private throttled(fn: LocalFunction, pool: Pool): InvocationResult {
    pool.throttles += 1;
    return {
      ok: false,
      kind: 'throttle',
      errorType: 'TooManyRequestsException',
      errorMessage: 'Rate Exceeded.',
      durationMs: 0,
      requestId: randomUUID(),
      throttle: {
        reason:
          fn.reservedConcurrency === undefined
            ? 'ConcurrentInvocationLimitExceeded'
            : 'ReservedFunctionConcurrentInvocationLimitExceeded',
        concurrencyLimit: pool.limit,
      },
    };
  }

  private spawn(fn: LocalFunction, pool: Pool): Environment {
    const id = logStreamName();
    const data: LambdaWorkerData = {
      codeDirectory: fn.codeDirectory,
      handler: fn.handler,
      context: {
        functionName: fn.name,
        functionVersion: '$LATEST',
        invokedFunctionArn: fn.arn,
        memoryLimitInMB: String(fn.memorySizeMb),
        logGroupName: fn.logGroupName,
        logStreamName: id,
      },
    };
    const environment: Environment = {
      id,
      fn,
      // Set right below: no message can arrive before startEnvironment returns.
      transport: undefined as unknown as EnvironmentTransport,
      spawned: performance.now(),
      state: 'initializing',
      coldStartReported: false,
      maxMemoryUsedMb: 0,
    };
    environment.transport = startEnvironment(
      this.entry,
      { memorySizeMb: fn.memorySizeMb, codeDirectory: fn.codeDirectory, env: this.environment(fn) },
      {
        message: (message) => this.onMessage(environment, message),
        output: (stream, line) => {
          this.log(`[${fn.name}] ${stream} ${line}`);
          this.options.functionLog?.(fn, id, line);
        },
        exit: (exit) => this.onExit(environment, exit),
      },
    );
    pool.environments.push(environment);
    environment.transport.send({ type: 'init', data });
    return environment;
  }

  /** The environment is ready: START, and the function's Timeout counts from here. */
  private begin(invocation: Invocation): void {
    const { environment, fn } = invocation;
    environment.state = 'busy';
    this.markStarted(invocation);
    const now = invocation.started ?? performance.now();
    clearTimeout(invocation.timer);
    const deadline = Math.min(
      now + fn.timeoutSeconds * 1000,
      invocation.callerDeadline ?? Number.POSITIVE_INFINITY,
    );
    invocation.timer = setTimeout(() => this.timeOut(invocation), Math.max(0, deadline - now));
    environment.transport.send({
      type: 'invoke',
      requestId: invocation.requestId,
      event: invocation.event,
      // The context's remaining time is the function's own, as in Lambda.
      deadline: Date.now() + fn.timeoutSeconds * 1000,
    });
  }

  /** START (the log line and the telemetry event), once per invocation. */
  private markStarted(invocation: Invocation): void {
    if (invocation.started !== undefined) return;
    const { environment, fn } = invocation;
    invocation.started = performance.now();
    this.platformLines(environment, this.pool(fn).log.start(invocation.requestId));
    this.emit({
      type: 'platform.start',
      functionName: fn.name,
      requestId: invocation.requestId,
      environmentId: environment.id,
      coldStart: !environment.coldStartReported,
    });
  }

  private onMessage(environment: Environment, message: WorkerMessage): void {
    const { fn } = environment;
    if (message.type === 'log') {
      const line = message.json
        ? message.message
        : `${message.requestId ?? '-'} ${message.level} ${message.message}`;
      this.log(`[${fn.name}] ${line}`);
      this.options.functionLog?.(fn, environment.id, line);
      return;
    }
    if (environment.state === 'dead') return;
    environment.maxMemoryUsedMb = Math.max(environment.maxMemoryUsedMb, message.maxMemoryUsedMb);
    if (message.type === 'ready') this.onReady(environment, message);
    else this.onResult(environment, message);
  }

  private onReady(environment: Environment, ready: ReadyMessage): void {
    environment.initDurationMs = performance.now() - environment.spawned;
    const invocation = environment.current;
    if (invocation === undefined) return;
    if (ready.error === undefined) {
      this.begin(invocation);
      return;
    }
    // A module that failed to load leaves nothing warm worth keeping: the next invocation starts afresh and
    // loads it again, as Lambda retries the Init.
    this.markStarted(invocation);
    this.retire(environment);
    this.finish(invocation, 'error', ready.error, true);
  }

  private onResult(environment: Environment, result: ResultMessage): void {
    const invocation = environment.current;
    if (invocation === undefined || invocation.requestId !== result.requestId) return;
    environment.current = undefined;
    environment.state = 'idle';
    if (result.ok) {
      this.report(invocation, 'success');
      this.settle(invocation, {
        ok: true,
        value: result.value,
        durationMs: elapsed(invocation),
        requestId: invocation.requestId,
        environmentId: environment.id,
      });
    } else {
      this.finish(
        invocation,
        'error',
        { errorType: result.errorType, errorMessage: result.errorMessage },
        false,
      );
    }
  }

  private onExit(environment: Environment, exit: EnvironmentExit): void {
    if (environment.state === 'dead') return;
    const invocation = environment.current;
    this.retire(environment);
    if (invocation === undefined || invocation.settled) return;
    const errorType = exit.outOfMemory ? 'Runtime.OutOfMemory' : 'Runtime.ExitError';
    const errorMessage = `RequestId: ${invocation.requestId} Error: Runtime exited with error: ${exit.description}`;
    this.markStarted(invocation);
    const { log } = this.pool(invocation.fn);
    this.platformLines(environment, log.runtimeExited(invocation.requestId, exit.description, errorType));
    // Out of memory, the environment used all it had.
    if (exit.outOfMemory) environment.maxMemoryUsedMb = invocation.fn.memorySizeMb;
    this.finish(invocation, 'crash', { errorType, errorMessage }, true);
  }

  private timeOut(invocation: Invocation): void {
    if (invocation.settled) return;
    const { environment, fn } = invocation;
    // The handler may never return: end its environment; the next invocation starts a fresh one.
    this.retire(environment);
    if (invocation.started === undefined) {
      this.fail(invocation, 'timeout', {
        errorType: 'Sandbox.Timedout',
        errorMessage: invocation.callerBoundsInit
          ? `Task timed out after ${(((invocation.callerDeadline ?? 0) - invocation.called) / 1000).toFixed(2)} seconds (in the Init phase of a cold start)`
          : `the function's Init phase did not finish within Lambda's ${INIT_LIMIT_MS / 1000} s`,
      });
      return;
    }
    const seconds = invocation.limitMs / 1000;
    this.platformLines(environment, this.pool(fn).log.timedOut(invocation.requestId, seconds));
    this.report(invocation, 'timeout', undefined, true);
    this.fail(invocation, 'timeout', {
      errorType: 'Sandbox.Timedout',
      errorMessage: `Task timed out after ${seconds.toFixed(2)} seconds`,
    });
  }

  /** Reports a failed invocation that started (END, REPORT) and settles it. */
  private finish(
    invocation: Invocation,
    kind: 'error' | 'crash',
    error: FunctionError,
    platformFailure: boolean,
  ): void {
    this.report(invocation, 'error', error.errorType, platformFailure);
    this.fail(invocation, kind, error);
  }

  /** END and REPORT, and the telemetry `platform.report`. */
  private report(
    invocation: Invocation,
    status: InvocationReport['status'],
    errorType?: string,
    platformFailure = false,
  ): void {
    const { environment, fn } = invocation;
    const coldStart = !environment.coldStartReported;
    environment.coldStartReported = true;
    const report: InvocationReport = {
      requestId: invocation.requestId,
      durationMs: performance.now() - (invocation.started ?? invocation.called),
      ...(coldStart &&
        environment.initDurationMs !== undefined && { initDurationMs: environment.initDurationMs }),
      maxMemoryUsedMb: environment.maxMemoryUsedMb,
      status,
      ...(errorType !== undefined && { errorType }),
      platformFailure,
    };
    this.platformLines(environment, this.pool(fn).log.end(report));
    this.emit({ type: 'platform.report', functionName: fn.name, environmentId: environment.id, report });
  }

  /** Takes `environment` out of its pool and ends it (its invocation, if any, is the caller's to settle). */
  private retire(environment: Environment): void {
    if (environment.state === 'dead') return;
    environment.state = 'dead';
    const pool = this.pool(environment.fn);
    const index = pool.environments.indexOf(environment);
    if (index >= 0) pool.environments.splice(index, 1);
    void environment.transport.kill();
  }

  private fail(invocation: Invocation, kind: 'error' | 'timeout' | 'crash', error: FunctionError): void {
    this.settle(invocation, {
      ok: false,
      kind,
      ...error,
      durationMs: elapsed(invocation),
      requestId: invocation.requestId,
      environmentId: invocation.environment.id,
    });
  }

  private settle(invocation: Invocation, result: InvocationResult): void {
    if (invocation.settled) return;
    invocation.settled = true;
    clearTimeout(invocation.timer);
    if (invocation.environment.current === invocation) invocation.environment.current = undefined;
    invocation.resolve(result);
  }

  private platformLines(environment: Environment, lines: readonly string[]): void {
    const { fn } = environment;
    for (const line of lines) {
      this.log(`[${fn.name}] ${line}`);
      this.options.functionLog?.(fn, environment.id, line);
    }
  }

  private emit(event: InvocationTelemetry): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log(`[local-iot] a telemetry listener failed on ${event.type}: ${String(error)}`);
      }
    }
  }

  /** An environment's whole `process.env`: nothing of the host's leaks in, as in a Lambda sandbox. */
  private environment(fn: LocalFunction): Record<string, string> {
    const { region, awsEndpointUrl, awsCredentials = UNACCEPTED_CREDENTIALS } = this.options;
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
      // No AWS_SESSION_TOKEN: the local AWS API hands out long-term keys and refuses any session token.
      AWS_ACCESS_KEY_ID: awsCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: awsCredentials.secretAccessKey,
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

function elapsed(invocation: Invocation): number {
  return Math.round((performance.now() - invocation.called) * 10) / 10;
}

function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  return `${day}/[$LATEST]${randomUUID().replace(/-/g, '')}`;
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
