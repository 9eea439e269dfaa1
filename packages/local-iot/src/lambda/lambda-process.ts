/**
 * Entry point of a Lambda execution environment in its own OS process (`isolation: 'process'`, the default),
 * forked by `LambdaRunner`: carries the host's messages to the environment (`lambda-environment.ts`) over the
 * IPC channel. Whatever the function does to this process (exit, kill, crash, run out of memory) ends only
 * this environment.
 *
 * It never outlives its host: when the IPC channel closes (the host exited or died) it exits, and a watchdog
 * thread ends it even while the function blocks the event loop (a busy loop would never see the disconnect).
 */
import { Worker } from 'node:worker_threads';
import { serveLambdaEnvironment } from './lambda-environment';
import type { HostMessage, WorkerMessage } from './worker-protocol';

const send = process.send?.bind(process);
if (send === undefined) {
  throw new Error('lambda-process runs only as a child process forked by LambdaRunner (with an IPC channel)');
}
process.on('disconnect', () => process.exit(0));
watchParent();

let unsent = 0;
const flushed: (() => void)[] = [];
serveLambdaEnvironment({
  send: (message: WorkerMessage) => {
    unsent += 1;
    send(message, undefined, undefined, () => {
      unsent -= 1;
      if (unsent === 0) for (const then of flushed.splice(0)) then();
    });
  },
  flush: (then) => (unsent === 0 ? then() : void flushed.push(then)),
  onMessage: (listener) => process.on('message', (message: HostMessage) => listener(message)),
  // maxRSS is the process's peak resident set in KiB, as Lambda measures the environment.
  maxMemoryUsedMb: () => Math.ceil(process.resourceUsage().maxRSS / 1024),
});

/**
 * A thread of its own that checks, twice a second, that the host is still this process's parent; when the host
 * is gone (this process was re-parented), it kills this process. It runs while the main thread is blocked.
 */
function watchParent(): void {
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, 500);`,
    // Without the host's flags (tsx when run from sources): the watchdog needs nothing but Node.js.
    { eval: true, workerData: process.ppid, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 8 } },
  );
  // It must not keep an environment alive that has nothing else to do.
  watchdog.unref();
}
