import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { scaledClock } from '../../src/gateway/gateway-clock';
import { expectLocalIotError, withTimeout } from '../support/gateway-harness';

describe('scaledClock', () => {
  it('runs timers and time factor times faster than real time', async () => {
    const clock = scaledClock(1000);
    const start = clock.now();
    const realStart = performance.now();
    const firedAt = await withTimeout(
      new Promise<number>((resolve) => clock.setTimer(() => resolve(clock.now()), 60_000)),
      'a 60 s timer at x1000',
    );
    expect(firedAt - start).toBeGreaterThanOrEqual(59_000);
    expect(performance.now() - realStart).toBeLessThan(2_000);
  });

  it('does not run a cancelled timer', async () => {
    const clock = scaledClock(1000);
    const fired: string[] = [];
    clock.setTimer(() => fired.push('cancelled'), 1_000).cancel();
    await withTimeout(
      new Promise<void>((resolve) =>
        clock.setTimer(() => {
          fired.push('kept');
          resolve();
        }, 5_000),
      ),
      'the kept timer',
    );
    expect(fired).toEqual(['kept']);
  });

  it('never keeps the process alive with a pending timer alone (a closed gateway lets Node exit)', async () => {
    const clockModule = path.join(__dirname, '../../src/gateway/gateway-clock.ts');
    const script = [
      `const { scaledClock } = require(${JSON.stringify(clockModule)});`,
      'scaledClock(1).setTimer(() => { console.log("fired"); process.exitCode = 3; }, 3_600_000);',
      'console.log("armed");',
    ].join('\n');
    const tsx = path.join(__dirname, '../../../../node_modules/.bin/tsx');
    const { stdout } = await promisify(execFile)(tsx, ['-e', script], { timeout: 60_000 });
    expect(stdout.trim()).toBe('armed');
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses factor %d', async (factor) => {
    await expectLocalIotError(
      Promise.resolve().then(() => scaledClock(factor)),
      `clock factor must be a positive number, but ${factor} was provided`,
    );
  });
});
