import { SessionRegistry } from '../../src/gateway/session-registry';

interface FakeSession {
  readonly name: string;
}

describe('SessionRegistry', () => {
  it('hands a client id to the newest claimant and returns the holder it replaced', () => {
    const registry = new SessionRegistry<FakeSession>();
    const first = { name: 'first' };
    const second = { name: 'second' };
    expect(registry.claim('test-1', first)).toBeUndefined();
    expect(registry.claim('test-1', second)).toBe(first);
    expect(registry.get('test-1')).toBe(second);
    expect(registry.size).toBe(1);
  });

  it('returns no previous holder when a session claims its own client id again', () => {
    const registry = new SessionRegistry<FakeSession>();
    const session = { name: 'only' };
    registry.claim('test-1', session);
    expect(registry.claim('test-1', session)).toBeUndefined();
  });

  it('lets only the holder release a client id, so a taken-over session cannot evict its successor', () => {
    const registry = new SessionRegistry<FakeSession>();
    const first = { name: 'first' };
    const second = { name: 'second' };
    registry.claim('test-1', first);
    registry.claim('test-1', second);
    registry.release('test-1', first);
    expect(registry.get('test-1')).toBe(second);
    registry.release('test-1', second);
    expect(registry.get('test-1')).toBeUndefined();
    expect(registry.size).toBe(0);
  });
});
