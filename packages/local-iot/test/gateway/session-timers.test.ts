import { SessionTimers } from '../../src/gateway/session-timers';
import { ManualClock } from '../support/manual-clock';

/** Timers on a manual clock, and the names of the callbacks that fired, in order. */
function setup(): { readonly clock: ManualClock; readonly timers: SessionTimers; readonly fired: string[] } {
  const clock = new ManualClock();
  return { clock, timers: new SessionTimers(clock), fired: [] };
}

describe('SessionTimers', () => {
  it('expires the CONNECT deadline when no packet arrives in time', () => {
    const { clock, timers, fired } = setup();
    timers.startConnectDeadline(10_000, () => fired.push('connect-deadline'));
    clock.advance(9_999);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['connect-deadline']);
  });

  it('meets the CONNECT deadline with the first packet, whatever it is', () => {
    const { clock, timers, fired } = setup();
    timers.startConnectDeadline(10_000, () => fired.push('connect-deadline'));
    clock.advance(5_000);
    timers.packetReceived();
    clock.advance(60_000);
    expect(fired).toEqual([]);
  });

  it('expires keep alive 1.5 x its value after the last packet, however many arrived before', () => {
    const { clock, timers, fired } = setup();
    timers.packetReceived();
    timers.startKeepAlive(30, () => fired.push('keep-alive'));
    clock.advance(44_000);
    timers.packetReceived();
    clock.advance(30_000);
    timers.packetReceived();
    clock.advance(44_999);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['keep-alive']);
    expect(clock.now()).toBe(44_000 + 30_000 + 45_000);
  });

  it('ends the lifetime after its seconds and refreshes on the schedule last set', () => {
    const { clock, timers, fired } = setup();
    timers.startLifetime(700, () => fired.push('lifetime'));
    timers.scheduleRefresh(300, () => {
      fired.push(`refresh at ${clock.now()}`);
      timers.scheduleRefresh(600, () => fired.push(`refresh at ${clock.now()}`));
    });
    clock.advance(1_000_000);
    expect(fired).toEqual(['refresh at 300000', 'lifetime', 'refresh at 900000']);
  });

  it('fires nothing after cancelAll, keep alive included', () => {
    const { clock, timers, fired } = setup();
    timers.startConnectDeadline(10_000, () => fired.push('connect-deadline'));
    timers.startKeepAlive(30, () => fired.push('keep-alive'));
    timers.startLifetime(60, () => fired.push('lifetime'));
    timers.scheduleRefresh(40, () => fired.push('refresh'));
    timers.cancelAll();
    clock.advance(10_000_000);
    expect(fired).toEqual([]);
  });
});
