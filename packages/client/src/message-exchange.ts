import { isSuccessReasonCode } from '@iot-custom-auth/protocol';
import type { IncomingMessage, MqttConnection, PublishResult, SubscribeResult } from './connection';

/** `publish`: send the messages and check their PUBACKs; `roundtrip`: subscribe first and receive them too. */
export type MessagingMode = 'publish' | 'roundtrip';

/** The messages to exchange after CONNACK. Always QoS 1: the highest QoS AWS IoT Core supports. */
export interface ExchangeRequest {
  readonly mode: MessagingMode;
  /** A valid topic name (no wildcards): published to, and with `roundtrip` also subscribed to as a filter. */
  readonly topic: string;
  /** Messages to publish, at least 1. */
  readonly count: number;
  /** Payload of message `seq` (1-based), sent at `sentAt` (milliseconds since the epoch). */
  readonly payload: (seq: number, sentAt: number) => string;
  /** The subscription, the publishes and the wait for the messages all end within this long. */
  readonly timeoutMs: number;
}

/** Why a step got no answer from the server. */
export type StepError =
  | { readonly kind: 'timeout' }
  | { readonly kind: 'lost'; readonly reason: string }
  | { readonly kind: 'error'; readonly message: string };

/** The SUBSCRIBE of a round trip: the SUBACK, or why there was none. */
export interface SubscribeStep {
  readonly topicFilter: string;
  readonly result?: SubscribeResult;
  readonly error?: StepError;
}

/** One PUBLISH: the PUBACK, or why there was none, and how long the message took to come back. */
export interface PublishStep {
  readonly seq: number;
  readonly result?: PublishResult;
  readonly error?: StepError;
  /** From sending the PUBLISH to receiving the message on the subscription (round trip only). */
  readonly roundTripMs?: number;
}

/** What happened to the messages. */
export interface ExchangeResult {
  readonly mode: MessagingMode;
  readonly topic: string;
  readonly count: number;
  readonly timeoutMs: number;
  /** Round trip only. */
  readonly subscribe?: SubscribeStep;
  /** One per message sent; empty when the subscription got no answer (nothing is sent then). */
  readonly publishes: readonly PublishStep[];
  /** Messages that must come back: those accepted (PUBACK below 0x80) on a granted subscription. */
  readonly expected: number;
  /** Of those, the ones that came back. */
  readonly received: number;
  /** Set when the wait for the expected messages ended before all came back. */
  readonly receiveError?: StepError;
  /** From the first PUBLISH to the last expected message's arrival, when every one came back. */
  readonly roundTripMs?: number;
}

/** Whether the subscription was granted for every filter. */
export function subscriptionGranted(step: SubscribeStep | undefined): boolean {
  return step?.result !== undefined && step.result.reasonCodes.every(isSuccessReasonCode);
}

/** Whether every message was acknowledged with success, and in a round trip also came back. */
export function exchangeSucceeded(result: ExchangeResult): boolean {
  const published =
    result.publishes.length === result.count &&
    result.publishes.every((p) => p.result !== undefined && isSuccessReasonCode(p.result.reasonCode));
  if (result.mode === 'publish') return published;
  return published && subscriptionGranted(result.subscribe) && result.received === result.count;
}

/**
 * The payload sent when `--message` is not given: JSON with the sequence number, the count, the client id and
 * when it was sent, so that every message of a run is distinct and says where it came from.
 */
export function defaultPayload(seq: number, count: number, clientId: string, sentAt: number): string {
  return JSON.stringify({ seq, count, clientId, sentAt: new Date(sentAt).toISOString() });
}

interface Outgoing {
  readonly seq: number;
  readonly payload: Buffer;
  readonly sentAt: number;
  receivedAt?: number;
}

/**
 * Exchanges the messages over an established connection: in a round trip, SUBSCRIBE (QoS 1) to the topic and
 * wait for the SUBACK; then PUBLISH `count` messages (QoS 1) and wait for their PUBACKs; then, if the
 * subscription was granted, wait until every accepted message has come back. A refused subscription does not
 * stop the publishes, so that one run shows both `iot:Subscribe` and `iot:Publish`. Never throws: every step's
 * answer, or why it got none, is in the result. Everything ends within `timeoutMs`, or as soon as the server
 * closes the connection.
 */
export async function exchangeMessages(
  connection: MqttConnection,
  request: ExchangeRequest,
  clock: () => number,
): Promise<ExchangeResult> {
  let timer: NodeJS.Timeout | undefined;
  const stop: Promise<StepError> = Promise.race([
    new Promise<StepError>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), request.timeoutMs);
    }),
    connection.lost.then((reason): StepError => ({ kind: 'lost', reason })),
  ]);
  const sent: Outgoing[] = [];
  let wake: () => void = () => {};
  connection.onMessage((message: IncomingMessage) => {
    // A retained message sent because of the subscription is not one of ours, even with the same payload.
    if (message.topic !== request.topic || message.retain) return;
    const match = sent.find((m) => m.receivedAt === undefined && m.payload.equals(message.payload));
    if (match === undefined) return;
    match.receivedAt = clock();
    wake();
  });
  const base = {
    mode: request.mode,
    topic: request.topic,
    count: request.count,
    timeoutMs: request.timeoutMs,
  };
  try {
    let subscribe: SubscribeStep | undefined;
    if (request.mode === 'roundtrip') {
      subscribe = {
        topicFilter: request.topic,
        ...(await settle(connection.subscribe(request.topic), stop)),
      };
      if (subscribe.result === undefined) {
        return { ...base, subscribe, publishes: [], expected: 0, received: 0 };
      }
    }

    for (let seq = 1; seq <= request.count; seq++) {
      const sentAt = clock();
      sent.push({ seq, sentAt, payload: Buffer.from(request.payload(seq, sentAt), 'utf8') });
    }
    // All at once: the SDK sends them in order and keeps within the server's Receive Maximum.
    const acked = await Promise.all(
      sent.map(async (m) => ({ m, ack: await settle(connection.publish(request.topic, m.payload), stop) })),
    );

    const expected =
      request.mode === 'roundtrip' && subscriptionGranted(subscribe)
        ? acked
            .filter(({ ack }) => ack.result !== undefined && isSuccessReasonCode(ack.result.reasonCode))
            .map(({ m }) => m)
        : [];
    let receiveError: StepError | undefined;
    while (expected.some((m) => m.receivedAt === undefined)) {
      const woken = new Promise<undefined>((resolve) => (wake = () => resolve(undefined)));
      const outcome = await Promise.race([woken, stop]);
      if (outcome !== undefined) {
        receiveError = outcome;
        break;
      }
    }
    const publishes = acked.map(({ m, ack }): PublishStep => {
      const roundTripMs =
        expected.includes(m) && m.receivedAt !== undefined ? m.receivedAt - m.sentAt : undefined;
      return { seq: m.seq, ...ack, ...(roundTripMs === undefined ? {} : { roundTripMs }) };
    });
    const received = expected.filter((m) => m.receivedAt !== undefined);
    const first = sent[0];
    const roundTripMs =
      expected.length > 0 && received.length === expected.length && first !== undefined
        ? Math.max(...received.map((m) => m.receivedAt as number)) - first.sentAt
        : undefined;
    return {
      ...base,
      ...(subscribe === undefined ? {} : { subscribe }),
      publishes,
      expected: expected.length,
      received: received.length,
      ...(receiveError === undefined ? {} : { receiveError }),
      ...(roundTripMs === undefined ? {} : { roundTripMs }),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The operation's answer, or why it has none when `stop` (timeout, lost connection) comes first. */
async function settle<T>(
  operation: Promise<T>,
  stop: Promise<StepError>,
): Promise<{ result: T; error?: undefined } | { result?: undefined; error: StepError }> {
  const answer = operation.then(
    (result) => ({ result }),
    (error: unknown) => ({
      error: { kind: 'error', message: error instanceof Error ? error.message : String(error) } as StepError,
    }),
  );
  return Promise.race([answer, stop.then((error) => ({ error }))]);
}
