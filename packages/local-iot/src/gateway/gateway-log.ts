import type { ConnectRefusalCause } from '@iot-custom-auth/protocol';
import type { ConnectDecision, Transport } from '../auth/connect-types';
import type { ClientCertificateRefusalCause } from './client-certificate-check';
import { stdoutLine } from '../logs/turn-batched-writer';

/**
 * The gateway's structured log: one JSON object per line. A developer reads here why a device was refused,
 * which AWS IoT itself makes hard. Entries never carry the password, the token, the signature, the MQTT
 * username (it holds the token and signature) or the HTTP query string.
 */
export type GatewayLogEntry =
  | ListeningLogEntry
  | TlsConnectionLogEntry
  | TlsRefusedLogEntry
  | HttpRefusedLogEntry
  | WebSocketUpgradeLogEntry
  | ConnectLogEntry
  | DisconnectLogEntry
  | MessageLogEntry
  | DeliveryLogEntry
  | OutboundDropLogEntry
  | RefreshLogEntry
  | HttpsPublishLogEntry
  | GatewayErrorLogEntry;

/** Receives every log entry; the gateway never lets an exception thrown here escape. */
export type GatewayLogSink = (entry: GatewayLogEntry) => void;

interface LogEntryBase {
  /** ISO 8601 wall-clock time. */
  readonly time: string;
}

/** The gateway accepts connections. */
export interface ListeningLogEntry extends LogEntryBase {
  readonly event: 'listening';
  /** `host:port` of every listening socket (`[::1]:8443` for IPv6). */
  readonly addresses: readonly string[];
  readonly port: number;
  readonly endpointHost: string;
  /** Set on the X.509 listener (the `CUSTOM_AUTH_X509` domain configuration's), absent on the gateway's port. */
  readonly authentication?: 'CUSTOM_AUTH_X509';
}

/** A TLS handshake completed with an accepted SNI. */
export interface TlsConnectionLogEntry extends LogEntryBase {
  readonly event: 'tls-connection';
  readonly connectionId: string;
  readonly remoteAddress?: string;
  /** Absent when the client sent no SNI (the HTTP side then needs a Host header naming the endpoint). */
  readonly serverName?: string;
  /** Negotiated ALPN protocol; absent when the client offered none. */
  readonly alpn?: string;
  /** What the gateway does next: MQTT on the TLS stream, or HTTP (WebSocket upgrade). */
  readonly route: 'mqtt' | 'http';
  /** X.509 listener only: the client certificate was verified against the stack's registered certificates. */
  readonly authentication?: 'CUSTOM_AUTH_X509';
  /** The verified client certificate's id (lower-case hex SHA-256 of its DER). */
  readonly clientCertificateId?: string;
}

/** A TLS connection refused before any MQTT or HTTP: wrong or missing SNI, failed handshake. */
export interface TlsRefusedLogEntry extends LogEntryBase {
  readonly event: 'tls-refused';
  readonly connectionId?: string;
  readonly remoteAddress?: string;
  readonly serverName?: string;
  /** X.509 listener only: why the client certificate was refused, before any authorizer ran. */
  readonly cause?: ClientCertificateRefusalCause;
  /** The refused certificate's id, when the client sent one. */
  readonly clientCertificateId?: string;
  readonly reason: string;
}

/** An HTTP request on the TLS port that is not a valid MQTT WebSocket upgrade, or bytes that are not HTTP. */
export interface HttpRefusedLogEntry extends LogEntryBase {
  readonly event: 'http-refused';
  readonly connectionId: string;
  readonly method?: string;
  /** Request path without its query string (which may hold a token). */
  readonly path?: string;
  /** HTTP status sent; absent when the connection was closed without a response. */
  readonly status?: number;
  readonly reason: string;
}

/** An HTTP upgrade on `/mqtt` was accepted: MQTT over WebSockets follows on this connection. */
export interface WebSocketUpgradeLogEntry extends LogEntryBase {
  readonly event: 'websocket-upgrade';
  readonly connectionId: string;
  readonly path: string;
  readonly subprotocol: string;
  readonly alpn?: string;
}

/** The decision on an MQTT CONNECT: one line per connection attempt. */
export interface ConnectLogEntry extends LogEntryBase {
  readonly event: 'connect';
  readonly connectionId: string;
  readonly transport: Transport;
  readonly alpn?: string;
  readonly serverName?: string;
  /**
   * `CUSTOM_AUTH_X509` on the X.509 listener, where a registered client certificate was verified before the
   * authorizer ran; absent on the gateway's port (custom authentication without a client certificate).
   */
  readonly authentication?: 'CUSTOM_AUTH_X509';
  /** The verified client certificate's id (X.509 listener only). */
  readonly clientCertificateId?: string;
  /** MQTT protocol level of the CONNECT: 5, 4 (3.1.1) or 3 (3.1). */
  readonly protocolVersion: number;
  /** Client id as sent; absent when the CONNECT had none. */
  readonly clientId?: string;
  /** Client id the gateway assigned (allowed connections without one). */
  readonly assignedClientId?: string;
  readonly authorizer?: string;
  readonly signature?: ConnectDecision['signature'];
  readonly lambdaInvoked: boolean;
  readonly lambdaDurationMs?: number;
  readonly decision: 'allow' | 'deny';
  /** `0x87`: the MQTT 5 CONNACK reason code (MQTT 3.1.1 clients are sent none on refusal: they see a close). */
  readonly reasonCode: string;
  readonly reasonCodeNumber: number;
  /**
   * A refusal's row of protocol's `CONNECT_REFUSALS` (`SIGNATURE_INVALID`, `LAMBDA_TIMEOUT`...), set by the
   * custom-auth pipeline: what to filter on, where `reason` is the sentence to read.
   */
  readonly cause?: ConnectRefusalCause;
  readonly reason: string;
  /** Set when the client had gone before the decision arrived: nothing was sent. */
  readonly clientGone?: true;
}

/** Why a connection ended. */
export type DisconnectCause =
  | 'client-disconnect'
  | 'connection-lost'
  | 'connect-timeout'
  | 'not-connect'
  | 'malformed-packet'
  | 'packet-too-large'
  /** A PUBLISH payload over AWS IoT's 128 KB (lifecycle `disconnectReason` CLIENT_ERROR). */
  | 'payload-too-large'
  | 'protocol-error'
  | 'refused'
  | 'keep-alive-timeout'
  | 'taken-over'
  | 'maximum-connect-time'
  | 'qos-not-supported'
  | 'not-authorized'
  | 'server-shutdown'
  | 'internal-error'
  | 'refresh-refused'
  /**
   * The client exceeded a throttling limit or quota (AWS IoT's lifecycle `disconnectReason` THROTTLED): it
   * fell too far behind reading what it is sent (DISCONNECT 0x97), or a quota refused a QoS 1 PUBLISH of an
   * MQTT 3.1.1 client, which has no PUBACK reason code to be told with.
   */
  | 'throttled'
  | 'handler';

/** A connection ended (after the TLS handshake); one line per connection. */
export interface DisconnectLogEntry extends LogEntryBase {
  readonly event: 'disconnect';
  readonly connectionId: string;
  readonly transport: Transport;
  readonly clientId?: string;
  readonly cause: DisconnectCause;
  /** DISCONNECT reason code sent by the gateway, or received from the client. */
  readonly reasonCode?: string;
  readonly reasonCodeNumber?: number;
  /** Whether the gateway sent a DISCONNECT packet (MQTT 5, connected clients only). */
  readonly disconnectSent: boolean;
  readonly reason: string;
  /** How long the client was connected (from CONNACK), when it was. */
  readonly connectedMs?: number;
}

/** One HTTPS publish request (`POST /topics/<topic>`) and its answer. */
export interface HttpsPublishLogEntry extends LogEntryBase {
  readonly event: 'https-publish';
  /** The TLS connection it came on. */
  readonly connectionId: string;
  readonly method: string;
  /** Absent when the request named no valid topic. */
  readonly topic?: string;
  readonly qos?: 0 | 1;
  readonly authorizer?: string;
  readonly signature?: ConnectDecision['signature'];
  readonly lambdaInvoked?: boolean;
  readonly lambdaDurationMs?: number;
  /** The authorization was reused from an earlier request on this connection (`EnableCachingForHttp`). */
  readonly cached?: true;
  /** Absent when the request was refused before custom authentication. */
  readonly decision?: 'allow' | 'deny';
  /** HTTP status answered. */
  readonly status: number;
  readonly reason: string;
}

/** The outcome of a PUBLISH, or of one filter of a SUBSCRIBE / UNSUBSCRIBE. */
export interface MessageLogEntry extends LogEntryBase {
  readonly event: 'publish' | 'subscribe' | 'unsubscribe';
  readonly connectionId: string;
  readonly clientId: string;
  /** Topic of a PUBLISH, or the filter. */
  readonly topic: string;
  readonly qos?: number;
  readonly decision: 'allow' | 'deny';
  readonly reasonCode: string;
  readonly reasonCodeNumber: number;
  readonly reason: string;
  /** QoS 0 PUBLISH refused: there is no PUBACK to carry the reason code, the message is dropped. */
  readonly dropped?: true;
  /** The client's will message, published by the gateway when the connection ended. */
  readonly will?: true;
}

/**
 * A message routed to a subscriber: delivered, or not (refused by `iot:Receive`, too large for the client,
 * or the client's queue is full). One line per subscriber, so a developer sees why a device got nothing.
 */
export interface DeliveryLogEntry extends LogEntryBase {
  readonly event: 'receive';
  /** The receiving connection. */
  readonly connectionId: string;
  readonly clientId: string;
  readonly topic: string;
  /** QoS of the delivery: the lower of the PUBLISH's and the subscription's. */
  readonly qos: number;
  /** The subscription (topic filter as subscribed, `$share/...` included) that matched. */
  readonly filter: string;
  /** The publisher's client id, absent for a retained message delivered on subscribe. */
  readonly fromClientId?: string;
  /** A retained message sent because of a new subscription. */
  readonly retained?: true;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
}

/**
 * A QoS 0 message the gateway did not send because the client is not reading what it is sent: the bytes
 * waiting for this connection (or for the whole gateway) would pass their limit. One line per message.
 */
export interface OutboundDropLogEntry extends LogEntryBase {
  readonly event: 'outbound-drop';
  readonly connectionId: string;
  readonly clientId: string;
  readonly topic: string;
  readonly qos: 0;
  /** Size of the PUBLISH that was dropped. */
  readonly packetBytes: number;
  /** Which limit it would have passed. */
  readonly limit: 'connection' | 'gateway';
  /** Bytes already waiting under that limit. */
  readonly queuedBytes: number;
  readonly limitBytes: number;
  /** Bytes dropped for this connection since it last took a delivery, this one included. */
  readonly droppedBytes: number;
  readonly reason: string;
}

/**
 * The authorizer was invoked again because `refreshAfterInSeconds` passed: the cached policy was replaced
 * (allow), or the connection is closed (deny).
 */
export interface RefreshLogEntry extends LogEntryBase {
  readonly event: 'refresh';
  readonly connectionId: string;
  readonly clientId: string;
  readonly authorizer?: string;
  readonly lambdaInvoked: boolean;
  readonly lambdaDurationMs?: number;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  /** When the next refresh is due (allow only). */
  readonly refreshAfterInSeconds?: number;
}

/** Something failed inside the gateway; the connection concerned is closed, the gateway keeps running. */
export interface GatewayErrorLogEntry extends LogEntryBase {
  readonly event: 'error';
  readonly connectionId?: string;
  readonly reason: string;
}

/** Writes each entry as one JSON line to standard output (the default sink), batched per event-loop turn. */
export const stdoutLogSink: GatewayLogSink = (entry) => stdoutLine(JSON.stringify(entry));

/** Entry without `time`, for the distributive `Omit` below. */
export type GatewayLogEntryInput = GatewayLogEntry extends infer E
  ? E extends GatewayLogEntry
    ? Omit<E, 'time'>
    : never
  : never;

/** Wraps a sink: stamps the time, and swallows a failing sink so logging never breaks a connection. */
export function createLogger(sink: GatewayLogSink): (entry: GatewayLogEntryInput) => void {
  return (entry) => {
    try {
      sink({ time: new Date().toISOString(), ...entry });
    } catch {
      // A broken sink must not take connections down with it; there is nowhere else to report it.
    }
  };
}

/** The message of an unknown thrown value, for log lines. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
