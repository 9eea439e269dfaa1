/**
 * The host side of one Lambda execution environment: starts it in a child process or a worker thread, carries
 * messages both ways, splits its stdout and stderr into lines, and describes how it ended in Lambda's words.
 * The pool (`LambdaRunner`) is the same for both isolations; only this transport differs.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { LocalIotError } from '../errors';
import type { HostMessage, WorkerMessage } from './worker-protocol';

/**
 * Where a function's environments run: `process`, one OS process each (nothing a function does can end the
 * host), or `thread`, one worker thread each inside the host (cheaper, but `process.kill(process.pid)`, a
 * native crash or `process.abort()` in a function ends the host).
 */
export type Isolation = 'process' | 'thread';

/** The isolations, for validating a setting. */
export const ISOLATIONS: readonly Isolation[] = ['process', 'thread'];

/** What an environment is started with. */
export interface EnvironmentSpec {
  /** The function's `MemorySize`: the environment's heap limit is derived from it as Lambda's runtime does. */
  readonly memorySizeMb: number;
  /** The function's code directory: a process environment's working directory, as `/var/task` is in Lambda. */
  readonly codeDirectory: string;
  /** The environment's whole `process.env`. */
  readonly env: Readonly<Record<string, string>>;
}

/** How an environment ended, in the words Lambda uses after `Runtime exited with error: `. */
export interface EnvironmentExit {
  /** `exit status 3`, `signal: killed`... */
  readonly description: string;
  /** It ran out of memory (the heap limit derived from `MemorySize`). */
  readonly outOfMemory: boolean;
}

/** What an environment reports to its host. */
export interface EnvironmentListener {
  message(message: WorkerMessage): void;
  /** One line the function wrote to its stdout or stderr directly (not through the console). */
  output(stream: 'STDOUT' | 'STDERR', line: string): void;
  /** Called once, when the environment is gone (whoever ended it). */
  exit(exit: EnvironmentExit): void;
}

/** A started environment. */
export interface EnvironmentTransport {
  /** The OS process id of a process environment; undefined for a thread. */
  readonly pid: number | undefined;
  send(message: HostMessage): void;
  /** Ends the environment at once (SIGKILL, or terminating the thread); resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * The V8 heap limits Lambda's Node.js runtime derives from `MemorySize` (its bootstrap script): a tenth of
 * the memory for the young generation, half of that per semi-space, the rest for the old generation.
 */
export function lambdaHeapLimits(memorySizeMb: number): {
  oldSpaceMb: number;
  newSpaceMb: number;
  semiSpaceMb: number;
} {
  const newSpaceMb = Math.floor(memorySizeMb / 10);
  return { oldSpaceMb: memorySizeMb - newSpaceMb, newSpaceMb, semiSpaceMb: Math.floor(newSpaceMb / 2) };
}

/** The script an isolation's environments start from, and the Node.js flags it needs. */
export interface EnvironmentEntry {
  readonly isolation: Isolation;
  readonly filename: string;
  readonly execArgv: readonly string[];
}

/** Starts one environment from `entry`; `listener` hears from it until its `exit`. */
export function startEnvironment(
  entry: EnvironmentEntry,
  spec: EnvironmentSpec,
  listener: EnvironmentListener,
): EnvironmentTransport {
  return entry.isolation === 'process'
    ? startProcess(entry, spec, listener)
    : startThread(entry, spec, listener);
}

/** V8's message when a heap limit is reached; a process prints it on stderr before it aborts. */
const OUT_OF_MEMORY_MARKER = 'JavaScript heap out of memory';

function startProcess(
  script: EnvironmentEntry,
  spec: EnvironmentSpec,
  listener: EnvironmentListener,
): EnvironmentTransport {
  const { oldSpaceMb, semiSpaceMb } = lambdaHeapLimits(spec.memorySizeMb);
  const child = fork(script.filename, [], {
    cwd: spec.codeDirectory,
    env: spec.env,
    execArgv: [
      ...script.execArgv,
      `--max-old-space-size=${oldSpaceMb}`,
      `--max-semi-space-size=${semiSpaceMb}`,
    ],
    // The messages are JSON (worker-protocol.ts); `json` costs less CPU per message than `advanced`.
    serialization: 'json',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // Invocations in flight keep the host alive through their timers; an idle environment must not.
  child.unref();
  child.channel?.unref();
  let outOfMemory = false;
  readLines(child.stdout, (line) => listener.output('STDOUT', line));
  readLines(child.stderr, (line) => {
    if (line.includes(OUT_OF_MEMORY_MARKER)) outOfMemory = true;
    listener.output('STDERR', line);
  });
  for (const stream of [child.stdout, child.stderr]) (stream as Socket | null)?.unref();
  child.on('message', (message: WorkerMessage) => listener.message(message));
  let startError: Error | undefined;
  child.on('error', (error) => {
    // Only a process that could not be started (or signalled) says so; its 'close' still follows.
    startError ??= error;
  });
  // 'close' comes after 'exit' once stdout and stderr are drained, so the out-of-memory line has been read.
  const closed = new Promise<void>((resolve) => {
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      listener.exit({
        description: startError
          ? `the environment could not start: ${startError.message}`
          : code !== null
            ? `exit status ${code}`
            : `signal: ${signalDescription(signal)}`,
        outOfMemory,
      });
      resolve();
    });
  });
  return {
    pid: child.pid,
    send: (message) => sendToChild(child, message),
    kill: async () => {
      // A process the function spawned may hold the pipes open; once this one is gone they are not needed.
      const dropPipes = (): void => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      };
      if (child.exitCode === null && child.signalCode === null) {
        // Whoever ends an environment waits for it: the host must not exit before the process is gone.
        child.ref();
        child.once('exit', dropPipes);
        child.kill('SIGKILL');
      } else {
        dropPipes();
      }
      await closed;
    },
  };
}

function sendToChild(child: ChildProcess, message: HostMessage): void {
  if (!child.connected) return; // gone: its 'close' reports why
  child.send(message, (error) => {
    // The channel closed under the message: the process is ending, and its 'close' reports why.
    void error;
  });
}

function startThread(
  script: EnvironmentEntry,
  spec: EnvironmentSpec,
  listener: EnvironmentListener,
): EnvironmentTransport {
  const { oldSpaceMb, newSpaceMb } = lambdaHeapLimits(spec.memorySizeMb);
  const worker = new Worker(script.filename, {
    // Given in full: the host's own flags may hold ones a worker refuses (ERR_WORKER_INVALID_EXEC_ARGV).
    execArgv: [...script.execArgv],
    env: spec.env,
    stdout: true,
    stderr: true,
    // A runaway allocation ends this worker (ERR_WORKER_OUT_OF_MEMORY), not the host.
    resourceLimits: { maxOldGenerationSizeMb: oldSpaceMb, maxYoungGenerationSizeMb: newSpaceMb },
  });
  worker.unref();
  readLines(worker.stdout, (line) => listener.output('STDOUT', line));
  readLines(worker.stderr, (line) => listener.output('STDERR', line));
  worker.on('message', (message: WorkerMessage) => listener.message(message));
  let outOfMemory = false;
  worker.on('error', (error: Error & { code?: string }) => {
    // Uncaught exceptions end the environment from inside (exit 129); what arrives here is the thread's own end.
    outOfMemory ||= error.code === 'ERR_WORKER_OUT_OF_MEMORY';
    listener.output('STDERR', `${error.name}: ${error.message}`);
  });
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      listener.exit({ description: `exit status ${code}`, outOfMemory });
      resolve();
    });
  });
  return {
    pid: undefined,
    send: (message) => worker.postMessage(message),
    kill: async () => {
      worker.ref();
      await worker.terminate();
      await exited;
    },
  };
}

/** Calls `onLine` for every line of `stream`, the last one even without its newline. */
function readLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (stream === null) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (buffered + chunk).split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (buffered) onLine(buffered);
    buffered = '';
  });
}

/** How Lambda (its Go runtime host) names the signal that ended the runtime process. */
function signalDescription(signal: NodeJS.Signals | null): string {
  const names: Partial<Record<NodeJS.Signals, string>> = {
    SIGABRT: 'aborted',
    SIGBUS: 'bus error',
    SIGFPE: 'floating point exception',
    SIGHUP: 'hangup',
    SIGILL: 'illegal instruction',
    SIGINT: 'interrupt',
    SIGKILL: 'killed',
    SIGPIPE: 'broken pipe',
    SIGQUIT: 'quit',
    SIGSEGV: 'segmentation fault',
    SIGTERM: 'terminated',
  };
  return signal === null ? 'unknown' : (names[signal] ?? signal);
}

/**
 * The entry script of `isolation` (`lambda-process` or `lambda-worker`) next to this module and in the same
 * form: the compiled `.js` when this module runs from `dist`, the `.ts` source when it runs from sources (Jest
 * with ts-jest, `tsx`). Pairing by this module's own extension, rather than taking a `.js` whenever one exists,
 * means sources never run a stale compiled entry.
 *
 * A `.ts` entry runs through tsx's CommonJS hook, preloaded with `--require <tsx/cjs>`: that hook registers
 * synchronously before the entry script loads, in a child process and in a worker alike. `--import tsx` does
 * not work for a worker: on Node.js 20 the hooks it registers do not reach a worker's entry script
 * (ERR_UNKNOWN_FILE_EXTENSION). The path is resolved here because the entry resolves `--require` from its own
 * working directory, not from this package.
 * @throws LocalIotError when the script is missing, or tsx is for the `.ts` one.
 */
export function resolveEnvironmentEntry(isolation: Isolation): EnvironmentEntry {
  const name = isolation === 'process' ? 'lambda-process' : 'lambda-worker';
  const fromSources = __filename.endsWith('.ts');
  const filename = join(__dirname, `${name}${fromSources ? '.ts' : '.js'}`);
  if (!existsSync(filename)) {
    throw new LocalIotError(
      `the Lambda environment entry ${filename} is missing: rebuild local-iot (npm run build)`,
    );
  }
  if (!fromSources) return { isolation, filename, execArgv: [] };
  let tsxHook: string;
  try {
    tsxHook = require.resolve('tsx/cjs');
  } catch (error) {
    throw new LocalIotError(
      `local-iot runs from its TypeScript sources, so its Lambda environment entry (${filename}) needs tsx, which cannot be found: ` +
        "install the repository's devDependencies (npm ci), or run local-iot from dist (npm run build)",
      { cause: error },
    );
  }
  return { isolation, filename, execArgv: ['--require', tsxHook] };
}
