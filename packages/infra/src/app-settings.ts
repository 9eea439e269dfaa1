import { DEFAULT_STACK_NAME } from '@iot-custom-auth/protocol';
import { IOT_LOGGING_LEVELS, type IotLoggingLevel } from './custom-authorizer-stack';
import { InfraError } from './errors';

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
  };
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
