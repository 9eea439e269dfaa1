// Issue 12 end to end: every device its own password, bound to its client id, through local-iot's gateway
// and the project's real authorizer Lambda, with an independent MQTT client (mqtt.js). The Lambda reads the
// master secret with no cache (SECRET_CACHE_TTL_SECONDS=0), so a PutSecretValue (a revocation) applies to the
// next connection without waiting out the default five minutes.
import { join } from 'node:path';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { deriveDevicePassword, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { buildSync } from 'esbuild';
import { rsaKeyPair, writeDemoAssembly } from '../fixtures/assembly';
import { useLocalIot } from '../support/local-iot-harness';
import { REPO_ROOT } from '../support/synthesized-stack';

const served = useLocalIot({
  assembly: (dir) => {
    const bundle = join(dir, 'bundle');
    buildSync({
      entryPoints: [join(REPO_ROOT, 'packages', 'authorizer-lambda', 'src', 'handler.ts')],
      outfile: join(bundle, 'index.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['@aws-sdk/*'],
      tsconfig: join(REPO_ROOT, 'tsconfig.json'),
      logLevel: 'silent',
    });
    return writeDemoAssembly(dir, 'PerDeviceTest', {
      bundle,
      publicKeyPem: rsaKeyPair().publicKey,
      environment: { SECRET_CACHE_TTL_SECONDS: '0' },
      logFormat: 'JSON',
    });
  },
});

/** Secrets Manager as the provisioning CLI reaches it: the connection file's endpoint and credentials. */
function secretsManager(): SecretsManagerClient {
  const { connection } = served.local;
  return new SecretsManagerClient({
    region: connection.region,
    endpoint: connection.awsEndpointUrl,
    credentials: connection.credentials,
  });
}

/** Reads, changes and puts back the master secret's JSON, as `npm run device -- revoke` does. */
async function editMasterSecret(
  change: (secret: Record<string, unknown>) => Record<string, unknown> | string,
) {
  const client = secretsManager();
  try {
    const secretId = served.output(STACK_OUTPUTS.deviceSecretArn);
    const current = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const changed = change(JSON.parse(current.SecretString ?? '{}') as Record<string, unknown>);
    await client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        SecretString: typeof changed === 'string' ? changed : JSON.stringify(changed),
      }),
    );
    return current.SecretString as string;
  } finally {
    client.destroy();
  }
}

/** The Lambda's decision log entries (the `message` of its JSON log lines) for one client id. */
function decisionsFor(clientId: string): Record<string, unknown>[] {
  return served.functionLog
    .map((line) => /^\[[^\]]+\] (\{.*\})$/.exec(line)?.[1])
    .filter((json): json is string => json !== undefined)
    .map((json) => (JSON.parse(json) as { message?: unknown }).message)
    .filter((message): message is Record<string, unknown> => typeof message === 'object' && message !== null)
    .filter((message) => message.clientId === clientId);
}

describe('per-device credentials through local-iot and the real authorizer', () => {
  it('connects a device with its own password; the decision log names the device, never the password', async () => {
    await served.connect('test-dev-a');
    expect(decisionsFor('test-dev-a')).toEqual([
      expect.objectContaining({ decision: 'ALLOW', reason: 'PASSWORD_OK', deviceId: 'test-dev-a' }),
    ]);
    expect(served.functionLog.join('\n')).not.toContain(served.credentialsFor('test-dev-a').password);
  });

  it("refuses A's password under B's user name with 0x86 (A's password is not B's)", async () => {
    const code = await served.connackCode('test-dev-b', {
      username: served.unsignedUsername('test-dev-b'),
      password: served.credentialsFor('test-dev-a').password,
    });
    expect(code).toBe(0x86);
    expect(decisionsFor('test-dev-b')).toEqual([
      expect.objectContaining({ decision: 'DENY', reason: 'BAD_PASSWORD', deviceId: 'test-dev-b' }),
    ]);
  });

  it("refuses A's own credentials with B's client id with 0x87, and B, already connected, is never taken over", async () => {
    const victim = await served.connect('test-dev-victim');
    const code = await served.connackCode('test-dev-victim', {
      username: served.unsignedUsername('test-dev-attacker'),
      password: served.credentialsFor('test-dev-attacker').password,
    });
    expect(code).toBe(0x87);
    const refusal = await served.log.waitFor('connect', { clientId: 'test-dev-victim', decision: 'deny' });
    expect(refusal).toMatchObject({
      reasonCode: '0x87',
      reason:
        'policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/test-dev-victim',
    });
    expect(decisionsFor('test-dev-victim').map((entry) => [entry.reason, entry.deviceId])).toEqual([
      ['PASSWORD_OK', 'test-dev-victim'],
      ['CLIENT_ID_NOT_DEVICE', 'test-dev-attacker'],
    ]);
    // The victim still has its session: it publishes to and receives from its own topic after the attempt.
    await victim.subscribe({ 'devices/test-dev-victim': { qos: 1 } });
    expect(await victim.publish('devices/test-dev-victim', 'still here', { qos: 1 })).toBe(0);
    expect(await victim.nextMessage()).toMatchObject({
      topic: 'devices/test-dev-victim',
      payload: 'still here',
    });
    expect(served.log.matching('disconnect', { clientId: 'test-dev-victim', cause: 'taken-over' })).toEqual(
      [],
    );
  });

  it("confines a device to its own topics whatever it subscribes to: another device's topic is refused", async () => {
    const device = await served.connect('test-dev-topics');
    expect(await device.subscribe({ 'devices/test-dev-a': { qos: 1 } })).toEqual([0x87]);
  });

  it('refuses a revoked device with 0x86, and only that device, from the next connection on', async () => {
    await served.connect('test-dev-revoked');
    await editMasterSecret((secret) => ({
      ...secret,
      revokedDevices: { 'test-dev-revoked': new Date().toISOString() },
    }));
    expect(await served.connackCode('test-dev-revoked')).toBe(0x86);
    expect(await served.connackCode('test-dev-other')).toBe(0);
    expect(decisionsFor('test-dev-revoked').map((entry) => entry.reason)).toEqual([
      'PASSWORD_OK',
      'DEVICE_REVOKED',
    ]);
  });

  it('answers 0x87, not 0x86, when the master secret is unreadable (the credentials were never checked)', async () => {
    const previous = await editMasterSecret(() => '{"not":"a master secret"}');
    try {
      expect(await served.connackCode('test-dev-unverified')).toBe(0x87);
      expect(decisionsFor('test-dev-unverified')).toEqual([
        expect.objectContaining({ decision: 'DENY', reason: 'SECRET_INVALID', principalId: 'unverified' }),
      ]);
    } finally {
      await editMasterSecret(() => previous);
    }
    expect(await served.connackCode('test-dev-unverified')).toBe(0);
  });

  it('accepts the password of the previous master key during a grace period, then only the new one', async () => {
    const oldPassword = served.credentialsFor('test-dev-rotated').password;
    const newKey = 'the-rotated-master-key-0123456789abcdefghij';
    const original = await editMasterSecret((secret) => ({
      ...secret,
      masterKey: newKey,
      previousMasterKey: secret.masterKey,
      previousMasterKeyValidUntil: new Date(Date.now() + 3600_000).toISOString(),
    }));
    try {
      const asOld = { username: served.unsignedUsername('test-dev-rotated'), password: oldPassword };
      const asNew = { ...asOld, password: deriveDevicePassword(newKey, 'test-dev-rotated') };
      expect(await served.connackCode('test-dev-rotated', asOld)).toBe(0);
      expect(await served.connackCode('test-dev-rotated', asNew)).toBe(0);
      await editMasterSecret((secret) => ({
        ...secret,
        previousMasterKeyValidUntil: new Date(0).toISOString(),
      }));
      expect(await served.connackCode('test-dev-rotated', asOld)).toBe(0x86);
      expect(await served.connackCode('test-dev-rotated', asNew)).toBe(0);
    } finally {
      await editMasterSecret(() => original);
    }
  });
});
