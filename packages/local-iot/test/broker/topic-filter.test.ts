import fc from 'fast-check';
import { AWS_IOT_TOPIC_LIMITS } from '@iot-custom-auth/protocol';
import { parseTopicFilter, topicMatches, topicNameProblem } from '../../src/broker/topic-filter';

/**
 * An independent model of AWS IoT Core's matching, as a regular expression: `+` is `[^/]*`, a trailing
 * `/#` is `/.*` (the parent level is not matched), `#` alone matches everything, and a leading wildcard
 * never matches a `$` topic.
 */
function modelMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && /^[+#](\/|$)/.test(filter)) return false;
  if (filter === '#') return true;
  const multi = filter.endsWith('/#');
  const body = multi ? filter.slice(0, -2) : filter;
  const pattern = body
    .split('/')
    .map((level) => (level === '+' ? '[^/]*' : level.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${pattern}${multi ? '/.*' : ''}$`, 's').test(topic);
}

const level = fc.constantFrom('a', 'b', '', 'sensor', '$sys', 'é', 'a b');
const topicArb = fc.array(level, { minLength: 1, maxLength: 5 }).map((levels) => levels.join('/'));
const filterArb = fc.oneof(
  fc.constant('#'),
  fc
    .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 5 }), fc.boolean())
    .map(([levels, multi]) => [...levels, ...(multi ? ['#'] : [])].join('/')),
);
/** A topic and a filter made from it by replacing levels with `+` and cutting the rest off with `#`. */
const derivedArb = fc
  .tuple(
    fc.array(level, { minLength: 1, maxLength: 6 }),
    fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    fc.nat(6),
  )
  .map(([levels, plus, cut]) => {
    const kept = cut > 0 && cut < levels.length ? cut : levels.length;
    const filterLevels = levels.slice(0, kept).map((l, i) => (plus[i] ? '+' : l));
    return {
      topic: levels.join('/'),
      filter: kept < levels.length ? [...filterLevels, '#'].join('/') : filterLevels.join('/'),
    };
  });

describe('topicMatches', () => {
  it('matches as the regular-expression model of AWS IoT Core does, for any filter and topic', () => {
    fc.assert(
      fc.property(filterArb, topicArb, (filter, topic) => {
        expect(topicMatches(filter, topic)).toBe(modelMatches(filter, topic));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches a topic with any filter derived from it, unless a leading wildcard meets a $ topic', () => {
    fc.assert(
      fc.property(derivedArb, ({ topic, filter }) => {
        const dollarBlocked = topic.startsWith('$') && /^[+#]/.test(filter);
        expect(topicMatches(filter, topic)).toBe(!dollarBlocked);
      }),
      { numRuns: 2000 },
    );
  });

  it('follows the AWS IoT developer guide examples', () => {
    for (const topic of ['sensor/', 'sensor/temperature', 'sensor/temperature/room1']) {
      expect(topicMatches('sensor/#', topic)).toBe(true);
    }
    // AWS IoT differs from MQTT here: the parent level is not matched by '#'.
    expect(topicMatches('sensor/#', 'sensor')).toBe(false);
    expect(topicMatches('sensor/#', 'Sensor/temperature')).toBe(false);
    expect(topicMatches('sensor/+/room1', 'sensor/temperature/room1')).toBe(true);
    expect(topicMatches('sensor/+/room1', 'sensor/humidity/room1')).toBe(true);
    expect(topicMatches('sensor/+/room1', 'sensor/temperature/room2')).toBe(false);
    expect(topicMatches('sensor/+', 'sensor/a/b')).toBe(false);
    expect(topicMatches('+', '')).toBe(true);
    expect(topicMatches('devices/test-1', 'devices/test-1')).toBe(true);
    expect(topicMatches('devices/test-1', 'devices/test-1/x')).toBe(false);
  });

  it('keeps $ topics away from leading wildcards only', () => {
    expect(topicMatches('#', '$aws/things/t/shadow/update')).toBe(false);
    expect(topicMatches('+/things/t/shadow/update', '$aws/things/t/shadow/update')).toBe(false);
    expect(topicMatches('$aws/#', '$aws/things/t/shadow/update')).toBe(true);
    expect(topicMatches('$aws/things/+/shadow/update', '$aws/things/t/shadow/update')).toBe(true);
  });
});

describe('parseTopicFilter', () => {
  it('accepts every well-formed filter, telling whether it has a wildcard', () => {
    fc.assert(
      fc.property(filterArb, (filter) => {
        fc.pre(filter.length > 0 && filter.split('/').length <= 8);
        expect(parseTopicFilter(filter)).toEqual({
          ok: true,
          value: { filter, match: filter, wildcard: /(^|\/)[+#](\/|$)/.test(filter) },
        });
      }),
    );
  });

  it('never throws, and refuses wildcards that do not fill a whole level', () => {
    const chars = fc.constantFrom('a', '/', '+', '#', '$', '\u0000', 'é');
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 20 }), (filter) => {
        const result = parseTopicFilter(filter);
        const badWildcard = filter
          .replace(/^\$share\/[^/]*\//, '')
          .split('/')
          .some((l, i, all) => (l.length > 1 && /[+#]/.test(l)) || (l === '#' && i !== all.length - 1));
        if (badWildcard) expect(result.ok).toBe(false);
      }),
    );
  });

  it('separates a shared subscription into share name and filter', () => {
    expect(parseTopicFilter('$share/workers/jobs/+')).toEqual({
      ok: true,
      value: { filter: '$share/workers/jobs/+', match: 'jobs/+', shareName: 'workers', wildcard: true },
    });
    expect(parseTopicFilter('$share/workers/jobs/today')).toEqual({
      ok: true,
      value: {
        filter: '$share/workers/jobs/today',
        match: 'jobs/today',
        shareName: 'workers',
        wildcard: false,
      },
    });
  });

  it.each([
    ['', 'the topic filter is empty'],
    ['a/#/b', "in the topic filter 'a/#/b', '#' is not the last level"],
    ['a/b#', "in the topic filter 'a/b#', a wildcard shares the level 'b#' with other characters"],
    ['a+/b', "in the topic filter 'a+/b', a wildcard shares the level 'a+' with other characters"],
    ['a/\u0000', 'the topic filter contains the null character U+0000'],
    ['$share/g', "the shared subscription '$share/g' has no topic filter after $share/g/"],
    ['$share/g/', "the shared subscription '$share/g/' has no topic filter after $share/g/"],
    [
      '$share//a',
      "the shared subscription '$share//a' needs a share name without '+' or '#': $share/<name>/<filter>",
    ],
    [
      '$share/g+/a',
      "the shared subscription '$share/g+/a' needs a share name without '+' or '#': $share/<name>/<filter>",
    ],
  ])('refuses the malformed filter %j', (filter, reason) => {
    expect(parseTopicFilter(filter)).toEqual({ ok: false, problem: { kind: 'malformed', reason } });
  });

  it('applies AWS IoT limits of 7 slashes and 256 bytes to the matched part', () => {
    expect(parseTopicFilter('a/b/c/d/e/f/g/#').ok).toBe(true);
    expect(parseTopicFilter('a/b/c/d/e/f/g/h/#')).toEqual({
      ok: false,
      problem: {
        kind: 'limit',
        reason: "the topic filter 'a/b/c/d/e/f/g/h/#' has 8 '/'; AWS IoT Core allows at most 7 (8 levels)",
      },
    });
    // The $share/<name>/ prefix does not count: 7 slashes after it.
    expect(parseTopicFilter('$share/g/a/b/c/d/e/f/g/h').ok).toBe(true);
    expect(parseTopicFilter(`a/${'x'.repeat(254)}`).ok).toBe(true);
    expect(parseTopicFilter(`a/${'x'.repeat(255)}`)).toEqual({
      ok: false,
      problem: { kind: 'limit', reason: 'the topic filter is 257 bytes; AWS IoT Core allows at most 256' },
    });
  });
});

describe('topicNameProblem', () => {
  it('accepts valid topic names up to the limits', () => {
    fc.assert(
      fc.property(topicArb, (topic) => {
        fc.pre(topic.length > 0);
        expect(topicNameProblem(topic)).toBeUndefined();
      }),
    );
    expect(topicNameProblem('a/b/c/d/e/f/g/h')).toBeUndefined();
    expect(topicNameProblem('é'.repeat(128))).toBeUndefined();
  });

  it('counts bytes of UTF-8, not characters, and slashes, not levels', () => {
    expect(topicNameProblem(`${'é'.repeat(128)}x`)).toEqual({
      kind: 'limit',
      reason: `the topic name is 257 bytes; AWS IoT Core allows at most ${AWS_IOT_TOPIC_LIMITS.maxTopicBytes}`,
    });
    expect(topicNameProblem('a/b/c/d/e/f/g/h/i')).toEqual({
      kind: 'limit',
      reason: "the topic name 'a/b/c/d/e/f/g/h/i' has 8 '/'; AWS IoT Core allows at most 7 (8 levels)",
    });
  });

  it.each([
    ['', 'the topic name is empty'],
    ['a/+', "the topic name 'a/+' contains a wildcard ('+' or '#'), which only topic filters may have"],
    ['a/#', "the topic name 'a/#' contains a wildcard ('+' or '#'), which only topic filters may have"],
    ['a\u0000', 'the topic name contains the null character U+0000'],
  ])('calls %j malformed', (topic, reason) => {
    expect(topicNameProblem(topic)).toEqual({ kind: 'malformed', reason });
  });
});
