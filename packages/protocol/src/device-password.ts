import { createHmac, randomBytes } from 'node:crypto';

/**
 * Domain separation for the derivation: the HMAC input starts with this label, so a master key can never be
 * made to produce, for a device id, a MAC that some other use of the same key would produce (and a future
 * derivation scheme gets its own label instead of colliding with this one).
 */
export const DEVICE_PASSWORD_LABEL = 'iot-custom-auth device password v1\n';

/** Length of every derived password: base64url of a 32-byte HMAC-SHA-256, unpadded. */
export const DEVICE_PASSWORD_LENGTH = 43;

/**
 * The password of device `deviceId` under `masterKey`:
 * `base64url(HMAC-SHA-256(utf8(masterKey), utf8(DEVICE_PASSWORD_LABEL || deviceId)))`, 43 characters that need
 * no escaping anywhere. The Lambda, the provisioning CLI and local-iot's tests all call this one function.
 * Knowing one device's password tells nothing about another's (HMAC is a PRF), nor about the master key.
 */
export function deriveDevicePassword(masterKey: string, deviceId: string): string {
  return createHmac('sha256', masterKey)
    .update(DEVICE_PASSWORD_LABEL, 'utf8')
    .update(deviceId, 'utf8')
    .digest('base64url');
}

/** A fresh master key for a rotation: 32 random bytes (256 bits), base64url. */
export function generateMasterKey(): string {
  return randomBytes(32).toString('base64url');
}
