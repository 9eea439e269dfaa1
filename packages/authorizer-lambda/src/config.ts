import {
  AUTHORIZER_ENV,
  AUTHORIZER_RESPONSE_LIMITS,
  DEFAULTS,
  DEVICE_SECRET_FIELDS,
  MAX_TOPIC_ROOT_LENGTH,
  clientIdProblem,
  isValidTopicRoot,
} from '@iot-custom-auth/protocol';
import { ConfigError } from './errors';

/** Everything the authorizer needs to decide, read once at cold start. */
export interface AuthorizerConfig {
  /** ARN (or name) of the Secrets Manager master secret (`{"masterKey": ..., "revokedDevices": {...}}`). */
  readonly deviceSecretArn: string;
  /** Client ids must start with this; the returned connect policy allows `client/<prefix>*`. */
  readonly clientIdPrefix: string;
  /** A device's topics are `<topicRoot>/<clientId>` and below. */
  readonly topicRoot: string;
  /** `refreshAfterInSeconds` of every response. */
  readonly refreshAfterSeconds: number;
  /** `disconnectAfterInSeconds` of every response. */
  readonly disconnectAfterSeconds: number;
  /** How long the fetched master secret (keys, revocations) is reused; 0 fetches it for every connection. */
  readonly secretCacheTtlSeconds: number;
  /** Longest accepted signed-token lifetime (`exp - iat`). */
  readonly tokenMaxLifetimeSeconds: number;
  /** Tolerated clock difference between the token signer and the Lambda. */
  readonly tokenClockSkewSeconds: number;
  /**
   * X.509 mode: the lower-case hex SHA-256 fingerprints a client certificate must be one of
   * (`X509_TRUSTED_CERTIFICATE_FINGERPRINTS`); absent = every certificate AWS IoT verified is judged on its
   * validity and CN alone.
   */
  readonly x509TrustedFingerprints?: ReadonlySet<string>;
  /**
   * How the Lambda runtime formats console output (`AWS_LAMBDA_LOG_FORMAT`): with `json` the runtime wraps
   * a logged object into its own JSON line, with `text` the decision is logged as a JSON string.
   */
  readonly logFormat: LogFormat;
}

export type LogFormat = 'json' | 'text';

/** The Lambda runtime's variable naming the function's log format (`Text` or `JSON`). */
export const LAMBDA_LOG_FORMAT_ENV = 'AWS_LAMBDA_LOG_FORMAT';

/** Accepted ranges of the integer settings, inclusive. */
export const CONFIG_LIMITS = {
  ttlSeconds: {
    min: AUTHORIZER_RESPONSE_LIMITS.minTtlSeconds,
    max: AUTHORIZER_RESPONSE_LIMITS.maxTtlSeconds,
  },
  // An hour at most: a longer cache delays a password rotation for every warm instance.
  secretCacheTtlSeconds: { min: 0, max: 3600 },
  // A week at most: a signed token cannot be revoked, so its lifetime is the revocation delay.
  tokenMaxLifetimeSeconds: { min: 60, max: 604_800 },
  tokenClockSkewSeconds: { min: 0, max: 600 },
} as const;

/**
 * Reads and validates the configuration from the environment (names in `AUTHORIZER_ENV`, defaults in
 * `DEFAULTS`). A variable that is not set takes its default; a variable that is set, even to the empty
 * string, must be valid.
 * @throws ConfigError naming the variable, what was provided and what is expected.
 */
export function loadConfig(env: NodeJS.ProcessEnv): AuthorizerConfig {
  return {
    deviceSecretArn: readSecretArn(env),
    clientIdPrefix: readClientIdPrefix(env),
    topicRoot: readTopicRoot(env),
    refreshAfterSeconds: readInteger(
      env,
      AUTHORIZER_ENV.refreshAfterSeconds,
      DEFAULTS.refreshAfterSeconds,
      CONFIG_LIMITS.ttlSeconds,
    ),
    disconnectAfterSeconds: readInteger(
      env,
      AUTHORIZER_ENV.disconnectAfterSeconds,
      DEFAULTS.disconnectAfterSeconds,
      CONFIG_LIMITS.ttlSeconds,
    ),
    secretCacheTtlSeconds: readInteger(
      env,
      AUTHORIZER_ENV.secretCacheTtlSeconds,
      DEFAULTS.secretCacheTtlSeconds,
      CONFIG_LIMITS.secretCacheTtlSeconds,
    ),
    tokenMaxLifetimeSeconds: readInteger(
      env,
      AUTHORIZER_ENV.tokenMaxLifetimeSeconds,
      DEFAULTS.tokenMaxLifetimeSeconds,
      CONFIG_LIMITS.tokenMaxLifetimeSeconds,
    ),
    tokenClockSkewSeconds: readInteger(
      env,
      AUTHORIZER_ENV.tokenClockSkewSeconds,
      DEFAULTS.tokenClockSkewSeconds,
      CONFIG_LIMITS.tokenClockSkewSeconds,
    ),
    logFormat: env[LAMBDA_LOG_FORMAT_ENV]?.toUpperCase() === 'JSON' ? 'json' : 'text',
    ...readTrustedFingerprints(env),
  };
}

/** A SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it (colons) or as plain hex. */
const SHA256_FINGERPRINT = /^(?:[0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{64}$/;

/**
 * `X509_TRUSTED_CERTIFICATE_FINGERPRINTS`: comma-separated SHA-256 fingerprints, normalized to lower-case hex
 * without colons (the form of an AWS IoT certificate id).
 */
function readTrustedFingerprints(env: NodeJS.ProcessEnv): Pick<AuthorizerConfig, 'x509TrustedFingerprints'> {
  const name = AUTHORIZER_ENV.x509TrustedCertificateFingerprints;
  const value = env[name];
  if (value === undefined) return {};
  const entries = value.split(',').map((entry) => entry.trim());
  const bad = entries.find((entry) => !SHA256_FINGERPRINT.test(entry));
  if (bad !== undefined) {
    throw new ConfigError(
      `\`${name}\` must be a comma-separated list of SHA-256 certificate fingerprints (64 hex digits, colons ` +
        `allowed, as \`openssl x509 -noout -fingerprint -sha256\` prints them, or the AWS IoT certificate id), ` +
        `but ${JSON.stringify(bad)} is not one` +
        (value.trim() === '' ? '; leave the variable unset to turn pinning off' : ''),
    );
  }
  return {
    x509TrustedFingerprints: new Set(entries.map((entry) => entry.replaceAll(':', '').toLowerCase())),
  };
}

function readSecretArn(env: NodeJS.ProcessEnv): string {
  const name = AUTHORIZER_ENV.deviceSecretArn;
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigError(
      `\`${name}\` is not set: set it to the ARN of the Secrets Manager master secret the device passwords ` +
        `derive from (a JSON object with "${DEVICE_SECRET_FIELDS.masterKey}" and "${DEVICE_SECRET_FIELDS.revokedDevices}"); ` +
        'the CDK stack sets it on the function it deploys',
    );
  }
  if (value !== value.trim() || /\s/.test(value)) {
    throw new ConfigError(
      `\`${name}\` must be a secret ARN without spaces, but ${JSON.stringify(value)} was provided`,
    );
  }
  return value;
}

function readClientIdPrefix(env: NodeJS.ProcessEnv): string {
  const name = AUTHORIZER_ENV.clientIdPrefix;
  const value = env[name];
  if (value === undefined) return DEFAULTS.clientIdPrefix;
  // The prefix is itself the shortest allowed client id, so it must satisfy the same rules.
  const problem = clientIdProblem(value, value);
  if (problem !== undefined) {
    throw new ConfigError(
      `\`${name}\` must be 1 to 128 bytes of A-Z a-z 0-9 _ . : - (such as '${DEFAULTS.clientIdPrefix}'), ` +
        `but ${JSON.stringify(value)} was provided (${problem.replace(/^client id/, 'it')})`,
    );
  }
  return value;
}

function readTopicRoot(env: NodeJS.ProcessEnv): string {
  const name = AUTHORIZER_ENV.topicRoot;
  const value = env[name];
  if (value === undefined) return DEFAULTS.topicRoot;
  if (!isValidTopicRoot(value)) {
    throw new ConfigError(
      `\`${name}\` must be 1 to ${MAX_TOPIC_ROOT_LENGTH} characters of topic levels made of ` +
        `A-Z a-z 0-9 _ . : - separated by single '/' (such as '${DEFAULTS.topicRoot}'), ` +
        `but ${JSON.stringify(value)} was provided`,
    );
  }
  return value;
}

function readInteger(
  env: NodeJS.ProcessEnv,
  name: string,
  defaultValue: number,
  range: { readonly min: number; readonly max: number },
): number {
  const value = env[name];
  if (value === undefined) return defaultValue;
  // Digits only: Number() would also accept '', ' 300', '3e2' and '0x12c'.
  const parsed = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= range.min && parsed <= range.max)) {
    throw new ConfigError(
      `\`${name}\` must be an integer between ${range.min} and ${range.max}, but '${value}' was provided`,
    );
  }
  return parsed;
}
