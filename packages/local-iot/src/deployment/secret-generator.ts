import { randomInt } from 'node:crypto';
import { DeploymentError } from '../errors';

/** `AWS::SecretsManager::Secret` `GenerateSecretString`, resolved. */
export interface GenerateSecretStringSpec {
  readonly PasswordLength?: unknown;
  readonly ExcludeCharacters?: unknown;
  readonly ExcludeLowercase?: unknown;
  readonly ExcludeUppercase?: unknown;
  readonly ExcludeNumbers?: unknown;
  readonly ExcludePunctuation?: unknown;
  readonly IncludeSpace?: unknown;
  readonly RequireEachIncludedType?: unknown;
  readonly SecretStringTemplate?: unknown;
  readonly GenerateStringKey?: unknown;
}

const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
const UPPERCASE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const NUMBERS = '0123456789';
/** Secrets Manager's punctuation set (GetRandomPassword). */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/**
 * Generates a secret value as Secrets Manager does for `GenerateSecretString`: a random password honouring
 * the length, exclusions and `RequireEachIncludedType` (default true), placed under `GenerateStringKey` in
 * the JSON `SecretStringTemplate` when both are given.
 * @param where names the resource in errors, e.g. "Resources.DeviceSecret.Properties.GenerateSecretString".
 * @throws DeploymentError for settings Secrets Manager would reject.
 */
export function generateSecretString(spec: GenerateSecretStringSpec, where: string): string {
  const length = spec.PasswordLength === undefined ? 32 : Number(spec.PasswordLength);
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw new DeploymentError(
      `${where}.PasswordLength must be an integer between 1 and 4096, but ${String(spec.PasswordLength)} was given`,
    );
  }
  const exclude = typeof spec.ExcludeCharacters === 'string' ? spec.ExcludeCharacters : '';
  const classes = [
    [LOWERCASE, spec.ExcludeLowercase],
    [UPPERCASE, spec.ExcludeUppercase],
    [NUMBERS, spec.ExcludeNumbers],
    [PUNCTUATION, spec.ExcludePunctuation],
    [' ', !isTrue(spec.IncludeSpace)],
  ]
    .filter(([, excluded]) => !isTrue(excluded))
    .map(([chars]) => [...(chars as string)].filter((c) => !exclude.includes(c)).join(''))
    .filter((chars) => chars.length > 0);
  const all = classes.join('');
  if (all.length === 0)
    throw new DeploymentError(
      `${where} excludes every character: nothing is left to generate a password from`,
    );
  const requireEach = spec.RequireEachIncludedType === undefined || isTrue(spec.RequireEachIncludedType);
  if (requireEach && length < classes.length) {
    throw new DeploymentError(
      `${where}.PasswordLength ${length} is too short to include each of ${classes.length} character types`,
    );
  }
  const chars = Array.from({ length }, () => pick(all));
  if (requireEach) {
    // Put one character of each type at distinct random positions, keeping the rest uniformly random.
    const positions = shuffle([...Array(length).keys()]).slice(0, classes.length);
    classes.forEach((set, index) => {
      chars[positions[index] as number] = pick(set);
    });
  }
  const password = chars.join('');
  const template = spec.SecretStringTemplate;
  const key = spec.GenerateStringKey;
  if ((template === undefined) !== (key === undefined)) {
    throw new DeploymentError(`${where}: SecretStringTemplate and GenerateStringKey must be given together`);
  }
  if (template === undefined) return password;
  let parsed: unknown;
  try {
    parsed = typeof template === 'string' ? JSON.parse(template) : undefined;
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof key !== 'string') {
    throw new DeploymentError(
      `${where}.SecretStringTemplate must be a JSON object and GenerateStringKey a string`,
    );
  }
  return JSON.stringify({ ...parsed, [key]: password });
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

function pick(chars: string): string {
  return chars[randomInt(chars.length)] as string;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
