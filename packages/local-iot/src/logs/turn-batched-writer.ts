/**
 * Log lines written during one event-loop turn, delivered to their destination in one write at the end of that
 * turn. Under a connect storm a turn handles many connections, each of which logs several lines (the gateway's
 * decision, the Lambda's START, its own line, END and REPORT, AWS IoT's Connect entry...): one write per line
 * was about a fifth of the gateway's CPU per connect (`npm run bench`), most of it system calls and stream
 * bookkeeping. Batching keeps every line and its order; a line reaches its destination at most one turn later.
 *
 * Why not pino's sonic-boom: its asynchronous mode writes through libuv's thread pool (a thread hop and a
 * completion callback per write), and its synchronous mode writes every line unless a minimum length holds
 * lines back with no timer to release them. What is wanted here is exactly one synchronous write per turn.
 */
export class TurnBatchedWriter {
  #pending: string[] = [];
  #scheduled: NodeJS.Immediate | undefined;

  /** @param deliver writes one chunk (whole lines) to the destination; an error it throws drops that chunk. */
  constructor(private readonly deliver: (chunk: string) => void) {}

  /** Queues `line` (without its newline) for the end of this turn. */
  writeLine(line: string): void {
    this.#pending.push(line);
    // A pending flush keeps the process alive for at most the rest of this turn, so nothing is lost at exit.
    this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Delivers what is queued now (at exit, before a direct write that must follow it, at close). */
  flush(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    if (this.#pending.length === 0) return;
    const chunk = `${this.#pending.join('\n')}\n`;
    this.#pending = [];
    try {
      this.deliver(chunk);
    } catch {
      // A closed or full destination must not take the gateway down; there is nowhere else to report it.
    }
  }
}

let standardStreams: { stdout: TurnBatchedWriter; stderr: TurnBatchedWriter } | undefined;

/**
 * The process's standard output and error, batched per turn. Node.js writes them synchronously on Linux when they
 * are files, pipes or terminals, so the flush at 'exit' (also after an uncaught exception or `process.exit`)
 * delivers every queued line; only a SIGKILL can lose the current turn's lines.
 */
function standard(): { stdout: TurnBatchedWriter; stderr: TurnBatchedWriter } {
  if (standardStreams === undefined) {
    const streams = {
      stdout: new TurnBatchedWriter((chunk) => void process.stdout.write(chunk)),
      stderr: new TurnBatchedWriter((chunk) => void process.stderr.write(chunk)),
    };
    process.once('exit', () => {
      streams.stdout.flush();
      streams.stderr.flush();
    });
    standardStreams = streams;
  }
  return standardStreams;
}

/** Writes one line to standard output at the end of this turn. */
export function stdoutLine(line: string): void {
  standard().stdout.writeLine(line);
}

/** Writes one line to standard error at the end of this turn. */
export function stderrLine(line: string): void {
  standard().stderr.writeLine(line);
}

/** Delivers the lines queued for standard output and error now: before a direct write that must come after them. */
export function flushStandardStreams(): void {
  standardStreams?.stdout.flush();
  standardStreams?.stderr.flush();
}
