import fc from 'fast-check';
import { AWS_IOT_TOPIC_LIMITS, checkTopicLimits, checkTopicName, checkTopicText } from '../src';

/** Characters that exercise every rule: wildcards, U+0000, a two-byte letter, `$` and a space. */
const FORBIDDEN = ['+', '#', '\u0000'];
const hasForbidden = (topic: string): boolean => FORBIDDEN.some((c) => topic.includes(c));
const level = fc.string({ unit: fc.constantFrom('a', 'é', '+', '#', '\u0000', '$', ' '), maxLength: 40 });
const topicArb = fc.array(level, { minLength: 1, maxLength: 10 }).map((levels) => levels.join('/'));

describe('checkTopicName', () => {
  it('accepts exactly the topics without wildcards or U+0000, of 1 to 256 bytes and at most 8 levels', () => {
    fc.assert(
      fc.property(topicArb, (topic) => {
        const valid =
          topic.length > 0 &&
          !hasForbidden(topic) &&
          Buffer.byteLength(topic, 'utf8') <= 256 &&
          topic.split('/').length <= 8;
        expect(checkTopicName(topic) === undefined).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });

  it('calls a topic malformed for MQTT reasons and over the limit for AWS IoT reasons', () => {
    fc.assert(
      fc.property(topicArb, (topic) => {
        const problem = checkTopicName(topic);
        if (problem === undefined) return;
        const malformed = topic.length === 0 || hasForbidden(topic);
        expect(problem.kind).toBe(malformed ? 'malformed' : 'limit');
      }),
    );
  });

  it('accepts the limits themselves, counting bytes of UTF-8 and levels', () => {
    expect(checkTopicName('a/b/c/d/e/f/g/h')).toBeUndefined();
    expect(checkTopicName('é'.repeat(128))).toBeUndefined();
    expect(checkTopicName('$aws/things/t/shadow/update')).toBeUndefined();
  });

  it.each([
    ['', { code: 'EMPTY', kind: 'malformed', message: 'the topic name is empty' }],
    [
      'a\u0000',
      {
        code: 'NULL_CHARACTER',
        kind: 'malformed',
        message: 'the topic name contains the null character U+0000',
      },
    ],
    [
      'a/+',
      {
        code: 'WILDCARD',
        kind: 'malformed',
        wildcard: '+',
        message: "the topic name 'a/+' contains a wildcard ('+' or '#'), which only topic filters may have",
      },
    ],
    [
      'a/#',
      {
        code: 'WILDCARD',
        kind: 'malformed',
        wildcard: '#',
        message: "the topic name 'a/#' contains a wildcard ('+' or '#'), which only topic filters may have",
      },
    ],
    [
      '#/+',
      {
        code: 'WILDCARD',
        kind: 'malformed',
        wildcard: '+',
        message: "the topic name '#/+' contains a wildcard ('+' or '#'), which only topic filters may have",
      },
    ],
    [
      `${'é'.repeat(128)}x`,
      {
        code: 'TOO_MANY_BYTES',
        kind: 'limit',
        bytes: 257,
        message: `the topic name is 257 bytes; AWS IoT Core allows at most ${AWS_IOT_TOPIC_LIMITS.maxTopicBytes}`,
      },
    ],
    [
      'a/b/c/d/e/f/g/h/i',
      {
        code: 'TOO_MANY_LEVELS',
        kind: 'limit',
        levels: 9,
        message: "the topic name 'a/b/c/d/e/f/g/h/i' has 8 '/'; AWS IoT Core allows at most 7 (8 levels)",
      },
    ],
  ])('explains %j', (topic, problem) => {
    expect(checkTopicName(topic)).toEqual(problem);
  });

  it('reports U+0000 before a wildcard, and the size before the depth', () => {
    expect(checkTopicName('+\u0000')?.code).toBe('NULL_CHARACTER');
    expect(checkTopicName(`${'x/'.repeat(200)}x`)?.code).toBe('TOO_MANY_BYTES');
  });
});

describe('checkTopicText', () => {
  it('names the subject: the rules topic names and topic filters share', () => {
    expect(checkTopicText('', 'topic filter')).toEqual({
      code: 'EMPTY',
      kind: 'malformed',
      message: 'the topic filter is empty',
    });
    expect(checkTopicText('a/\u0000/#', 'topic filter')).toEqual({
      code: 'NULL_CHARACTER',
      kind: 'malformed',
      message: 'the topic filter contains the null character U+0000',
    });
    expect(checkTopicText('a/+/#', 'topic filter')).toBeUndefined();
  });
});

describe('checkTopicLimits', () => {
  it('applies 256 bytes and 7 slashes to wildcards like any other character', () => {
    expect(checkTopicLimits('a/b/c/d/e/f/g/#', 'topic filter')).toBeUndefined();
    expect(checkTopicLimits('a/b/c/d/e/f/g/h/#', 'topic filter')).toEqual({
      code: 'TOO_MANY_LEVELS',
      kind: 'limit',
      levels: 9,
      message: "the topic filter 'a/b/c/d/e/f/g/h/#' has 8 '/'; AWS IoT Core allows at most 7 (8 levels)",
    });
    expect(checkTopicLimits(`a/${'x'.repeat(254)}`, 'topic filter')).toBeUndefined();
    expect(checkTopicLimits(`a/${'x'.repeat(255)}`, 'topic filter')).toEqual({
      code: 'TOO_MANY_BYTES',
      kind: 'limit',
      bytes: 257,
      message: 'the topic filter is 257 bytes; AWS IoT Core allows at most 256',
    });
  });

  it('keeps the level limit one above the slash limit', () => {
    expect(AWS_IOT_TOPIC_LIMITS.maxTopicLevels).toBe(AWS_IOT_TOPIC_LIMITS.maxTopicSlashes + 1);
  });
});
