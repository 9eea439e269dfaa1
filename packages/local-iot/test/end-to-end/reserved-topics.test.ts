import { useBehavioursStack } from '../support/behaviours-stack';

// AWS IoT's reserved topics ($aws/...) keep no retained messages: a RETAIN publish there is refused even
// under a policy that allows everything, while the same publish without RETAIN goes through. The client is
// `mqtt` from npm over TLS with ALPN mqtt.

const { served, allowing } = useBehavioursStack('ReservedEndToEnd');

const OPEN = allowing([
  {
    Effect: 'Allow',
    Action: ['iot:Publish', 'iot:RetainPublish', 'iot:Subscribe', 'iot:Receive'],
    Resource: '*',
  },
]);

describe('reserved topics, end to end', () => {
  it('refuses RETAIN on $aws/... with PUBACK 0x83 and keeps nothing, and routes it without RETAIN', async () => {
    const client = await served.connect('test-reserved', OPEN);
    const topic = '$aws/things/test-reserved/shadow/update';
    expect(await client.subscribe({ [topic]: { qos: 1 } })).toEqual([1]);
    expect(await client.publish(topic, '{"state":{}}', { qos: 1, retain: true })).toBe(0x83);
    expect(served.log.matching('publish', { clientId: 'test-reserved', topic })).toMatchObject([
      {
        decision: 'deny',
        reasonCode: '0x83',
        reason: "RETAIN is not supported on AWS IoT's reserved topics ($aws/...): publish without RETAIN",
      },
    ]);
    expect(await client.publish(topic, '{"state":{}}', { qos: 1 })).toBe(0x00);
    expect(await client.nextMessage()).toMatchObject({ topic, retain: false });
    expect(client.pending).toEqual([]);
  });

  it('publishes presence lifecycle events to a subscriber whose policy allows them, and only to it', async () => {
    const watcher = await served.connect('test-watcher', OPEN);
    expect(await watcher.subscribe({ '$aws/events/presence/+/test-life': { qos: 1 } })).toEqual([1]);
    const ownOnly = await served.connect('test-own-only', {
      ...OPEN,
      password: Buffer.from(
        JSON.stringify([
          {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'iot:Subscribe', Resource: '*' },
              {
                Effect: 'Allow',
                Action: 'iot:Receive',
                Resource: 'arn:aws:iot:us-east-1:000000000000:topic/devices/*',
              },
            ],
          },
        ]),
      ),
    });
    expect(await ownOnly.subscribe({ '$aws/events/presence/#': { qos: 0 } })).toEqual([0]);

    const device = await served.connect('test-life', OPEN);
    const connected = await watcher.nextMessage();
    expect(connected).toMatchObject({ topic: '$aws/events/presence/connected/test-life', qos: 0 });
    expect(JSON.parse(connected.payload)).toEqual({
      clientId: 'test-life',
      timestamp: expect.any(Number) as unknown,
      eventType: 'connected',
      sessionIdentifier: expect.any(String) as unknown,
      principalIdentifier: 'fixture',
      ipAddress: '127.0.0.1',
      versionNumber: 0,
    });
    device.mqtt.end(); // a clean DISCONNECT
    const disconnected = await watcher.nextMessage();
    expect(disconnected.topic).toBe('$aws/events/presence/disconnected/test-life');
    expect(JSON.parse(disconnected.payload)).toMatchObject({
      clientId: 'test-life',
      eventType: 'disconnected',
      clientInitiatedDisconnect: true,
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
      versionNumber: 0,
    });
    expect(ownOnly.pending).toEqual([]);
    expect(
      served.log
        .matching('receive', { clientId: 'test-own-only', topic: '$aws/events/presence/connected/test-life' })
        .map((e) => e.decision),
    ).toEqual(['deny']);
  });
});
