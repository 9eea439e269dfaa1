import {
  AWS_IOT_MESSAGE_BROKER_QUOTAS,
  AWS_IOT_TOPIC_LIMITS,
  formatReasonCode,
  isSuccessReasonCode,
  MQTT_REASON_CODES as RC,
  topicArn,
  topicFilterArn,
  type IotArnContext,
} from '@iot-custom-auth/protocol';
import {
  generate,
  type IPubackPacket,
  type IPublishPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
} from 'mqtt-packet';
import { systemClock, type ClockTimer, type GatewayClock } from '../gateway/gateway-clock';
import {
  createLogger,
  stdoutLogSink,
  type GatewayLogEntryInput,
  type GatewayLogSink,
} from '../gateway/gateway-log';
import type {
  ConnectedClient,
  DeliveryResult,
  DisconnectInfo,
  MessageHandler,
  MessageHandlerMemoryUsage,
  PacketOutcome,
} from '../gateway/message-handler';
import { policyContext } from '../auth/policy-context';
import { describeOverLimit } from '../gateway/outbound-accounting';
import type { CompiledPolicies, PolicyDecision, PolicyRequestContext } from '@iot-custom-auth/protocol';
import { RETAINED_DEFAULTS, RetainedMessages, type RetainedLimits } from './retained-messages';
import { parseTopicFilter, topicMatches, topicNameProblem, type TopicFilter } from './topic-filter';

/** What the broker needs. */
export interface MessageBrokerOptions {
  /** Partition, region and account of the `topic/` and `topicfilter/` ARNs the policies are evaluated on. */
  readonly arnContext: IotArnContext;
  /** Where deliveries (`receive` lines) are logged. @default one JSON line each on stdout */
  readonly log?: GatewayLogSink;
  /** Ages retained messages for their Message Expiry Interval. @default systemClock */
  readonly clock?: GatewayClock;
  /**
   * Milliseconds since the epoch, for `aws:CurrentTime` / `aws:EpochTime` in policy conditions (the gateway
   * clock only measures intervals). @default Date.now
   */
  readonly wallClock?: () => number;
  /**
   * QoS 1 deliveries kept waiting per client while its Receive Maximum is reached; beyond it messages are
   * dropped (and logged).
   * @default 1000
   */
  readonly maxQueuedPerClient?: number;
  /**
   * Payload bytes of the QoS 1 messages kept for one offline persistent session (besides the
   * `maxQueuedPerClient` count); beyond it messages for it are dropped and logged.
   * @default 8 MiB
   */
  readonly maxStoredBytesPerSession?: number;
  /** Quotas on retained messages. @default RETAINED_DEFAULTS (AWS IoT Core's, and 64 MiB in all) */
  readonly retainedLimits?: Partial<RetainedLimits>;
}

/** The bytes a retained message takes, counted as it is sent: topic, payload and properties. */
function retainedBytes(message: Message): number {
  return generate(
    {
      cmd: 'publish',
      topic: message.topic,
      payload: message.payload,
      qos: 0,
      dup: false,
      retain: true,
      properties: message.properties,
    },
    { protocolVersion: 5 },
  ).length;
}

/** A message published over HTTPS, with what the authorizer granted that request. */
export interface HttpsPublishRequest {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  readonly policies: CompiledPolicies;
  readonly context: PolicyRequestContext;
}

/** Who publishes: how its requests are decided, its client id, and how to end its connection. */
interface PublishSource {
  evaluate(action: string, resource: string): PolicyDecision;
  readonly clientId?: string;
  disconnect?(reasonCode: number, reason: string): void;
}

/** PUBLISH properties a subscriber receives as the publisher sent them (MQTT 5 3.3.2.3). */
type ForwardedProperties = Pick<
  NonNullable<IPublishPacket['properties']>,
  'payloadFormatIndicator' | 'responseTopic' | 'correlationData' | 'userProperties' | 'contentType'
>;

/** A message being routed, or kept as a topic's retained message. */
interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  readonly properties: ForwardedProperties;
  /** Message Expiry Interval in seconds, counted from `receivedAt`. */
  readonly expirySeconds?: number;
  /** Clock time the broker received it. */
  readonly receivedAt: number;
  /** Absent for retained messages sent on subscribe. */
  readonly fromClientId?: string;
}

interface Subscription extends TopicFilter {
  readonly qos: 0 | 1;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
}

/** How one message goes to one client. */
interface DeliveryOptions {
  readonly qos: 0 | 1;
  readonly retain: boolean;
  /** A retained message sent because of a new subscription. */
  readonly onSubscribe?: true;
  /** A message of a resumed session that was sent before and not acknowledged: resent with DUP. */
  readonly dup?: true;
}

/** A PUBLISH for one client: sent at once, or waiting for the client's Receive Maximum. */
interface Delivery {
  readonly packet: IPublishPacket;
  readonly filter: string;
  readonly message: Message;
  readonly how: DeliveryOptions;
  /** Its size, held in the connection's outbound budget while it waits. */
  readonly bytes: number;
}

interface ClientState {
  readonly client: ConnectedClient;
  /** By topic filter as subscribed. */
  readonly subscriptions: Map<string, Subscription>;
  /**
   * QoS 1 deliveries sent and not yet acknowledged, by packet id: a persistent session keeps them to resend
   * (DUP set) when it is resumed.
   */
  readonly inflight: Map<number, Delivery>;
  /** QoS 1 deliveries waiting for an acknowledgement to make room; their bytes are reserved. */
  readonly queue: Delivery[];
  lastMessageId: number;
  /** New subscriptions whose retained message is due once the SUBACK is out. */
  retainedDue: Subscription[];
  /** Messages of a resumed persistent session, sent once the CONNACK is out. */
  resumed: readonly StoredMessage[];
}

/** A QoS 1 message kept for a persistent session while its client is offline. */
interface StoredMessage {
  readonly message: Message;
  readonly filter: string;
  /** Sent once and not acknowledged before the client went. */
  readonly dup: boolean;
}

/**
 * A persistent session while its client is offline: its subscriptions and the QoS 1 messages for it, until
 * the client resumes it or it expires.
 */
interface StoredSession {
  readonly subscriptions: Map<string, Subscription>;
  readonly messages: StoredMessage[];
  bytes: number;
  /** The connection it last ran on, for the log. */
  readonly connectionId: string;
  readonly expiry: ClockTimer;
}

/** Members of one shared subscription (`$share/<name>/<filter>`), served in turn. */
interface SharedGroup {
  readonly members: ClientState[];
  next: number;
}

/** AWS IoT Core's reserved topics start with this (reserved-topics.html). */
const RESERVED_TOPIC_PREFIX = '$aws/';

/**
 * The lifecycle event's `disconnectReason` for how a connection ended (life-cycle-events.html). [choice]
 * Causes AWS IoT names differently or not at all map to the nearest documented value.
 */
function disconnectReason(cause: DisconnectInfo['cause'] | undefined): string {
  switch (cause) {
    case 'client-disconnect':
      return 'CLIENT_INITIATED_DISCONNECT';
    case 'connection-lost':
      return 'CONNECTION_LOST';
    case 'keep-alive-timeout':
      return 'MQTT_KEEP_ALIVE_TIMEOUT';
    case 'taken-over':
      return 'DUPLICATE_CLIENTID';
    case 'server-shutdown':
      return 'SERVER_INITIATED_DISCONNECT';
    case 'maximum-connect-time':
      return 'CUSTOMAUTH_TTL_EXPIRATION';
    case 'refresh-refused':
      return 'AUTHORIZATION_FAILURE';
    case 'throttled':
      return 'THROTTLED';
    case 'payload-too-large':
      // "if the client attempts to publish with a payload that exceeds the payload limit".
      return 'CLIENT_ERROR';
    case 'malformed-packet':
    case 'protocol-error':
    case 'qos-not-supported':
    case 'packet-too-large':
      return 'MQTT_PROTOCOL_VIOLATION';
    case 'not-authorized':
    case 'handler':
      return 'FORBIDDEN_ACCESS';
    default:
      return 'SERVER_ERROR';
  }
}

/** Receive Maximum when the client sets none (MQTT 5 3.1.2.11.3). */
const DEFAULT_RECEIVE_MAXIMUM = 65_535;

const { maxOutboundUnacknowledgedMessages } = AWS_IOT_MESSAGE_BROKER_QUOTAS;

/** QoS 1 deliveries a client may have unacknowledged: its Receive Maximum, at most AWS IoT's quota. */
function inflightLimit(client: ConnectedClient): number {
  return Math.min(client.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM, maxOutboundUnacknowledgedMessages);
}

/** Which limit `inflightLimit` is, in words. */
function inflightLimitName(client: ConnectedClient): string {
  const receiveMaximum = client.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM;
  return receiveMaximum <= maxOutboundUnacknowledgedMessages
    ? `Receive Maximum ${receiveMaximum}`
    : `AWS IoT Core's ${maxOutboundUnacknowledgedMessages} unacknowledged messages`;
}

/**
 * AWS IoT Core's message broker for the local gateway: QoS 0 and 1 PUBLISH, SUBSCRIBE / UNSUBSCRIBE with
 * `+` / `#` (see `topic-filter.ts`), retained messages, shared subscriptions, under the policies the
 * authorizer returned (read from `client.session` at each decision, so a refresh takes effect at once):
 *
 * - every PUBLISH needs `iot:Publish` on `topic/<topic>`, and a retained one also `iot:RetainPublish`
 *   (refused: PUBACK 0x87 for QoS 1, dropped and logged for QoS 0);
 * - every filter needs `iot:Subscribe` on `topicfilter/<filter as sent>` (`$share/<name>/` included), refused
 *   filters get SUBACK 0x87 alone;
 * - every delivery needs the receiver's `iot:Receive` on `topic/<topic>` ([choice] for shared subscriptions
 *   too: the message's topic, not the `$share` filter); refused ones are not sent and are logged.
 *
 * Routing follows AWS IoT Core and MQTT 5: each client gets a message once, at the highest QoS of its
 * matching subscriptions capped by the PUBLISH's (so at most 1); No Local and Retain As Published are
 * honoured; a shared subscription's message goes to one member, in turn, skipping members whose policy
 * refuses it. Retained messages (one per topic, an empty payload clears it and is still forwarded) are sent
 * on subscribe only to a filter equal to their topic, as AWS IoT documents ("to receive a retained message
 * upon subscription, the topic filter in the subscription request must match the retained message topic
 * exactly"), never to a shared subscription (MQTT 5 4.8.2), per Retain Handling, with RETAIN set; forwarded
 * live they carry RETAIN only under Retain As Published.
 *
 * Retained messages are kept within AWS IoT's quotas and a local bound on their bytes (`RetainedMessages`):
 * one a quota refuses is neither kept nor routed, and gets reason code 0x97 (quota exceeded: PUBACK for QoS
 * 1, logged and dropped for QoS 0; MQTT 3.1.1 has no PUBACK reason codes, so such a client is disconnected,
 * as for any refused QoS 1 PUBLISH). AWS IoT documents a "throttled response"; 0x97 is the PUBACK code MQTT 5
 * has for it (0x96, message rate too high, is a DISCONNECT code only).
 *
 * QoS 1 deliveries respect the client's Receive Maximum capped at AWS IoT's 100 unacknowledged messages,
 * waiting in a queue bounded in count and in bytes (reserved in the connection's outbound budget, so what
 * waits here counts against the same limits as what waits on the socket). A delivery the gateway does not
 * send (the client too far behind) is logged as not delivered.
 *
 * Persistent sessions (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-persistent-sessions):
 * a client connected with MQTT 3.1.1 Clean Session 0, or MQTT 5 with a Session Expiry Interval, keeps its
 * session when it goes, for that expiry (AWS IoT's default and cap: 1 hour): its subscriptions, the QoS 1
 * messages it had not acknowledged, and every QoS 1 message published meanwhile to a filter it subscribed
 * to at QoS 1 (QoS 0 messages are not kept), within `maxQueuedPerClient` messages and
 * `maxStoredBytesPerSession` bytes. Reconnecting with Clean Start 0 resumes it (CONNACK Session Present 1):
 * the unacknowledged ones are resent with DUP, then the others in order, each under `iot:Receive` of the
 * policy the client has now. Clean Start 1 discards it. A refused CONNECT never reaches it, and a device
 * disconnected because its policy refresh was refused loses it. A shared subscription does not hand an
 * offline member's messages to another member.
 */
export class MessageBroker implements MessageHandler {
  readonly #arn: IotArnContext;
  readonly #log: (entry: GatewayLogEntryInput) => void;
  readonly #clock: GatewayClock;
  readonly #wallClock: () => number;
  readonly #maxQueued: number;
  readonly #clients = new Map<ConnectedClient, ClientState>();
  readonly #shared = new Map<string, SharedGroup>();
  readonly #retained: RetainedMessages<Message>;
  /** Lifecycle `versionNumber` per client id: one more at each connect. */
  readonly #versions = new Map<string, number>();
  /** Persistent sessions of clients that are offline, by client id. */
  readonly #stored = new Map<string, StoredSession>();
  readonly #maxStoredBytes: number;
  /** Will messages waiting out their Will Delay Interval, by client id. */
  readonly #delayedWills = new Map<string, ClockTimer>();

  constructor(options: MessageBrokerOptions) {
    this.#arn = options.arnContext;
    this.#log = createLogger(options.log ?? stdoutLogSink);
    this.#clock = options.clock ?? systemClock;
    this.#wallClock = options.wallClock ?? Date.now;
    this.#maxQueued = options.maxQueuedPerClient ?? 1000;
    this.#maxStoredBytes = options.maxStoredBytesPerSession ?? 8 * 1024 * 1024;
    this.#retained = new RetainedMessages(
      { ...RETAINED_DEFAULTS, ...options.retainedLimits },
      this.#clock,
      (message) => this.#unexpired(message),
    );
  }

  /** Topics that have a retained message, for tests and diagnostics. */
  get retainedTopics(): string[] {
    return this.#retained.topics();
  }

  memoryUsage(): MessageHandlerMemoryUsage {
    return { retainedMessages: this.#retained.count, retainedBytes: this.#retained.bytes };
  }

  /**
   * Resumes the client id's stored persistent session (subscriptions and the QoS 1 messages kept for it)
   * unless the client asked for a clean start, which discards it. Returns whether one was resumed.
   */
  openSession(client: ConnectedClient): boolean {
    // MQTT-3.1.2-8: a new connection for the client id before the Will Delay Interval passed cancels the will.
    this.#delayedWills.get(client.clientId)?.cancel();
    this.#delayedWills.delete(client.clientId);
    const stored = this.#stored.get(client.clientId);
    if (!stored) return false;
    stored.expiry.cancel();
    this.#stored.delete(client.clientId);
    if (client.cleanStart) return false;
    const state = this.#state(client);
    for (const subscription of stored.subscriptions.values()) {
      state.subscriptions.set(subscription.filter, subscription);
      if (subscription.shareName !== undefined) this.#joinGroup(state, subscription);
    }
    state.resumed = stored.messages;
    return true;
  }

  /**
   * Publishes the `connected` lifecycle event, then sends what a resumed session kept, in order, under the
   * client's policy now (`iot:Receive`).
   */
  onConnected(client: ConnectedClient): void {
    this.#versions.set(client.clientId, (this.#versions.get(client.clientId) ?? -1) + 1);
    this.#publishLifecycle(client, 'connected', {
      ...(client.sourceIp === undefined
        ? {}
        : { ipAddress: client.sourceIp.replace(/^::ffff:(?=\d+\.)/i, '') }),
    });
    const state = this.#state(client);
    const resumed = state.resumed;
    state.resumed = [];
    for (const { message, filter, dup } of resumed) {
      if (!this.#unexpired(message)) continue;
      this.#deliver(state, message, filter, { qos: 1, retain: false, ...(dup && { dup: true as const }) });
    }
  }

  /**
   * Forgets the client's subscriptions and unacknowledged deliveries, then publishes its will message when
   * the connection did not end with a normal DISCONNECT (see `#publishWill`).
   */
  onDisconnected(client: ConnectedClient, ended?: DisconnectInfo): void {
    const state = this.#clients.get(client);
    const keepSession = client.sessionExpirySeconds > 0 && ended?.keepSession !== false;
    if (state) {
      this.#clients.delete(client);
      for (const subscription of state.subscriptions.values()) this.#leaveGroup(state, subscription);
      if (keepSession) this.#store(state);
    }
    const reason = disconnectReason(ended?.cause);
    this.#publishLifecycle(client, 'disconnected', {
      clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
      disconnectReason: reason,
    });
    if (!ended?.publishWill || !client.will) return;
    // MQTT 5 3.1.3.2.2: the will waits for its Will Delay Interval "or the Session ends, whichever happens
    // first"; AWS IoT caps the session at 1 hour (AWS_IOT_MQTT_LIMITS.maxSessionExpirySeconds, applied to
    // `sessionExpirySeconds`) and documents no other cap on the delay
    // (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-lwt).
    const requestedDelay = client.will.properties?.willDelayInterval ?? 0;
    const delaySeconds = Math.min(requestedDelay, keepSession ? client.sessionExpirySeconds : 0);
    if (delaySeconds <= 0) {
      this.#publishWill(client, requestedDelay > 0 ? 'its session ended with the connection' : undefined);
      return;
    }
    const timer = this.#clock.setTimer(() => {
      if (this.#delayedWills.get(client.clientId) !== timer) return;
      this.#delayedWills.delete(client.clientId);
      this.#publishWill(client, `its Will Delay Interval of ${delaySeconds} s passed`);
    }, delaySeconds * 1000);
    this.#delayedWills.get(client.clientId)?.cancel();
    this.#delayedWills.set(client.clientId, timer);
  }

  /**
   * Publishes a gone client's will under the same checks as a PUBLISH from it (its cached policy:
   * `iot:Publish`, and `iot:RetainPublish` for a retained will), logged as a `publish` line with
   * `will: true`; `when` says why now, for a delayed one.
   */
  #publishWill(client: ConnectedClient, when: string | undefined): void {
    const will = client.will;
    if (!will) return;
    const { willDelayInterval: _delay, ...properties } = will.properties ?? {};
    const qos = will.qos === 1 ? 1 : 0;
    const outcome = this.#publish(this.#clientSource(client), undefined, {
      cmd: 'publish',
      topic: will.topic,
      payload: will.payload,
      qos,
      dup: false,
      retain: will.retain === true,
      properties,
    });
    const allowed = isSuccessReasonCode(outcome.reasonCode);
    this.#log({
      event: 'publish',
      connectionId: client.connectionId,
      clientId: client.clientId,
      topic: will.topic,
      qos,
      decision: allowed ? 'allow' : 'deny',
      reasonCode: formatReasonCode(outcome.reasonCode, 'lower'),
      reasonCodeNumber: outcome.reasonCode,
      reason: when === undefined ? outcome.reason : `will published because ${when}: ${outcome.reason}`,
      ...(allowed ? {} : { dropped: true as const }),
      will: true,
    });
  }

  /**
   * A presence lifecycle event on `$aws/events/presence/<eventType>/<clientId>` with AWS IoT's payload
   * (life-cycle-events.html).
   */
  #publishLifecycle(client: ConnectedClient, eventType: 'connected' | 'disconnected', extra: object): void {
    this.#publishEvent(client, `presence/${eventType}`, {
      clientId: client.clientId,
      timestamp: this.#wallClock(),
      eventType,
      sessionIdentifier: client.connectionId,
      principalIdentifier: client.session.principalId,
      ...extra,
      versionNumber: this.#versions.get(client.clientId) ?? 0,
    });
  }

  /**
   * A subscription lifecycle event on `$aws/events/subscriptions/<eventType>/<clientId>` with AWS IoT's
   * payload: `clientId`, `timestamp`, `eventType`, `sessionIdentifier`, `principalIdentifier` and `topics`,
   * the filters as the client sent them (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html#subscribe-unsubscribe-events).
   * [choice] Only the filters the SUBSCRIBE was granted, or the UNSUBSCRIBE removed; none, no event.
   */
  #publishSubscriptionEvent(
    client: ConnectedClient,
    eventType: 'subscribed' | 'unsubscribed',
    topics: readonly string[],
  ): void {
    if (topics.length === 0) return;
    this.#publishEvent(client, `subscriptions/${eventType}`, {
      clientId: client.clientId,
      timestamp: this.#wallClock(),
      eventType,
      sessionIdentifier: client.connectionId,
      principalIdentifier: client.session.principalId,
      topics,
    });
  }

  /**
   * One lifecycle event on `$aws/events/<kind>/<clientId>`, routed as QoS 0 to the subscribers whose policy
   * allows `iot:Receive` on it. "Client IDs that contain # or + do not receive lifecycle events" (they could
   * not be in a topic name).
   */
  #publishEvent(client: ConnectedClient, kind: string, payload: object): void {
    if (/[#+]/.test(client.clientId)) return;
    this.#route(undefined, {
      topic: `${RESERVED_TOPIC_PREFIX}events/${kind}/${client.clientId}`,
      payload: Buffer.from(JSON.stringify(payload)),
      qos: 0,
      retain: false,
      properties: {},
      receivedAt: this.#clock.now(),
    });
  }

  /** Client ids with a stored (offline) persistent session, for tests and diagnostics. */
  get storedSessions(): string[] {
    return [...this.#stored.keys()];
  }

  /**
   * Keeps a disconnected client's session for its expiry: subscriptions, then the QoS 1 messages it had
   * not acknowledged (resent with DUP) and those still waiting for its Receive Maximum.
   */
  #store(state: ClientState): void {
    const { client } = state;
    const expiry = this.#clock.setTimer(() => {
      if (this.#stored.get(client.clientId) === stored) this.#stored.delete(client.clientId);
    }, client.sessionExpirySeconds * 1000);
    const stored: StoredSession = {
      subscriptions: new Map(state.subscriptions),
      messages: [],
      bytes: 0,
      connectionId: client.connectionId,
      expiry,
    };
    const keep = (delivery: Delivery, dup: boolean): void => {
      if (stored.messages.length >= this.#maxQueued) return;
      stored.messages.push({ message: delivery.message, filter: delivery.filter, dup });
      stored.bytes += delivery.message.payload.length;
    };
    for (const delivery of state.inflight.values()) keep(delivery, true);
    for (const delivery of state.queue) keep(delivery, false);
    this.#stored.get(client.clientId)?.expiry.cancel();
    this.#stored.set(client.clientId, stored);
  }

  onPublish(client: ConnectedClient, publish: IPublishPacket): PacketOutcome {
    return this.#publish(this.#clientSource(client), this.#state(client), publish);
  }

  /**
   * A message published over HTTPS (`POST /topics/<topic>`), under the policies the authorizer returned for
   * that request: the same checks as a PUBLISH (`iot:Publish`, `iot:RetainPublish` for a retained one),
   * retained and routed to MQTT subscribers alike. HTTPS has no client id, so `${iot:ClientId}` resolves to
   * nothing and no subscriber's No Local applies.
   */
  publishFromHttps(request: HttpsPublishRequest): PacketOutcome {
    const evaluate = (action: string, resource: string): PolicyDecision =>
      request.policies.evaluate({ action, resource, context: request.context });
    return this.#publish({ evaluate }, undefined, {
      cmd: 'publish',
      topic: request.topic,
      payload: request.payload,
      qos: request.qos,
      dup: false,
      retain: request.retain,
    });
  }

  #clientSource(client: ConnectedClient): PublishSource {
    return {
      evaluate: (action, resource) => this.#evaluate(client, action, resource),
      clientId: client.clientId,
      disconnect: (reasonCode, reason) => client.disconnect(reasonCode, reason),
    };
  }

  /** A PUBLISH from `source` (connected: `state`; gone: its will; HTTPS), checked, retained and routed. */
  #publish(source: PublishSource, state: ClientState | undefined, publish: IPublishPacket): PacketOutcome {
    const { topic } = publish;
    const problem = topicNameProblem(topic);
    if (problem) {
      // A wildcard or U+0000 in a topic name breaks MQTT itself (MQTT-3.3.2-2): the connection ends.
      if (problem.kind === 'malformed' && state) {
        source.disconnect?.(RC.topicNameInvalid, `PUBLISH refused: ${problem.reason}`);
      }
      return { reasonCode: RC.topicNameInvalid, reason: problem.reason };
    }
    if (publish.retain && topic.startsWith(RESERVED_TOPIC_PREFIX)) {
      // [choice] AWS IoT keeps no retained messages on its reserved topics; MQTT 5 has no PUBACK code for
      // that, so 0x83 (implementation specific error), with the reason in the log.
      return {
        reasonCode: RC.implementationSpecificError,
        reason: `RETAIN is not supported on AWS IoT's reserved topics (${RESERVED_TOPIC_PREFIX}...): publish without RETAIN`,
      };
    }
    const publishDecision = source.evaluate('iot:Publish', topicArn(this.#arn, topic));
    if (!publishDecision.allowed) return { reasonCode: RC.notAuthorized, reason: publishDecision.reason };
    const reasons = [publishDecision.reason];
    if (publish.retain) {
      const retainDecision = source.evaluate('iot:RetainPublish', topicArn(this.#arn, topic));
      if (!retainDecision.allowed) return { reasonCode: RC.notAuthorized, reason: retainDecision.reason };
      reasons.push(`iot:RetainPublish ${retainDecision.reason}`);
    }

    const { payloadFormatIndicator, responseTopic, correlationData, userProperties, contentType } =
      publish.properties ?? {};
    const expirySeconds = publish.properties?.messageExpiryInterval;
    const message: Message = {
      topic,
      payload: typeof publish.payload === 'string' ? Buffer.from(publish.payload) : publish.payload,
      qos: publish.qos === 1 ? 1 : 0,
      retain: publish.retain,
      properties: {
        ...(payloadFormatIndicator === undefined ? {} : { payloadFormatIndicator }),
        ...(responseTopic === undefined ? {} : { responseTopic }),
        ...(correlationData === undefined ? {} : { correlationData }),
        ...(userProperties === undefined ? {} : { userProperties }),
        ...(contentType === undefined ? {} : { contentType }),
      },
      ...(expirySeconds === undefined ? {} : { expirySeconds }),
      receivedAt: this.#clock.now(),
      ...(source.clientId === undefined ? {} : { fromClientId: source.clientId }),
    };
    if (publish.retain) {
      if (message.payload.length === 0) {
        this.#retained.clear(topic);
        reasons.push('retained message cleared (empty payload)');
      } else {
        const refusal = this.#retained.store(topic, message, retainedBytes(message));
        // Refused as a whole, as AWS IoT's "throttled response": neither kept nor routed.
        if (refusal) return { reasonCode: RC.quotaExceeded, reason: `retained message refused: ${refusal}` };
        reasons.push('retained');
      }
    }
    const delivered = this.#route(state, message);
    reasons.push(`delivered to ${delivered} subscriber${delivered === 1 ? '' : 's'}`);
    return { reasonCode: RC.success, reason: reasons.join('; ') };
  }

  onSubscribe(client: ConnectedClient, subscribe: ISubscribePacket): readonly PacketOutcome[] {
    const state = this.#state(client);
    const { subscriptions } = subscribe;
    if (subscriptions.length === 0) {
      client.disconnect(RC.protocolError, 'protocol error: SUBSCRIBE with no topic filter (MQTT-3.8.3-2)');
      return [];
    }
    if (subscriptions.length > AWS_IOT_TOPIC_LIMITS.maxFiltersPerSubscribe) {
      // [choice] AWS IoT documents the quota, not the refusal: every filter gets SUBACK 0x97 (quota exceeded).
      const reason = `a SUBSCRIBE may carry at most ${AWS_IOT_TOPIC_LIMITS.maxFiltersPerSubscribe} topic filters (AWS IoT Core quota); this one has ${subscriptions.length}: split it`;
      return subscriptions.map(() => ({ reasonCode: RC.quotaExceeded, reason }));
    }
    const outcomes: PacketOutcome[] = [];
    state.retainedDue = [];
    for (const requested of subscriptions) {
      const parsed = parseTopicFilter(requested.topic);
      if (!parsed.ok) {
        // [choice] SUBACK 0x8F (topic filter invalid) for this filter alone, malformed or over the limits:
        // 0x90 is not a SUBACK code in MQTT 5, and one bad filter should not cost the others.
        outcomes.push({ reasonCode: RC.topicFilterInvalid, reason: parsed.problem.reason });
        continue;
      }
      const filter = parsed.value;
      if (filter.shareName !== undefined && requested.nl) {
        client.disconnect(
          RC.protocolError,
          `protocol error: No Local set on the shared subscription '${filter.filter}' (MQTT-3.8.3-4)`,
        );
        return [];
      }
      const decision = this.#evaluate(client, 'iot:Subscribe', topicFilterArn(this.#arn, filter.filter));
      if (!decision.allowed) {
        outcomes.push({ reasonCode: RC.notAuthorized, reason: decision.reason });
        continue;
      }
      const existed = state.subscriptions.has(filter.filter);
      if (!existed && state.subscriptions.size >= AWS_IOT_TOPIC_LIMITS.maxSubscriptionsPerConnection) {
        outcomes.push({
          reasonCode: RC.quotaExceeded,
          reason: `a connection may hold at most ${AWS_IOT_TOPIC_LIMITS.maxSubscriptionsPerConnection} subscriptions (AWS IoT Core quota)`,
        });
        continue;
      }
      // AWS IoT Core's Maximum QoS is 1: a QoS 2 request is granted QoS 1.
      const qos = requested.qos >= 1 ? 1 : 0;
      const subscription: Subscription = {
        ...filter,
        qos,
        noLocal: requested.nl === true,
        retainAsPublished: requested.rap === true,
      };
      state.subscriptions.set(filter.filter, subscription);
      if (!existed && filter.shareName !== undefined) this.#joinGroup(state, subscription);
      const retainHandling = requested.rh ?? 0;
      if (retainHandling === 0 || (retainHandling === 1 && !existed)) state.retainedDue.push(subscription);
      outcomes.push({
        reasonCode: qos === 1 ? RC.grantedQos1 : RC.grantedQos0,
        reason: `${decision.reason}${requested.qos === 2 ? '; QoS 2 requested, QoS 1 granted (AWS IoT Core maximum)' : ''}`,
      });
    }
    return outcomes;
  }

  /** Publishes the `subscribed` lifecycle event, then the retained messages due. */
  onSubscribed(
    client: ConnectedClient,
    subscribe?: ISubscribePacket,
    outcomes: readonly PacketOutcome[] = [],
  ): void {
    const state = this.#clients.get(client);
    if (!state) return;
    this.#publishSubscriptionEvent(
      client,
      'subscribed',
      (subscribe?.subscriptions ?? [])
        .filter((_, i) => isSuccessReasonCode(outcomes[i]?.reasonCode ?? RC.unspecifiedError))
        .map((s) => s.topic),
    );
    const due = state.retainedDue;
    state.retainedDue = [];
    for (const subscription of due) {
      if (subscription.wildcard || subscription.shareName !== undefined) continue;
      const retained = this.#retained.get(subscription.match);
      if (!retained) continue;
      this.#deliver(state, retained, subscription.filter, {
        qos: subscription.qos,
        retain: true,
        onSubscribe: true,
      });
    }
  }

  onUnsubscribe(client: ConnectedClient, unsubscribe: IUnsubscribePacket): readonly PacketOutcome[] {
    const state = this.#state(client);
    const removed: string[] = [];
    const outcomes = unsubscribe.unsubscriptions.map((filter) => {
      const subscription = state.subscriptions.get(filter);
      if (!subscription) {
        return { reasonCode: RC.noSubscriptionExisted, reason: `no subscription to '${filter}' existed` };
      }
      state.subscriptions.delete(filter);
      this.#leaveGroup(state, subscription);
      removed.push(filter);
      return { reasonCode: RC.success, reason: `unsubscribed from '${filter}'` };
    });
    this.#publishSubscriptionEvent(client, 'unsubscribed', removed);
    return outcomes;
  }

  onPubAck(client: ConnectedClient, puback: IPubackPacket): void {
    const state = this.#clients.get(client);
    if (!state || puback.messageId === undefined) return;
    // An acknowledgement for an unknown packet id is ignored, as MQTT leaves it.
    if (!state.inflight.delete(puback.messageId)) return;
    this.#drainQueue(state);
  }

  #state(client: ConnectedClient): ClientState {
    let state = this.#clients.get(client);
    if (!state) {
      state = {
        client,
        subscriptions: new Map(),
        inflight: new Map(),
        queue: [],
        lastMessageId: 0,
        retainedDue: [],
        resumed: [],
      };
      this.#clients.set(client, state);
    }
    return state;
  }

  /**
   * Evaluated on the session's compiled policies (no document is parsed per message), with the
   * connection's facts and the time now for `Condition` blocks.
   */
  #evaluate(client: ConnectedClient, action: string, resource: string): PolicyDecision {
    return client.session.policies.evaluate({
      action,
      resource,
      variables: { 'iot:ClientId': client.clientId },
      context: policyContext(client, this.#wallClock()),
    });
  }

  /** Sends `message` to every matching subscriber; returns how many clients it was sent (or queued) to. */
  #route(publisher: ClientState | undefined, message: Message): number {
    let delivered = 0;
    for (const state of this.#clients.values()) {
      let best: Subscription | undefined;
      let retainAsPublished = false;
      for (const subscription of state.subscriptions.values()) {
        if (subscription.shareName !== undefined || !topicMatches(subscription.match, message.topic))
          continue;
        if (subscription.noLocal && state === publisher) continue;
        if (!best || subscription.qos > best.qos) best = subscription;
        retainAsPublished ||= subscription.retainAsPublished;
      }
      if (!best) continue;
      const sent = this.#deliver(state, message, best.filter, {
        qos: Math.min(message.qos, best.qos) as 0 | 1,
        retain: message.retain && retainAsPublished,
      });
      if (sent) delivered += 1;
    }
    delivered += this.#keepForOfflineSessions(message);
    for (const [key, group] of this.#shared) {
      const match = key.slice(key.indexOf('\u0000') + 1);
      if (group.members.length === 0 || !topicMatches(match, message.topic)) continue;
      for (let tried = 0; tried < group.members.length; tried++) {
        const index = (group.next + tried) % group.members.length;
        const member = group.members[index] as ClientState;
        const subscription = [...member.subscriptions.values()].find(
          (s) => s.shareName !== undefined && `${s.shareName}\u0000${s.match}` === key,
        );
        if (!subscription) continue;
        const sent = this.#deliver(member, message, subscription.filter, {
          qos: Math.min(message.qos, subscription.qos) as 0 | 1,
          retain: message.retain && subscription.retainAsPublished,
        });
        if (sent) {
          group.next = index + 1;
          delivered += 1;
          break;
        }
      }
    }
    return delivered;
  }

  /**
   * Keeps a QoS 1 message for each offline persistent session subscribed to it at QoS 1 (AWS IoT stores
   * only QoS 1 messages for them), within the count and byte bounds; `iot:Receive` is decided when it is
   * delivered. Returns how many sessions kept it.
   */
  #keepForOfflineSessions(message: Message): number {
    if (message.qos !== 1) return 0;
    let kept = 0;
    for (const [clientId, stored] of this.#stored) {
      let filter: string | undefined;
      for (const subscription of stored.subscriptions.values()) {
        if (subscription.qos !== 1 || subscription.shareName !== undefined) continue;
        if (subscription.noLocal && message.fromClientId === clientId) continue;
        if (topicMatches(subscription.match, message.topic)) filter ??= subscription.filter;
      }
      if (filter === undefined) continue;
      const full =
        stored.messages.length >= this.#maxQueued
          ? `${stored.messages.length} messages are kept for it already`
          : stored.bytes + message.payload.length > this.#maxStoredBytes
            ? `its ${this.#maxStoredBytes}-byte bound would be passed`
            : undefined;
      if (full === undefined) {
        stored.messages.push({ message, filter, dup: false });
        stored.bytes += message.payload.length;
        kept += 1;
      }
      this.#log({
        event: 'receive',
        connectionId: stored.connectionId,
        clientId,
        topic: message.topic,
        qos: 1,
        filter,
        ...(message.fromClientId === undefined ? {} : { fromClientId: message.fromClientId }),
        decision: full === undefined ? 'allow' : 'deny',
        reason:
          full === undefined
            ? 'kept for the offline persistent session until it is resumed (iot:Receive decided then)'
            : `not kept for the offline persistent session: ${full}`,
      });
    }
    return kept;
  }

  /**
   * One delivery to one client, if its policy allows `iot:Receive` and the packet fits its Maximum Packet
   * Size; logged either way. Returns whether it was sent or queued.
   */
  #deliver(state: ClientState, message: Message, filter: string, how: DeliveryOptions): boolean {
    const { client } = state;
    const receive = this.#evaluate(client, 'iot:Receive', topicArn(this.#arn, message.topic));
    if (!receive.allowed) {
      this.#logReceive(state, message, filter, how, 'deny', receive.reason);
      return false;
    }
    const packet: IPublishPacket = {
      cmd: 'publish',
      topic: message.topic,
      payload: message.payload,
      qos: how.qos,
      dup: how.dup === true,
      retain: how.retain,
      ...(client.protocolVersion === 5 ? { properties: this.#properties(message) } : {}),
    };
    if (how.qos === 1) packet.messageId = 1;
    const size = generate(packet, { protocolVersion: client.protocolVersion }).length;
    if (client.maximumPacketSize !== undefined && size > client.maximumPacketSize) {
      // MQTT-3.1.2-25: a packet over the client's maximum is discarded as if delivered.
      this.#logReceive(
        state,
        message,
        filter,
        how,
        'deny',
        `the ${size}-byte PUBLISH exceeds the client's Maximum Packet Size of ${client.maximumPacketSize}`,
      );
      return false;
    }
    const delivery: Delivery = { packet, filter: filter, message, how, bytes: size };
    if (how.qos === 1 && state.inflight.size >= inflightLimit(client)) {
      return this.#enqueue(state, delivery, receive.reason);
    }
    return this.#send(state, delivery, receive.reason);
  }

  /** Keeps a QoS 1 delivery until an acknowledgement makes room, within the queue's count and bytes. */
  #enqueue(state: ClientState, delivery: Delivery, allowedBy: string): boolean {
    const waiting = `${state.inflight.size} QoS 1 messages await PUBACK`;
    const refuse = (reason: string): false => {
      this.#logReceive(state, delivery.message, delivery.filter, delivery.how, 'deny', reason);
      return false;
    };
    if (state.queue.length >= this.#maxQueued) {
      return refuse(`${waiting} and ${state.queue.length} more are queued: dropped`);
    }
    const over = state.client.outbound.reserve(delivery.bytes);
    if (over) return refuse(`${waiting}, ${describeOverLimit(over, delivery.bytes)}: dropped`);
    state.queue.push(delivery);
    this.#logReceive(
      state,
      delivery.message,
      delivery.filter,
      delivery.how,
      'allow',
      `${allowedBy}; queued until the client acknowledges (${inflightLimitName(state.client)})`,
    );
    return true;
  }

  /** Hands a delivery to the gateway and logs the outcome. */
  #send(state: ClientState, delivery: Delivery, allowedBy: string): boolean {
    const result = this.#transmit(state, delivery);
    const { message, filter, how } = delivery;
    if (result.sent) this.#logReceive(state, message, filter, how, 'allow', allowedBy);
    else this.#logReceive(state, message, filter, how, 'deny', `not sent: ${result.reason}`);
    return result.sent;
  }

  /** Gives the packet its id and hands it to the gateway; a QoS 1 one is in flight once sent. */
  #transmit(state: ClientState, delivery: Delivery): DeliveryResult {
    const { packet } = delivery;
    if (packet.qos === 1) packet.messageId = this.#nextMessageId(state);
    const result = state.client.send(packet);
    if (result.sent && packet.qos === 1) state.inflight.set(packet.messageId as number, delivery);
    return result;
  }

  /** Sends what waited for the acknowledgements that just came; the queued line was logged already. */
  #drainQueue(state: ClientState): void {
    const limit = inflightLimit(state.client);
    while (state.queue.length > 0 && state.inflight.size < limit && this.#clients.has(state.client)) {
      const delivery = state.queue.shift() as Delivery;
      state.client.outbound.release(delivery.bytes);
      if (!this.#unexpired(delivery.message)) continue;
      if (state.client.protocolVersion === 5) delivery.packet.properties = this.#properties(delivery.message);
      const result = this.#transmit(state, delivery);
      if (!result.sent) {
        const { message, filter, how } = delivery;
        this.#logReceive(state, message, filter, how, 'deny', `queued, then not sent: ${result.reason}`);
      }
    }
  }

  /** One `receive` line: a delivery to one subscriber, made or not, and why. */
  #logReceive(
    state: ClientState,
    message: Message,
    filter: string,
    how: DeliveryOptions,
    decision: 'allow' | 'deny',
    reason: string,
  ): void {
    const { client } = state;
    this.#log({
      event: 'receive',
      connectionId: client.connectionId,
      clientId: client.clientId,
      topic: message.topic,
      qos: how.qos,
      filter,
      ...(how.onSubscribe || message.fromClientId === undefined
        ? {}
        : { fromClientId: message.fromClientId }),
      ...(how.onSubscribe ? { retained: true as const } : {}),
      decision,
      reason,
    });
  }

  /** Packet ids 1..65535 in turn, skipping those still in flight. */
  #nextMessageId(state: ClientState): number {
    for (;;) {
      state.lastMessageId = (state.lastMessageId % 65_535) + 1;
      if (!state.inflight.has(state.lastMessageId)) return state.lastMessageId;
    }
  }

  /** The forwarded properties, with the Message Expiry Interval reduced by the time already spent here. */
  #properties(message: Message): NonNullable<IPublishPacket['properties']> {
    const remaining = this.#remainingSeconds(message);
    return {
      ...message.properties,
      ...(remaining === undefined ? {} : { messageExpiryInterval: remaining }),
    };
  }

  #remainingSeconds(message: Message): number | undefined {
    if (message.expirySeconds === undefined) return undefined;
    const elapsed = Math.floor((this.#clock.now() - message.receivedAt) / 1000);
    return message.expirySeconds - elapsed;
  }

  #unexpired(message: Message): boolean {
    const remaining = this.#remainingSeconds(message);
    return remaining === undefined || remaining > 0;
  }

  #joinGroup(state: ClientState, subscription: Subscription): void {
    const key = `${subscription.shareName}\u0000${subscription.match}`;
    let group = this.#shared.get(key);
    if (!group) {
      group = { members: [], next: 0 };
      this.#shared.set(key, group);
    }
    group.members.push(state);
  }

  #leaveGroup(state: ClientState, subscription: Subscription): void {
    if (subscription.shareName === undefined) return;
    const key = `${subscription.shareName}\u0000${subscription.match}`;
    const group = this.#shared.get(key);
    if (!group) return;
    const index = group.members.indexOf(state);
    if (index < 0) return;
    group.members.splice(index, 1);
    if (index < group.next) group.next -= 1;
    if (group.members.length === 0) this.#shared.delete(key);
  }
}
