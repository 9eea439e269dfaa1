import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { ALLOW_PUBSUB_STATEMENT, useBehavioursStack } from '../support/behaviours-stack';

// Persistent sessions across a reconnect, with `mqtt` from npm: a subscriber with Clean Session 0 (MQTT
// 3.1.1) or a Session Expiry Interval (MQTT 5) goes away, a QoS 1 message is published to its topic while it
// is offline, and the reconnect with Clean Start 0 gets CONNACK Session Present 1 and the message, without
// subscribing again.

const { served, allowing } = useBehavioursStack('SessionsEndToEnd');

const OPEN = allowing([ALLOW_PUBSUB_STATEMENT]);

const opened: MqttClient[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) client.end(true);
});

/** A raw mqtt.js client, so the test sees the CONNACK's Session Present and messages sent right after it. */
function rawClient(clientId: string, options: IClientOptions) {
  const { connection } = served.local;
  const client = connect(`mqtts://${connection.endpoint}:${connection.port}`, {
    clientId,
    ca: readFileSync(connection.caFile),
    servername: connection.endpoint,
    ALPNProtocols: ['mqtt'],
    reconnectPeriod: 0,
    resubscribe: false,
    ...OPEN,
    ...options,
  });
  opened.push(client);
  const messages: { topic: string; payload: string; qos: number }[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, payload: payload.toString(), qos: packet.qos }),
  );
  const connack = new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const nextMessage = () =>
    new Promise<{ topic: string; payload: string; qos: number }>((resolve) => {
      const first = messages.shift();
      if (first) return resolve(first);
      client.once('message', () =>
        resolve(messages.shift() as { topic: string; payload: string; qos: number }),
      );
    });
  return { client, connack, nextMessage };
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}

describe.each([
  ['MQTT 3.1.1 Clean Session 0', { protocolVersion: 4 as const, clean: false }],
  [
    'MQTT 5 Clean Start 0 with a Session Expiry Interval',
    { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 600 } },
  ],
])('persistent sessions with %s, end to end', (_name, options) => {
  const id = `test-persist-${options.protocolVersion}`;
  const topic = `devices/${id}/inbox`;

  it('resumes the subscription and delivers the QoS 1 message published while offline', async () => {
    const first = rawClient(id, options);
    expect((await first.connack).sessionPresent).toBe(false);
    await new Promise<void>((resolve, reject) =>
      first.client.subscribe(topic, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
    );
    await closed(first.client);
    await served.log.waitFor('disconnect', { clientId: id });

    const publisher = await served.connect(`test-publisher-${options.protocolVersion}`, OPEN);
    expect(await publisher.publish(topic, 'while you were away', { qos: 1 })).toBe(0x00);
    expect(served.log.matching('receive', { clientId: id })).toMatchObject([
      {
        decision: 'allow',
        reason: expect.stringContaining('kept for the offline persistent session') as unknown,
      },
    ]);

    const second = rawClient(id, options);
    expect((await second.connack).sessionPresent).toBe(true);
    expect(await second.nextMessage()).toEqual({ topic, payload: 'while you were away', qos: 1 });
  });

  it('starts afresh with Session Present 0 on Clean Start 1', async () => {
    const first = rawClient(`${id}-clean`, options);
    await first.connack;
    await closed(first.client);
    await served.log.waitFor('disconnect', { clientId: `${id}-clean` });
    const second = rawClient(`${id}-clean`, { ...options, clean: true });
    expect((await second.connack).sessionPresent).toBe(false);
  });
});
