import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseDeviceCredentials, type DeviceCredentials } from '@iot-custom-auth/protocol';
import { CredentialsUnavailableError } from './errors';

/** Where the authorizer gets the device credentials from. */
export interface CredentialsSource {
  /**
   * The current device credentials.
   * @throws CredentialsUnavailableError when they cannot be had (the authorizer then denies).
   */
  get(): Promise<DeviceCredentials>;
}

/**
 * How long one Secrets Manager fetch (SDK retries included) may take. AWS IoT gives the whole Lambda
 * invocation `AUTHORIZER_INVOKE_TIMEOUT_SECONDS` (5 s); 2 s leave room for a cold start and the rest of the
 * decision, so a slow Secrets Manager gives a logged deny instead of an invoke timeout nobody sees.
 */
export const DEFAULT_SECRET_FETCH_TIMEOUT_MS = 2000;

/** What a `DeviceCredentialsCache` is built from. */
export interface DeviceCredentialsCacheOptions {
  /** The Secrets Manager client (endpoint, region and credentials come from its configuration). */
  readonly client: SecretsManagerClient;
  /** ARN or name of the secret (`{"username": ..., "password": ...}`). */
  readonly secretId: string;
  /** How long fetched credentials are reused; 0 fetches for every call (still one fetch at a time). */
  readonly ttlSeconds: number;
  /** Abort a fetch after this long. @default DEFAULT_SECRET_FETCH_TIMEOUT_MS */
  readonly fetchTimeoutMs?: number;
  /** Clock, in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * The device credentials from Secrets Manager, kept in memory for a TTL.
 *
 * - Concurrent callers share one in-flight fetch, so a burst of cold connections makes one request.
 * - A fetch is aborted after `fetchTimeoutMs`, so a slow Secrets Manager gives a deny in time rather than an
 *   AWS IoT invoke timeout.
 * - Failures are not cached: the next call tries again. Expired credentials are not used as a fallback
 *   either, so a rotated password stops working within one TTL even while Secrets Manager is unreachable
 *   (fail closed).
 */
export class DeviceCredentialsCache implements CredentialsSource {
  private readonly client: SecretsManagerClient;
  private readonly secretId: string;
  private readonly ttlMs: number;
  private readonly fetchTimeoutMs: number;
  private readonly now: () => number;
  private cached: { readonly credentials: DeviceCredentials; readonly expiresAt: number } | undefined;
  private inFlight: Promise<DeviceCredentials> | undefined;

  constructor(options: DeviceCredentialsCacheOptions) {
    this.client = options.client;
    this.secretId = options.secretId;
    this.ttlMs = options.ttlSeconds * 1000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? DEFAULT_SECRET_FETCH_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  /** @inheritdoc */
  get(): Promise<DeviceCredentials> {
    if (this.cached !== undefined && this.now() < this.cached.expiresAt) {
      return Promise.resolve(this.cached.credentials);
    }
    if (this.inFlight === undefined) {
      this.inFlight = this.fetch().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  private async fetch(): Promise<DeviceCredentials> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // Racing a timer as well as passing the signal: the signal makes the SDK drop the request, the race
    // bounds the wait even if some layer ignores the signal.
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(
          new CredentialsUnavailableError(
            'SECRET_UNAVAILABLE',
            `Secrets Manager did not return the device secret within ${this.fetchTimeoutMs} ms`,
          ),
        );
      }, this.fetchTimeoutMs);
    });
    let secretString: unknown;
    try {
      const output = await Promise.race([
        this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }), {
          abortSignal: controller.signal,
        }),
        timeout,
      ]);
      secretString = output.SecretString;
    } catch (error) {
      if (error instanceof CredentialsUnavailableError) throw error;
      throw new CredentialsUnavailableError(
        'SECRET_UNAVAILABLE',
        `cannot read the device secret from Secrets Manager: ${describeError(error)}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    const credentials = parseDeviceCredentials(secretString);
    if (credentials === undefined) {
      throw new CredentialsUnavailableError(
        'SECRET_INVALID',
        'the device secret is not a JSON object with non-empty string "username" and "password" ' +
          '(a binary secret or another shape); store the credentials as that JSON string',
      );
    }
    if (this.ttlMs > 0) this.cached = { credentials, expiresAt: this.now() + this.ttlMs };
    return credentials;
  }
}

/** `Name: message` of an SDK or network error, short; the secret value never appears in these. */
function describeError(error: unknown): string {
  if (error instanceof Error) {
    const text = `${error.name}: ${error.message}`;
    return text.length > 300 ? `${text.slice(0, 300)}...` : text;
  }
  return 'unknown error';
}
