// The unsigned authorizer's credentials for a benchmark connect, read from the stack's device secret. Two secret
// shapes are understood: `{"username", "password"}` (one shared device login), and a master secret
// `{"masterKey", ...}` from which each device's password is derived for its device id (= its client id) by
// protocol's `deriveDevicePassword`. The derivation is looked up at run time so the benchmark builds with either.
import * as protocol from '@iot-custom-auth/protocol';

export interface UnsignedLogin {
  readonly username: string;
  readonly password: string;
}

/** Returns the login for `clientId`, or throws naming what the secret lacks (never its value). */
export function unsignedLoginFor(secretString: string | undefined, clientId: string): UnsignedLogin {
  let secret: unknown;
  try {
    secret = JSON.parse(secretString ?? '');
  } catch {
    throw new Error('the device secret is not JSON');
  }
  if (!protocol.isRecord(secret)) throw new Error('the device secret is not a JSON object');
  if (typeof secret.username === 'string' && typeof secret.password === 'string') {
    return { username: secret.username, password: secret.password };
  }
  const derive = (protocol as Record<string, unknown>).deriveDevicePassword as
    ((masterKey: string, deviceId: string) => string) | undefined;
  if (typeof secret.masterKey === 'string' && typeof derive === 'function') {
    return { username: clientId, password: derive(secret.masterKey, clientId) };
  }
  throw new Error(
    'the device secret has neither username/password nor a masterKey this build can derive from',
  );
}
