/**
 * Log lines written during one event-loop turn, delivered to their destination in one write at the end of that
 * turn. Under a connect storm a turn can handle several connections, each of which logs several lines (the
 * gateway's decision, the Lambda's START, its own line and REPORT, AWS IoT's Connect entry...). Side by side
 * (`npm run bench -- --baseline`), batching saved 4 to 8% of the gateway's CPU per connect over one write per
 * line; writing no log at all would save about a fifth. Every line is kept, in order, and reaches its
 * destination at most one turn later.
 *
 * Why not pino's sonic-boom: its asynchronous mode writes through libuv's thread pool (a thread hop and a
 * completion callback per write), and its synchronous mode writes every line unless a minimum length holds
 * lines back with no timer to release them. What is wanted here is exactly one synchronous write per turn.
 *
 * Every writer not yet closed is flushed when the process exits ('exit' also follows an uncaught exception and
 * `process.exit`), so only a SIGKILL can lose the current turn's lines.
 */
export class TurnBatchedWriter {
  #pending: string[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  #closed = false;

  /** @param deliver writes one chunk (whole lines) to the destination; an error it throws drops that chunk. */
  constructor(private readonly deliver: (chunk: string) => void) {
    flushedAtExit(this);
  }

  /** Queues `line` (without its newline) for the end of this turn. */
  writeLine(line: string): void {
    // Its destination may be closed already (a file descriptor number the process may reuse).
    if (this.#closed) return;
    this.#pending.push(line);
    // A pending flush keeps the process alive for at most the rest of this turn, so nothing is lost at exit.
    this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Delivers what is queued now (at exit, before a direct write that must follow it). */
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

  /** Delivers what is queued, before the caller closes the destination; nothing is delivered after. */
  close(): void {
    this.flush();
    this.#closed = true;
    OPEN_WRITERS.delete(this);
  }
}

/** The writers flushed at exit: every one not closed. */
const OPEN_WRITERS = new Set<TurnBatchedWriter>();

let exitHookInstalled = false;

function flushedAtExit(writer: TurnBatchedWriter): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const open of OPEN_WRITERS) open.flush();
    });
  }
  OPEN_WRITERS.add(writer);
}

let standardStreams: { stdout: TurnBatchedWriter; stderr: TurnBatchedWriter } | undefined;

/**
 * The process's standard output and error, batched per turn. Node.js writes them synchronously on Linux when
 * they are files, pipes or terminals, so the flush at exit delivers every queued line.
 */
function standard(): { stdout: TurnBatchedWriter; stderr: TurnBatchedWriter } {
  standardStreams ??= {
    stdout: new TurnBatchedWriter((chunk) => void process.stdout.write(chunk)),
    stderr: new TurnBatchedWriter((chunk) => void process.stderr.write(chunk)),
  };
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
