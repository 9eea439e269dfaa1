import type { IncomingMessage, MqttConnection, PublishResult, SubscribeResult } from '../src/connection';
import {
  defaultPayload,
  exchangeMessages,
  exchangeSucceeded,
  type ExchangeRequest,
} from '../src/message-exchange';

// exchangeMessages against a scripted connection: the test decides when each answer and each message arrives.

interface Scripted {
  readonly connection: MqttConnection;
  readonly published: Buffer[];
  deliver(message: Partial<IncomingMessage> & { payload: Buffer }): void;
  lose(reason: string): void;
}

function scripted(
  suback: () => Promise<SubscribeResult>,
  puback: (payload: Buffer, index: number) => Promise<PublishResult>,
): Scripted {
  const listeners: ((message: IncomingMessage) => void)[] = [];
  const published: Buffer[] = [];
  let lose: (reason: string) => void = () => {};
  const connection: MqttConnection = {
    lost: new Promise<string>((resolve) => (lose = resolve)),
    subscribe: () => suback(),
    publish: (_topic, payload) => {
      published.push(payload);
      return puback(payload, published.length - 1);
    },
    onMessage: (listener) => listeners.push(listener),
    disconnect: () => Promise.resolve({ clean: true }),
  };
  return {
    connection,
    published,
    deliver: (message) => {
      for (const listener of listeners) {
        listener({ topic: 'devices/test-1', qos: 1, retain: false, ...message });
      }
    },
    lose: (reason) => lose(reason),
  };
}

const REQUEST: ExchangeRequest = {
  mode: 'roundtrip',
  topic: 'devices/test-1',
  count: 2,
  payload: (seq) => `message ${seq}`,
  timeoutMs: 5_000,
};

/** A clock that reads 0, 10, 20, ... ms. */
function steppingClock(): () => number {
  let now = -10;
  return () => (now += 10);
}

const granted = (): Promise<SubscribeResult> => Promise.resolve({ reasonCodes: [1] });
const success = (): Promise<PublishResult> => Promise.resolve({ reasonCode: 0 });

describe('exchangeMessages', () => {
  it('matches arrivals to the messages sent, in any order, ignoring other topics and unknown payloads', async () => {
    const broker: Scripted = scripted(granted, (_payload, index) => {
      if (index === 1) {
        // Both PUBACKs are out; the messages come back in reverse order, between messages that are not ours.
        setImmediate(() => {
          broker.deliver({ topic: 'devices/test-1/other', payload: Buffer.from('message 2') });
          broker.deliver({ payload: Buffer.from('message 2') });
          broker.deliver({ payload: Buffer.from('not ours') });
          broker.deliver({ payload: Buffer.from('message 1') });
        });
      }
      return success();
    });
    const result = await exchangeMessages(broker.connection, REQUEST, steppingClock());

    // Sent at 0 and 10 ms; received at 20 (message 2) and 30 ms (message 1).
    expect(result).toEqual({
      mode: 'roundtrip',
      topic: 'devices/test-1',
      count: 2,
      timeoutMs: 5_000,
      subscribe: { topicFilter: 'devices/test-1', result: { reasonCodes: [1] } },
      publishes: [
        { seq: 1, result: { reasonCode: 0 }, roundTripMs: 30 },
        { seq: 2, result: { reasonCode: 0 }, roundTripMs: 10 },
      ],
      expected: 2,
      received: 2,
      roundTripMs: 30,
    });
    expect(exchangeSucceeded(result)).toBe(true);
    expect(broker.published.map((p) => p.toString())).toEqual(['message 1', 'message 2']);
  });

  it('waits only for the accepted messages when some publishes are refused', async () => {
    const broker: Scripted = scripted(granted, (payload, index) => {
      if (index === 1) return Promise.resolve({ reasonCode: 0x87, reasonString: 'no' });
      setImmediate(() => broker.deliver({ payload }));
      return success();
    });
    const result = await exchangeMessages(broker.connection, REQUEST, steppingClock());
    expect(result.publishes).toEqual([
      { seq: 1, result: { reasonCode: 0 }, roundTripMs: 20 },
      { seq: 2, result: { reasonCode: 0x87, reasonString: 'no' } },
    ]);
    expect({ expected: result.expected, received: result.received }).toEqual({ expected: 1, received: 1 });
    expect(exchangeSucceeded(result)).toBe(false);
  });

  it('ends the wait for messages as soon as the connection is lost', async () => {
    const broker: Scripted = scripted(granted, () => {
      setImmediate(() => broker.lose('the server sent DISCONNECT 0x87'));
      return success();
    });
    const result = await exchangeMessages(broker.connection, { ...REQUEST, count: 1 }, steppingClock());
    expect(result.receiveError).toEqual({ kind: 'lost', reason: 'the server sent DISCONNECT 0x87' });
    expect(result.received).toBe(0);
    expect(result.roundTripMs).toBeUndefined();
  });

  it('publishes without subscribing in publish mode, and expects nothing back', async () => {
    let subscribed = false;
    const broker = scripted(() => {
      subscribed = true;
      return granted();
    }, success);
    const result = await exchangeMessages(
      broker.connection,
      { ...REQUEST, mode: 'publish' },
      steppingClock(),
    );
    expect(subscribed).toBe(false);
    expect(result).toEqual({
      mode: 'publish',
      topic: 'devices/test-1',
      count: 2,
      timeoutMs: 5_000,
      publishes: [
        { seq: 1, result: { reasonCode: 0 } },
        { seq: 2, result: { reasonCode: 0 } },
      ],
      expected: 0,
      received: 0,
    });
    expect(exchangeSucceeded(result)).toBe(true);
  });

  it('turns a rejected operation into a step error and sends nothing after a failed subscribe', async () => {
    const broker = scripted(() => Promise.reject(new Error('AWS_ERROR_MQTT5_OPERATION_FAILED')), success);
    const result = await exchangeMessages(broker.connection, REQUEST, steppingClock());
    expect(result.subscribe).toEqual({
      topicFilter: 'devices/test-1',
      error: { kind: 'error', message: 'AWS_ERROR_MQTT5_OPERATION_FAILED' },
    });
    expect(result.publishes).toEqual([]);
    expect(broker.published).toEqual([]);
  });
});

describe('defaultPayload', () => {
  it('is JSON with the sequence number, the count, the client id and the time sent', () => {
    expect(JSON.parse(defaultPayload(2, 3, 'test-1', Date.UTC(2024, 0, 2, 3, 4, 5, 6)))).toEqual({
      seq: 2,
      count: 3,
      clientId: 'test-1',
      sentAt: '2024-01-02T03:04:05.006Z',
    });
  });
});
