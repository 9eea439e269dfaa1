import type { ClockTimer, GatewayClock } from './gateway-clock';

/**
 * The deadlines of one MQTT session, on the gateway's clock: the CONNECT deadline, keep alive (1.5 x the
 * negotiated value after the last packet, as MQTT and AWS IoT count it), the maximum connect time
 * (`disconnectAfterInSeconds`) and the next policy refresh (`refreshAfterInSeconds`). Each calls back once;
 * `cancelAll` silences them all when the session ends.
 */
export class SessionTimers {
  readonly #clock: GatewayClock;
  #stopped = false;
  #lastPacketAt = 0;
  #connectDeadline: ClockTimer | undefined;
  #keepAlive: ClockTimer | undefined;
  #lifetime: ClockTimer | undefined;
  #refresh: ClockTimer | undefined;

  constructor(clock: GatewayClock) {
    this.#clock = clock;
  }

  /** Calls `onExpired` unless a packet arrives within `delayMs`. */
  startConnectDeadline(delayMs: number, onExpired: () => void): void {
    this.#connectDeadline = this.#clock.setTimer(onExpired, delayMs);
  }

  /** A packet arrived: the CONNECT deadline is met (whatever the packet) and keep alive counts from now. */
  packetReceived(): void {
    this.#lastPacketAt = this.#clock.now();
    this.#connectDeadline?.cancel();
  }

  /** Calls `onExpired` once 1.5 x `keepAliveSeconds` pass without a packet. */
  startKeepAlive(keepAliveSeconds: number, onExpired: () => void): void {
    const limitMs = keepAliveSeconds * 1000 * 1.5;
    const arm = (): void => {
      const dueInMs = this.#lastPacketAt + limitMs - this.#clock.now();
      this.#keepAlive = this.#clock.setTimer(
        () => {
          if (this.#stopped) return;
          // Packets since arming moved the limit: look again then rather than re-arming on every packet.
          if (this.#clock.now() - this.#lastPacketAt >= limitMs) onExpired();
          else arm();
        },
        Math.max(dueInMs, 0),
      );
    };
    arm();
  }

  /** Calls `onExpired` after `seconds`; fixed at CONNACK, whatever later refreshes return. */
  startLifetime(seconds: number, onExpired: () => void): void {
    this.#lifetime = this.#clock.setTimer(onExpired, seconds * 1000);
  }

  /** Calls `onDue` after `seconds`, replacing the refresh scheduled before. */
  scheduleRefresh(seconds: number, onDue: () => void): void {
    this.#refresh?.cancel();
    this.#refresh = this.#clock.setTimer(onDue, seconds * 1000);
  }

  /** Cancels every timer; none fires afterwards. */
  cancelAll(): void {
    this.#stopped = true;
    this.#connectDeadline?.cancel();
    this.#keepAlive?.cancel();
    this.#lifetime?.cancel();
    this.#refresh?.cancel();
  }
}
