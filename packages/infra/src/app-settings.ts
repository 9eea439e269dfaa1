import { DEFAULT_STACK_NAME } from '@iot-custom-auth/protocol';
import { IOT_LOGGING_LEVELS, type IotLoggingLevel } from './custom-authorizer-stack';
import { InfraError } from './errors';
import type { X509CustomDomain } from './iot-x509-domain';

/** Environment variable naming the user's own token-signing public key file (context wins over it). */
export const TOKEN_SIGNING_PUBLIC_KEY_FILE_ENV = 'TOKEN_SIGNING_PUBLIC_KEY_FILE';

/**
 * The app's settings as `bin/app.ts` reads them: CDK context values (`cdk.json` gives numbers, `-c key=value`
 * gives strings, either may be absent) and the environment.
 */
export interface RawAppSettings {
  readonly stackName?: unknown;
  readonly clientIdPrefix?: unknown;
  readonly refreshAfterSeconds?: unknown;
  readonly disconnectAfterSeconds?: unknown;
  readonly tokenKeyName?: unknown;
  readonly tokenSigningPublicKeyFile?: unknown;
  readonly iotLogging?: unknown;
  readonly x509?: unknown;
  readonly x509DomainName?: unknown;
  readonly x509ServerCertificateArn?: unknown;
  readonly x509ValidationCertificateArn?: unknown;
  readonly x509CertificateFile?: unknown;
  readonly x509CaCertificateFile?: unknown;
  readonly x509TrustedCertificateFingerprints?: unknown;
}

/** The app's settings, typed. Ranges and patterns are checked by the constructs. */
export interface AppSettings {
  /** @default DEFAULT_STACK_NAME */
  readonly stackName: string;
  readonly clientIdPrefix?: string;
  readonly refreshAfterSeconds?: number;
  readonly disconnectAfterSeconds?: number;
  readonly tokenKeyName?: string;
  /** The user's own public key; unset means `.keys/token-signing-public.pem` (generated when missing). */
  readonly tokenSigningPublicKeyFile?: string;
  /** `-c iotLogging=ERROR|WARN|INFO|DEBUG`: account-wide AWS IoT logging; unset leaves it alone. */
  readonly iotLogging?: IotLoggingLevel;
  /**
   * The `CUSTOM_AUTH_X509` domain: on unless `-c x509=false` (AWS GovCloud (US) has no custom authentication
   * with X.509 client certificates), then `false`.
   */
  readonly x509: X509AppSettings | false;
}

/** `-c x509...`: where the X.509 domain's certificates and domain come from. */
export interface X509AppSettings {
  /** `-c x509CertificateFile=<pem>`: register this device certificate instead of the demo one. */
  readonly certificateFile?: string;
  /** `-c x509CaCertificateFile=<pem>`: register this CA (SNI_ONLY, auto-registration) instead of the demo one. */
  readonly caCertificateFile?: string;
  /** `-c x509DomainName=... -c x509ServerCertificateArn=... [-c x509ValidationCertificateArn=...]` */
  readonly customDomain?: X509CustomDomain;
  /** `-c x509TrustedCertificateFingerprints=<sha256>[,<sha256>...]`: the Lambda admits only these certificates. */
  readonly trustedCertificateFingerprints?: readonly string[];
}

/**
 * Types the raw context values. Never throws anything but {@link InfraError}, whose message names the setting,
 * shows how to set it and what was given.
 */
export function parseAppSettings(raw: RawAppSettings): AppSettings {
  return {
    stackName: optionalString('stackName', raw.stackName) ?? DEFAULT_STACK_NAME,
    clientIdPrefix: optionalString('clientIdPrefix', raw.clientIdPrefix),
    refreshAfterSeconds: optionalWholeNumber('refreshAfterSeconds', raw.refreshAfterSeconds),
    disconnectAfterSeconds: optionalWholeNumber('disconnectAfterSeconds', raw.disconnectAfterSeconds),
    tokenKeyName: optionalString('tokenKeyName', raw.tokenKeyName),
    tokenSigningPublicKeyFile: optionalString('tokenSigningPublicKeyFile', raw.tokenSigningPublicKeyFile),
    iotLogging: optionalIotLogLevel(raw.iotLogging),
    x509: parseX509Settings(raw),
  };
}

/** The context keys of {@link X509AppSettings}, which `-c x509=false` contradicts. */
const X509_OPTION_KEYS = [
  'x509DomainName',
  'x509ServerCertificateArn',
  'x509ValidationCertificateArn',
  'x509CertificateFile',
  'x509CaCertificateFile',
  'x509TrustedCertificateFingerprints',
] as const;

function parseX509Settings(raw: RawAppSettings): X509AppSettings | false {
  const enabled = optionalBoolean('x509', raw.x509) ?? true;
  const given = X509_OPTION_KEYS.filter((key) => raw[key] !== undefined && raw[key] !== null);
  if (!enabled) {
    if (given.length > 0) {
      throw new InfraError(
        `context \`x509=false\` leaves the X.509 domain out, but it is configured by ${given.map((key) => `\`${key}\``).join(', ')}: remove one or the other`,
      );
    }
    return false;
  }
  const domainName = optionalString('x509DomainName', raw.x509DomainName);
  const serverCertificateArn = optionalString('x509ServerCertificateArn', raw.x509ServerCertificateArn);
  const validationCertificateArn = optionalString(
    'x509ValidationCertificateArn',
    raw.x509ValidationCertificateArn,
  );
  if ((domainName === undefined) !== (serverCertificateArn === undefined)) {
    throw new InfraError(
      'a customer-managed X.509 domain needs both `-c x509DomainName=<fully qualified name>` and `-c x509ServerCertificateArn=<ACM certificate ARN>`, but only one was provided',
    );
  }
  if (validationCertificateArn !== undefined && domainName === undefined) {
    throw new InfraError(
      'context `x509ValidationCertificateArn` is only for a customer-managed domain: also give `-c x509DomainName=...` and `-c x509ServerCertificateArn=...`, or remove it',
    );
  }
  const fingerprints = optionalString(
    'x509TrustedCertificateFingerprints',
    raw.x509TrustedCertificateFingerprints,
  );
  return {
    ...(fingerprints !== undefined && {
      trustedCertificateFingerprints: fingerprints.split(',').map((entry) => entry.trim()),
    }),
    certificateFile: optionalString('x509CertificateFile', raw.x509CertificateFile),
    caCertificateFile: optionalString('x509CaCertificateFile', raw.x509CaCertificateFile),
    ...(domainName !== undefined &&
      serverCertificateArn !== undefined && {
        customDomain: { domainName, serverCertificateArn, validationCertificateArn },
      }),
  };
}

function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new InfraError(
    `context \`${name}\` must be true or false (-c ${name}=false), but ${describe(value)} was provided`,
  );
}

function optionalIotLogLevel(value: unknown): IotLoggingLevel | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !(IOT_LOGGING_LEVELS as readonly string[]).includes(value)) {
    throw new InfraError(
      `context \`iotLogging\` must be one of ${IOT_LOGGING_LEVELS.join(', ')} (-c iotLogging=ERROR), but ${describe(value)} was provided`,
    );
  }
  return value as IotLoggingLevel;
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new InfraError(
      `context \`${name}\` must be a non-empty string (-c ${name}=...), but ${describe(value)} was provided`,
    );
  }
  return value;
}

function optionalWholeNumber(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isSafeInteger(number)) {
    throw new InfraError(
      `context \`${name}\` must be a whole number of seconds (-c ${name}=600), but ${describe(value)} was provided`,
    );
  }
  return number;
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}
