import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import {
  type FunctionError,
  type InvokeMessage,
  LAMBDA_LOG_LEVELS,
  type LambdaContextBase,
  type LambdaLogLevel,
  type LambdaWorkerData,
  type LogMessage,
  type ReadyMessage,
  type ResultMessage,
} from './worker-protocol';

/** The context object a handler gets, as the Lambda Node.js runtime builds it. */
export interface LambdaContext extends LambdaContextBase {
  readonly awsRequestId: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

/** A minimal Lambda Node.js runtime serving one function in the current thread or process. */
export interface LambdaRuntime {
  /** Lambda's Init phase: loads the handler's module once; a failure is logged as Lambda logs it. */
  init(): Promise<ReadyMessage>;
  /** Runs the handler once (loading its module first if needed). Never rejects for anything the handler does. */
  invoke(message: InvokeMessage): Promise<ResultMessage>;
  /**
   * Logs an error nothing caught (`Uncaught Exception`, `Unhandled Promise Rejection`) with the error record
   * Lambda's runtime writes before it exits the environment.
   */
  logUncaught(label: string, error: unknown): void;
}

type Handler = (event: unknown, context: LambdaContext, callback: HandlerCallback) => unknown;
type HandlerCallback = (error?: unknown, value?: unknown) => void;

/** How the runtime reaches its host: log messages out, and the environment's peak memory in MB. */
export interface LambdaRuntimeHost {
  readonly sendLog: (message: LogMessage) => void;
  readonly maxMemoryUsedMb: () => number;
}

/**
 * Starts a minimal Lambda Node.js runtime for the function `data` describes. It owns the thread or process it
 * runs in: it replaces the global console so that every call reaches `host.sendLog` as one message, and the
 * handler's module state lives as long as it does. It knows nothing of how messages travel (worker thread or
 * child process): the caller carries `sendLog`'s messages and `invoke`'s results to the host.
 */
export function createLambdaRuntime(data: LambdaWorkerData, host: LambdaRuntimeHost): LambdaRuntime {
  let currentRequestId: string | undefined;
  const logger = captureConsole(host.sendLog, () => currentRequestId);
  let handlerFunction: Handler | undefined;
  const loadOnce = async (): Promise<Handler> => (handlerFunction ??= await loadHandler(data));

  return {
    async init(): Promise<ReadyMessage> {
      try {
        await loadOnce();
        return { type: 'ready', maxMemoryUsedMb: host.maxMemoryUsedMb() };
      } catch (error) {
        logger.logError('Uncaught Exception', error);
        return { type: 'ready', error: initError(error), maxMemoryUsedMb: host.maxMemoryUsedMb() };
      }
    },

    async invoke({ requestId, event, deadline }: InvokeMessage): Promise<ResultMessage> {
      currentRequestId = requestId;
      const context: LambdaContext = {
        ...data.context,
        awsRequestId: requestId,
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      const failed = (error: FunctionError): ResultMessage => ({
        type: 'result',
        requestId,
        ok: false,
        ...error,
        maxMemoryUsedMb: host.maxMemoryUsedMb(),
      });
      let fn: Handler;
      try {
        fn = await loadOnce();
      } catch (error) {
        logger.logError('Uncaught Exception', error);
        return failed(initError(error));
      }
      try {
        const json = JSON.stringify(await callHandler(fn, event, context));
        return {
          type: 'result',
          requestId,
          ok: true,
          value: json === undefined ? null : JSON.parse(json),
          maxMemoryUsedMb: host.maxMemoryUsedMb(),
        };
      } catch (error) {
        logger.logError('Invoke Error', error);
        const isError = error instanceof Error;
        return failed({
          errorType: isError ? error.name : typeof error,
          errorMessage: isError ? error.message : String(error),
        });
      }
    },

    logUncaught: (label, error) => logger.logError(label, error),
  };
}

/** A module that failed to load, as Lambda names it: its own error type, else `Runtime.ImportModuleError`. */
function initError(error: unknown): FunctionError {
  const { name, message } = (error || {}) as { name?: unknown; message?: unknown };
  return {
    errorType: typeof name === 'string' && name !== '' ? name : 'Runtime.ImportModuleError',
    errorMessage: String(message || error),
  };
}

/** The console the runtime installed, and the runtime's own error records written through it. */
interface CapturedConsole {
  /**
   * Writes the record Lambda's Node.js runtime writes for an error it reports: in Text,
   * `<label> \t{"errorType","errorMessage",...,"stack":[lines]}`; in JSON, a log line whose `message` is
   * `{"errorType","errorMessage","stackTrace":[lines],...}`.
   */
  logError(label: string, error: unknown): void;
}

/**
 * Lambda's runtime tags console output with the request id and level (Text), or writes one JSON object per
 * call filtered by the application log level (JSON); each call reaches the host as one message, in order.
 * The JSON shapes follow the Node.js runtime interface client: one argument is the `message` as is (an Error
 * serialized as errorType, errorMessage, stackTrace), several are formatted into one string, with the first
 * Error's fields beside it.
 */
function captureConsole(
  sendLog: (message: LogMessage) => void,
  requestId: () => string | undefined,
): CapturedConsole {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON';
  const rank = (level: string): number => LAMBDA_LOG_LEVELS.indexOf(level as LambdaLogLevel);
  const minimumRank = json
    ? Math.max(0, rank(String(process.env.AWS_LAMBDA_LOG_LEVEL || 'INFO').toUpperCase()))
    : 0;
  const write = (level: LambdaLogLevel, args: readonly unknown[]): void => {
    if (rank(level) < minimumRank) return;
    const current = requestId();
    const message = json ? jsonLogLine(level, current, args) : format(...args);
    sendLog({ type: 'log', level, requestId: current, json, message });
  };
  const methods = [
    ['log', 'INFO'],
    ['info', 'INFO'],
    ['warn', 'WARN'],
    ['error', 'ERROR'],
    ['debug', 'DEBUG'],
    ['trace', 'TRACE'],
  ] as const;
  for (const [method, level] of methods) console[method] = (...args: unknown[]): void => write(level, args);
  return {
    logError(label, error) {
      const asError = error instanceof Error ? error : new Error(String(error));
      write('ERROR', json ? [asError] : [label, `\t${JSON.stringify(textErrorRecord(asError))}`]);
    },
  };
}

/** One JSON log line: `timestamp`, `level`, `requestId` and the `message` (see `captureConsole`). */
function jsonLogLine(level: LambdaLogLevel, requestId: string | undefined, args: readonly unknown[]): string {
  const line: Record<string, unknown> = { timestamp: new Date().toISOString(), level, requestId };
  if (args.length === 1) {
    line.message = args[0];
    try {
      return JSON.stringify(line, (_key, value: unknown) =>
        value instanceof Error ? jsonErrorRecord(value) : value,
      );
    } catch {
      line.message = format(args[0]);
      return JSON.stringify(line);
    }
  }
  line.message = format(...args);
  const error = args.find((arg): arg is Error => arg instanceof Error);
  if (error !== undefined) {
    Object.assign(line, {
      errorType: error.constructor?.name ?? 'UnknownError',
      errorMessage: error.message,
      stackTrace: stackLines(error),
    });
  }
  return JSON.stringify(line);
}

function stackLines(error: Error): string[] {
  return typeof error.stack === 'string' ? error.stack.split('\n') : [];
}

/** An Error in a JSON log line, as the runtime serializes it. */
function jsonErrorRecord(error: Error): Record<string, unknown> {
  return {
    errorType: error.constructor?.name ?? 'UnknownError',
    errorMessage: error.message,
    stackTrace: stackLines(error),
    ...error,
  };
}

/** An Error in a Text error record (`Invoke Error`, `Uncaught Exception`), as the runtime serializes it. */
function textErrorRecord(error: Error): Record<string, unknown> {
  return { errorType: error.name, errorMessage: error.message, ...error, stack: stackLines(error) };
}

function runtimeError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Loads the handler as the Lambda Node.js runtime does: `<module>.<export path>`, CommonJS or ES module. */
async function loadHandler({ codeDirectory, handler }: LambdaWorkerData): Promise<Handler> {
  const slash = handler.lastIndexOf('/');
  const dot = handler.indexOf('.', slash + 1);
  const moduleName = handler.slice(0, dot);
  const exportPath = handler.slice(dot + 1).split('.');
  const base = path.resolve(codeDirectory, moduleName);
  const file = ['.js', '.cjs', '.mjs']
    .map((extension) => base + extension)
    .find((candidate) => existsSync(candidate));
  if (file === undefined) {
    throw runtimeError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  }
  let loaded: unknown;
  if (file.endsWith('.mjs')) {
    loaded = await import(pathToFileURL(file).href);
  } else {
    try {
      loaded = createRequire(path.join(codeDirectory, 'index.js'))(file);
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code !== 'ERR_REQUIRE_ESM') throw error;
      loaded = await import(pathToFileURL(file).href);
    }
  }
  let target = loaded;
  for (const key of exportPath)
    target = target == null ? undefined : (target as Record<string, unknown>)[key];
  if (typeof target !== 'function') {
    throw runtimeError(
      'Runtime.HandlerNotFound',
      `${moduleName}.${exportPath.join('.')} is undefined or not exported`,
    );
  }
  return target as Handler;
}

/** Runs a promise-returning, callback-style or synchronous handler and settles with what it answers. */
function callHandler(fn: Handler, event: unknown, context: LambdaContext): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // Lambda reports whatever a handler fails with, Error or not (a non-Error's errorType is its typeof).
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    const callback: HandlerCallback = (error, value) => (error ? reject(error) : resolve(value));
    const returned = fn(event, context, callback);
    if (isThenable(returned)) returned.then(resolve, reject);
    // A synchronous handler that takes no callback answers null, as in Lambda.
    else if (fn.length < 3) resolve(null);
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return Boolean(value) && typeof (value as { then?: unknown }).then === 'function';
}
