/**
 * The messages between `LambdaRunner` (the host) and a Lambda execution environment (a child process started
 * from `lambda-process.ts`, or a worker thread from `lambda-worker.ts`). Both sides import these types from
 * here, so the protocol is defined once, whichever transport carries it. Every message is plain JSON (strings,
 * numbers, booleans, arrays, objects): the child process channel uses Node's `json` serialization, cheaper per
 * message than `advanced` and what Lambda does to an event and a result anyway; worker threads clone the same
 * values.
 */

/** The Lambda context fields fixed for an environment's lifetime; the per-invocation ones are added per request. */
export interface LambdaContextBase {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
}

/** What an environment is started with: which handler to load, and its context. */
export interface LambdaWorkerData {
  /** The function's code directory (`LAMBDA_TASK_ROOT`). */
  readonly codeDirectory: string;
  /** The function's `Handler` setting, e.g. `index.handler`. */
  readonly handler: string;
  readonly context: LambdaContextBase;
}

/** Host → environment, first and once: load the function (Lambda's Init phase). */
export interface InitMessage {
  readonly type: 'init';
  readonly data: LambdaWorkerData;
}

/** Host → environment: run the handler once. */
export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  readonly event: unknown;
  /** Epoch milliseconds at which the function times out (`context.getRemainingTimeInMillis()`). */
  readonly deadline: number;
}

/** Every message the host sends. */
export type HostMessage = InitMessage | InvokeMessage;

/** Console levels of the Lambda Node.js runtime, lowest first. */
export const LAMBDA_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;

export type LambdaLogLevel = (typeof LAMBDA_LOG_LEVELS)[number];

/** Environment → host: one console call of the function (or one error record of the runtime), in order. */
export interface LogMessage {
  readonly type: 'log';
  readonly level: LambdaLogLevel;
  /** The invocation running when the function logged; absent before the first one (module load). */
  readonly requestId?: string;
  /** Whether `message` is already a whole JSON log line (`LoggingConfig.LogFormat: JSON`). */
  readonly json: boolean;
  readonly message: string;
}

/** An error as Lambda reports it: its type (`Error`, `Runtime.ImportModuleError`...) and message. */
export interface FunctionError {
  readonly errorType: string;
  readonly errorMessage: string;
}

/** Environment → host, once, after the Init phase: the handler is loaded (or could not be). */
export interface ReadyMessage {
  readonly type: 'ready';
  /** Why the module did not load; the environment holds nothing worth keeping warm then. */
  readonly error?: FunctionError;
  readonly maxMemoryUsedMb: number;
}

/** Environment → host: how one invocation ended. */
export type ResultMessage = {
  readonly type: 'result';
  readonly requestId: string;
  /** The environment's peak memory so far (`Max Memory Used`), in MB. */
  readonly maxMemoryUsedMb: number;
} & (
  | {
      readonly ok: true;
      /** The handler's result, JSON round-tripped (`null` for `undefined`). */
      readonly value: unknown;
    }
  | ({ readonly ok: false } & FunctionError)
);

/** Every message an environment sends. */
export type WorkerMessage = LogMessage | ReadyMessage | ResultMessage;
