import type { ClockTimer, GatewayClock } from '../../src/gateway/gateway-clock';

interface Timer {
  readonly at: number;
  readonly callback: () => void;
  handle?: NodeJS.Timeout;
}

/** Node's `setTimeout` cannot wait longer than this; a longer timer re-arms when it wakes early. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * A clock that runs at real speed and that a test can move forward at once with `advance`: every timer
 * then due fires, in order. End-to-end tests use it to make `refreshAfterInSeconds`, keep alive or
 * `disconnectAfterInSeconds` pass without waiting and without compressing the other timers (the CONNECT
 * deadline keeps its real length, so slow machines do not turn into flaky tests).
 */
export class SteppedClock implements GatewayClock {
  readonly #origin = performance.now();
  readonly #timers = new Set<Timer>();
  #offset = 0;

  now(): number {
    return performance.now() - this.#origin + this.#offset;
  }

  setTimer(callback: () => void, delayMs: number): ClockTimer {
    const timer: Timer = { at: this.now() + delayMs, callback };
    this.#timers.add(timer);
    this.#arm(timer);
    return {
      cancel: () => {
        clearTimeout(timer.handle);
        this.#timers.delete(timer);
      },
    };
  }

  /** Moves time forward by `ms`: timers now due fire at once, in order; the others are re-armed. */
  advance(ms: number): void {
    this.#offset += ms;
    const now = this.now();
    const due = [...this.#timers].filter((t) => t.at <= now).sort((a, b) => a.at - b.at);
    for (const timer of due) {
      // A callback may have cancelled a later timer.
      if (!this.#timers.has(timer)) continue;
      this.#fire(timer);
    }
    for (const timer of this.#timers) this.#arm(timer);
  }

  #arm(timer: Timer): void {
    clearTimeout(timer.handle);
    const wait = Math.min(Math.max(timer.at - this.now(), 0), MAX_TIMEOUT_MS);
    timer.handle = setTimeout(() => (timer.at <= this.now() ? this.#fire(timer) : this.#arm(timer)), wait);
    // As the gateway's own clock: a stored session's expiry or a delayed will never keeps Jest alive.
    timer.handle.unref();
  }

  #fire(timer: Timer): void {
    clearTimeout(timer.handle);
    this.#timers.delete(timer);
    timer.callback();
  }
}
