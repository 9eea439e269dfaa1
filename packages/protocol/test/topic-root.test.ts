import fc from 'fast-check';
import { MAX_TOPIC_ROOT_LENGTH, isValidTopicRoot } from '../src';

describe('isValidTopicRoot', () => {
  it.each(['devices', 'fleet/a', 'a.b/c:d/e_f-g', 'x'.repeat(MAX_TOPIC_ROOT_LENGTH)])(
    'accepts %j',
    (root) => {
      expect(isValidTopicRoot(root)).toBe(true);
    },
  );

  it.each([
    '',
    '/devices',
    'devices/',
    'a//b',
    'devices/+',
    'devices/#',
    'a*',
    'a?',
    '$aws',
    '${iot:ClientId}',
    'a b',
    'dé',
    'x'.repeat(MAX_TOPIC_ROOT_LENGTH + 1),
  ])('refuses %j, which would widen or break the topic policy', (root) => {
    expect(isValidTopicRoot(root)).toBe(false);
  });

  it('accepts exactly non-empty levels of A-Z a-z 0-9 _ . : - joined by single /, up to 128 characters', () => {
    const unit = fc.constantFrom('a', 'Z', '9', '_', '.', ':', '-', '/', '+', '#', '*', '$', ' ');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 140 }), (root) => {
        const levels = root.split('/');
        const valid =
          root.length <= 128 &&
          levels.every((level) => level.length > 0 && [...level].every((c) => /[A-Za-z0-9_.:-]/.test(c)));
        expect(isValidTopicRoot(root)).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });
});
