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

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses factor %d', async (factor) => {
    await expectLocalIotError(
      Promise.resolve().then(() => scaledClock(factor)),
      `clock factor must be a positive number, but ${factor} was provided`,
    );
  });
});
