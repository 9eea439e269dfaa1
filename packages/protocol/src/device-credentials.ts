import { DEVICE_SECRET_FIELDS } from './constants';
import { isRecord } from './is-record';

/** The device user name and password the unsigned authorizer accepts. */
export interface DeviceCredentials {
  readonly username: string;
  readonly password: string;
}

/** User name of the sample device the stack creates credentials for. */
export const DEFAULT_DEVICE_USERNAME = 'device';

/**
 * Reads the device credentials secret (`{"username": "...", "password": "..."}`). Returns `undefined` when
 * the value is not such an object with two non-empty strings; never echoes the value.
 */
export function parseDeviceCredentials(secretString: unknown): DeviceCredentials | undefined {
  if (typeof secretString !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const username = parsed[DEVICE_SECRET_FIELDS.username];
  const password = parsed[DEVICE_SECRET_FIELDS.password];
  if (typeof username !== 'string' || typeof password !== 'string' || !username || !password)
    return undefined;
  return { username, password };
}
