import { MQTT_REASON_CODES } from '@iot-custom-auth/protocol';
import type {
  IConnectPacket,
  IPubackPacket,
  IPublishPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
} from 'mqtt-packet';
import type { AuthorizedSession, Transport } from '../auth/connect-types';
import type { DisconnectCause } from './gateway-log';
import type { OutboundBudget } from './outbound-accounting';

/** What became of a delivery handed to `ConnectedClient.send`. */
export type DeliveryResult =
  | { readonly sent: true }
  /**
   * Not sent, `reason` says why: the connection is closing, or the client is too far behind (a QoS 0
   * message dropped; for QoS 1, or too many drops, the connection is closed with DISCONNECT 0x97).
   */
  | { readonly sent: false; readonly reason: string };

/** A client past CONNACK 0x00, as a message-routing component sees it. */
export interface ConnectedClient {
  readonly connectionId: string;
  /** The client id in force: as sent, or assigned by the gateway (then `clientIdAssigned` is true). */
  readonly clientId: string;
  readonly clientIdAssigned: boolean;
  /** 5, or 4 for MQTT 3.1.1. */
  readonly protocolVersion: 4 | 5;
  readonly transport: Transport;
  /** The device's IP address as the socket reports it (`aws:SourceIp`). */
  readonly sourceIp?: string;
  /** The TLS SNI the device connected with (`iot:DomainName`). */
  readonly serverName?: string;
  /**
   * What the authorizer granted: the policies to enforce on every PUBLISH, SUBSCRIBE and delivery. Read it
   * at each decision: it is replaced when `refreshAfterInSeconds` passes and the authorizer allows again.
   */
  readonly session: AuthorizedSession;
  /** Clean Start / Clean Session of the CONNECT: a stored session is discarded, not resumed. */
  readonly cleanStart: boolean;
  /** Seconds the session outlives this connection; 0 when it ends with it. */
  readonly sessionExpirySeconds: number;
  /** The CONNECT's will message, if any. */
  readonly will?: IConnectPacket['will'];
  /** The client's Maximum Packet Size (CONNECT property), if it set one. */
  readonly maximumPacketSize?: number;
  /** The client's Receive Maximum (CONNECT property): QoS 1 deliveries it accepts unacknowledged. */
  readonly receiveMaximum?: number;
  /**
   * What the gateway holds for this connection before it is sent; a handler that keeps deliveries waiting
   * (for the client's Receive Maximum) reserves their bytes here, so they count against the same limits.
   */
  readonly outbound: OutboundBudget;
  /**
   * Sends a delivery (a PUBLISH) to the client if the connection can take it: not once it is closing, and
   * not past the gateway's limits on bytes held for a client that does not read (see `DeliveryResult`).
   */
  send(packet: Packet): DeliveryResult;
  /** Sends DISCONNECT with `reasonCode` (MQTT 5) and closes the connection; `reason` goes to the log. */
  disconnect(reasonCode: number, reason: string): void;
}

/** How a connection ended, for `MessageHandler.onDisconnected`. */
export interface DisconnectInfo {
  readonly cause: DisconnectCause;
  /**
   * Whether the CONNECT's will message is due: every end except a client DISCONNECT with a reason code other
   * than 0x04 "disconnect with will message" (MQTT 5 3.1.2.5), a session take-over included.
   */
  readonly publishWill: boolean;
  /** Whether a persistent session may outlive this end: not when the authorizer refused the device. */
  readonly keepSession?: boolean;
}

/** The memory a message handler holds outside any one connection, as it accounts for it. */
export interface MessageHandlerMemoryUsage {
  readonly retainedMessages: number;
  /** Bytes of the retained messages as they are sent (topic, payload and properties). */
  readonly retainedBytes: number;
}

/** The result of a PUBLISH or of one SUBSCRIBE / UNSUBSCRIBE filter. */
export interface PacketOutcome {
  /** MQTT 5 reason code for the PUBACK / SUBACK / UNSUBACK entry (a granted QoS for a subscription). */
  readonly reasonCode: number;
  /** Plain-words reason for the log, e.g. "policy has no Allow for iot:Publish on topic/a/b". */
  readonly reason: string;
}

/**
 * What the gateway does with packets after CONNECT. The gateway handles the MQTT mechanics (ordering, topic
 * aliases, QoS 2 refusal, subscription identifiers, PUBACK/SUBACK framing, MQTT 3.1.1 differences, logging);
 * an implementation decides with the session's policies and routes messages.
 *
 * Calls for one connection never overlap: the next packet waits until the returned promise settles, so
 * acknowledgements go out in the order the packets came in, as MQTT requires.
 */
export interface MessageHandler {
  /**
   * Called once the connection is accepted, before its CONNACK: resumes the client id's stored session
   * unless `client.cleanStart`; returns whether one was resumed (CONNACK Session Present).
   */
  openSession?(client: ConnectedClient): boolean;
  /** Called after CONNACK 0x00. */
  onConnected?(client: ConnectedClient): void;
  /** A PUBLISH with QoS 0 or 1 and its topic alias resolved (`topic` set, no `topicAlias` property). */
  onPublish(client: ConnectedClient, publish: IPublishPacket): PacketOutcome | Promise<PacketOutcome>;
  /** One outcome per filter, in order. */
  onSubscribe(
    client: ConnectedClient,
    subscribe: ISubscribePacket,
  ): readonly PacketOutcome[] | Promise<readonly PacketOutcome[]>;
  /**
   * The SUBACK for `subscribe` has been sent with `outcomes`: the moment to send retained messages, which
   * must follow the SUBACK.
   */
  onSubscribed?(
    client: ConnectedClient,
    subscribe: ISubscribePacket,
    outcomes: readonly PacketOutcome[],
  ): void;
  /** One outcome per filter, in order. */
  onUnsubscribe(
    client: ConnectedClient,
    unsubscribe: IUnsubscribePacket,
  ): readonly PacketOutcome[] | Promise<readonly PacketOutcome[]>;
  /** The client acknowledged a QoS 1 delivery. */
  onPubAck?(client: ConnectedClient, puback: IPubackPacket): void;
  /** The connection ended, for whatever reason. */
  onDisconnected?(client: ConnectedClient, ended: DisconnectInfo): void;
  /** What it holds, for `Gateway.memoryUsage()`. */
  memoryUsage?(): MessageHandlerMemoryUsage;
}

const NO_BROKER =
  'this gateway routes no messages: it was started without a message broker (startGateway messageHandler)';

/**
 * `startGateway`'s default, which knows no account or region to evaluate topic policies in: every PUBLISH
 * and SUBSCRIBE is refused with 0x87 (QoS 1 PUBACK 0x87, SUBACK 0x87 per filter; QoS 0 is dropped and
 * logged), every UNSUBSCRIBE answered 0x11. `startLocalIot` uses a `MessageBroker` instead.
 */
export const refuseAllMessages: MessageHandler = {
  onPublish: () => ({ reasonCode: MQTT_REASON_CODES.notAuthorized, reason: NO_BROKER }),
  onSubscribe: (_client, subscribe) =>
    subscribe.subscriptions.map(() => ({ reasonCode: MQTT_REASON_CODES.notAuthorized, reason: NO_BROKER })),
  onUnsubscribe: (_client, unsubscribe) =>
    unsubscribe.unsubscriptions.map(() => ({
      reasonCode: MQTT_REASON_CODES.noSubscriptionExisted,
      reason: 'no subscriptions are kept without a message broker',
    })),
};
