import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCustomAuthUsername, topicArn } from '@iot-custom-auth/protocol';
import type { IClientOptions } from 'mqtt';
import { demoStackNames, FUNCTIONS_DIR, writeDemoAssembly } from '../fixtures/assembly';
import { useLocalIot } from '../support/local-iot-harness';
import type { TestClient } from '../support/mqtt-test-client';
import { SteppedClock } from '../support/stepped-clock';

// What the real authorizer cannot show, with a fixture authorizer Lambda served by local-iot exactly as the
// synthesized stack is: an answer that changes between invocations (policy refresh), a short lifetime, and
// a policy that lets a device subscribe to everything but receive only its own topics. The client is
// `mqtt` from npm over TLS with ALPN mqtt; time moves with a stepped clock, never a sleep.

const STACK = 'PolicyEndToEnd';
const { unsignedAuthorizer: AUTHORIZER, authorizerFunction: FUNCTION } = demoStackNames(STACK);
const ARN = { region: 'us-east-1', account: '000000000000' };

const clock = new SteppedClock();
let decisionFile: string;
const served = useLocalIot({
  assembly: (dir) => {
    decisionFile = join(dir, 'decision');
    writeFileSync(decisionFile, 'allow');
    return writeDemoAssembly(dir, STACK, {
      bundle: join(FUNCTIONS_DIR, 'behaviours'),
      environment: { FIXTURE_DECISION_FILE: decisionFile },
    });
  },
  serve: { clock },
  // The stepped clock jumps minutes ahead; a long keep alive keeps the clients' silence within it.
  clientDefaults: { keepalive: 1200 },
});

afterEach(() => writeFileSync(decisionFile, 'allow'));

/** A device whose fixture authorizer behaviour is `behaviour` (the user part of the username). */
function device(clientId: string, behaviour: string, extra: IClientOptions = {}): Promise<TestClient> {
  return served.connect(clientId, {
    username: buildCustomAuthUsername({ user: behaviour, authorizerName: AUTHORIZER }),
    password: 'secret',
    ...extra,
  });
}

describe('the authorizer policy over a connection’s life, end to end', () => {
  it('disconnects with 0x87 when a refresh turns the allow into a deny', async () => {
    const client = await device('test-refresh', 'decision-file');
    const before = served.runtime.invocationCount(FUNCTION);
    writeFileSync(decisionFile, 'deny');
    clock.advance(300_000);
    expect((await client.serverDisconnect).reasonCode).toBe(0x87);
    expect(served.runtime.invocationCount(FUNCTION)).toBe(before + 1);
    const [refresh] = served.log.matching('refresh', { clientId: 'test-refresh' });
    expect(refresh).toMatchObject({
      authorizer: AUTHORIZER,
      lambdaInvoked: true,
      decision: 'deny',
      reason: `authorizer '${AUTHORIZER}' returned isAuthenticated: false`,
    });
    expect(served.log.matching('disconnect', { clientId: 'test-refresh' })).toMatchObject([
      {
        cause: 'refresh-refused',
        reasonCode: '0x87',
        disconnectSent: true,
        reason: `the policy refresh was refused (CONNACK would have been 0x86): authorizer '${AUTHORIZER}' returned isAuthenticated: false`,
      },
    ]);
  });

  it('replaces the cached policy when a refresh allows again with another policy', async () => {
    const client = await device('test-refresh-ok', 'decision-file');
    // Connected with a policy that allows iot:Connect only.
    expect(await client.publish('devices/test-refresh-ok/up', 'before', { qos: 1 })).toBe(0x87);
    writeFileSync(decisionFile, 'open');
    clock.advance(300_000);
    await served.log.waitFor('refresh', { clientId: 'test-refresh-ok' });
    expect(served.log.matching('refresh', { clientId: 'test-refresh-ok' })).toMatchObject([
      { decision: 'allow', refreshAfterInSeconds: 300 },
    ]);
    expect(await client.publish('devices/test-refresh-ok/up', 'after', { qos: 1 })).toBe(0);
    expect(client.mqtt.connected).toBe(true);
  });

  it('disconnects with 0xA0 when disconnectAfterInSeconds passes, counted from CONNACK despite refreshes', async () => {
    const client = await device('test-lifetime', 'short-lived');
    clock.advance(300_000);
    await served.log.waitFor('refresh', { clientId: 'test-lifetime' });
    clock.advance(299_000);
    expect(served.log.matching('disconnect', { clientId: 'test-lifetime' })).toEqual([]);
    clock.advance(1_000);
    expect((await client.serverDisconnect).reasonCode).toBe(0xa0);
    const [disconnect] = served.log.matching('disconnect', { clientId: 'test-lifetime' });
    expect(disconnect).toMatchObject({
      cause: 'maximum-connect-time',
      reason: 'disconnectAfterInSeconds (600 s) from the authorizer has passed',
    });
    // 600 s of stepped time plus the real milliseconds the test took, not 900 s (300 s after the refresh).
    expect(disconnect?.connectedMs).toBeGreaterThanOrEqual(600_000);
    expect(disconnect?.connectedMs).toBeLessThan(660_000);
  });

  it('does not deliver what iot:Receive refuses, although the subscription matches', async () => {
    const listener = await device('test-listener', 'receive-own');
    const other = await device('test-other', 'receive-own');
    expect(await listener.subscribe({ 'devices/#': { qos: 1 } })).toEqual([1]);
    expect(await other.publish('devices/test-other/data', 'not for the listener', { qos: 1 })).toBe(0);
    // Its own topic comes through the same subscription: nothing was queued before it.
    expect(await listener.publish('devices/test-listener/data', 'own', { qos: 1 })).toBe(0);
    expect(await listener.nextMessage()).toEqual({
      topic: 'devices/test-listener/data',
      payload: 'own',
      qos: 1,
      retain: false,
    });
    expect(listener.pending).toEqual([]);
    const refused = served.log
      .matching('receive', { clientId: 'test-listener' })
      .find((e) => e.decision === 'deny');
    expect(refused).toMatchObject({
      topic: 'devices/test-other/data',
      filter: 'devices/#',
      fromClientId: 'test-other',
      reason: `policy has no Allow for iot:Receive on ${topicArn(ARN, 'devices/test-other/data')}`,
    });
  });

  it('shares a $share subscription between its members, one message each in turn', async () => {
    const one = await device('test-worker-1', 'open');
    const two = await device('test-worker-2', 'open');
    const sender = await device('test-sender', 'open');
    expect(await one.subscribe({ '$share/workers/jobs/+': { qos: 1 } })).toEqual([1]);
    expect(await two.subscribe({ '$share/workers/jobs/+': { qos: 1 } })).toEqual([1]);
    for (const job of ['1', '2', '3', '4'])
      expect(await sender.publish(`jobs/${job}`, job, { qos: 1 })).toBe(0);
    const received = async (client: TestClient): Promise<string[]> => [
      (await client.nextMessage()).payload,
      (await client.nextMessage()).payload,
    ];
    expect(await received(one)).toEqual(['1', '3']);
    expect(await received(two)).toEqual(['2', '4']);
  });

  it('publishes the will of a device whose connection is lost, retained when asked', async () => {
    const listener = await device('test-will-listener', 'open');
    expect(await listener.subscribe({ 'status/+': { qos: 1 } })).toEqual([1]);
    const lost = await device('test-will', 'open', {
      will: { topic: 'status/test-will', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    lost.mqtt.stream.destroy();
    expect(await listener.nextMessage()).toEqual({
      topic: 'status/test-will',
      payload: 'offline',
      qos: 1,
      retain: false,
    });
    const late = await device('test-will-late', 'open');
    expect(await late.subscribe({ 'status/test-will': { qos: 0 } })).toEqual([0]);
    expect(await late.nextMessage()).toEqual({
      topic: 'status/test-will',
      payload: 'offline',
      qos: 0,
      retain: true,
    });
  });
});
