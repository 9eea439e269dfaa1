import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import {
  type InvokeMessage,
  LAMBDA_LOG_LEVELS,
  type LambdaContextBase,
  type LambdaLogLevel,
  type LambdaWorkerData,
  type LogMessage,
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
  /** Runs the handler once (loading its module first if needed). Never rejects for anything the handler does. */
  invoke(message: InvokeMessage): Promise<ResultMessage>;
}

type Handler = (event: unknown, context: LambdaContext, callback: HandlerCallback) => unknown;
type HandlerCallback = (error?: unknown, value?: unknown) => void;

/**
 * Starts a minimal Lambda Node.js runtime for the function `data` describes. It owns the thread or process it
 * runs in: it replaces the global console so that every call reaches `sendLog` as one message, and the
 * handler's module state lives as long as it does. It knows nothing of how messages travel (worker thread or
 * child process): the caller carries `sendLog`'s messages and `invoke`'s results to the host.
 */
export function createLambdaRuntime(
  data: LambdaWorkerData,
  sendLog: (message: LogMessage) => void,
): LambdaRuntime {
  let currentRequestId: string | undefined;
  captureConsole(sendLog, () => currentRequestId);
  let handlerFunction: Handler | undefined;
  const loadOnce = async (): Promise<Handler> => (handlerFunction ??= await loadHandler(data));

  return {
    async invoke({ requestId, event, deadline }: InvokeMessage): Promise<ResultMessage> {
      currentRequestId = requestId;
      const context: LambdaContext = {
        ...data.context,
        awsRequestId: requestId,
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      let fn: Handler;
      try {
        fn = await loadOnce();
      } catch (error) {
        const { name, message } = (error || {}) as { name?: unknown; message?: unknown };
        return {
          type: 'result',
          requestId,
          ok: false,
          fatal: true,
          errorType: typeof name === 'string' && name !== '' ? name : 'Runtime.ImportModuleError',
          errorMessage: String(message || error),
        };
      }
      try {
        const json = JSON.stringify(await callHandler(fn, event, context));
        return { type: 'result', requestId, ok: true, value: json === undefined ? null : JSON.parse(json) };
      } catch (error) {
        const isError = error instanceof Error;
        return {
          type: 'result',
          requestId,
          ok: false,
          errorType: isError ? error.name : typeof error,
          errorMessage: isError ? error.message : String(error),
        };
      }
    },
  };
}

/**
 * Lambda's runtime tags console output with the request id and level (Text), or writes one JSON object per
 * call filtered by the application log level (JSON); each call reaches the host as one message, in order.
 */
function captureConsole(sendLog: (message: LogMessage) => void, requestId: () => string | undefined): void {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON';
  const rank = (level: string): number => LAMBDA_LOG_LEVELS.indexOf(level as LambdaLogLevel);
  const minimumRank = json
    ? Math.max(0, rank(String(process.env.AWS_LAMBDA_LOG_LEVEL || 'INFO').toUpperCase()))
    : 0;
  const methods = [
    ['log', 'INFO'],
    ['info', 'INFO'],
    ['warn', 'WARN'],
    ['error', 'ERROR'],
    ['debug', 'DEBUG'],
    ['trace', 'TRACE'],
  ] as const;
  for (const [method, level] of methods) {
    console[method] = (...args: unknown[]): void => {
      if (rank(level) < minimumRank) return;
      const current = requestId();
      let message: string;
      if (json) {
        const single =
          args.length === 1 && args[0] !== null && typeof args[0] === 'object' && !(args[0] instanceof Error);
        message = JSON.stringify({
          timestamp: new Date().toISOString(),
          level,
          requestId: current,
          message: single ? args[0] : format(...args),
        });
      } else {
        message = format(...args);
      }
      sendLog({ type: 'log', level, requestId: current, json, message });
    };
  }
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
