import { spawn, type ChildProcess } from 'node:child_process';

/** A command that writes the cloud assembly, run from `cwd`. */
export interface SynthCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

/** The most of a failed synth's output kept for its error message. */
const MAX_OUTPUT_CHARS = 8_000;

/**
 * `npx --no -- cdk synth --quiet` in the repository root, with each `-c key=value` passed on and the assembly
 * written to `output` (cdk.json's `app` runs the infra app; `--no` keeps npx from asking the registry).
 */
export function cdkSynthCommand(
  repositoryRoot: string,
  context: readonly string[],
  output?: string,
): SynthCommand {
  return {
    command: 'npx',
    args: [
      '--no',
      '--',
      'cdk',
      'synth',
      '--quiet',
      ...(output !== undefined ? ['--output', output] : []),
      ...context.flatMap((pair) => ['-c', pair]),
    ],
    cwd: repositoryRoot,
  };
}

/** How a synth ended: `ok`, or not with what it printed (its last `MAX_OUTPUT_CHARS`). */
export type SynthResult = { readonly ok: true } | { readonly ok: false; readonly output: string };

/** A synth running; `cancel` ends it and every process it started. */
export interface RunningSynth {
  readonly result: Promise<SynthResult>;
  cancel(): void;
}

/**
 * Runs `synth` in its own process group (npx starts cdk, which starts the app), so `cancel` ends all of it.
 * Its output is kept, not shown, unless it fails.
 */
export function runSynth(synth: SynthCommand): RunningSynth {
  let output = '';
  let child: ChildProcess;
  const result = new Promise<SynthResult>((resolve) => {
    child = spawn(synth.command, [...synth.args], {
      cwd: synth.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (error) => resolve({ ok: false, output: `${synth.command}: ${error.message}` }));
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ ok: true });
      else resolve({ ok: false, output: `${output.trim()}\n(${describeExit(synth, code, signal)})`.trim() });
    });
  });
  return {
    result,
    cancel: () => {
      const { pid } = child;
      if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    },
  };
}

function describeExit(synth: SynthCommand, code: number | null, signal: NodeJS.Signals | null): string {
  const command = [synth.command, ...synth.args].join(' ');
  return signal !== null ? `${command} was ended by ${signal}` : `${command} exited with code ${code}`;
}
