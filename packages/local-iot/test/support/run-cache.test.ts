import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../fixtures/assembly';
import { buildOnce, RUN_CACHE_ENV, runCacheDirectory } from './run-cache';

let cache: string;
beforeEach(() => {
  cache = tempDir('run-cache');
});
afterEach(() => removeDir(cache));

/** A build that takes a few event-loop turns, writes `built` and counts its runs in `builds`. */
function countingBuild(builds: string[], fail = false) {
  return async (into: string): Promise<void> => {
    builds.push(into);
    mkdirSync(into);
    await new Promise((resolve) => setImmediate(resolve));
    if (fail) throw new Error('the build failed');
    writeFileSync(join(into, 'built'), 'yes');
  };
}

describe('buildOnce', () => {
  it('builds once for concurrent callers, each getting the complete directory', async () => {
    const builds: string[] = [];
    const results = await Promise.all([1, 2, 3].map(() => buildOnce(cache, 'thing', countingBuild(builds))));
    expect(builds).toHaveLength(1);
    expect(results).toEqual([join(cache, 'thing'), join(cache, 'thing'), join(cache, 'thing')]);
    expect(readFileSync(join(cache, 'thing', 'built'), 'utf8')).toBe('yes');
    // No lock nor half-built directory is left behind.
    expect(readdirSync(cache)).toEqual(['thing']);
    expect(await buildOnce(cache, 'thing', countingBuild(builds))).toBe(join(cache, 'thing'));
    expect(builds).toHaveLength(1);
  });

  it('builds each key apart', async () => {
    const builds: string[] = [];
    await buildOnce(cache, 'one', countingBuild(builds));
    await buildOnce(cache, 'two', countingBuild(builds));
    expect(builds).toHaveLength(2);
    expect(readdirSync(cache).sort()).toEqual(['one', 'two']);
  });

  it('rejects the failed builder and lets the next caller build', async () => {
    const builds: string[] = [];
    const [failed, next] = await Promise.allSettled([
      buildOnce(cache, 'thing', countingBuild(builds, true)),
      buildOnce(cache, 'thing', countingBuild(builds)),
    ]);
    expect(failed).toEqual({ status: 'rejected', reason: new Error('the build failed') });
    expect(next).toEqual({ status: 'fulfilled', value: join(cache, 'thing') });
    expect(builds).toHaveLength(2);
    expect(readdirSync(cache)).toEqual(['thing']);
  });

  it('takes over a lock whose process is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(join(cache, 'thing.lock'), String(gone));
    const builds: string[] = [];
    expect(await buildOnce(cache, 'thing', countingBuild(builds))).toBe(join(cache, 'thing'));
    expect(builds).toHaveLength(1);
    expect(existsSync(join(cache, 'thing.lock'))).toBe(false);
  });
});

describe('runCacheDirectory', () => {
  const saved = process.env[RUN_CACHE_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[RUN_CACHE_ENV];
    else process.env[RUN_CACHE_ENV] = saved;
  });

  it('is the directory the environment names, or undefined without one', () => {
    process.env[RUN_CACHE_ENV] = cache;
    expect(runCacheDirectory()).toBe(cache);
    delete process.env[RUN_CACHE_ENV];
    expect(runCacheDirectory()).toBeUndefined();
  });

  it('names the variable and the fix when the directory does not exist', () => {
    const missing = join(cache, 'missing');
    process.env[RUN_CACHE_ENV] = missing;
    expect(() => runCacheDirectory()).toThrow(
      new Error(
        `${RUN_CACHE_ENV} names ${missing}, which does not exist: run Jest with the repository's jest.config.js (its globalSetup creates the directory) or unset ${RUN_CACHE_ENV}`,
      ),
    );
  });
});
