import { RETAINED_DEFAULTS, RetainedMessages, type RetainedLimits } from '../../src/broker/retained-messages';
import { ManualClock } from '../support/manual-clock';

interface Stored {
  readonly name: string;
  readonly expired?: boolean;
}

const LIMITS: RetainedLimits = {
  maxMessages: 3,
  maxBytes: 1_000,
  publishesPerSecondPerTopic: 1,
  publishesPerSecondPerAccount: 5,
};

function setup(limits: Partial<RetainedLimits> = {}) {
  const clock = new ManualClock();
  const retained = new RetainedMessages<Stored>({ ...LIMITS, ...limits }, clock, (m) => !m.expired);
  return { clock, retained };
}

describe('RetainedMessages', () => {
  it("defaults to AWS IoT Core's quotas and 64 MiB of retained messages", () => {
    expect(RETAINED_DEFAULTS).toEqual({
      maxMessages: 500_000,
      maxBytes: 67_108_864,
      publishesPerSecondPerTopic: 1,
      publishesPerSecondPerAccount: 500,
    });
  });

  it('keeps one message per topic and counts their bytes, a replacement included', () => {
    const { clock, retained } = setup();
    expect(retained.store('a', { name: 'a1' }, 100)).toBeUndefined();
    expect(retained.store('b', { name: 'b1' }, 200)).toBeUndefined();
    clock.advance(1_000);
    expect(retained.store('a', { name: 'a2' }, 300)).toBeUndefined();
    expect(retained.get('a')).toEqual({ name: 'a2' });
    expect([retained.count, retained.bytes]).toEqual([2, 500]);
    retained.clear('b');
    expect([retained.count, retained.bytes, retained.topics()]).toEqual([1, 300, ['a']]);
  });

  it('refuses a message past the count quota, and nothing changes', () => {
    const { retained } = setup();
    for (const topic of ['a', 'b', 'c']) retained.store(topic, { name: topic }, 10);
    expect(retained.store('d', { name: 'd' }, 10)).toBe(
      '3 retained messages are kept, the most there may be (AWS IoT Core quota "Maximum number of retained messages per account", 3); clear some with an empty retained PUBLISH',
    );
    expect(retained.topics()).toEqual(['a', 'b', 'c']);
  });

  it('refuses a message past the bound on bytes, but takes a replacement that fits', () => {
    const { clock, retained } = setup();
    retained.store('a', { name: 'a' }, 600);
    retained.store('b', { name: 'b' }, 300);
    expect(retained.store('c', { name: 'c' }, 101)).toBe(
      "retained messages hold 900 bytes and this 101-byte one would pass local-iot's bound of 1000 bytes of retained messages (it stands in for AWS IoT Core's per-account count quota); clear some with an empty retained PUBLISH",
    );
    clock.advance(1_000);
    expect(retained.store('a', { name: 'a smaller' }, 100)).toBeUndefined();
    expect(retained.store('c', { name: 'c' }, 500)).toBeUndefined();
    expect(retained.bytes).toBe(900);
  });

  it('sweeps expired messages before refusing for a quota', () => {
    const { retained } = setup();
    retained.store('a', { name: 'a', expired: true }, 10);
    retained.store('b', { name: 'b' }, 10);
    retained.store('c', { name: 'c', expired: true }, 10);
    expect(retained.store('d', { name: 'd' }, 10)).toBeUndefined();
    expect([retained.topics(), retained.count, retained.bytes]).toEqual([['b', 'd'], 2, 20]);
  });

  it('forgets an expired message when it is read', () => {
    const { retained } = setup();
    retained.store('a', { name: 'a', expired: true }, 10);
    expect(retained.get('a')).toBeUndefined();
    expect([retained.count, retained.bytes]).toEqual([0, 0]);
  });

  it('takes one message per topic per second', () => {
    const { clock, retained } = setup();
    retained.store('a', { name: 'a1' }, 10);
    clock.advance(999);
    expect(retained.store('a', { name: 'a2' }, 10)).toBe(
      '\'a\' took a retained message 999 ms ago: a topic takes at most 1 retained message per second (AWS IoT Core quota "Retained message publish requests per second per topic"); publish state changes less often',
    );
    expect(retained.store('b', { name: 'b1' }, 10)).toBeUndefined();
    clock.advance(1);
    expect(retained.store('a', { name: 'a2' }, 10)).toBeUndefined();
    expect(retained.get('a')).toEqual({ name: 'a2' });
  });

  it('takes at most the account rate per second, all topics together', () => {
    const { clock, retained } = setup({ maxMessages: 100 });
    for (let i = 0; i < 5; i++) expect(retained.store(`t${i}`, { name: `${i}` }, 10)).toBeUndefined();
    expect(retained.store('t5', { name: '5' }, 10)).toBe(
      '5 retained messages were already stored this second: at most 5 per second (AWS IoT Core quota "Retained message publish requests per second per account"); retry later',
    );
    clock.advance(1_000);
    expect(retained.store('t5', { name: '5' }, 10)).toBeUndefined();
  });

  it('never refuses a clear, and a cleared topic takes a new message at once', () => {
    const { retained } = setup();
    retained.store('a', { name: 'a1' }, 10);
    retained.clear('a');
    retained.clear('never-retained');
    expect(retained.store('a', { name: 'a2' }, 10)).toBeUndefined();
  });
});
