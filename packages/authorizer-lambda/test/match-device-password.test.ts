import crypto from 'node:crypto';
import fc from 'fast-check';
import { deriveDevicePassword, type MasterSecret } from '@iot-custom-auth/protocol';
import { matchDevicePassword } from '../src';

const KEY = 'the-current-master-key-0123456789abcdef';
const OLD_KEY = 'the-previous-master-key-0123456789abcdef';
const NOW = new Date('2026-01-15T00:00:00Z');
const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const secret = (extra: Partial<MasterSecret> = {}): MasterSecret => ({
  masterKey: KEY,
  revokedDevices: new Map(),
  ...extra,
});
/** Safe device ids under the prefix, as the authorizer lets through to the comparison. */
const deviceId = fc.stringMatching(/^test-[A-Za-z0-9_.:-]{1,40}$/);

describe('matchDevicePassword', () => {
  afterEach(() => jest.restoreAllMocks());

  it("matches the device's derived password", () => {
    expect(matchDevicePassword(secret(), 'test-1', bytes(deriveDevicePassword(KEY, 'test-1')), NOW)).toEqual({
      password: true,
      revoked: false,
    });
  });

  it.each([
    ['a wrong password of equal length', 'x'.repeat(43)],
    ['a shorter password', deriveDevicePassword(KEY, 'test-1').slice(0, 42)],
    ['a longer password', `${deriveDevicePassword(KEY, 'test-1')}=`],
    ['an empty password', ''],
  ])('refuses %s', (_label, password) => {
    expect(matchDevicePassword(secret(), 'test-1', bytes(password), NOW).password).toBe(false);
  });

  it("property: one device's password never authenticates another device", () => {
    fc.assert(
      fc.property(deviceId, deviceId, (a, b) => {
        fc.pre(a !== b);
        const passwordOfA = bytes(deriveDevicePassword(KEY, a));
        expect(matchDevicePassword(secret(), a, passwordOfA, NOW).password).toBe(true);
        expect(matchDevicePassword(secret(), b, passwordOfA, NOW).password).toBe(false);
      }),
    );
  });

  it('property: a revoked device is reported revoked whatever it sends, the others are not', () => {
    fc.assert(
      fc.property(deviceId, deviceId, fc.boolean(), (revokedId, otherId, ownPassword) => {
        fc.pre(revokedId !== otherId);
        const revoked = secret({ revokedDevices: new Map([[revokedId, NOW.toISOString()]]) });
        const password = bytes(ownPassword ? deriveDevicePassword(KEY, revokedId) : 'x'.repeat(43));
        expect(matchDevicePassword(revoked, revokedId, password, NOW).revoked).toBe(true);
        const other = bytes(deriveDevicePassword(KEY, otherId));
        expect(matchDevicePassword(revoked, otherId, other, NOW)).toEqual({ password: true, revoked: false });
      }),
    );
  });

  it('property: during a grace period both keys are accepted, after it only the new one', () => {
    fc.assert(
      fc.property(
        deviceId,
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.integer({ min: 0, max: 86_400_000 }),
        (id, before, after) => {
          const validUntil = new Date(NOW.getTime() + before);
          const rotated = secret({ previous: { masterKey: OLD_KEY, validUntil } });
          const oldPassword = bytes(deriveDevicePassword(OLD_KEY, id));
          const newPassword = bytes(deriveDevicePassword(KEY, id));
          expect(matchDevicePassword(rotated, id, oldPassword, NOW).password).toBe(true);
          expect(matchDevicePassword(rotated, id, newPassword, NOW).password).toBe(true);
          const later = new Date(validUntil.getTime() + after);
          expect(matchDevicePassword(rotated, id, oldPassword, later).password).toBe(false);
          expect(matchDevicePassword(rotated, id, newPassword, later).password).toBe(true);
        },
      ),
    );
  });

  it('compares with timingSafeEqual against every accepted key, never short-circuiting on a match', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    const rotated = secret({ previous: { masterKey: OLD_KEY, validUntil: new Date(NOW.getTime() + 1000) } });
    matchDevicePassword(rotated, 'test-1', bytes(deriveDevicePassword(KEY, 'test-1')), NOW);
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls) {
      expect([(a as Buffer).length, (b as Buffer).length]).toEqual([43, 43]);
    }
  });
});
