import { formatReasonCode, MQTT_REASON_CODES as RC } from '@iot-custom-auth/protocol';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type {
  ClientCertificateInfo,
  ConnectAttempt,
  ConnectAuthorizer,
  ConnectDecision,
  Transport,
} from '../auth/connect-types';
import { connectAttributesOf } from '../auth/policy-context';
import { AWS_IOT_MQTT_LIMITS, effectiveKeepAlive } from './aws-iot-mqtt-limits';
import { errorMessage } from './gateway-log';
import type { MqttProtocolVersion } from './packet-framing';

/**
 * What the gateway knows about the transport before MQTT starts: with the CONNECT's fields it makes the
 * `ConnectAttempt` the authorizer decides on.
 */
export interface ConnectionInfo {
  readonly connectionId: string;
  readonly transport: Transport;
  readonly alpn?: string;
  readonly serverName?: string;
  /** WebSockets only. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly queryString?: string;
  /** The peer's IP address, as the socket reports it. */
  readonly remoteAddress?: string;
  /** X.509 listener only: the verified client certificate. */
  readonly clientCertificate?: ClientCertificateInfo;
}

/** The protocol level a CONNECT asks for; mqtt-packet leaves it out for MQTT 3.1.1. */
export function protocolVersionOf(connect: IConnectPacket): MqttProtocolVersion {
  return connect.protocolVersion ?? 4;
}

/** A CONNECT the gateway refuses by itself, without asking the authorizer. */
export interface EarlyRefusal {
  /** The answer, in the return codes of the client's protocol level. */
  readonly connack: IConnackPacket;
  /** The MQTT 5 reason code for the same refusal, for the log. */
  readonly reasonCode: number;
  readonly reason: string;
}

/**
 * Refuses what no authorizer may allow: MQTT 3.1 (return code 1, "unacceptable protocol version"), and an
 * MQTT 3.1.1 CONNECT with an empty client id but no clean session (return code 2, "identifier rejected",
 * MQTT-3.1.3-8). `undefined` when the authorizer decides.
 */
export function refuseBeforeAuthorizer(connect: IConnectPacket): EarlyRefusal | undefined {
  const version = protocolVersionOf(connect);
  if (version === 3) {
    return {
      connack: { cmd: 'connack', returnCode: 1, sessionPresent: false },
      reasonCode: RC.unsupportedProtocolVersion,
      reason: 'MQTT 3.1 is not supported; use MQTT 5 or 3.1.1',
    };
  }
  if (version === 4 && connect.clientId === '' && !connect.clean) {
    return {
      connack: { cmd: 'connack', returnCode: 2, sessionPresent: false },
      reasonCode: RC.clientIdentifierNotValid,
      reason: 'MQTT 3.1.1 CONNECT with an empty client id must set clean session',
    };
  }
  return undefined;
}

/** The attempt the authorizer sees: the transport's facts and the CONNECT's credentials, as sent. */
export function connectAttempt(connect: IConnectPacket, connection: ConnectionInfo): ConnectAttempt {
  return {
    connectionId: connection.connectionId,
    transport: connection.transport,
    ...(connection.alpn ? { alpn: connection.alpn } : {}),
    ...(connection.serverName ? { serverName: connection.serverName } : {}),
    ...(connect.clientId ? { clientId: connect.clientId } : {}),
    ...(connect.username === undefined ? {} : { username: connect.username }),
    ...(connect.password === undefined ? {} : { password: connect.password }),
    ...(connection.headers ? { headers: connection.headers } : {}),
    ...(connection.queryString === undefined ? {} : { queryString: connection.queryString }),
    ...(connection.remoteAddress === undefined ? {} : { sourceIp: connection.remoteAddress }),
    connectAttributes: connectAttributesOf(connect),
    ...(connection.clientCertificate && { clientCertificate: connection.clientCertificate }),
  };
}

/** The connect log line's fields of an X.509 listener connection: none for the gateway's port. */
export function clientCertificateLogFields(connection: ConnectionInfo): {
  authentication?: 'CUSTOM_AUTH_X509';
  clientCertificateId?: string;
} {
  return connection.clientCertificate
    ? { authentication: 'CUSTOM_AUTH_X509', clientCertificateId: connection.clientCertificate.id }
    : {};
}

/**
 * Asks `authorizer` about `attempt`, at CONNECT and at each policy refresh. Never throws: a failing
 * authorizer becomes a 0x80 refusal, and so does a decision that would make a malformed CONNACK (an allow
 * without a session or with a non-zero reason code; a refusal code outside 0x80..0xFF).
 */
export async function authorizeAttempt(
  authorizer: ConnectAuthorizer,
  attempt: ConnectAttempt,
): Promise<ConnectDecision> {
  let decision: ConnectDecision;
  try {
    decision = await authorizer.authorize(attempt);
  } catch (error) {
    return internalRefusal(`the custom-auth pipeline failed: ${errorMessage(error)}`);
  }
  // The pipeline is trusted code, but a malformed decision must not produce a malformed CONNACK.
  if (decision.allowed && (decision.reasonCode !== RC.success || !decision.session)) {
    return internalRefusal(
      'the custom-auth pipeline allowed the connection without a session or with a non-zero reason code',
    );
  }
  if (
    !decision.allowed &&
    !(Number.isInteger(decision.reasonCode) && decision.reasonCode >= 0x80 && decision.reasonCode <= 0xff)
  ) {
    return {
      ...decision,
      reasonCode: RC.unspecifiedError,
      reason: `${decision.reason} (invalid refusal reason code ${decision.reasonCode} replaced by 0x80)`,
    };
  }
  return decision;
}

function internalRefusal(reason: string): ConnectDecision {
  return {
    allowed: false,
    reasonCode: RC.unspecifiedError,
    reason,
    signature: 'missing',
    lambdaInvoked: false,
  };
}

/** How the gateway answers a CONNECT the authorizer refused. */
export interface AuthorizerRefusal {
  /** MQTT 5 only: AWS IoT closes a refused MQTT 3.1.1 connection without a CONNACK. */
  readonly connack?: IConnackPacket;
  /** For the disconnect log line. */
  readonly reason: string;
}

/** The answer to a refused `decision` at `version`. */
export function answerRefusal(decision: ConnectDecision, version: MqttProtocolVersion): AuthorizerRefusal {
  if (version === 5) {
    return {
      connack: { cmd: 'connack', reasonCode: decision.reasonCode, sessionPresent: false },
      reason: `CONNACK ${formatReasonCode(decision.reasonCode, 'lower')}: ${decision.reason}`,
    };
  }
  return {
    reason: `MQTT 3.1.1 connection refused (closed without CONNACK, as AWS IoT does): ${decision.reason}`,
  };
}

/** The client id a session runs under, and the keep alive AWS IoT grants it. */
export interface AcceptedConnect {
  readonly clientId: string;
  /** The CONNECT had an empty client id: the gateway assigned `clientId` (and says so in the CONNACK). */
  readonly clientIdAssigned: boolean;
  readonly keepAliveSeconds: number;
  /** Clean Start (MQTT 5) / Clean Session (3.1.1): a stored session is discarded rather than resumed. */
  readonly cleanStart: boolean;
  /**
   * How long the session outlives the connection, in seconds; 0 for none. MQTT 3.1.1 Clean Session 0 gets
   * AWS IoT's persistent session expiry (1 hour by default); MQTT 5 its Session Expiry Interval capped at it.
   */
  readonly sessionExpirySeconds: number;
}

/** What an allowed CONNECT gets: an empty client id is replaced by the connection id. */
export function acceptedConnect(connect: IConnectPacket, attempt: ConnectAttempt): AcceptedConnect {
  return {
    clientId: attempt.clientId ?? attempt.connectionId,
    clientIdAssigned: attempt.clientId === undefined,
    keepAliveSeconds: effectiveKeepAlive(connect.keepalive ?? 0),
    cleanStart: connect.clean !== false,
    sessionExpirySeconds: sessionExpiryOf(connect),
  };
}

/** The session expiry AWS IoT grants a CONNECT (see `AcceptedConnect.sessionExpirySeconds`). */
function sessionExpiryOf(connect: IConnectPacket): number {
  const cap = AWS_IOT_MQTT_LIMITS.maxSessionExpirySeconds;
  if (protocolVersionOf(connect) !== 5) return connect.clean === false ? cap : 0;
  return Math.min(connect.properties?.sessionExpiryInterval ?? 0, cap);
}

/**
 * The CONNACK 0x00 of an allowed CONNECT: for MQTT 5 with AWS IoT's properties (limits, server keep alive,
 * assigned client id, session expiry when capped); return code 0 for MQTT 3.1.1.
 */
export function acceptConnack(
  connect: IConnectPacket,
  accepted: AcceptedConnect,
  sessionPresent = false,
): IConnackPacket {
  if (protocolVersionOf(connect) !== 5) return { cmd: 'connack', returnCode: 0, sessionPresent };
  const requestedExpiry = connect.properties?.sessionExpiryInterval ?? 0;
  return {
    cmd: 'connack',
    reasonCode: RC.success,
    sessionPresent,
    properties: {
      maximumQoS: 1,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: true,
      topicAliasMaximum: AWS_IOT_MQTT_LIMITS.topicAliasMaximum,
      maximumPacketSize: AWS_IOT_MQTT_LIMITS.maximumPacketSize,
      receiveMaximum: AWS_IOT_MQTT_LIMITS.receiveMaximum,
      serverKeepAlive: accepted.keepAliveSeconds,
      // Only sent when it changes what the client asked for (MQTT 5 3.2.2.3.2).
      ...(requestedExpiry > AWS_IOT_MQTT_LIMITS.maxSessionExpirySeconds
        ? { sessionExpiryInterval: AWS_IOT_MQTT_LIMITS.maxSessionExpirySeconds }
        : {}),
      ...(accepted.clientIdAssigned ? { assignedClientIdentifier: accepted.clientId } : {}),
    },
  };
}
