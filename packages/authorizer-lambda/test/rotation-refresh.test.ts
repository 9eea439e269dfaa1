/**
 * A `device rotate` puts a new master key in Secrets Manager while warm instances hold the old secret for up to
 * its cache TTL (5 minutes by default). A password of the new key must not be refused for that long: a mismatch
 * against a cached secret old enough fetches it again, once, shared by every mismatch that arrives meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import type { IoTCustomAuthorizerResult } from 'aws-lambda';
import {
  createHandler,
  DEFAULT_MISMATCH_REFRESH_INTERVAL_SECONDS,
  loadConfig,
  MasterSecretCache,
  type DecisionLogEntry,
} from '../src';
import { base64, CONTEXT, devicePassword, SECRET_ARN, unsignedEvent } from './support/events';

const DEVICE = 'test-rotating-1';
const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');

function secretString(masterKey: string, previousMasterKey?: string): string {
  return JSON.stringify({
    masterKey,
    revokedDevices: {},
    ...(previousMasterKey === undefined
      ? {}
      : { previousMasterKey, previousMasterKeyValidUntil: '2099-01-01T00:00:00.000Z' }),
  });
}

function passwordEvent(masterKey: string, deviceId = DEVICE): Record<string, unknown> {
  return unsignedEvent({
    username: deviceId,
    password: base64(devicePassword(deviceId, masterKey)),
    clientId: deviceId,
  });
}

describe('a password of a freshly rotated key', () => {
  let secretsManager: AwsClientStub<SecretsManagerClient>;
  beforeAll(() => {
    secretsManager = mockClient(SecretsManagerClient);
  });
  afterEach(() => secretsManager.reset());
  afterAll(() => secretsManager.restore());

  function build() {
    let nowMs = Date.parse('2026-06-01T00:00:00Z');
    const entries: DecisionLogEntry[] = [];
    const config = loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN });
    const handler = createHandler({
      config,
      masterSecret: new MasterSecretCache({
        client: new SecretsManagerClient({ region: 'eu-west-1' }),
        secretId: SECRET_ARN,
        ttlSeconds: config.secretCacheTtlSeconds,
        now: () => nowMs,
      }),
      log: (entry) => entries.push(entry),
      now: () => new Date(nowMs),
    });
    return {
      invoke: (event: unknown): Promise<IoTCustomAuthorizerResult> => handler(event, CONTEXT),
      advanceSeconds: (seconds: number) => {
        nowMs += seconds * 1000;
      },
      entries,
    };
  }

  const fetches = (): number => secretsManager.commandCalls(GetSecretValueCommand).length;

  it('is admitted once the cached secret is older than the refresh interval, well inside the TTL', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: secretString(OLD_KEY) });
    const { invoke, advanceSeconds, entries } = build();
    expect((await invoke(passwordEvent(OLD_KEY))).isAuthenticated).toBe(true);

    // `device rotate`: the new key becomes current, the old one stays valid for a grace period.
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: secretString(NEW_KEY, OLD_KEY) });

    // Too soon after the last fetch: the mismatch stands, and costs no request.
    advanceSeconds(DEFAULT_MISMATCH_REFRESH_INTERVAL_SECONDS - 1);
    expect((await invoke(passwordEvent(NEW_KEY))).isAuthenticated).toBe(false);
    expect(fetches()).toBe(1);

    advanceSeconds(1);
    expect((await invoke(passwordEvent(NEW_KEY))).isAuthenticated).toBe(true);
    expect(fetches()).toBe(2);
    expect(entries.at(-1)).toMatchObject({ decision: 'ALLOW', reason: 'PASSWORD_OK', deviceId: DEVICE });
    // The refreshed secret is the cached one now: the old key still works in its grace period, no new fetch.
    expect((await invoke(passwordEvent(OLD_KEY))).isAuthenticated).toBe(true);
    expect(fetches()).toBe(2);
  });

  it('costs one fetch per interval however many wrong passwords arrive', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: secretString(OLD_KEY) });
    const { invoke, advanceSeconds, entries } = build();
    await invoke(passwordEvent(OLD_KEY));
    advanceSeconds(DEFAULT_MISMATCH_REFRESH_INTERVAL_SECONDS);

    const wrongKey = randomBytes(32).toString('base64');
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => invoke(passwordEvent(wrongKey, `test-flood-${i}`))),
    );
    expect(results.every((result) => !result.isAuthenticated)).toBe(true);
    expect(entries.filter((entry) => entry.reason === 'BAD_PASSWORD')).toHaveLength(40);
    // The 40 concurrent mismatches shared one refresh; later ones find a fresh secret and fetch nothing.
    expect(fetches()).toBe(2);
    await invoke(passwordEvent(wrongKey));
    expect(fetches()).toBe(2);
  });

  it('stays a plain refusal when the refresh itself fails', async () => {
    secretsManager.on(GetSecretValueCommand).resolvesOnce({ SecretString: secretString(OLD_KEY) });
    const { invoke, advanceSeconds, entries } = build();
    await invoke(passwordEvent(OLD_KEY));
    secretsManager.on(GetSecretValueCommand).rejects(new Error('throttled'));
    advanceSeconds(DEFAULT_MISMATCH_REFRESH_INTERVAL_SECONDS);

    const result = await invoke(passwordEvent(NEW_KEY));
    expect(result.isAuthenticated).toBe(false);
    expect(entries.at(-1)).toMatchObject({ decision: 'DENY', reason: 'BAD_PASSWORD' });
    // The cached secret still serves the devices it knows.
    expect((await invoke(passwordEvent(OLD_KEY))).isAuthenticated).toBe(true);
  });
});
