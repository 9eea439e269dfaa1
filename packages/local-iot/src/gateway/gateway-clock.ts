import { LocalIotError } from '../errors';

/** A pending timer of a `GatewayClock`; only meaningful to the clock that made it. */
export interface ClockTimer {
  cancel(): void;
}

/**
 * Time as the gateway's MQTT sessions see it: the CONNECT deadline, keep-alive expiry and the maximum
 * connect time (`disconnectAfterInSeconds`) all run on it, so tests can make minutes pass in milliseconds.
 */
export interface GatewayClock {
  /** Milliseconds since an arbitrary origin; only differences are used. */
  now(): number;
  /** Runs `callback` once after `delayMs` of this clock's time; the timer alone never keeps the process alive. */
  setTimer(callback: () => void, delayMs: number): ClockTimer;
}

/** Node's `setTimeout` cannot wait longer than this; longer waits are chained. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The real clock. */
export const systemClock: GatewayClock = scaledClock(1);

/**
 * A clock running `factor` times faster than real time: with 1000, a 30 s keep alive expires after 45 ms.
 * For tests; `factor` 1 is the real clock.
 *
 * @throws LocalIotError when `factor` is not a positive finite number.
 */
export function scaledClock(factor: number): GatewayClock {
  if (!Number.isFinite(factor) || factor <= 0) {
    throw new LocalIotError(`clock factor must be a positive number, but ${factor} was provided`);
  }
  const origin = performance.now();
  return {
    now: () => (performance.now() - origin) * factor,
    setTimer(callback, delayMs) {
      let handle: NodeJS.Timeout | undefined;
      let remainingRealMs = Math.max(0, delayMs / factor);
      const arm = (): void => {
        const step = Math.min(remainingRealMs, MAX_TIMEOUT_MS);
        remainingRealMs -= step;
        handle = setTimeout(() => (remainingRealMs > 0 ? arm() : callback()), step);
        // A gateway timer (a stored session's 1 h expiry, a cached HTTPS authorization) never keeps the process
        // alive on its own: the listening sockets do while the gateway serves, and after close() nothing should.
        handle.unref();
      };
      arm();
      return { cancel: () => clearTimeout(handle) };
    },
  };
}
