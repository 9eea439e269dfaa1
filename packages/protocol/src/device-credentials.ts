import { DEVICE_SECRET_FIELDS } from './constants';
import { isRecord } from './is-record';

/**
 * The user name and password a device sends to the unsigned authorizer: the user name is the device id (also
 * the only client id the device may connect with), the password the one derived for it
 * (`deriveDevicePassword`).
 */
export interface DeviceCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * The master secret (the Secrets Manager secret `DeviceSecretArn`, JSON), parsed. Every device password is
 * derived from `masterKey`; `previous` keeps the key before the last rotation valid until `validUntil`;
 * `revokedDevices` names devices refused whatever password they send.
 */
export interface MasterSecret {
  readonly masterKey: string;
  readonly previous?: { readonly masterKey: string; readonly validUntil: Date };
  /** Device id -> when it was revoked (ISO 8601, as written; for the operator, not for the decision). */
  readonly revokedDevices: ReadonlyMap<string, string>;
}

/** Shortest master key accepted: 32 characters of the generated alphabets carry at least 190 bits. */
export const MIN_MASTER_KEY_LENGTH = 32;

/** Result of reading the master secret: the secret, or one sentence saying what is wrong (never its value). */
export type ParseMasterSecretResult =
  { readonly ok: true; readonly secret: MasterSecret } | { readonly ok: false; readonly problem: string };

const F = DEVICE_SECRET_FIELDS;

/**
 * Reads the master secret's `SecretString`:
 * `{"masterKey": "...", "revokedDevices": {"<deviceId>": "<ISO time>"}, "previousMasterKey": "...",
 * "previousMasterKeyValidUntil": "<ISO time>"}`; only `masterKey` is required, the previous key and its end
 * of validity come together. Never echoes a key in the problem.
 */
export function parseMasterSecret(secretString: unknown): ParseMasterSecretResult {
  const fail = (problem: string): ParseMasterSecretResult => ({ ok: false, problem });
  if (typeof secretString !== 'string') return fail('the secret has no SecretString (a binary secret?)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    return fail('the SecretString is not JSON');
  }
  if (!isRecord(parsed)) return fail('the SecretString is not a JSON object');
  const keyProblem = masterKeyProblem(parsed[F.masterKey], F.masterKey);
  if (keyProblem !== undefined) return fail(keyProblem);
  const revoked = parseRevokedDevices(parsed[F.revokedDevices]);
  if (typeof revoked === 'string') return fail(revoked);
  const previousKey = parsed[F.previousMasterKey];
  const validUntil = parsed[F.previousMasterKeyValidUntil];
  if (previousKey === undefined && validUntil === undefined) {
    return { ok: true, secret: { masterKey: parsed[F.masterKey] as string, revokedDevices: revoked } };
  }
  const previousProblem = masterKeyProblem(previousKey, F.previousMasterKey);
  if (previousProblem !== undefined) return fail(previousProblem);
  const until = typeof validUntil === 'string' ? new Date(validUntil) : undefined;
  if (until === undefined || Number.isNaN(until.getTime())) {
    return fail(
      `"${F.previousMasterKeyValidUntil}" must be an ISO 8601 time when "${F.previousMasterKey}" is set`,
    );
  }
  return {
    ok: true,
    secret: {
      masterKey: parsed[F.masterKey] as string,
      previous: { masterKey: previousKey as string, validUntil: until },
      revokedDevices: revoked,
    },
  };
}

/** The `SecretString` for `secret` (the inverse of `parseMasterSecret`). */
export function serializeMasterSecret(secret: MasterSecret): string {
  return JSON.stringify({
    [F.masterKey]: secret.masterKey,
    [F.revokedDevices]: Object.fromEntries(secret.revokedDevices),
    ...(secret.previous === undefined
      ? {}
      : {
          [F.previousMasterKey]: secret.previous.masterKey,
          [F.previousMasterKeyValidUntil]: secret.previous.validUntil.toISOString(),
        }),
  });
}

/**
 * The master keys whose derived passwords are accepted at `now`: the current key, and the previous one while
 * its grace period lasts.
 */
export function acceptedMasterKeys(secret: MasterSecret, now: Date): readonly string[] {
  return secret.previous !== undefined && now.getTime() < secret.previous.validUntil.getTime()
    ? [secret.masterKey, secret.previous.masterKey]
    : [secret.masterKey];
}

function masterKeyProblem(value: unknown, field: string): string | undefined {
  if (typeof value !== 'string') return `"${field}" must be a string`;
  if (value.length < MIN_MASTER_KEY_LENGTH) {
    return `"${field}" must be at least ${MIN_MASTER_KEY_LENGTH} characters (it has ${value.length})`;
  }
  return undefined;
}

function parseRevokedDevices(value: unknown): Map<string, string> | string {
  if (value === undefined) return new Map();
  const problem = `"${F.revokedDevices}" must be an object of device id -> time of revocation (strings)`;
  if (!isRecord(value)) return problem;
  const revoked = new Map<string, string>();
  for (const [deviceId, at] of Object.entries(value)) {
    if (typeof at !== 'string') return problem;
    revoked.set(deviceId, at);
  }
  return revoked;
}
