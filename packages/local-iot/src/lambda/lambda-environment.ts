/**
 * What runs inside a Lambda execution environment, whichever transport carries its messages (the child
 * process entry `lambda-process.ts`, the worker thread entry `lambda-worker.ts`): it starts the Lambda
 * runtime on the host's `init` message, runs each `invoke`, and ends the environment on an error nothing
 * caught, as Lambda's Node.js runtime does (exit status 129 for an uncaught exception, 128 for an unhandled
 * rejection, after logging the error record).
 */
import { createLambdaRuntime, type LambdaRuntime } from './lambda-runtime';
import type { HostMessage, WorkerMessage } from './worker-protocol';

/** How an environment entry talks to its host. */
export interface EnvironmentChannel {
  send(message: WorkerMessage): void;
  /** Runs `then` once every message sent so far is on its way, so that exiting then loses none of them. */
  flush(then: () => void): void;
  onMessage(listener: (message: HostMessage) => void): void;
  /** The environment's peak memory so far, in MB (`Max Memory Used`). */
  maxMemoryUsedMb(): number;
}

/** Serves the Lambda runtime over `channel` until the host ends this environment. */
export function serveLambdaEnvironment(channel: EnvironmentChannel): void {
  let runtime: LambdaRuntime | undefined;
  const exitWith = (label: string, code: number, error: unknown): void => {
    if (runtime === undefined) process.stderr.write(`${label}: ${String(error)}\n`);
    else runtime.logUncaught(label, error);
    channel.flush(() => process.exit(code));
  };
  process.on('uncaughtException', (error) => exitWith('Uncaught Exception', 129, error));
  process.on('unhandledRejection', (reason) => {
    // The runtime reports a rejection nothing handled as its own error type, the reason as its message.
    const error = new Error(reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason));
    error.name = 'Runtime.UnhandledPromiseRejection';
    exitWith('Unhandled Promise Rejection', 128, error);
  });
  channel.onMessage((message) => {
    if (message.type === 'init' && runtime === undefined) {
      runtime = createLambdaRuntime(message.data, {
        sendLog: (log) => channel.send(log),
        maxMemoryUsedMb: () => channel.maxMemoryUsedMb(),
      });
      void runtime.init().then((ready) => channel.send(ready));
    } else if (message.type === 'invoke' && runtime !== undefined) {
      // `invoke` settles with a result for whatever the handler does; should sending fail, the rejection is
      // unhandled and ends this environment, which the host reports as a crash.
      void runtime.invoke(message).then((result) => channel.send(result));
    }
  });
}
