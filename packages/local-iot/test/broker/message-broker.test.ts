import {
  buildDevicePolicies,
  topicArn,
  topicFilterArn,
  type IotPolicyDocument,
} from '@iot-custom-auth/protocol';
import type { IPublishPacket, ISubscription, Packet } from 'mqtt-packet';
import type { AuthorizedSession } from '../../src/auth/connect-types';
import { compilePolicies } from '@iot-custom-auth/protocol';
import type { ClockTimer, GatewayClock } from '../../src/gateway/gateway-clock';
import type { DeliveryLogEntry, GatewayLogEntry, MessageLogEntry } from '../../src/gateway/gateway-log';
import { MessageBroker, type MessageBrokerOptions } from '../../src/broker/message-broker';
import { countingReads } from '../../../protocol/test/counting-reads';
import type { ConnectedClient, DeliveryResult, PacketOutcome } from '../../src/gateway/message-handler';
import { OutboundAccounting, type ConnectionOutbound } from '../../src/gateway/outbound-accounting';

const ARN = { region: 'us-east-1', account: '000000000000' };
/** The documents the project's authorizer returns: connect on test-*, own topics under devices/<id>. */
const DEVICE_POLICIES = buildDevicePolicies(ARN);
/** Connect anywhere, publish and receive everything. */
const OPEN_POLICIES: IotPolicyDocument[] = [
  {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['iot:Connect', 'iot:Publish', 'iot:Receive', 'iot:Subscribe'],
        Resource: '*',
      },
    ],
  },
];

/** A policy that lets a client subscribe to all devices but receive only its own topics. */
const RECEIVE_OWN_ONLY: IotPolicyDocument[] = [
  {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Publish', Resource: topicArn(ARN, 'devices/${iot:ClientId}/*') },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topicFilterArn(ARN, '*') },
      { Effect: 'Allow', Action: 'iot:Receive', Resource: topicArn(ARN, 'devices/${iot:ClientId}/*') },
    ],
  },
];

const ALLOW_ALL: IotPolicyDocument[] = [
  { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] },
];

class FakeClock implements GatewayClock {
  time = 0;
  readonly #timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, delayMs: number): ClockTimer {
    const timer = { at: this.time + delayMs, callback, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }
  /** Moves time on, running the timers that fall due (persistent session expiry). */
  advance(ms: number): void {
    this.time += ms;
    for (const timer of this.#timers.splice(0)) {
      if (timer.cancelled) continue;
      if (timer.at <= this.time) timer.callback();
      else this.#timers.push(timer);
    }
  }
}

/** A connected client that records what the broker sends it. */
class FakeClient implements ConnectedClient {
  readonly connectionId: string;
  readonly clientIdAssigned = false;
  readonly transport = 'mqtt' as const;
  cleanStart = true;
  sessionExpirySeconds = 0;
  readonly sent: Packet[] = [];
  readonly disconnects: { reasonCode: number; reason: string }[] = [];
  readonly outbound: ConnectionOutbound;
  /** When set, the gateway refuses every delivery with this reason (a client too far behind). */
  refuseSends: string | undefined;
  session: AuthorizedSession;

  constructor(
    readonly clientId: string,
    policyDocuments: readonly IotPolicyDocument[] = DEVICE_POLICIES,
    readonly extra: {
      protocolVersion?: 4 | 5;
      receiveMaximum?: number;
      maximumPacketSize?: number;
      will?: ConnectedClient['will'];
      outbound?: OutboundAccounting;
    } = {},
  ) {
    this.connectionId = `connection-${clientId}`;
    this.outbound = (extra.outbound ?? new OutboundAccounting()).open(this.connectionId);
    this.session = {
      authorizerName: 'UnsignedAuthorizer',
      principalId: 'device',
      policies: compilePolicies(policyDocuments),
      refreshAfterInSeconds: 300,
      disconnectAfterInSeconds: 86_400,
    };
  }

  get protocolVersion(): 4 | 5 {
    return this.extra.protocolVersion ?? 5;
  }
  get receiveMaximum(): number | undefined {
    return this.extra.receiveMaximum;
  }
  get maximumPacketSize(): number | undefined {
    return this.extra.maximumPacketSize;
  }
  get will(): ConnectedClient['will'] {
    return this.extra.will;
  }

  send(packet: Packet): DeliveryResult {
    if (this.refuseSends !== undefined) return { sent: false, reason: this.refuseSends };
    this.sent.push(packet);
    return { sent: true };
  }

  disconnect(reasonCode: number, reason: string): void {
    this.disconnects.push({ reasonCode, reason });
  }

  /** PUBLISH packets received, in order, as `topic payload` strings. */
  get received(): string[] {
    return this.sent
      .filter((p): p is IPublishPacket => p.cmd === 'publish')
      .map((p) => `${p.topic} ${p.payload.toString()}`);
  }
}

let clock: FakeClock;
let log: GatewayLogEntry[];
let broker: MessageBroker;

beforeEach(() => {
  clock = new FakeClock();
  log = [];
  broker = new MessageBroker({ arnContext: ARN, clock, log: (entry) => log.push(entry) });
});

function connect(client: FakeClient): FakeClient {
  broker.onConnected(client);
  return client;
}

function publish(
  client: FakeClient,
  topic: string,
  payload: string,
  fields: Partial<IPublishPacket> = {},
): PacketOutcome {
  return broker.onPublish(client, {
    cmd: 'publish',
    topic,
    payload: Buffer.from(payload),
    qos: 0,
    dup: false,
    retain: false,
    ...fields,
  });
}

function subscribe(
  client: FakeClient,
  ...subscriptions: (string | ISubscription)[]
): readonly PacketOutcome[] {
  const packet = {
    cmd: 'subscribe' as const,
    messageId: 1,
    subscriptions: subscriptions.map((s) => (typeof s === 'string' ? { topic: s, qos: 1 as const } : s)),
  };
  const outcomes = broker.onSubscribe(client, packet);
  // As the gateway does once the SUBACK is out: subscription events, then retained messages.
  broker.onSubscribed(client, packet, outcomes);
  return outcomes;
}

function deliveries(): Omit<DeliveryLogEntry, 'time'>[] {
  return log
    .filter((e): e is DeliveryLogEntry => e.event === 'receive')
    .map(({ time: _time, ...rest }) => rest);
}

const arn = (topic: string): string => topicArn(ARN, topic);

describe('MessageBroker publish', () => {
  it('delivers an allowed PUBLISH to every matching subscription, once per client', () => {
    const device = connect(new FakeClient('test-1'));
    const app = connect(new FakeClient('app', ALLOW_ALL));
    expect(subscribe(device, 'devices/test-1/up')).toEqual([
      { reasonCode: 1, reason: 'allowed by statement OwnTopicFilters of policy document 2' },
    ]);
    subscribe(app, 'devices/+/up', 'devices/#');

    expect(publish(device, 'devices/test-1/up', 'hello', { qos: 1, messageId: 9 })).toEqual({
      reasonCode: 0,
      reason: 'allowed by statement OwnTopics of policy document 2; delivered to 2 subscribers',
    });
    expect(device.sent).toEqual([
      {
        cmd: 'publish',
        topic: 'devices/test-1/up',
        payload: Buffer.from('hello'),
        qos: 1,
        messageId: 1,
        dup: false,
        retain: false,
        properties: {},
      },
    ]);
    expect(app.received).toEqual(['devices/test-1/up hello']);
    expect(deliveries()).toEqual([
      {
        event: 'receive',
        connectionId: 'connection-test-1',
        clientId: 'test-1',
        topic: 'devices/test-1/up',
        qos: 1,
        filter: 'devices/test-1/up',
        fromClientId: 'test-1',
        decision: 'allow',
        reason: 'allowed by statement OwnTopics of policy document 2',
      },
      {
        event: 'receive',
        connectionId: 'connection-app',
        clientId: 'app',
        topic: 'devices/test-1/up',
        qos: 1,
        filter: 'devices/+/up',
        fromClientId: 'test-1',
        decision: 'allow',
        reason: 'allowed by statement 1 of policy document 1',
      },
    ]);
  });

  it('refuses a PUBLISH outside the policy with 0x87 and the policy engine reason, delivering nothing', () => {
    const device = connect(new FakeClient('test-1'));
    const app = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(app, '#');
    expect(publish(device, 'devices/test-2/up', 'x')).toEqual({
      reasonCode: 0x87,
      reason: `policy has no Allow for iot:Publish on ${arn('devices/test-2/up')}`,
    });
    expect(app.sent).toEqual([]);
  });

  it('forwards MQTT 5 properties, never the topic alias, and strips them for MQTT 3.1.1 receivers', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const v5 = connect(new FakeClient('v5', ALLOW_ALL));
    const v4 = connect(new FakeClient('v4', ALLOW_ALL, { protocolVersion: 4 }));
    subscribe(v5, { topic: 't', qos: 0 });
    subscribe(v4, { topic: 't', qos: 0 });
    const properties = {
      payloadFormatIndicator: true,
      contentType: 'text/plain',
      responseTopic: 'replies',
      correlationData: Buffer.from('c1'),
      userProperties: { trace: 'abc' },
      messageExpiryInterval: 60,
    };
    publish(sender, 't', 'p', { properties: { ...properties, topicAlias: 3 } });
    expect(v5.sent).toEqual([
      {
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from('p'),
        qos: 0,
        dup: false,
        retain: false,
        properties,
      },
    ]);
    expect(v4.sent).toEqual([
      { cmd: 'publish', topic: 't', payload: Buffer.from('p'), qos: 0, dup: false, retain: false },
    ]);
  });

  it('delivers at the lower of the PUBLISH QoS and the granted QoS', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const qos0 = connect(new FakeClient('qos0', ALLOW_ALL));
    const qos1 = connect(new FakeClient('qos1', ALLOW_ALL));
    subscribe(qos0, { topic: 't', qos: 0 });
    expect(subscribe(qos1, { topic: 't', qos: 2 })).toEqual([
      {
        reasonCode: 1,
        reason:
          'allowed by statement 1 of policy document 1; QoS 2 requested, QoS 1 granted (AWS IoT Core maximum)',
      },
    ]);
    publish(sender, 't', 'a', { qos: 1, messageId: 1 });
    publish(sender, 't', 'b', { qos: 0 });
    expect(qos0.sent.map((p) => (p as IPublishPacket).qos)).toEqual([0, 0]);
    expect(qos1.sent.map((p) => [(p as IPublishPacket).qos, p.messageId])).toEqual([
      [1, 1],
      [0, undefined],
    ]);
  });

  it('does not send a client its own messages on a No Local subscription', () => {
    const client = connect(new FakeClient('test-1'));
    subscribe(client, { topic: 'devices/test-1/#', qos: 0, nl: true });
    expect(publish(client, 'devices/test-1/up', 'x').reason).toMatch(/; delivered to 0 subscribers$/);
    expect(client.sent).toEqual([]);
  });

  it('closes the connection for a wildcard in a topic name, and refuses AWS IoT limits with 0x90', () => {
    const client = connect(new FakeClient('test-1'));
    expect(publish(client, 'devices/test-1/+', 'x')).toEqual({
      reasonCode: 0x90,
      reason:
        "the topic name 'devices/test-1/+' contains a wildcard ('+' or '#'), which only topic filters may have",
    });
    expect(client.disconnects).toEqual([
      {
        reasonCode: 0x90,
        reason:
          "PUBLISH refused: the topic name 'devices/test-1/+' contains a wildcard ('+' or '#'), which only topic filters may have",
      },
    ]);
    const deep = 'devices/test-1/a/b/c/d/e/f/g';
    expect(publish(client, deep, 'x')).toEqual({
      reasonCode: 0x90,
      reason: `the topic name '${deep}' has 8 '/'; AWS IoT Core allows at most 7 (8 levels)`,
    });
    expect(client.disconnects).toHaveLength(1);
  });

  it('drops a delivery larger than the client Maximum Packet Size and logs why', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const small = connect(new FakeClient('small', ALLOW_ALL, { maximumPacketSize: 20 }));
    subscribe(small, { topic: 't', qos: 0 });
    publish(sender, 't', 'x'.repeat(30));
    expect(small.sent).toEqual([]);
    expect(deliveries()[0]).toMatchObject({
      clientId: 'small',
      decision: 'deny',
      reason: "the 36-byte PUBLISH exceeds the client's Maximum Packet Size of 20",
    });
  });
});

describe('MessageBroker iot:Receive', () => {
  it('does not deliver a message the receiver may not receive, and logs the exact reason', () => {
    const a = connect(new FakeClient('a', RECEIVE_OWN_ONLY));
    const b = connect(new FakeClient('b', RECEIVE_OWN_ONLY));
    expect(subscribe(a, 'devices/#')[0]?.reasonCode).toBe(1);
    expect(publish(b, 'devices/b/x', 'for b only')).toEqual({
      reasonCode: 0,
      reason: 'allowed by statement 1 of policy document 1; delivered to 0 subscribers',
    });
    expect(a.sent).toEqual([]);
    expect(deliveries()).toEqual([
      {
        event: 'receive',
        connectionId: 'connection-a',
        clientId: 'a',
        topic: 'devices/b/x',
        qos: 0,
        filter: 'devices/#',
        fromClientId: 'b',
        decision: 'deny',
        reason: `policy has no Allow for iot:Receive on ${arn('devices/b/x')}`,
      },
    ]);
    publish(a, 'devices/a/x', 'mine');
    expect(a.received).toEqual(['devices/a/x mine']);
  });

  it('decides PUBLISH, SUBSCRIBE and deliveries on the compiled policies, never re-reading the documents', () => {
    let reads = 0;
    const documents = DEVICE_POLICIES.map((d) => countingReads(d, () => (reads += 1)));
    const device = connect(new FakeClient('test-1', documents));
    const readsToCompile = reads;
    expect(readsToCompile).toBeGreaterThan(0);
    expect(subscribe(device, 'devices/test-1/#', 'devices/test-2/#').map((o) => o.reasonCode)).toEqual([
      0x01, 0x87,
    ]);
    for (let i = 0; i < 20; i++) expect(publish(device, 'devices/test-1/up', `${i}`).reasonCode).toBe(0);
    expect(publish(device, 'devices/test-2/up', 'x').reasonCode).toBe(0x87);
    expect(device.received).toHaveLength(20);
    expect(reads).toBe(readsToCompile);
  });

  it('applies a replaced (refreshed) policy to the next decision', () => {
    const client = connect(new FakeClient('test-1'));
    expect(publish(client, 'devices/test-1/up', 'x').reasonCode).toBe(0);
    client.session = { ...client.session, policies: compilePolicies([DEVICE_POLICIES[0]]) };
    expect(publish(client, 'devices/test-1/up', 'x')).toEqual({
      reasonCode: 0x87,
      reason: `policy has no Allow for iot:Publish on ${arn('devices/test-1/up')}`,
    });
  });
});

describe('MessageBroker SUBSCRIBE / UNSUBSCRIBE', () => {
  it('answers each filter on its own: granted, refused by policy, invalid', () => {
    const client = connect(new FakeClient('test-1'));
    expect(
      subscribe(
        client,
        { topic: 'devices/test-1/#', qos: 0 },
        'devices/test-2/#',
        'devices/#/x',
        `devices/test-1/${'a/'.repeat(7)}b`,
      ),
    ).toEqual([
      { reasonCode: 0, reason: 'allowed by statement OwnTopicFilters of policy document 2' },
      {
        reasonCode: 0x87,
        reason: `policy has no Allow for iot:Subscribe on ${topicFilterArn(ARN, 'devices/test-2/#')}`,
      },
      { reasonCode: 0x8f, reason: "in the topic filter 'devices/#/x', '#' is not the last level" },
      {
        reasonCode: 0x8f,
        reason: `the topic filter 'devices/test-1/${'a/'.repeat(7)}b' has 9 '/'; AWS IoT Core allows at most 7 (8 levels)`,
      },
    ]);
  });

  it('refuses every filter of a SUBSCRIBE with more than 8 with 0x97', () => {
    const client = connect(new FakeClient('test-1'));
    const filters = Array.from({ length: 9 }, (_, i) => `devices/test-1/${i}`);
    const reason =
      'a SUBSCRIBE may carry at most 8 topic filters (AWS IoT Core quota); this one has 9: split it';
    expect(subscribe(client, ...filters)).toEqual(filters.map(() => ({ reasonCode: 0x97, reason })));
    expect(subscribe(client, ...filters.slice(0, 8)).every((o) => o.reasonCode === 1)).toBe(true);
  });

  it('refuses a 51st subscription on one connection with 0x97', () => {
    const client = connect(new FakeClient('test-1'));
    for (let i = 0; i < 50; i++) expect(subscribe(client, `devices/test-1/${i}`)[0]?.reasonCode).toBe(1);
    expect(subscribe(client, 'devices/test-1/50', 'devices/test-1/0')).toEqual([
      { reasonCode: 0x97, reason: 'a connection may hold at most 50 subscriptions (AWS IoT Core quota)' },
      { reasonCode: 1, reason: 'allowed by statement OwnTopicFilters of policy document 2' },
    ]);
  });

  it('disconnects with 0x82 a SUBSCRIBE without filters or with No Local on a shared subscription', () => {
    const client = connect(new FakeClient('app', ALLOW_ALL));
    expect(subscribe(client)).toEqual([]);
    expect(subscribe(client, { topic: '$share/g/t', qos: 0, nl: true })).toEqual([]);
    expect(client.disconnects).toEqual([
      { reasonCode: 0x82, reason: 'protocol error: SUBSCRIBE with no topic filter (MQTT-3.8.3-2)' },
      {
        reasonCode: 0x82,
        reason: "protocol error: No Local set on the shared subscription '$share/g/t' (MQTT-3.8.3-4)",
      },
    ]);
  });

  it('unsubscribes existing filters with 0x00 and answers unknown ones with 0x11', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const client = connect(new FakeClient('test-1'));
    subscribe(client, 'devices/test-1/a');
    expect(
      broker.onUnsubscribe(client, {
        cmd: 'unsubscribe',
        messageId: 2,
        unsubscriptions: ['devices/test-1/a', 'x'],
      }),
    ).toEqual([
      { reasonCode: 0, reason: "unsubscribed from 'devices/test-1/a'" },
      { reasonCode: 0x11, reason: "no subscription to 'x' existed" },
    ]);
    publish(sender, 'devices/test-1/a', 'x');
    expect(client.sent).toEqual([]);
  });

  it('forgets a disconnected client', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const client = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(client, 't', '$share/g/t');
    broker.onDisconnected(client);
    expect(publish(sender, 't', 'x').reason).toMatch(/delivered to 0 subscribers$/);
  });
});

describe('MessageBroker retained messages', () => {
  it('needs iot:RetainPublish as well as iot:Publish', () => {
    const publishOnly: IotPolicyDocument[] = [
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }] },
    ];
    const client = connect(new FakeClient('test-1', publishOnly));
    expect(publish(client, 'devices/test-1/state', 'on', { retain: true })).toEqual({
      reasonCode: 0x87,
      reason: `policy has no Allow for iot:RetainPublish on ${arn('devices/test-1/state')}`,
    });
    expect(broker.retainedTopics).toEqual([]);
  });

  it('sends the retained message after the SUBACK to an exact filter only, with RETAIN set', () => {
    const device = connect(new FakeClient('test-1'));
    expect(publish(device, 'devices/test-1/state', 'on', { retain: true, qos: 1, messageId: 3 })).toEqual({
      reasonCode: 0,
      reason:
        'allowed by statement OwnTopics of policy document 2; iot:RetainPublish allowed by statement OwnTopics of policy document 2; retained; delivered to 0 subscribers',
    });
    const exact = connect(new FakeClient('app', ALLOW_ALL));
    const wildcard = connect(new FakeClient('app2', ALLOW_ALL));
    const shared = connect(new FakeClient('app3', ALLOW_ALL));
    const outcomes = broker.onSubscribe(exact, {
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [{ topic: 'devices/test-1/state', qos: 0 }],
    });
    expect(exact.sent).toEqual([]);
    broker.onSubscribed(exact);
    expect(outcomes).toHaveLength(1);
    expect(exact.sent).toEqual([
      {
        cmd: 'publish',
        topic: 'devices/test-1/state',
        payload: Buffer.from('on'),
        qos: 0,
        dup: false,
        retain: true,
        properties: {},
      },
    ]);
    subscribe(wildcard, 'devices/test-1/#', 'devices/+/state');
    subscribe(shared, '$share/g/devices/test-1/state');
    expect(wildcard.sent).toEqual([]);
    expect(shared.sent).toEqual([]);
    expect(deliveries().at(-1)).toMatchObject({ clientId: 'app', retained: true, decision: 'allow' });
  });

  it('forwards live retained messages with RETAIN only under Retain As Published', () => {
    const device = connect(new FakeClient('test-1'));
    const plain = connect(new FakeClient('plain', ALLOW_ALL));
    const rap = connect(new FakeClient('rap', ALLOW_ALL));
    subscribe(plain, { topic: 'devices/#', qos: 0 });
    subscribe(rap, { topic: 'devices/#', qos: 0, rap: true });
    publish(device, 'devices/test-1/state', 'on', { retain: true });
    expect((plain.sent[0] as IPublishPacket).retain).toBe(false);
    expect((rap.sent[0] as IPublishPacket).retain).toBe(true);
  });

  it('clears the retained message on an empty payload, which subscribers still receive', () => {
    const device = connect(new FakeClient('test-1'));
    const app = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(app, { topic: 'devices/test-1/state', qos: 0 });
    publish(device, 'devices/test-1/state', 'on', { retain: true });
    expect(broker.retainedTopics).toEqual(['devices/test-1/state']);
    expect(publish(device, 'devices/test-1/state', '', { retain: true }).reason).toContain(
      'retained message cleared (empty payload); delivered to 1 subscriber',
    );
    expect(broker.retainedTopics).toEqual([]);
    expect(app.received).toEqual(['devices/test-1/state on', 'devices/test-1/state ']);
    const later = connect(new FakeClient('later', ALLOW_ALL));
    subscribe(later, 'devices/test-1/state');
    expect(later.sent).toEqual([]);
  });

  it('honours Retain Handling: 1 only for a new subscription, 2 never', () => {
    const device = connect(new FakeClient('test-1'));
    publish(device, 'devices/test-1/state', 'on', { retain: true });
    const app = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(app, { topic: 'devices/test-1/state', qos: 0, rh: 1 });
    subscribe(app, { topic: 'devices/test-1/state', qos: 0, rh: 1 });
    expect(app.received).toEqual(['devices/test-1/state on']);
    subscribe(app, { topic: 'devices/test-1/state', qos: 0, rh: 0 });
    expect(app.received).toHaveLength(2);
    const never = connect(new FakeClient('never', ALLOW_ALL));
    subscribe(never, { topic: 'devices/test-1/state', qos: 0, rh: 2 });
    expect(never.sent).toEqual([]);
  });

  it('checks iot:Receive before sending a retained message', () => {
    const device = connect(new FakeClient('b', ALLOW_ALL));
    publish(device, 'devices/b/state', 'on', { retain: true });
    const other = connect(new FakeClient('a', RECEIVE_OWN_ONLY));
    expect(subscribe(other, 'devices/b/state')[0]?.reasonCode).toBe(1);
    expect(other.sent).toEqual([]);
    expect(deliveries().at(-1)).toMatchObject({
      clientId: 'a',
      retained: true,
      decision: 'deny',
      reason: `policy has no Allow for iot:Receive on ${arn('devices/b/state')}`,
    });
  });

  it('expires a retained message after its Message Expiry Interval and sends the time left', () => {
    const device = connect(new FakeClient('test-1'));
    publish(device, 'devices/test-1/state', 'on', {
      retain: true,
      properties: { messageExpiryInterval: 60 },
    });
    clock.time = 45_500;
    const early = connect(new FakeClient('early', ALLOW_ALL));
    subscribe(early, 'devices/test-1/state');
    expect((early.sent[0] as IPublishPacket).properties).toEqual({ messageExpiryInterval: 15 });
    clock.time = 60_000;
    expect(broker.retainedTopics).toEqual([]);
    const late = connect(new FakeClient('late', ALLOW_ALL));
    subscribe(late, 'devices/test-1/state');
    expect(late.sent).toEqual([]);
  });
});

describe('MessageBroker shared subscriptions', () => {
  it('gives each message to one member in turn, skipping members whose policy refuses it', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const one = connect(new FakeClient('one', ALLOW_ALL));
    const two = connect(new FakeClient('two', ALLOW_ALL));
    const blocked = connect(new FakeClient('blocked', RECEIVE_OWN_ONLY));
    const solo = connect(new FakeClient('solo', ALLOW_ALL));
    for (const member of [one, blocked, two]) {
      expect(subscribe(member, { topic: '$share/workers/jobs/+', qos: 0 })[0]?.reasonCode).toBe(0);
    }
    subscribe(solo, { topic: '$share/other/jobs/+', qos: 0 });
    for (let i = 1; i <= 4; i++) publish(sender, `jobs/${i}`, `${i}`);
    expect(one.received).toEqual(['jobs/1 1', 'jobs/3 3']);
    expect(two.received).toEqual(['jobs/2 2', 'jobs/4 4']);
    expect(blocked.received).toEqual([]);
    expect(solo.received).toEqual(['jobs/1 1', 'jobs/2 2', 'jobs/3 3', 'jobs/4 4']);
    expect(
      deliveries()
        .filter((d) => d.clientId === 'blocked')
        .map((d) => d.decision),
    ).toEqual(['deny', 'deny']);
  });

  it('evaluates iot:Subscribe on the whole $share filter', () => {
    const client = connect(new FakeClient('test-1'));
    expect(subscribe(client, '$share/g/devices/test-1/up')).toEqual([
      {
        reasonCode: 0x87,
        reason: `policy has no Allow for iot:Subscribe on ${topicFilterArn(ARN, '$share/g/devices/test-1/up')}`,
      },
    ]);
  });

  it('keeps the turn fair when a member leaves', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const members = ['m1', 'm2', 'm3'].map((id) => connect(new FakeClient(id, ALLOW_ALL)));
    for (const member of members) subscribe(member, { topic: '$share/g/t', qos: 0 });
    publish(sender, 't', 'a');
    publish(sender, 't', 'b');
    broker.onUnsubscribe(members[0] as FakeClient, {
      cmd: 'unsubscribe',
      messageId: 1,
      unsubscriptions: ['$share/g/t'],
    });
    publish(sender, 't', 'c');
    publish(sender, 't', 'd');
    expect(members.map((m) => m.received)).toEqual([['t a'], ['t b', 't d'], ['t c']]);
  });
});

describe('MessageBroker QoS 1 flow', () => {
  it('keeps at most Receive Maximum deliveries unacknowledged and sends the rest on PUBACK', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const slow = connect(new FakeClient('slow', ALLOW_ALL, { receiveMaximum: 1 }));
    subscribe(slow, 't');
    publish(sender, 't', 'a', { qos: 1, messageId: 1 });
    publish(sender, 't', 'b', { qos: 1, messageId: 2 });
    expect(slow.sent.map((p) => [p.messageId, (p as IPublishPacket).payload.toString()])).toEqual([[1, 'a']]);
    broker.onPubAck(slow, { cmd: 'puback', messageId: 42 });
    expect(slow.sent).toHaveLength(1);
    broker.onPubAck(slow, { cmd: 'puback', messageId: 1 });
    expect(slow.sent.map((p) => [p.messageId, (p as IPublishPacket).payload.toString()])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
  });

  it('drops, and logs, deliveries beyond the queue bound', () => {
    broker = new MessageBroker({
      arnContext: ARN,
      clock,
      log: (entry) => log.push(entry),
      maxQueuedPerClient: 1,
    });
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const slow = connect(new FakeClient('slow', ALLOW_ALL, { receiveMaximum: 1 }));
    subscribe(slow, 't');
    for (const id of [1, 2, 3]) publish(sender, 't', `${id}`, { qos: 1, messageId: id });
    expect(deliveries().map((d) => [d.decision, d.reason])).toEqual([
      ['allow', 'allowed by statement 1 of policy document 1'],
      [
        'allow',
        'allowed by statement 1 of policy document 1; queued until the client acknowledges (Receive Maximum 1)',
      ],
      ['deny', '1 QoS 1 messages await PUBACK and 1 more are queued: dropped'],
    ]);
  });

  it('numbers deliveries 1..65535 and skips packet ids still in flight', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const client = connect(new FakeClient('client', ALLOW_ALL));
    subscribe(client, 't');
    publish(sender, 't', 'first', { qos: 1, messageId: 1 });
    for (let i = 2; i <= 65_535; i++) {
      publish(sender, 't', 'x', { qos: 1, messageId: 1 });
      broker.onPubAck(client, { cmd: 'puback', messageId: i });
    }
    publish(sender, 't', 'wrapped', { qos: 1, messageId: 1 });
    // Packet id 1 is still in flight (never acknowledged), so the wrap goes on to 2.
    expect(client.sent.at(-1)?.messageId).toBe(2);
  });
});

describe('MessageBroker deliveries the gateway holds back', () => {
  it("keeps at most AWS IoT Core's 100 QoS 1 deliveries unacknowledged whatever the Receive Maximum", () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const client = connect(new FakeClient('client', ALLOW_ALL, { receiveMaximum: 1_000 }));
    subscribe(client, 't');
    for (let i = 1; i <= 101; i++) publish(sender, 't', `${i}`, { qos: 1, messageId: 1 });
    expect(client.sent).toHaveLength(100);
    expect(deliveries().at(-1)?.reason).toBe(
      "allowed by statement 1 of policy document 1; queued until the client acknowledges (AWS IoT Core's 100 unacknowledged messages)",
    );
    broker.onPubAck(client, { cmd: 'puback', messageId: 1 });
    expect(client.received.at(-1)).toBe('t 101');
  });

  it("reserves the bytes of queued QoS 1 deliveries in the connection's budget, and drops past it", () => {
    const accounting = new OutboundAccounting({
      maxQueuedBytesPerConnection: 250,
      maxQueuedBytesTotal: 1_000,
    });
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const slow = connect(new FakeClient('slow', ALLOW_ALL, { receiveMaximum: 1, outbound: accounting }));
    subscribe(slow, 't');
    const payload = 'x'.repeat(100);
    for (const id of [1, 2, 3, 4]) publish(sender, 't', payload, { qos: 1, messageId: id });
    // 1 in flight, 2 and 3 queued (108 bytes each), 4 would pass the 250 bytes.
    expect(slow.outbound.queuedBytes).toBe(216);
    expect(deliveries().at(-1)).toMatchObject({
      decision: 'deny',
      reason:
        '1 QoS 1 messages await PUBACK, 216 bytes already wait to be sent to this client, and this 108-byte PUBLISH would pass the limit of 250: dropped',
    });
    broker.onPubAck(slow, { cmd: 'puback', messageId: 1 });
    expect(slow.outbound.queuedBytes).toBe(108);
    expect(slow.received).toEqual([`t ${payload}`, `t ${payload}`]);
  });

  it('logs a delivery the gateway did not send, and keeps no QoS 1 one in flight for it', () => {
    const sender = connect(new FakeClient('sender', ALLOW_ALL));
    const behind = connect(new FakeClient('behind', ALLOW_ALL, { receiveMaximum: 1 }));
    subscribe(behind, 't');
    behind.refuseSends = 'the client is not reading what it is sent';
    expect(publish(sender, 't', 'a', { qos: 1, messageId: 1 }).reason).toContain(
      'delivered to 0 subscribers',
    );
    expect(deliveries().at(-1)).toMatchObject({
      clientId: 'behind',
      decision: 'deny',
      reason: 'not sent: the client is not reading what it is sent',
    });
    behind.refuseSends = undefined;
    // Nothing is in flight, so Receive Maximum 1 lets the next one through at once.
    publish(sender, 't', 'b', { qos: 1, messageId: 2 });
    expect(behind.received).toEqual(['t b']);
  });
});

describe('MessageBroker retained-message quotas', () => {
  function brokerWith(retainedLimits: MessageBrokerOptions['retainedLimits']): void {
    broker = new MessageBroker({ arnContext: ARN, clock, log: (entry) => log.push(entry), retainedLimits });
  }

  it('refuses a retained message past a quota with 0x97, neither keeping nor routing it', () => {
    brokerWith({ maxMessages: 1 });
    const device = connect(new FakeClient('test-1'));
    const app = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(app, 'devices/test-1/#');
    expect(publish(device, 'devices/test-1/a', 'on', { retain: true }).reasonCode).toBe(0);
    expect(publish(device, 'devices/test-1/b', 'on', { retain: true })).toEqual({
      reasonCode: 0x97,
      reason:
        'retained message refused: 1 retained messages are kept, the most there may be (AWS IoT Core quota "Maximum number of retained messages per account", 1); clear some with an empty retained PUBLISH',
    });
    expect(broker.retainedTopics).toEqual(['devices/test-1/a']);
    expect(app.received).toEqual(['devices/test-1/a on']);
    // A message without RETAIN is not concerned.
    expect(publish(device, 'devices/test-1/b', 'live').reasonCode).toBe(0);
  });

  it('refuses a second retained message on a topic within a second, and accepts it after', () => {
    const device = connect(new FakeClient('test-1'));
    publish(device, 'devices/test-1/state', 'on', { retain: true });
    expect(publish(device, 'devices/test-1/state', 'off', { retain: true }).reasonCode).toBe(0x97);
    clock.time += 1_000;
    expect(publish(device, 'devices/test-1/state', 'off', { retain: true }).reasonCode).toBe(0);
  });

  it('reports the bytes and count of retained messages, which a clear gives back', () => {
    const device = connect(new FakeClient('test-1'));
    expect(broker.memoryUsage()).toEqual({ retainedMessages: 0, retainedBytes: 0 });
    publish(device, 'devices/test-1/state', 'x'.repeat(1_000), { retain: true });
    // Fixed header (3), topic (2 + 20), property length (1), payload.
    expect(broker.memoryUsage()).toEqual({ retainedMessages: 1, retainedBytes: 1_026 });
    publish(device, 'devices/test-1/state', '', { retain: true });
    expect(broker.memoryUsage()).toEqual({ retainedMessages: 0, retainedBytes: 0 });
  });

  it('refuses a retained will past a quota, logged as a denied will', () => {
    brokerWith({ maxMessages: 0 });
    const device = connect(
      new FakeClient('test-1', DEVICE_POLICIES, {
        will: { topic: 'devices/test-1/status', payload: Buffer.from('offline'), qos: 1, retain: true },
      }),
    );
    broker.onDisconnected(device, { cause: 'connection-lost', publishWill: true });
    expect(log.filter((e) => e.event === 'publish')).toEqual([
      expect.objectContaining({ will: true, decision: 'deny', reasonCode: '0x97', dropped: true }),
    ]);
  });
});

describe('MessageBroker will messages', () => {
  const will = {
    topic: 'devices/test-1/status',
    payload: Buffer.from('offline'),
    qos: 1 as const,
    retain: true,
  };

  function publishes(): Omit<MessageLogEntry, 'time'>[] {
    return log
      .filter((e): e is MessageLogEntry => e.event === 'publish')
      .map(({ time: _time, ...rest }) => rest);
  }

  it('publishes the will of a connection that ended without DISCONNECT, under the client policy', () => {
    const app = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(app, 'devices/#');
    const device = connect(new FakeClient('test-1', DEVICE_POLICIES, { will }));
    subscribe(device, 'devices/test-1/#');
    broker.onDisconnected(device, { cause: 'connection-lost', publishWill: true });
    expect(app.received).toEqual(['devices/test-1/status offline']);
    // The connection is gone: nothing is sent to it.
    expect(device.sent).toEqual([]);
    expect(broker.retainedTopics).toEqual(['devices/test-1/status']);
    expect(publishes()).toEqual([
      {
        event: 'publish',
        connectionId: 'connection-test-1',
        clientId: 'test-1',
        topic: 'devices/test-1/status',
        qos: 1,
        decision: 'allow',
        reasonCode: '0x00',
        reasonCodeNumber: 0,
        reason:
          'allowed by statement OwnTopics of policy document 2; iot:RetainPublish allowed by statement OwnTopics of policy document 2; retained; delivered to 1 subscriber',
        will: true,
      },
    ]);
  });

  it('does not publish the will after a normal DISCONNECT', () => {
    const app = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(app, 'devices/#');
    const device = connect(new FakeClient('test-1', DEVICE_POLICIES, { will }));
    broker.onDisconnected(device, { cause: 'client-disconnect', publishWill: false });
    expect(app.sent).toEqual([]);
    expect(publishes()).toEqual([]);
  });

  it('drops, and logs, a will the policy does not allow', () => {
    const device = connect(
      new FakeClient('test-1', DEVICE_POLICIES, { will: { ...will, topic: 'devices/test-2/status' } }),
    );
    broker.onDisconnected(device, { cause: 'keep-alive-timeout', publishWill: true });
    expect(publishes()).toMatchObject([
      {
        topic: 'devices/test-2/status',
        decision: 'deny',
        reasonCode: '0x87',
        reason: `policy has no Allow for iot:Publish on ${arn('devices/test-2/status')}`,
        dropped: true,
        will: true,
      },
    ]);
  });
});

describe('MessageBroker Will Delay Interval', () => {
  const delayed = (seconds: number): ConnectedClient['will'] => ({
    topic: 'devices/test-1/status',
    payload: Buffer.from('offline'),
    qos: 1,
    retain: false,
    properties: { willDelayInterval: seconds },
  });

  /** A device with a persistent session of `expiry` seconds and a will delayed `delay` seconds, gone. */
  function goneDevice(delay: number, expiry: number): FakeClient {
    const device = connect(new FakeClient('test-1', DEVICE_POLICIES, { will: delayed(delay) }));
    device.sessionExpirySeconds = expiry;
    broker.onDisconnected(device, { cause: 'connection-lost', publishWill: true });
    return device;
  }

  it('waits out the delay, capped by the session expiry, then publishes the will', () => {
    const app = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(app, 'devices/#');
    goneDevice(300, 120);
    clock.advance(119_000);
    expect(app.received).toEqual([]);
    clock.advance(1_000);
    expect(app.received).toEqual(['devices/test-1/status offline']);
  });

  it('publishes at once when the session ends with the connection, and never after a reconnect', () => {
    const app = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(app, 'devices/#');
    goneDevice(300, 0);
    expect(app.received).toEqual(['devices/test-1/status offline']);
    app.sent.length = 0;
    goneDevice(300, 600);
    broker.openSession(new FakeClient('test-1'));
    clock.advance(600_000);
    expect(app.received).toEqual([]);
  });
});

describe('MessageBroker subscription lifecycle events', () => {
  it('publishes the granted and the removed filters, with AWS IoT payload, to allowed subscribers only', () => {
    const watcher = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(watcher, '$aws/events/subscriptions/+/test-1');
    watcher.sent.length = 0;
    const device = connect(new FakeClient('test-1'));
    subscribe(device, 'devices/test-1/in', 'devices/test-2/in');
    broker.onUnsubscribe(device, {
      cmd: 'unsubscribe',
      messageId: 2,
      unsubscriptions: ['devices/test-1/in', 'never/subscribed'],
    });
    const events = watcher.sent.filter((p): p is IPublishPacket => p.cmd === 'publish');
    expect(events.map((p) => [p.topic, p.qos])).toEqual([
      ['$aws/events/subscriptions/subscribed/test-1', 0],
      ['$aws/events/subscriptions/unsubscribed/test-1', 0],
    ]);
    expect(events.map((p) => JSON.parse(p.payload.toString()) as unknown)).toEqual([
      {
        clientId: 'test-1',
        timestamp: expect.any(Number) as unknown,
        eventType: 'subscribed',
        sessionIdentifier: 'connection-test-1',
        principalIdentifier: 'device',
        topics: ['devices/test-1/in'],
      },
      {
        clientId: 'test-1',
        timestamp: expect.any(Number) as unknown,
        eventType: 'unsubscribed',
        sessionIdentifier: 'connection-test-1',
        principalIdentifier: 'device',
        topics: ['devices/test-1/in'],
      },
    ]);
  });

  it('publishes no event for a client id with # or +, nor for a SUBSCRIBE granted nothing', () => {
    const watcher = connect(new FakeClient('app', ALLOW_ALL));
    subscribe(watcher, '$aws/events/subscriptions/#');
    watcher.sent.length = 0;
    subscribe(connect(new FakeClient('test-+', ALLOW_ALL)), 'devices/x');
    subscribe(connect(new FakeClient('test-2')), 'devices/test-1/in');
    expect(watcher.sent).toEqual([]);
  });
});

describe('MessageBroker persistent sessions', () => {
  /** A client of a persistent session (`expiry` seconds), connected through `openSession` as the gateway does. */
  function reconnect(
    clientId: string,
    cleanStart: boolean,
    expiry = 3600,
  ): { client: FakeClient; present: boolean } {
    const client = new FakeClient(clientId);
    client.cleanStart = cleanStart;
    client.sessionExpirySeconds = expiry;
    const present = broker.openSession(client);
    broker.onConnected(client);
    return { client, present };
  }
  const gone = (client: FakeClient) =>
    broker.onDisconnected(client, { cause: 'connection-lost', publishWill: false });

  it('keeps subscriptions and offline QoS 1 messages, resumes them with Session Present, drops QoS 0', () => {
    const first = reconnect('test-1', true);
    expect(first.present).toBe(false);
    subscribe(first.client, 'devices/test-1/#');
    gone(first.client);
    expect(broker.storedSessions).toEqual(['test-1']);
    const publisher = connect(new FakeClient('test-2', OPEN_POLICIES));
    publish(publisher, 'devices/test-1/a', 'one', { qos: 1 });
    publish(publisher, 'devices/test-1/b', 'zero', { qos: 0 });
    publish(publisher, 'devices/test-1/c', 'two', { qos: 1 });
    const second = reconnect('test-1', false);
    expect(second.present).toBe(true);
    expect(second.client.received).toEqual(['devices/test-1/a one', 'devices/test-1/c two']);
    publish(publisher, 'devices/test-1/d', 'live', { qos: 1 });
    expect(second.client.received).toContain('devices/test-1/d live');
    expect(broker.storedSessions).toEqual([]);
  });

  it('resends an unacknowledged delivery with DUP after the reconnect', () => {
    const first = reconnect('test-1', true);
    subscribe(first.client, 'devices/test-1/#');
    publish(first.client, 'devices/test-1/a', 'unacked', { qos: 1 });
    gone(first.client);
    const second = reconnect('test-1', false);
    const resent = second.client.sent.filter((p): p is IPublishPacket => p.cmd === 'publish');
    expect(resent.map((p) => [p.topic, p.dup, p.qos])).toEqual([['devices/test-1/a', true, 1]]);
  });

  it('discards the session on Clean Start, on expiry, and after a refused policy refresh', () => {
    const first = reconnect('test-1', true);
    subscribe(first.client, 'devices/test-1/#');
    gone(first.client);
    expect(reconnect('test-1', true).present).toBe(false);
    const kept = reconnect('test-1', false, 60);
    subscribe(kept.client, 'devices/test-1/#');
    gone(kept.client);
    clock.advance(60_000);
    expect(broker.storedSessions).toEqual([]);
    expect(reconnect('test-1', false).present).toBe(false);
    const revoked = reconnect('test-1', false);
    broker.onDisconnected(revoked.client, {
      cause: 'refresh-refused',
      publishWill: false,
      keepSession: false,
    });
    expect(broker.storedSessions).toEqual([]);
  });

  it('keeps no session for a clean connection and bounds what an offline session keeps', () => {
    const clean = reconnect('test-3', true, 0);
    subscribe(clean.client, 'devices/test-3/#');
    gone(clean.client);
    expect(broker.storedSessions).toEqual([]);
    broker = new MessageBroker({
      arnContext: ARN,
      clock,
      log: (entry) => log.push(entry),
      maxQueuedPerClient: 2,
    });
    const offline = reconnect('test-1', true);
    subscribe(offline.client, 'devices/test-1/#');
    gone(offline.client);
    const publisher = connect(new FakeClient('test-2', OPEN_POLICIES));
    for (const n of [1, 2, 3]) publish(publisher, 'devices/test-1/a', `m${n}`, { qos: 1 });
    expect(
      deliveries()
        .filter((d) => d.clientId === 'test-1')
        .map((d) => d.decision),
    ).toEqual(['allow', 'allow', 'deny']);
    expect(reconnect('test-1', false).client.received).toEqual([
      'devices/test-1/a m1',
      'devices/test-1/a m2',
    ]);
  });
});
