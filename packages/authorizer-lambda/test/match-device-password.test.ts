import crypto from 'node:crypto';
import { matchCredentials } from '../src';

const expected = { username: 'device', password: 'Fixture-Pa55word-7f3c9a1e' };
const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('matchCredentials', () => {
  afterEach(() => jest.restoreAllMocks());

  it('matches the exact user name and password', () => {
    expect(matchCredentials(expected, 'device', bytes('Fixture-Pa55word-7f3c9a1e'))).toEqual({
      username: true,
      password: true,
    });
  });

  it.each([
    ['a wrong password of equal length', 'Fixture-Pa55word-7f3c9a1f'],
    ['a shorter password', 'Fixture-Pa55word'],
    ['a longer password', 'Fixture-Pa55word-7f3c9a1e-and-more'],
    ['an empty password', ''],
    ['the password in another case', 'FIXTURE-PA55WORD-7F3C9A1E'],
  ])('refuses %s', (_label, password) => {
    expect(matchCredentials(expected, 'device', bytes(password))).toEqual({
      username: true,
      password: false,
    });
  });

  it('refuses another user name, and still compares the password', () => {
    expect(matchCredentials(expected, 'Device', bytes('Fixture-Pa55word-7f3c9a1e'))).toEqual({
      username: false,
      password: true,
    });
  });

  it('compares the password as bytes (UTF-8 of the stored password)', () => {
    const unicode = { username: 'device', password: 'pässwörd-✓' };
    expect(matchCredentials(unicode, 'device', Buffer.from('pässwörd-✓', 'utf8')).password).toBe(true);
    expect(matchCredentials(unicode, 'device', Buffer.from('pässwörd-✓', 'latin1')).password).toBe(false);
  });

  it('compares equal-length digests with timingSafeEqual, whatever the input lengths', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    matchCredentials(expected, 'd', bytes('x'.repeat(1000)));
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls) {
      expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
    }
  });
});
