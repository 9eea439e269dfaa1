import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DeviceCredentials } from '@iot-custom-auth/protocol';

/** Which of the presented credentials match the stored ones. */
export interface CredentialsMatch {
  readonly username: boolean;
  readonly password: boolean;
}

// Per-process key: both sides are reduced to HMACs of equal length before `timingSafeEqual`, so neither the
// comparison time nor an early length check tells a caller how long (or how close) the real values are.
const COMPARE_KEY = randomBytes(32);

function digest(value: string | Buffer): Buffer {
  return createHmac('sha256', COMPARE_KEY).update(value).digest();
}

/**
 * Compares a presented user name and raw password (the bytes of the MQTT CONNECT password) with the device
 * credentials in constant time. Both are always compared, so the time does not reveal which one differs.
 */
export function matchCredentials(
  expected: DeviceCredentials,
  username: string,
  password: Buffer,
): CredentialsMatch {
  const usernameMatches = timingSafeEqual(digest(username), digest(expected.username));
  const passwordMatches = timingSafeEqual(digest(password), digest(Buffer.from(expected.password, 'utf8')));
  return { username: usernameMatches, password: passwordMatches };
}
