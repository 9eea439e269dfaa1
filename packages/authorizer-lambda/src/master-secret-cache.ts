import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseMasterSecret, type MasterSecret } from '@iot-custom-auth/protocol';
import { CredentialsUnavailableError } from './errors';

/** Where the authorizer gets the master secret (keys and revocations) from. */
export interface MasterSecretSource {
  /**
   * The current master secret.
   * @throws CredentialsUnavailableError when it cannot be had (the authorizer then refuses, 0x87).
   */
  get(): Promise<MasterSecret>;
  /**
   * After a password did not match the secret `get()` gave: a newer secret, when the one in hand may be stale
   * (a `device rotate` within the cache TTL puts a key in Secrets Manager that a warm instance has not read),
   * or `undefined` when it is too recent to be worth another fetch. Never throws: a failed fetch is
   * `undefined`, and the mismatch stands.
   */
  refreshAfterMismatch?(): Promise<MasterSecret | undefined>;
}

/**
 * How old the cached secret must be before a password mismatch fetches it again. It bounds what a flood of
 * wrong passwords costs (one `GetSecretValue` per warm instance per interval, however many arrive) and is how
 * long after a `device rotate` a warm instance may still refuse a password of the new key.
 */
export const DEFAULT_MISMATCH_REFRESH_INTERVAL_SECONDS = 30;

/**
 * How long one Secrets Manager fetch (SDK retries included) may take. AWS IoT gives the whole Lambda
 * invocation `AUTHORIZER_INVOKE_TIMEOUT_SECONDS` (5 s); 2 s leave room for a cold start and the rest of the
 * decision, so a slow Secrets Manager gives a logged deny instead of an invoke timeout nobody sees.
 */
export const DEFAULT_SECRET_FETCH_TIMEOUT_MS = 2000;

/** What a `MasterSecretCache` is built from. */
export interface MasterSecretCacheOptions {
  /** The Secrets Manager client (endpoint, region and credentials come from its configuration). */
  readonly client: SecretsManagerClient;
  /** ARN or name of the master secret (`{"masterKey": ..., "revokedDevices": {...}}`, see `parseMasterSecret`). */
  readonly secretId: string;
  /** How long a fetched secret is reused; 0 fetches for every call (still one fetch at a time). */
  readonly ttlSeconds: number;
  /** Abort a fetch after this long. @default DEFAULT_SECRET_FETCH_TIMEOUT_MS */
  readonly fetchTimeoutMs?: number;
  /**
   * Minimum age of the cached secret before a password mismatch fetches it again
   * ({@link MasterSecretSource.refreshAfterMismatch}). @default DEFAULT_MISMATCH_REFRESH_INTERVAL_SECONDS
   */
  readonly mismatchRefreshIntervalSeconds?: number;
  /** Clock, in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * The master secret from Secrets Manager (its `AWSCURRENT` version), kept in memory for a TTL: the keys the
 * device passwords derive from and the revocation list, which therefore take effect within one TTL.
 * The previous key of a rotation lives in the same JSON (see the README for why not `AWSPREVIOUS`), so one
 * `GetSecretValue` gives everything a decision needs.
 *
 * - Concurrent callers share one in-flight fetch, so a burst of cold connections makes one request.
 * - A fetch is aborted after `fetchTimeoutMs`, so a slow Secrets Manager gives a deny in time rather than an
 *   AWS IoT invoke timeout.
 * - A password that does not match a cached secret at least `mismatchRefreshIntervalSeconds` old fetches it
 *   once more (`refreshAfterMismatch`), so a rotation's new key works within that interval, not one TTL.
 * - Failures are not cached: the next call tries again. Expired credentials are not used as a fallback
 *   either, so a rotated password stops working within one TTL even while Secrets Manager is unreachable
 *   (fail closed), and a revocation takes effect within one TTL.
 */
export class MasterSecretCache implements MasterSecretSource {
  private readonly client: SecretsManagerClient;
  private readonly secretId: string;
  private readonly ttlMs: number;
  private readonly fetchTimeoutMs: number;
  private readonly mismatchRefreshIntervalMs: number;
  private readonly now: () => number;
  private cached:
    { readonly secret: MasterSecret; readonly fetchedAt: number; readonly expiresAt: number } | undefined;
  private inFlight: Promise<MasterSecret> | undefined;

  constructor(options: MasterSecretCacheOptions) {
    this.client = options.client;
    this.secretId = options.secretId;
    this.ttlMs = options.ttlSeconds * 1000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? DEFAULT_SECRET_FETCH_TIMEOUT_MS;
    this.mismatchRefreshIntervalMs =
      (options.mismatchRefreshIntervalSeconds ?? DEFAULT_MISMATCH_REFRESH_INTERVAL_SECONDS) * 1000;
    this.now = options.now ?? Date.now;
  }

  /** @inheritdoc */
  get(): Promise<MasterSecret> {
    if (this.cached !== undefined && this.now() < this.cached.expiresAt) {
      return Promise.resolve(this.cached.secret);
    }
    return this.fetchShared();
  }

  /** @inheritdoc */
  async refreshAfterMismatch(): Promise<MasterSecret | undefined> {
    // Without a cache (TTL 0, or the secret just failed to load) the secret in hand is already fresh.
    if (this.cached === undefined) return undefined;
    if (this.now() - this.cached.fetchedAt < this.mismatchRefreshIntervalMs) return undefined;
    try {
      return await this.fetchShared();
    } catch {
      return undefined;
    }
  }

  /** One fetch at a time, shared by every caller that arrives while it runs. */
  private fetchShared(): Promise<MasterSecret> {
    if (this.inFlight === undefined) {
      this.inFlight = this.fetch().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  private async fetch(): Promise<MasterSecret> {
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
            `Secrets Manager did not return the master secret within ${this.fetchTimeoutMs} ms`,
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
        `cannot read the master secret from Secrets Manager: ${describeError(error)}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    const parsed = parseMasterSecret(secretString);
    if (!parsed.ok) {
      throw new CredentialsUnavailableError(
        'SECRET_INVALID',
        `the master secret is unusable: ${parsed.problem}; put a value of the shape the authorizer-lambda README describes (PutSecretValue)`,
      );
    }
    if (this.ttlMs > 0) {
      const fetchedAt = this.now();
      this.cached = { secret: parsed.secret, fetchedAt, expiresAt: fetchedAt + this.ttlMs };
    }
    return parsed.secret;
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
