import { formatReasonCode, isSuccessReasonCode, MQTT_REASON_CODES as RC } from '@iot-custom-auth/protocol';
import type {
  IPubackPacket,
  IPublishPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
} from 'mqtt-packet';
import { AWS_IOT_MQTT_LIMITS } from './aws-iot-mqtt-limits';
import { protocolError, type CloseRequest } from './close-request';
import type { GatewayLogEntryInput } from './gateway-log';
import type { ConnectedClient, MessageHandler, PacketOutcome } from './message-handler';
import type { MqttProtocolVersion } from './packet-framing';

/** What `MessagePackets` needs of the session it serves. */
export interface MessagePacketsSession {
  readonly client: ConnectedClient;
  readonly handler: MessageHandler;
  readonly log: (entry: GatewayLogEntryInput) => void;
  /** The level of the client's CONNECT: MQTT 3.1.1 acknowledges without reason codes. */
  readonly protocolVersion: MqttProtocolVersion;
  send(packet: Packet): void;
  /** Whether the session is still connected: it may have closed while the handler decided. */
  isConnected(): boolean;
  close(request: CloseRequest): void;
}

/**
 * PUBLISH, SUBSCRIBE, UNSUBSCRIBE and PUBACK of a connected client, with the MQTT mechanics AWS IoT Core
 * applies around the `MessageHandler`'s decisions: QoS 2 and subscription identifiers refused, topic
 * aliases resolved, PUBACK / SUBACK / UNSUBACK framed for the client's protocol level (an MQTT 3.1.1 client
 * whose QoS 1 PUBLISH is refused is disconnected), one log line per PUBLISH and per filter.
 */
export class MessagePackets {
  readonly #session: MessagePacketsSession;
  readonly #topicAliases = new Map<number, string>();

  constructor(session: MessagePacketsSession) {
    this.#session = session;
  }

  async publish(publish: IPublishPacket): Promise<void> {
    const { client, handler, log } = this.#session;
    if (publish.qos === 2) {
      return this.#session.close({
        cause: 'qos-not-supported',
        reasonCode: RC.qosNotSupported,
        reason: 'PUBLISH with QoS 2, which AWS IoT Core does not support',
      });
    }
    const payloadBytes =
      typeof publish.payload === 'string' ? Buffer.byteLength(publish.payload) : publish.payload.length;
    if (payloadBytes > AWS_IOT_MQTT_LIMITS.maxPayloadBytes) {
      // AWS IoT disconnects such a client: "CLIENT_ERROR ... if the client attempts to publish with a payload
      // that exceeds the payload limit" (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html),
      // reason PAYLOAD_LIMIT_EXCEEDED (https://docs.aws.amazon.com/iot/latest/developerguide/topicdata.html).
      // [choice] MQTT 5 DISCONNECT 0x95 (packet too large), the code MQTT has for it.
      return this.#session.close({
        cause: 'payload-too-large',
        reasonCode: RC.packetTooLarge,
        reason: `PAYLOAD_LIMIT_EXCEEDED: the PUBLISH to '${publish.topic}' has a ${payloadBytes}-byte payload; AWS IoT Core accepts at most ${AWS_IOT_MQTT_LIMITS.maxPayloadBytes} bytes (128 KB) and disconnects the client: send less or split the message`,
      });
    }
    if (publish.properties?.subscriptionIdentifier !== undefined) {
      // MQTT-3.3.4-6: only servers put subscription identifiers in a PUBLISH.
      return this.#session.close(protocolError('PUBLISH from a client with a subscription identifier'));
    }
    const topic = this.#resolveTopicAlias(publish);
    if (topic === undefined) return;
    const { topicAlias: _alias, ...properties } = publish.properties ?? {};
    const resolved: IPublishPacket = {
      ...publish,
      topic,
      ...(publish.properties ? { properties } : {}),
    };
    const outcome = await handler.onPublish(client, resolved);
    if (!this.#session.isConnected()) return;
    const allowed = isSuccessReasonCode(outcome.reasonCode);
    log({
      event: 'publish',
      connectionId: client.connectionId,
      clientId: client.clientId,
      topic,
      qos: publish.qos,
      decision: allowed ? 'allow' : 'deny',
      reasonCode: formatReasonCode(outcome.reasonCode, 'lower'),
      reasonCodeNumber: outcome.reasonCode,
      reason: outcome.reason,
      ...(!allowed && publish.qos === 0 ? { dropped: true as const } : {}),
    });
    if (publish.qos === 1) {
      if (this.#session.protocolVersion === 5) {
        this.#session.send({ cmd: 'puback', messageId: publish.messageId, reasonCode: outcome.reasonCode });
      } else if (allowed) {
        this.#session.send({ cmd: 'puback', messageId: publish.messageId });
      } else {
        // MQTT 3.1.1 has no PUBACK reason codes: AWS IoT closes the connection instead.
        this.#session.close({
          cause: outcome.reasonCode === RC.quotaExceeded ? 'throttled' : 'not-authorized',
          reason: `PUBLISH to '${topic}' refused: ${outcome.reason}`,
        });
      }
    }
  }

  async subscribe(subscribe: ISubscribePacket): Promise<void> {
    const { client, handler } = this.#session;
    if (subscribe.properties?.subscriptionIdentifier !== undefined) {
      return this.#session.close({
        cause: 'protocol-error',
        reasonCode: RC.subscriptionIdentifiersNotSupported,
        reason: 'SUBSCRIBE with a subscription identifier, which AWS IoT Core does not support',
      });
    }
    if (this.#session.protocolVersion !== 5 && subscribe.subscriptions.some((s) => s.qos === 2)) {
      return this.#ignoreQos2Subscribe(subscribe);
    }
    const outcomes = await handler.onSubscribe(client, subscribe);
    if (!this.#session.isConnected()) return;
    this.#logFilters(
      'subscribe',
      subscribe.subscriptions.map((s) => s.topic),
      outcomes,
    );
    this.#session.send({
      cmd: 'suback',
      messageId: subscribe.messageId as number,
      // MQTT 3.1.1 SUBACK knows only granted QoS or 0x80 (failure).
      granted: outcomes.map(({ reasonCode }) =>
        this.#session.protocolVersion === 5 || isSuccessReasonCode(reasonCode) ? reasonCode : 0x80,
      ),
    });
    handler.onSubscribed?.(client, subscribe, outcomes);
  }

  /**
   * An MQTT 3.1.1 SUBSCRIBE asking for QoS 2 on any filter: "When QoS level 2 is requested, the AWS IoT
   * message broker does not send a PUBACK or SUBACK"
   * (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences). [choice] AWS does not
   * say what becomes of the packet's other filters: none is subscribed, and the connection stays open. Each
   * filter gets a log line saying why no SUBACK came.
   */
  #ignoreQos2Subscribe(subscribe: ISubscribePacket): void {
    const reason =
      'MQTT 3.1.1 SUBSCRIBE asking for QoS 2: AWS IoT Core supports QoS 0 and 1 only and sends no SUBACK for it (nothing in this SUBSCRIBE is subscribed): subscribe at QoS 0 or 1';
    this.#logFilters(
      'subscribe',
      subscribe.subscriptions.map((s) => s.topic),
      subscribe.subscriptions.map(() => ({ reasonCode: RC.qosNotSupported, reason })),
    );
  }

  async unsubscribe(unsubscribe: IUnsubscribePacket): Promise<void> {
    const outcomes = await this.#session.handler.onUnsubscribe(this.#session.client, unsubscribe);
    if (!this.#session.isConnected()) return;
    this.#logFilters('unsubscribe', unsubscribe.unsubscriptions, outcomes);
    this.#session.send({
      cmd: 'unsuback',
      messageId: unsubscribe.messageId as number,
      granted: outcomes.map(({ reasonCode }) => reasonCode),
    });
  }

  /** The client acknowledged a QoS 1 delivery. */
  puback(puback: IPubackPacket): void {
    this.#session.handler.onPubAck?.(this.#session.client, puback);
  }

  /** The PUBLISH's topic with its alias applied; `undefined` after closing the connection for a bad alias. */
  #resolveTopicAlias(publish: IPublishPacket): string | undefined {
    const alias = this.#session.protocolVersion === 5 ? publish.properties?.topicAlias : undefined;
    if (alias === undefined) {
      if (publish.topic === '') {
        this.#session.close(protocolError('PUBLISH with an empty topic and no topic alias'));
      }
      return publish.topic === '' ? undefined : publish.topic;
    }
    if (alias < 1 || alias > AWS_IOT_MQTT_LIMITS.topicAliasMaximum) {
      this.#session.close({
        cause: 'protocol-error',
        reasonCode: RC.topicAliasInvalid,
        reason: `topic alias ${alias} is outside 1..${AWS_IOT_MQTT_LIMITS.topicAliasMaximum}`,
      });
      return undefined;
    }
    if (publish.topic !== '') {
      this.#topicAliases.set(alias, publish.topic);
      return publish.topic;
    }
    const topic = this.#topicAliases.get(alias);
    if (topic === undefined) {
      this.#session.close(protocolError(`topic alias ${alias} was used before being set`));
    }
    return topic;
  }

  /** One log line per filter; the handler must have decided each one. */
  #logFilters(
    event: 'subscribe' | 'unsubscribe',
    filters: readonly string[],
    outcomes: readonly PacketOutcome[],
  ): void {
    const { client, log } = this.#session;
    if (outcomes.length !== filters.length) {
      throw new Error(
        `the message handler returned ${outcomes.length} outcomes for ${filters.length} filters`,
      );
    }
    filters.forEach((topic, i) => {
      const outcome = outcomes[i] as PacketOutcome;
      log({
        event,
        connectionId: client.connectionId,
        clientId: client.clientId,
        topic,
        decision: isSuccessReasonCode(outcome.reasonCode) ? 'allow' : 'deny',
        reasonCode: formatReasonCode(outcome.reasonCode, 'lower'),
        reasonCodeNumber: outcome.reasonCode,
        reason: outcome.reason,
      });
    });
  }
}
