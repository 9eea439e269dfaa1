import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { TurnBatchedWriter } from '../../src/logs/turn-batched-writer';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatchedWriter', () => {
  it("delivers one turn's lines in one write, in order, at the end of the turn", async () => {
    const chunks: string[] = [];
    const writer = new TurnBatchedWriter((chunk) => chunks.push(chunk));
    writer.writeLine('{"event":"connect"}');
    writer.writeLine('START RequestId: 1');
    writer.writeLine('');
    expect(chunks).toEqual([]);
    await nextTurn();
    expect(chunks).toEqual(['{"event":"connect"}\nSTART RequestId: 1\n\n']);
    writer.writeLine('END RequestId: 1');
    await nextTurn();
    expect(chunks).toEqual(['{"event":"connect"}\nSTART RequestId: 1\n\n', 'END RequestId: 1\n']);
  });

  it('flush delivers at once, and the turn then delivers nothing more', async () => {
    const chunks: string[] = [];
    const writer = new TurnBatchedWriter((chunk) => chunks.push(chunk));
    writer.flush();
    writer.writeLine('a');
    writer.flush();
    expect(chunks).toEqual(['a\n']);
    await nextTurn();
    expect(chunks).toEqual(['a\n']);
  });

  it('delivers nothing written after close', async () => {
    const chunks: string[] = [];
    const writer = new TurnBatchedWriter((chunk) => chunks.push(chunk));
    writer.writeLine('before');
    writer.close();
    writer.writeLine('after');
    await nextTurn();
    expect(chunks).toEqual(['before\n']);
  });

  it('a failing destination loses that write only, and the writer goes on', async () => {
    const chunks: string[] = [];
    let fail = true;
    const writer = new TurnBatchedWriter((chunk) => {
      if (fail) throw new Error('ENOSPC');
      chunks.push(chunk);
    });
    writer.writeLine('dropped');
    await nextTurn();
    fail = false;
    writer.writeLine('kept');
    await nextTurn();
    expect(chunks).toEqual(['kept\n']);
  });
});

describe('standard streams', () => {
  const source = path.join(__dirname, '..', '..', 'src', 'logs', 'turn-batched-writer.ts');

  /** Runs `script` in a Node.js process of its own with `stdoutLine`/`stderrLine` in scope. */
  const run = (script: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [
          '--require',
          require.resolve('tsx/cjs'),
          '-e',
          `const { stdoutLine, stderrLine } = require(${JSON.stringify(source)});\n${script}`,
        ],
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });

  it('a process that exits in the same turn still writes every line, in order', async () => {
    const result = await run(`stdoutLine('one'); stdoutLine('two'); stderrLine('three'); process.exit(3);`);
    expect(result).toEqual({ code: 3, stdout: 'one\ntwo\n', stderr: 'three\n' });
  });

  it('an uncaught exception does not lose the lines logged before it', async () => {
    const result = await run(`stdoutLine('before the crash'); throw new Error('boom');`);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('before the crash\n');
    expect(result.stderr).toContain('Error: boom');
  });

  it("flushes every writer at exit, a log file's too, but not one already closed", async () => {
    const result = await run(`
      const { TurnBatchedWriter } = require(${JSON.stringify(source)});
      const file = new TurnBatchedWriter((chunk) => process.stdout.write('file: ' + chunk));
      const closed = new TurnBatchedWriter((chunk) => process.stdout.write('closed: ' + chunk));
      closed.writeLine('delivered at close');
      closed.close();
      closed.writeLine('after close');
      file.writeLine('last line');
      process.exit(0);`);
    expect(result).toEqual({ code: 0, stdout: 'closed: delivered at close\nfile: last line\n', stderr: '' });
  });

  it('a process that ends on its own writes its last lines before it goes', async () => {
    const result = await run(`setTimeout(() => stdoutLine('last'), 5);`);
    expect(result).toEqual({ code: 0, stdout: 'last\n', stderr: '' });
  });
});
