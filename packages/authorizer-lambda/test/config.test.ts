import { AUTHORIZER_ENV, DEFAULTS } from '@iot-custom-auth/protocol';
import { AuthorizerError, ConfigError, loadConfig } from '../src';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-credentials-AbCdEf';
const base = { [AUTHORIZER_ENV.deviceSecretArn]: SECRET_ARN };

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig did not throw');
}

describe('loadConfig', () => {
  it('uses the protocol defaults when only DEVICE_SECRET_ARN is set', () => {
    expect(loadConfig(base)).toEqual({
      deviceSecretArn: SECRET_ARN,
      clientIdPrefix: 'test-',
      topicRoot: 'devices',
      refreshAfterSeconds: 300,
      disconnectAfterSeconds: 86_400,
      secretCacheTtlSeconds: 300,
      tokenMaxLifetimeSeconds: 3600,
      tokenClockSkewSeconds: 60,
      logFormat: 'text',
    });
    expect(loadConfig(base).clientIdPrefix).toBe(DEFAULTS.clientIdPrefix);
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        DEVICE_SECRET_ARN: 'device-credentials',
        CLIENT_ID_PREFIX: 'fleet-a.',
        TOPIC_ROOT: 'fleet/a_1',
        REFRESH_AFTER_SECONDS: '600',
        DISCONNECT_AFTER_SECONDS: '3600',
        SECRET_CACHE_TTL_SECONDS: '0',
        TOKEN_MAX_LIFETIME_SECONDS: '600',
        TOKEN_CLOCK_SKEW_SECONDS: '5',
        AWS_LAMBDA_LOG_FORMAT: 'JSON',
      }),
    ).toEqual({
      deviceSecretArn: 'device-credentials',
      clientIdPrefix: 'fleet-a.',
      topicRoot: 'fleet/a_1',
      refreshAfterSeconds: 600,
      disconnectAfterSeconds: 3600,
      secretCacheTtlSeconds: 0,
      tokenMaxLifetimeSeconds: 600,
      tokenClockSkewSeconds: 5,
      logFormat: 'json',
    });
  });

  it.each(['Text', 'text', '', 'yaml'])('uses the text log format for AWS_LAMBDA_LOG_FORMAT=%j', (format) => {
    expect(loadConfig({ ...base, AWS_LAMBDA_LOG_FORMAT: format }).logFormat).toBe('text');
  });

  it.each([undefined, '', '   '])('throws a ConfigError naming DEVICE_SECRET_ARN when it is %j', (value) => {
    const error = configError(value === undefined ? {} : { DEVICE_SECRET_ARN: value });
    expect(error).toBeInstanceOf(AuthorizerError);
    expect(error.name).toBe('ConfigError');
    expect(error.message).toBe(
      '`DEVICE_SECRET_ARN` is not set: set it to the ARN of the Secrets Manager master secret the device ' +
        'passwords derive from (a JSON object with "masterKey" and "revokedDevices"); the CDK stack sets it on the function it deploys',
    );
  });

  it('refuses a secret ARN with spaces', () => {
    expect(configError({ DEVICE_SECRET_ARN: ' arn:aws:secretsmanager:x ' }).message).toBe(
      '`DEVICE_SECRET_ARN` must be a secret ARN without spaces, but " arn:aws:secretsmanager:x " was provided',
    );
  });

  it('explains an out-of-range TTL with the variable, the range and the value', () => {
    expect(configError({ ...base, REFRESH_AFTER_SECONDS: '10' }).message).toBe(
      "`REFRESH_AFTER_SECONDS` must be an integer between 300 and 86400, but '10' was provided",
    );
  });

  it.each([
    ['REFRESH_AFTER_SECONDS', '86401', 300, 86_400],
    ['REFRESH_AFTER_SECONDS', '299', 300, 86_400],
    ['DISCONNECT_AFTER_SECONDS', '', 300, 86_400],
    ['DISCONNECT_AFTER_SECONDS', '300.5', 300, 86_400],
    ['DISCONNECT_AFTER_SECONDS', ' 300', 300, 86_400],
    ['DISCONNECT_AFTER_SECONDS', '3e2', 300, 86_400],
    ['DISCONNECT_AFTER_SECONDS', '0x12c', 300, 86_400],
    ['DISCONNECT_AFTER_SECONDS', '-300', 300, 86_400],
    ['SECRET_CACHE_TTL_SECONDS', '3601', 0, 3600],
    ['TOKEN_MAX_LIFETIME_SECONDS', '59', 60, 604_800],
    ['TOKEN_MAX_LIFETIME_SECONDS', '99999999999999', 60, 604_800],
    ['TOKEN_CLOCK_SKEW_SECONDS', '601', 0, 600],
  ])('refuses %s=%j', (name, value, min, max) => {
    expect(configError({ ...base, [name]: value }).message).toBe(
      `\`${name}\` must be an integer between ${min} and ${max}, but '${value}' was provided`,
    );
  });

  it.each([
    ['REFRESH_AFTER_SECONDS', '300', 'refreshAfterSeconds', 300],
    ['DISCONNECT_AFTER_SECONDS', '86400', 'disconnectAfterSeconds', 86_400],
    ['TOKEN_CLOCK_SKEW_SECONDS', '0', 'tokenClockSkewSeconds', 0],
    ['TOKEN_MAX_LIFETIME_SECONDS', '604800', 'tokenMaxLifetimeSeconds', 604_800],
  ] as const)('accepts the boundary %s=%s', (name, value, key, expected) => {
    expect(loadConfig({ ...base, [name]: value })[key]).toBe(expected);
  });

  it.each([
    ['empty', '', 'it is empty'],
    ['with /', 'test/', 'it contains "/"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['with +', 'test+', 'it contains "+"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['with *', 'te*', 'it contains "*"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['of 129 bytes', 'x'.repeat(129), 'it is longer than 128 bytes'],
  ])('refuses a CLIENT_ID_PREFIX %s, which would widen or break the connect policy', (_label, value, why) => {
    expect(configError({ ...base, CLIENT_ID_PREFIX: value }).message).toBe(
      "`CLIENT_ID_PREFIX` must be 1 to 128 bytes of A-Z a-z 0-9 _ . : - (such as 'test-'), " +
        `but ${JSON.stringify(value)} was provided (${why})`,
    );
  });

  it.each(
    [
      '',
      '/devices',
      'devices/',
      'a//b',
      'dev+',
      'dev/#',
      'dev*',
      '${iot:ClientId}',
      'a b',
      'x'.repeat(129),
    ].map((value) => [value.length > 20 ? `${value.length} characters` : JSON.stringify(value), value]),
  )('refuses TOPIC_ROOT %s', (_label, value) => {
    expect(configError({ ...base, TOPIC_ROOT: value }).message).toBe(
      "`TOPIC_ROOT` must be 1 to 128 characters of topic levels made of A-Z a-z 0-9 _ . : - separated by single '/' " +
        `(such as 'devices'), but ${JSON.stringify(value)} was provided`,
    );
  });

  const fingerprint = 'ab'.repeat(32);
  const withColons = 'AB:'.repeat(31) + 'AB';

  it('reads X509_TRUSTED_CERTIFICATE_FINGERPRINTS into lower-case hex without colons', () => {
    expect(loadConfig(base)).not.toHaveProperty('x509TrustedFingerprints');
    const config = loadConfig({
      ...base,
      X509_TRUSTED_CERTIFICATE_FINGERPRINTS: ` ${withColons} , ${'0'.repeat(64)},${fingerprint.toUpperCase()}`,
    });
    expect(config.x509TrustedFingerprints).toEqual(new Set([fingerprint, '0'.repeat(64)]));
  });

  it.each([
    ['an empty value', '', '""', '; leave the variable unset to turn pinning off'],
    ['a short fingerprint', 'ab'.repeat(31), JSON.stringify('ab'.repeat(31)), ''],
    ['a SHA-1 fingerprint', 'AB:'.repeat(19) + 'AB', JSON.stringify('AB:'.repeat(19) + 'AB'), ''],
    ['an empty entry', `${fingerprint},`, '""', ''],
    ['a non-hex digit', 'g'.repeat(64), JSON.stringify('g'.repeat(64)), ''],
    [
      'colons in the wrong places',
      `${fingerprint.slice(0, 63)}:${fingerprint.slice(63)}`,
      JSON.stringify(`${fingerprint.slice(0, 63)}:${fingerprint.slice(63)}`),
      '',
    ],
  ])('refuses X509_TRUSTED_CERTIFICATE_FINGERPRINTS with %s', (_label, value, shown, hint) => {
    expect(configError({ ...base, X509_TRUSTED_CERTIFICATE_FINGERPRINTS: value }).message).toBe(
      '`X509_TRUSTED_CERTIFICATE_FINGERPRINTS` must be a comma-separated list of SHA-256 certificate fingerprints ' +
        '(64 hex digits, colons allowed, as `openssl x509 -noout -fingerprint -sha256` prints them, or the AWS IoT ' +
        `certificate id), but ${shown} is not one${hint}`,
    );
  });
});
