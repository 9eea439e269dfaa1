import { timingSafeEqual } from 'node:crypto';
import {
  acceptedMasterKeys,
  deriveDevicePassword,
  DEVICE_PASSWORD_LENGTH,
  type MasterSecret,
} from '@iot-custom-auth/protocol';

/** What checking a device's password found. */
export interface DevicePasswordMatch {
  /** The password is the one derived for this device from an accepted master key. */
  readonly password: boolean;
  /** The device is on the revocation list (checked whatever the password). */
  readonly revoked: boolean;
}

/**
 * Checks the raw password (the bytes of the MQTT CONNECT password) of `deviceId` against the passwords
 * derived from every master key accepted at `now` (the current one, and the previous one during a rotation's
 * grace period). Each comparison is `timingSafeEqual` over equal-length buffers; a presented password of
 * another length than every derived one (43 bytes, a public constant) is refused without comparing, which
 * tells nothing a caller does not already know. Every accepted key is compared, so the time does not reveal
 * which key matched.
 */
export function matchDevicePassword(
  secret: MasterSecret,
  deviceId: string,
  password: Buffer,
  now: Date,
): DevicePasswordMatch {
  let matches = false;
  if (password.length === DEVICE_PASSWORD_LENGTH) {
    for (const key of acceptedMasterKeys(secret, now)) {
      const expected = Buffer.from(deriveDevicePassword(key, deviceId), 'utf8');
      // `|` rather than `||`: compare with every key.
      matches = timingSafeEqual(password, expected) || matches;
    }
  }
  return { password: matches, revoked: secret.revokedDevices.has(deviceId) };
}
