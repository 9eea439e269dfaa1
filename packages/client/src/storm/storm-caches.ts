import {
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { DeviceCredentials } from '@iot-custom-auth/protocol';
import type { AwsTarget } from '../aws-clients';
import type {
  CredentialSource,
  DeviceCredentialsRequest,
  SignedToken,
  SignedTokenRequest,
} from '../credentials';
import type { LoadedOutputs, OutputsReader, OutputsRequest } from '../outputs';
import type { ReadTextFile } from '../read-config-file';

/**
 * A storm prepares every connection with the connect command's `prepareConnection`, which reads the outputs,
 * the master secret (each device's password is derived from it) and the CA each time. These decorators make
 * that one read per storm: the same request gets the same (first) answer, concurrent callers share one call
 * in flight, and a failure is not kept (the next caller tries again, and the storm's first preparation
 * surfaces it as a configuration error).
 */

/** One promise per key: the first call's, shared by every caller; forgotten if it rejects. */
class PromiseCache<T> {
  readonly #entries = new Map<string, Promise<T>>();
  /** How many calls went through to the decorated source (for tests and the run's own accounting). */
  misses = 0;

  get(key: string, load: () => Promise<T>): Promise<T> {
    const cached = this.#entries.get(key);
    if (cached !== undefined) return cached;
    this.misses++;
    const loading = load();
    this.#entries.set(key, loading);
    loading.catch(() => this.#entries.delete(key));
    return loading;
  }
}

/** Reads the stack outputs once per request; remembers the last answer (to tell AWS from local-iot). */
export class CachingOutputsReader implements OutputsReader {
  readonly #cache = new PromiseCache<LoadedOutputs | undefined>();
  #last: LoadedOutputs | undefined;

  constructor(private readonly inner: OutputsReader) {}

  get reads(): number {
    return this.#cache.misses;
  }

  /** The outputs of the last successful read, if any were found. */
  get last(): LoadedOutputs | undefined {
    return this.#last;
  }

  async read(request: OutputsRequest): Promise<LoadedOutputs | undefined> {
    const outputs = await this.#cache.get(JSON.stringify(request), () => this.inner.read(request));
    this.#last = outputs;
    return outputs;
  }
}

/** Creates a Secrets Manager client for a target, as `AwsCredentialSource` takes it. */
export type SecretsManagerFactory = (target: AwsTarget) => Pick<SecretsManagerClient, 'send'>;

/**
 * Secrets Manager for a storm: one SDK client per target, and each `GetSecretValue` sent once. Every storm
 * device is its own device (user name = client id) whose password `AwsCredentialSource` derives from the
 * master secret, so this is where "read the secret once" holds; other commands pass through.
 */
export function cachingSecretsManager(inner: SecretsManagerFactory): SecretsManagerFactory & {
  readonly reads: () => number;
} {
  const clients = new Map<string, Pick<SecretsManagerClient, 'send'>>();
  const values = new PromiseCache<GetSecretValueCommandOutput>();
  const factory = (target: AwsTarget): Pick<SecretsManagerClient, 'send'> => {
    const key = JSON.stringify(target);
    const client = clients.get(key) ?? inner(target);
    clients.set(key, client);
    const passThrough = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
    const send = (command: unknown, ...rest: unknown[]): Promise<unknown> =>
      command instanceof GetSecretValueCommand
        ? values.get(`${key} ${JSON.stringify(command.input)}`, () => client.send(command))
        : passThrough(command, ...rest);
    return { send: send as SecretsManagerClient['send'] };
  };
  return Object.assign(factory, { reads: () => values.misses });
}

/**
 * Reads each device's credentials once (a storm asks for a device again only for its bad-credential twin). Signed tokens are bound to a client id and expire, so each is made afresh;
 * the signing key file behind them is read through the caching `readFile` the source was built with.
 */
export class CachingCredentialSource implements CredentialSource {
  readonly #secrets = new PromiseCache<DeviceCredentials>();

  constructor(private readonly inner: CredentialSource) {}

  get secretReads(): number {
    return this.#secrets.misses;
  }

  deviceCredentials(request: DeviceCredentialsRequest): Promise<DeviceCredentials> {
    return this.#secrets.get(JSON.stringify(request), () => this.inner.deviceCredentials(request));
  }

  signedToken(request: SignedTokenRequest): Promise<SignedToken> {
    return this.inner.signedToken(request);
  }
}

/** `readFile` that reads each path once (the CA file, the token-signing key). */
export function cachingReadFile(inner: ReadTextFile): ReadTextFile & { readonly reads: () => number } {
  const cache = new PromiseCache<string>();
  const read = (path: string): Promise<string> => cache.get(path, () => inner(path));
  return Object.assign(read, { reads: () => cache.misses });
}
