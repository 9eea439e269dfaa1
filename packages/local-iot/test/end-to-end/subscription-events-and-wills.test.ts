import { ALLOW_PUBSUB_STATEMENT, useBehavioursStack } from '../support/behaviours-stack';
import type { TestClient } from '../support/mqtt-test-client';
import { SteppedClock } from '../support/stepped-clock';
import { withTimeout } from '../support/wait';

// Subscription lifecycle events and the MQTT 5 Will Delay Interval, seen by independent clients (`mqtt` from
// npm over TLS with ALPN mqtt): `$aws/events/subscriptions/subscribed|unsubscribed/<clientId>` with AWS IoT's
// payload, delivered under each subscriber's policy; a will waits out its delay (the stepped clock makes it
// pass), is cancelled by a reconnect within it, and goes at once when the session ends with the connection.

const clock = new SteppedClock();

const { served, allowing } = useBehavioursStack('EventsEndToEnd', {
  serve: { clock },
  // The stepped clock jumps minutes ahead; a long keep alive keeps the clients' silence within it.
  clientDefaults: { keepalive: 1200 },
});

const OPEN = allowing([ALLOW_PUBSUB_STATEMENT]);

/** Ends the client's connection without DISCONNECT (its will is due) and waits for the gateway to see it. */
async function dropConnection(client: TestClient, clientId: string): Promise<void> {
  const before = served.log.matching('disconnect', { clientId }).length;
  client.mqtt.stream.destroy();
  await served.log.waitForCount('disconnect', { clientId }, before + 1);
}

describe('subscription lifecycle events', () => {
  it('publishes subscribed and unsubscribed with the filters granted or removed, under the watcher policy', async () => {
    const watcher = await served.connect('test-sub-watcher', OPEN);
    expect(await watcher.subscribe({ '$aws/events/subscriptions/+/test-subber': { qos: 1 } })).toEqual([1]);
    const blind = await served.connect(
      'test-sub-blind',
      allowing([
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: '*' },
        {
          Effect: 'Allow',
          Action: 'iot:Receive',
          Resource: 'arn:aws:iot:us-east-1:000000000000:topic/devices/*',
        },
      ]),
    );
    expect(await blind.subscribe({ '$aws/events/subscriptions/#': { qos: 0 } })).toEqual([0]);

    const device = await served.connect(
      'test-subber',
      allowing([
        {
          Effect: 'Allow',
          Action: 'iot:Subscribe',
          Resource: 'arn:aws:iot:us-east-1:000000000000:topicfilter/devices/*',
        },
      ]),
    );
    expect(
      await device.subscribe({ 'devices/test-subber/in': { qos: 1 }, 'other/topic': { qos: 0 } }),
    ).toEqual([1, 0x87]);
    const subscribed = await watcher.nextMessage();
    expect(subscribed).toMatchObject({ topic: '$aws/events/subscriptions/subscribed/test-subber', qos: 0 });
    expect(JSON.parse(subscribed.payload)).toEqual({
      clientId: 'test-subber',
      timestamp: expect.any(Number) as unknown,
      eventType: 'subscribed',
      sessionIdentifier: served.log.matching('connect', { clientId: 'test-subber' })[0]?.connectionId,
      principalIdentifier: 'fixture',
      topics: ['devices/test-subber/in'],
    });

    await withTimeout(
      new Promise<void>((resolve, reject) =>
        device.mqtt.unsubscribe(['devices/test-subber/in', 'never/subscribed'], (error) =>
          error ? reject(error) : resolve(),
        ),
      ),
      'UNSUBACK',
    );
    const unsubscribed = await watcher.nextMessage();
    expect(unsubscribed.topic).toBe('$aws/events/subscriptions/unsubscribed/test-subber');
    expect(JSON.parse(unsubscribed.payload)).toMatchObject({
      clientId: 'test-subber',
      eventType: 'unsubscribed',
      topics: ['devices/test-subber/in'],
    });
    expect(blind.pending).toEqual([]);
    expect(
      served.log
        .matching('receive', {
          clientId: 'test-sub-blind',
          topic: '$aws/events/subscriptions/subscribed/test-subber',
        })
        .map((e) => e.decision),
    ).toEqual(['deny']);
  });
});

describe('the MQTT 5 Will Delay Interval', () => {
  const will = (clientId: string, willDelayInterval: number) => ({
    ...OPEN,
    properties: { sessionExpiryInterval: 600 },
    will: {
      topic: `wills/${clientId}`,
      payload: Buffer.from(`${clientId} is gone`),
      qos: 1 as const,
      retain: false,
      properties: { willDelayInterval },
    },
  });

  it('publishes the will once its delay has passed, not before', async () => {
    const watcher = await served.connect('test-will-watcher-1', OPEN);
    expect(await watcher.subscribe({ 'wills/test-will-delayed': { qos: 1 } })).toEqual([1]);
    const device = await served.connect('test-will-delayed', {
      ...will('test-will-delayed', 300),
      clean: false,
    });
    await dropConnection(device, 'test-will-delayed');
    expect(served.log.matching('publish', { clientId: 'test-will-delayed', will: true })).toEqual([]);
    clock.advance(299_000);
    expect(served.log.matching('publish', { clientId: 'test-will-delayed', will: true })).toEqual([]);
    clock.advance(1_000);
    expect(await watcher.nextMessage()).toMatchObject({
      topic: 'wills/test-will-delayed',
      payload: 'test-will-delayed is gone',
    });
    expect(served.log.matching('publish', { clientId: 'test-will-delayed', will: true })[0]?.reason).toMatch(
      /^will published because its Will Delay Interval of 300 s passed: allowed by/,
    );
  });

  it('does not publish the will when the client id connects again within the delay', async () => {
    const watcher = await served.connect('test-will-watcher-2', OPEN);
    expect(await watcher.subscribe({ 'wills/test-will-back': { qos: 1 } })).toEqual([1]);
    const device = await served.connect('test-will-back', { ...will('test-will-back', 300), clean: false });
    await dropConnection(device, 'test-will-back');
    await served.connect('test-will-back', { ...will('test-will-back', 300), clean: false });
    clock.advance(600_000);
    // A marker published after the delay passed arrives first: the will never went.
    expect(await watcher.publish('wills/test-will-back', 'marker', { qos: 1 })).toBe(0);
    expect(await watcher.nextMessage()).toMatchObject({ payload: 'marker' });
    expect(served.log.matching('publish', { clientId: 'test-will-back', will: true })).toEqual([]);
  });

  it('publishes the will at once when the session ends with the connection (Session Expiry 0)', async () => {
    const watcher = await served.connect('test-will-watcher-3', OPEN);
    expect(await watcher.subscribe({ 'wills/test-will-now': { qos: 1 } })).toEqual([1]);
    const device = await served.connect('test-will-now', {
      ...will('test-will-now', 300),
      properties: { sessionExpiryInterval: 0 },
    });
    await dropConnection(device, 'test-will-now');
    expect(await watcher.nextMessage()).toMatchObject({ topic: 'wills/test-will-now' });
    expect(served.log.matching('publish', { clientId: 'test-will-now', will: true })[0]?.reason).toMatch(
      /^will published because its session ended with the connection: allowed by/,
    );
  });
});
