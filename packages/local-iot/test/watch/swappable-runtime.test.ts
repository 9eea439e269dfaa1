import type { ConnectAttempt, ConnectDecision } from '../../src/auth/connect-types';
import type { LocalRuntime } from '../../src/local-runtime';
import { SwappableRuntime } from '../../src/watch/swappable-runtime';

/** A runtime whose decisions the test answers by hand, recording its close. */
function fakeRuntime(name: string) {
  const pending: ((decision: ConnectDecision) => void)[] = [];
  const events: string[] = [];
  const runtime = {
    authorizer: {
      authorize: () => new Promise<ConnectDecision>((resolve) => pending.push(resolve)),
    },
    close: () => {
      events.push(`${name} closed`);
      return Promise.resolve();
    },
  } as unknown as LocalRuntime;
  return { runtime, pending, events };
}

const attempt = {} as ConnectAttempt;
const decision = (reason: string) => ({ reason }) as unknown as ConnectDecision;

it('sends new decisions to the new deployment and closes the old one once its last decision is made', async () => {
  const first = fakeRuntime('first');
  const second = fakeRuntime('second');
  const runtimes = new SwappableRuntime(first.runtime);
  const started = runtimes.authorize(attempt);
  expect(first.pending).toHaveLength(1);

  expect(runtimes.swap(second.runtime)).toBe(first.runtime);
  expect(runtimes.current).toBe(second.runtime);
  const afterSwap = runtimes.authorize(attempt);
  expect(second.pending).toHaveLength(1);
  expect(first.pending).toHaveLength(1);
  await Promise.resolve();
  expect(first.events).toEqual([]);

  first.pending[0]?.(decision('old'));
  await expect(started).resolves.toEqual({ reason: 'old' });
  await runtimes.close().then(
    () => undefined,
    () => undefined,
  );
  expect(first.events).toEqual(['first closed']);

  second.pending[0]?.(decision('new'));
  await expect(afterSwap).resolves.toEqual({ reason: 'new' });
  expect(second.events).toEqual(['second closed']);
});

it('closes a replaced deployment at once when it is deciding nothing', async () => {
  const first = fakeRuntime('first');
  const runtimes = new SwappableRuntime(first.runtime);
  runtimes.swap(fakeRuntime('second').runtime);
  await runtimes.close();
  expect(first.events).toEqual(['first closed']);
});
