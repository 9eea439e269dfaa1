/**
 * A directory that one Jest run's workers share, so that what several suites need (a `cdk synth` of the
 * same stack) is built once per run and removed when the run ends. The repository's Jest `globalSetup`
 * creates it and names it in an environment variable, which the workers inherit; `globalTeardown` removes it.
 */
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** The environment variable naming the run's cache directory. */
export const RUN_CACHE_ENV = 'LOCAL_IOT_TEST_RUN_CACHE';

/** How long a worker waits for another to finish building (a synth is bounded at 120 s). */
const LOCK_WAIT_MS = 150_000;
/** How often a waiting worker looks whether the build is done or its builder died. */
const LOCK_POLL_MS = 100;

/** Creates the run's cache directory and names it in the environment (Jest `globalSetup`). */
export function createRunCache(): string {
  const directory = mkdtempSync(path.join(tmpdir(), 'local-iot-test-run-'));
  process.env[RUN_CACHE_ENV] = directory;
  return directory;
}

/** Removes the run's cache directory and everything built in it (Jest `globalTeardown`). */
export function removeRunCache(): void {
  const directory = process.env[RUN_CACHE_ENV];
  if (directory) rmSync(directory, { recursive: true, force: true });
  delete process.env[RUN_CACHE_ENV];
}

/**
 * The run's cache directory, or `undefined` when the tests run without the repository's Jest configuration
 * (then each suite builds its own copy, as before there was a cache).
 * @throws Error when the environment names a directory that does not exist.
 */
export function runCacheDirectory(): string | undefined {
  const directory = process.env[RUN_CACHE_ENV];
  if (!directory) return undefined;
  if (!existsSync(directory))
    throw new Error(
      `${RUN_CACHE_ENV} names ${directory}, which does not exist: run Jest with the repository's jest.config.js (its globalSetup creates the directory) or unset ${RUN_CACHE_ENV}`,
    );
  return directory;
}

/**
 * Returns `<cache>/<key>`, built by `build(into)` the first time a worker of the run asks for it. One worker
 * builds while holding `<key>.lock` (created exclusively, holding its process id); the others wait for the
 * directory, which appears complete through a rename. When the builder fails, the error is its own and the
 * next waiter builds in its turn; a lock whose process died is taken over.
 */
export async function buildOnce(
  cache: string,
  key: string,
  build: (into: string) => Promise<void>,
): Promise<string> {
  const target = path.join(cache, key);
  const lock = `${target}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    if (existsSync(target)) return target;
    if (tryLock(lock)) {
      try {
        // Another worker may have finished between the look above and taking the lock.
        if (existsSync(target)) return target;
        const partial = `${target}.partial-${process.pid}`;
        rmSync(partial, { recursive: true, force: true });
        try {
          await build(partial);
          renameSync(partial, target);
        } catch (error) {
          rmSync(partial, { recursive: true, force: true });
          throw error;
        }
        return target;
      } finally {
        unlinkSync(lock);
      }
    }
    releaseIfHolderDied(lock);
    if (Date.now() > deadline)
      throw new Error(
        `waited ${LOCK_WAIT_MS / 1000} s for ${target} while ${lockHolder(lock) ?? 'another process'} builds it: remove ${lock} if that process is gone`,
      );
    await delay(LOCK_POLL_MS);
  }
}

function tryLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** "process <pid>", or `undefined` while the lock is gone or still being written. */
function lockHolder(lock: string): string | undefined {
  const pid = readPid(lock);
  return pid === undefined ? undefined : `process ${pid}`;
}

function readPid(lock: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the lock when the process that holds it no longer exists (a worker killed mid-build). */
function releaseIfHolderDied(lock: string): void {
  const pid = readPid(lock);
  if (pid === undefined) return;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') return;
    // Re-read: another waiter may already have taken the lock over.
    if (readPid(lock) === pid) rmSync(lock, { force: true });
  }
}
