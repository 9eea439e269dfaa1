import { EventEmitter } from 'node:events';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import type { DeploymentSwap } from '../local-iot';
import { runSynth, type RunningSynth, type SynthCommand, type SynthResult } from './synth-command';

/** The sources of the stack and of its Lambda bundle, relative to the repository root (as cdk.json's watch). */
export const STACK_SOURCE_DIRECTORIES = [
  'packages/infra/bin',
  'packages/infra/src',
  'packages/authorizer-lambda/src',
  'packages/protocol/src',
] as const;

/** Quiet time after the last file event before a synth starts: an editor's save is several events. */
export const DEFAULT_DEBOUNCE_MS = 300;

/** What the watcher needs. */
export interface StackWatcherOptions {
  /** Directories watched recursively; a change under any of them starts a synth. */
  readonly directories: readonly string[];
  /** Writes the assembly `redeploy` loads. */
  readonly synth: SynthCommand;
  /** Serves what the synth wrote (`LocalIot.redeploy`). */
  readonly redeploy: () => Promise<DeploymentSwap>;
  /** @default DEFAULT_DEBOUNCE_MS */
  readonly debounceMs?: number;
  /** Changed files are named relative to it (e.g. the repository root). @default each directory's parent */
  readonly relativeTo?: string;
  /**
   * A command to run before the synth for these changed files, if any: e.g. a build of a workspace package
   * the app and the bundle import from its `dist`. Its failure is reported as the synth's.
   */
  readonly beforeSynth?: (files: readonly string[]) => SynthCommand | undefined;
}

/** Emitted by `StackWatcher`. */
export interface StackWatcherEvents {
  /** A synth starts for these changed files (relative to `relativeTo`). */
  synthesizing: [files: readonly string[]];
  /** The new deployment serves. */
  swapped: [swap: DeploymentSwap];
  /** The synth or the load failed; the previous deployment still serves. */
  failed: [failure: { readonly stage: 'synth' | 'load'; readonly message: string }];
}

/** Paths that are never the stack's source: tests, builds, declarations, editor scratch files. */
function ignored(file: string): boolean {
  const parts = file.split(path.sep);
  const name = parts[parts.length - 1] ?? '';
  return (
    parts.some((part) => part === 'node_modules' || part === 'dist' || part === 'test') ||
    name.endsWith('.d.ts') ||
    name.startsWith('.') ||
    name.endsWith('~') ||
    /^\d+$/.test(name)
  );
}

/**
 * Watches the stack's sources: after a change and `debounceMs` of quiet, runs the synth, then the redeploy.
 * Changes during a synth make one more cycle after it (never two synths at once). A failed synth or load is
 * reported and the previous deployment keeps serving.
 */
export class StackWatcher extends EventEmitter<StackWatcherEvents> {
  readonly #options: StackWatcherOptions;
  readonly #watchers: FSWatcher[] = [];
  readonly #changed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: RunningSynth | undefined;
  #cycle: Promise<void> | undefined;
  #closed = false;

  /** Starts watching. @throws when a directory cannot be watched (it names it). */
  constructor(options: StackWatcherOptions) {
    super();
    this.#options = options;
    for (const directory of options.directories) {
      if (!existsSync(directory)) continue;
      const watcher = watch(directory, { recursive: true }, (_event, file) => {
        if (file === null) return;
        const relative = path.relative(
          options.relativeTo ?? path.dirname(directory),
          path.join(directory, file.toString()),
        );
        if (!ignored(relative)) this.#noteChange(relative);
      });
      // A watched directory that goes away (a branch switch) stops being watched, nothing more.
      watcher.on('error', () => watcher.close());
      this.#watchers.push(watcher);
    }
  }

  /** The directories actually watched (those that exist). */
  get watching(): number {
    return this.#watchers.length;
  }

  /** Stops watching, ends a running synth, and waits for a cycle in progress to end. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
    this.#running?.cancel();
    await this.#cycle;
  }

  /** Runs `command` (nothing to run is a success), so that `close` can end it. */
  async #run(command: SynthCommand | undefined): Promise<SynthResult> {
    if (command === undefined || this.#closed) return { ok: true };
    this.#running = runSynth(command);
    try {
      return await this.#running.result;
    } finally {
      this.#running = undefined;
    }
  }

  #noteChange(file: string): void {
    if (this.#closed) return;
    this.#changed.add(file);
    if (this.#cycle !== undefined) return; // picked up when the running cycle ends
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#startCycle(), this.#options.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  #startCycle(): void {
    const files = [...this.#changed].sort();
    this.#changed.clear();
    this.#cycle = this.#runCycle(files).finally(() => {
      this.#cycle = undefined;
      if (this.#changed.size > 0 && !this.#closed) this.#startCycle();
    });
  }

  async #runCycle(files: readonly string[]): Promise<void> {
    this.emit('synthesizing', files);
    const before = this.#options.beforeSynth?.(files);
    const built = await this.#run(before);
    const result = built.ok ? await this.#run(this.#options.synth) : built;
    if (this.#closed) return;
    if (!result.ok) {
      this.emit('failed', { stage: 'synth', message: result.output });
      return;
    }
    try {
      this.emit('swapped', await this.#options.redeploy());
    } catch (error) {
      this.emit('failed', { stage: 'load', message: error instanceof Error ? error.message : String(error) });
    }
  }
}
