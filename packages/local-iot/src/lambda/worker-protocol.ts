/**
 * The messages between `LambdaRunner` (the host) and a Lambda worker (`lambda-worker.ts`). Both sides import
 * these types from here, so the protocol is defined once. Every message is structured-clone safe.
 */

/** The Lambda context fields fixed for a worker's lifetime; the per-invocation ones are added per request. */
export interface LambdaContextBase {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
}

/** What a worker is started with (its `workerData`): which handler to load, and its context. */
export interface LambdaWorkerData {
  /** The function's code directory (`LAMBDA_TASK_ROOT`). */
  readonly codeDirectory: string;
  /** The function's `Handler` setting, e.g. `index.handler`. */
  readonly handler: string;
  readonly context: LambdaContextBase;
}

/** Host → worker: run the handler once. */
export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  readonly event: unknown;
  /** Epoch milliseconds at which the function times out (`context.getRemainingTimeInMillis()`). */
  readonly deadline: number;
}

/** Console levels of the Lambda Node.js runtime, lowest first. */
export const LAMBDA_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;

export type LambdaLogLevel = (typeof LAMBDA_LOG_LEVELS)[number];

/** Worker → host: one console call of the function, in call order. */
export interface LogMessage {
  readonly type: 'log';
  readonly level: LambdaLogLevel;
  /** The invocation running when the function logged; absent before the first one (module load). */
  readonly requestId?: string;
  /** Whether `message` is already a whole JSON log line (`LoggingConfig.LogFormat: JSON`). */
  readonly json: boolean;
  readonly message: string;
}

/** Worker → host: how one invocation ended. */
export type ResultMessage =
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly ok: true;
      /** The handler's result, JSON round-tripped (`null` for `undefined`). */
      readonly value: unknown;
      readonly fatal?: false;
    }
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly ok: false;
      readonly errorType: string;
      readonly errorMessage: string;
      /** The handler's module failed to load: the worker holds nothing worth keeping warm. */
      readonly fatal?: boolean;
    };

/** Every message a worker sends. */
export type WorkerMessage = LogMessage | ResultMessage;
