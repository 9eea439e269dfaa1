/**
 * Entry point of a Lambda execution environment in a worker thread (`isolation: 'thread'`), started by
 * `LambdaRunner`: carries the host's messages to the environment (`lambda-environment.ts`) over the thread's
 * port. A thread shares the host process, so this isolation cannot survive a function that kills the process.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { serveLambdaEnvironment } from './lambda-environment';
import type { HostMessage } from './worker-protocol';

if (parentPort === null) {
  throw new Error('lambda-worker runs only as a worker thread started by LambdaRunner');
}
const port = parentPort;
// The process's resident set is the host's; the thread's own memory is its isolate's heap, sampled at peak.
let peakHeapBytes = 0;
serveLambdaEnvironment({
  send: (message) => port.postMessage(message),
  // A posted message is delivered even when the thread exits right after.
  flush: (then) => then(),
  onMessage: (listener) => port.on('message', (message: HostMessage) => listener(message)),
  maxMemoryUsedMb: () => {
    peakHeapBytes = Math.max(peakHeapBytes, getHeapStatistics().total_heap_size);
    return Math.ceil(peakHeapBytes / 1024 / 1024);
  },
});
