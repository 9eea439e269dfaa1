/**
 * Entry point of a Lambda worker thread, started by `LambdaRunner`: carries the runner's messages to and from
 * the Lambda runtime (`lambda-runtime.ts`), which does the work.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLambdaRuntime } from './lambda-runtime';
import type { InvokeMessage, LambdaWorkerData, WorkerMessage } from './worker-protocol';

if (parentPort === null) {
  throw new Error('lambda-worker runs only as a worker thread started by LambdaRunner');
}
const port = parentPort;
const send = (message: WorkerMessage): void => port.postMessage(message);
const runtime = createLambdaRuntime(workerData as LambdaWorkerData, send);

port.on('message', (message: InvokeMessage | undefined) => {
  if (message?.type !== 'invoke') return;
  // `invoke` settles with a result for whatever the handler does; should sending fail, the rejection is
  // unhandled and ends this worker, which the runner reports as a crash.
  void runtime.invoke(message).then(send);
});
