import { topicArn, topicFilterArn } from '@iot-custom-auth/protocol';
import { useLocalIot } from '../support/local-iot-harness';
import { SteppedClock } from '../support/stepped-clock';

// Publish/subscribe end to end: the real synthesized stack (real authorizer Lambda, real policies from
// `buildDevicePolicies`: each device may publish, receive and subscribe under devices/<its client id> only)
// and an MQTT 5 client this project did not write (`mqtt` from npm), over TLS with ALPN mqtt.

const ARN = { region: 'us-east-1', account: '000000000000' };
const clock = new SteppedClock();
// The stepped clock jumps minutes ahead; a long keep alive keeps the clients' silence within it.
const served = useLocalIot({ serve: { clock }, clientDefaults: { keepalive: 1200 } });

describe('publish / subscribe through the synthesized stack with mqtt.js', () => {
  it('round-trips on the device topic with QoS 1 acknowledged both ways', async () => {
    // Receive Maximum 1: the second message can only come after the client acknowledged the first.
    const client = await served.connect('test-e2e-qos1', { properties: { receiveMaximum: 1 } });
    expect(await client.subscribe({ 'devices/test-e2e-qos1/#': { qos: 1 } })).toEqual([1]);
    expect(await client.publish('devices/test-e2e-qos1/up', 'one', { qos: 1 })).toBe(0);
    expect(await client.publish('devices/test-e2e-qos1/up', 'two', { qos: 1 })).toBe(0);
    expect(await client.nextMessage()).toEqual({
      topic: 'devices/test-e2e-qos1/up',
      payload: 'one',
      qos: 1,
      retain: false,
    });
    expect(await client.nextMessage()).toMatchObject({ payload: 'two', qos: 1 });
    expect(
      served.log
        .matching('publish', { clientId: 'test-e2e-qos1' })
        .map((e) => [e.qos, e.reasonCode, e.reason]),
    ).toEqual([
      [1, '0x00', 'allowed by statement OwnTopics of policy document 2; delivered to 1 subscriber'],
      [1, '0x00', 'allowed by statement OwnTopics of policy document 2; delivered to 1 subscriber'],
    ]);
  });

  it('refuses a publish outside the policy: PUBACK 0x87 for QoS 1, dropped and logged for QoS 0', async () => {
    const client = await served.connect('test-e2e-pub');
    const reason = `policy has no Allow for iot:Publish on ${topicArn(ARN, 'devices/test-other/up')}`;
    expect(await client.publish('devices/test-other/up', 'x', { qos: 1 })).toBe(0x87);
    expect(await client.publish('devices/test-other/up', 'y', { qos: 0 })).toBe(0);
    const entries = await served.log.waitForCount('publish', { clientId: 'test-e2e-pub' }, 2);
    expect(entries.map(({ time: _time, connectionId: _id, ...rest }) => rest)).toEqual([
      {
        event: 'publish',
        clientId: 'test-e2e-pub',
        topic: 'devices/test-other/up',
        qos: 1,
        decision: 'deny',
        reasonCode: '0x87',
        reasonCodeNumber: 0x87,
        reason,
      },
      {
        event: 'publish',
        clientId: 'test-e2e-pub',
        topic: 'devices/test-other/up',
        qos: 0,
        decision: 'deny',
        reasonCode: '0x87',
        reasonCodeNumber: 0x87,
        reason,
        dropped: true,
      },
    ]);
    // Still connected: the refusals cost nothing else.
    expect(await client.publish('devices/test-e2e-pub/up', 'z', { qos: 1 })).toBe(0);
  });

  it('answers SUBACK 0x87 for the refused filters only', async () => {
    const client = await served.connect('test-e2e-sub');
    expect(
      await client.subscribe({
        'devices/test-e2e-sub/in': { qos: 1 },
        'devices/test-other/in': { qos: 1 },
        'devices/#': { qos: 0 },
        'devices/test-e2e-sub/+/state': { qos: 0 },
      }),
    ).toEqual([1, 0x87, 0x87, 0]);
    expect(
      served.log.matching('subscribe', { clientId: 'test-e2e-sub' }).map((e) => [e.topic, e.reason]),
    ).toEqual([
      ['devices/test-e2e-sub/in', 'allowed by statement OwnTopicFilters of policy document 2'],
      [
        'devices/test-other/in',
        `policy has no Allow for iot:Subscribe on ${topicFilterArn(ARN, 'devices/test-other/in')}`,
      ],
      ['devices/#', `policy has no Allow for iot:Subscribe on ${topicFilterArn(ARN, 'devices/#')}`],
      ['devices/test-e2e-sub/+/state', 'allowed by statement OwnTopicFilters of policy document 2'],
    ]);
  });

  it('sends a retained message on subscribe to the exact topic, not to a wildcard filter', async () => {
    const client = await served.connect('test-e2e-ret');
    expect(await client.publish('devices/test-e2e-ret/state', 'on', { qos: 1, retain: true })).toBe(0);

    expect(await client.subscribe({ 'devices/test-e2e-ret/#': { qos: 1 } })).toEqual([1]);
    // A message published after the wildcard SUBSCRIBE arrives first: no retained message came before it.
    await client.publish('devices/test-e2e-ret/marker', 'after wildcard', { qos: 1 });
    expect(await client.nextMessage()).toEqual({
      topic: 'devices/test-e2e-ret/marker',
      payload: 'after wildcard',
      qos: 1,
      retain: false,
    });

    expect(await client.subscribe({ 'devices/test-e2e-ret/state': { qos: 1 } })).toEqual([1]);
    expect(await client.nextMessage()).toEqual({
      topic: 'devices/test-e2e-ret/state',
      payload: 'on',
      qos: 1,
      retain: true,
    });
    expect(served.log.matching('receive', { clientId: 'test-e2e-ret' }).at(-1)).toMatchObject({
      filter: 'devices/test-e2e-ret/state',
      retained: true,
      decision: 'allow',
    });
  });

  it('takes the session over when the same client id connects again: DISCONNECT 0x8E to the first', async () => {
    const first = await served.connect('test-e2e-dup');
    const second = await served.connect('test-e2e-dup');
    expect((await first.serverDisconnect).reasonCode).toBe(0x8e);
    expect(second.mqtt.connected).toBe(true);
    expect(await second.publish('devices/test-e2e-dup/up', 'still here', { qos: 1 })).toBe(0);
    expect(
      served.log.matching('disconnect', { clientId: 'test-e2e-dup' }).map((e) => [e.cause, e.reasonCode]),
    ).toEqual([['taken-over', '0x8e']]);
  });

  it('disconnects with 0x8D when no packet arrives within 1.5 x the keep alive', async () => {
    const client = await served.connect('test-e2e-keepalive', { keepalive: 30 });
    clock.advance(45_000);
    expect((await client.serverDisconnect).reasonCode).toBe(0x8d);
    expect(served.log.matching('disconnect', { clientId: 'test-e2e-keepalive' })).toMatchObject([
      { cause: 'keep-alive-timeout', reason: 'no packet for 1.5 x the keep alive of 30 s' },
    ]);
  });
});
