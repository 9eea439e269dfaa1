import { OUTBOUND_DEFAULTS, OutboundAccounting } from '../../src/gateway/outbound-accounting';

const LIMITS = { maxQueuedBytesPerConnection: 1_000, maxQueuedBytesTotal: 1_500 };

describe('OutboundAccounting', () => {
  it('defaults to two seconds of AWS IoT per-connection throughput per connection and 64 MiB in all', () => {
    expect(OUTBOUND_DEFAULTS).toEqual({
      maxQueuedBytesPerConnection: 1_048_576,
      maxQueuedBytesTotal: 67_108_864,
    });
  });

  it('counts bytes per connection and in total, with their peaks', () => {
    const accounting = new OutboundAccounting(LIMITS);
    const a = accounting.open('a');
    const b = accounting.open('b');
    a.add(600);
    b.add(300);
    a.release(200);
    expect(accounting.usage()).toEqual({
      queuedBytes: 700,
      peakQueuedBytes: 900,
      queuedBytesByConnection: new Map([
        ['a', 400],
        ['b', 300],
      ]),
      peakQueuedBytesPerConnection: 600,
      limits: LIMITS,
    });
  });

  it("names the connection's limit first, then the gateway's", () => {
    const accounting = new OutboundAccounting(LIMITS);
    const a = accounting.open('a');
    const b = accounting.open('b');
    a.add(900);
    expect(a.overLimit(100)).toBeUndefined();
    expect(a.overLimit(101)).toEqual({ limit: 'connection', queuedBytes: 900, limitBytes: 1_000 });
    b.add(500);
    expect(b.overLimit(100)).toBeUndefined();
    expect(b.overLimit(101)).toEqual({ limit: 'gateway', queuedBytes: 1_400, limitBytes: 1_500 });
  });

  it('reserves only within the limits', () => {
    const accounting = new OutboundAccounting(LIMITS);
    const a = accounting.open('a');
    expect(a.reserve(1_000)).toBeUndefined();
    expect(a.reserve(1)).toEqual({ limit: 'connection', queuedBytes: 1_000, limitBytes: 1_000 });
    expect(a.queuedBytes).toBe(1_000);
  });

  it('frees what a closed connection held and ignores its later releases', () => {
    const accounting = new OutboundAccounting(LIMITS);
    const a = accounting.open('a');
    const b = accounting.open('b');
    a.add(700);
    b.add(100);
    a.close();
    a.release(700);
    a.add(50);
    expect(accounting.queuedBytes).toBe(100);
    expect(accounting.usage().queuedBytesByConnection).toEqual(new Map([['b', 100]]));
  });
});
