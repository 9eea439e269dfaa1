import fc from 'fast-check';
import { isRecord } from '../src';

describe('isRecord', () => {
  it.each([{}, { a: 1 }, Object.create(null) as object, new Date(0)])('accepts the object %j', (value) => {
    expect(isRecord(value)).toBe(true);
  });

  it.each([null, undefined, [], [1], 'x', 0, true, () => 1])('refuses %j', (value) => {
    expect(isRecord(value)).toBe(false);
  });

  it('accepts exactly the JSON objects among parsed JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        expect(isRecord(JSON.parse(text))).toBe(text.startsWith('{'));
      }),
    );
  });
});
