import fc from 'fast-check';
import { segmentsMatch, wildcardMatch, wildcardSegments } from '../src/wildcard-match';

/** The reference: IAM wildcards as an anchored regular expression over code points. */
function referenceMatch(pattern: string, text: string): boolean {
  const source = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 'su').test(text);
}

describe('wildcardMatch', () => {
  it.each([
    [
      'arn:aws:iot:us-east-1:123456789012:authorizer/*',
      'arn:aws:iot:us-east-1:123456789012:authorizer/A',
      true,
    ],
    ['arn:aws:iot:*:123456789012:authorizer/A', 'arn:aws:iot:eu-west-1:123456789012:authorizer/A', true],
    [
      'arn:aws:iot:us-east-1:123456789012:client/test-?',
      'arn:aws:iot:us-east-1:123456789012:client/test-1',
      true,
    ],
    [
      'arn:aws:iot:us-east-1:123456789012:client/test-?',
      'arn:aws:iot:us-east-1:123456789012:client/test-12',
      false,
    ],
    ['topic/devices/+/#', 'topic/devices/a/b', false],
    ['topic/devices/+/#', 'topic/devices/+/#', true],
    ['Client/A', 'client/A', false],
    ['', '', true],
    ['*', '', true],
    ['?', '', false],
    ['?', '😀', true],
  ])('matches %j against %j: %s', (pattern, text, expected) => {
    expect(wildcardMatch(pattern, text)).toBe(expected);
  });

  it('agrees with a regular-expression reference on any pattern and text', () => {
    // A small alphabet, so that a good share of the generated pairs match.
    const alphabet = fc.constantFrom('a', 'b', '/', ':', '*', '?', '+', '#', '.', '😀');
    const word = fc.array(alphabet, { maxLength: 12 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(word, word, (pattern, text) => {
        expect(wildcardMatch(pattern, text)).toBe(referenceMatch(pattern, text));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches a pattern split once as the pattern itself does', () => {
    const segments = wildcardSegments('arn:*:iot:?:*');
    expect(segments).toEqual([
      { literal: 'arn:' },
      { wildcard: '*' },
      { literal: ':iot:' },
      { wildcard: '?' },
      { literal: ':' },
      { wildcard: '*' },
    ]);
    expect(segmentsMatch(segments, 'arn:aws:iot:x:anything')).toBe(true);
    expect(segmentsMatch(segments, 'arn:aws:iot:xy:anything')).toBe(false);
  });
});
