import type { Duplex } from 'node:stream';
import { formatReasonCode, MQTT_REASON_CODES as RC } from '@iot-custom-auth/protocol';
import type { IConnectPacket, Packet } from 'mqtt-packet';
import type { AuthorizedSession, ConnectAttempt, ConnectAuthorizer } from '../auth/connect-types';
import { protocolError, type CloseRequest } from './close-request';
import {
  acceptConnack,
  acceptedConnect,
  answerRefusal,
  authorizeAttempt,
  clientCertificateLogFields,
  connectAttempt,
  protocolVersionOf,
  refuseBeforeAuthorizer,
  type AcceptedConnect,
  type ConnectionInfo,
  type EarlyRefusal,
} from './connect-authorization';
import type { GatewayClock } from './gateway-clock';
import { errorMessage, type GatewayLogEntryInput } from './gateway-log';
import type { ConnectedClient, DeliveryResult, MessageHandler } from './message-handler';
import { MessagePackets } from './message-packets';
import {
  CONTROL_PACKET_HEADROOM_BYTES,
  describeOverLimit,
  OutboundAccounting,
  type ConnectionOutbound,
} from './outbound-accounting';
import { PacketStream } from './packet-stream';
import { AWS_IOT_MQTT_LIMITS } from './aws-iot-mqtt-limits';
import type { SessionRegistry } from './session-registry';
import { SessionTimers } from './session-timers';

/** Everything an `MqttSession` needs; the gateway supplies one per connection. */
export interface MqttSessionOptions {
  readonly stream: Duplex;
  readonly connection: ConnectionInfo;
  readonly authorizer: ConnectAuthorizer;
  readonly handler: MessageHandler;
  readonly registry: SessionRegistry<MqttSession>;
  readonly clock: GatewayClock;
  readonly log: (entry: GatewayLogEntryInput) => void;
  /** Time left, on `clock`, for the CONNECT packet to arrive. */
  readonly connectDeadlineMs: number;
  /**
   * Real milliseconds to wait for the peer to close after the gateway ended the stream, before destroying it.
   * @default 2000
   */
  readonly closeGraceMs?: number;
  /**
   * Where this connection's bytes waiting to be sent are counted, against the gateway's limits.
   * @default its own accounting with `OUTBOUND_DEFAULTS`
   */
  readonly outbound?: ConnectionOutbound;
}

type State = 'awaiting-connect' | 'authorizing' | 'connected' | 'closed';

function isQos1Publish(packet: Packet): boolean {
  return packet.cmd === 'publish' && packet.qos === 1;
}

/**
 * "Maximum inbound unacknowledged messages: The message broker allows 100 in-flight unacknowledged messages
 * per client" (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits), announced
 * to MQTT 5 clients as CONNACK Receive Maximum 100; one more before a PUBACK went out is MQTT 5's DISCONNECT
 * 0x93 (MQTT-3.3.4-9). An MQTT 3.1.1 client is told no limit: the gateway stops reading while it answers
 * what it has (AWS: "no new messages are accepted from this client until an ACK is returned").
 */
function receiveMaximumExceeded(): CloseRequest {
  const limit = AWS_IOT_MQTT_LIMITS.receiveMaximum;
  return {
    cause: 'protocol-error',
    reasonCode: RC.receiveMaximumExceeded,
    reason: `more than ${limit} QoS 1 PUBLISH packets were awaiting PUBACK: AWS IoT Core allows ${limit} in-flight unacknowledged messages per client (the CONNACK's Receive Maximum); wait for a PUBACK before sending more`,
  };
}

/**
 * One MQTT connection on a duplex byte stream (a TLS socket or a WebSocket stream), as AWS IoT Core's
 * device gateway runs it: CONNECT within a deadline, custom authorization, CONNACK with AWS IoT's properties,
 * keep alive, PINGREQ, DISCONNECT, session take-over, maximum connect time; PUBLISH / SUBSCRIBE go to the
 * `MessageHandler`.
 *
 * Untrusted input never throws out of this class: malformed bytes, oversized packets, packets out of order
 * and failures of the authorizer or the handler all end this one connection with a log line.
 *
 * MQTT 3.1.1 is accepted as AWS IoT accepts it: a refused 3.1.1 connection is closed without a CONNACK
 * (AWS IoT's behaviour), and there is no DISCONNECT packet to send it; MQTT 3.1 gets CONNACK return code 1.
 *
 * The session orchestrates: bytes and packets go through a `PacketStream`, deadlines run on
 * `SessionTimers`, what a CONNECT is answered comes from `connect-authorization`, client ids are held in
 * the gateway's `SessionRegistry`, and packets after CONNACK go through `MessagePackets`.
 *
 * A client that does not read what it is sent is handled as AWS IoT handles a client past a throttling
 * limit: deliveries that would pass the bytes the gateway may hold for it (`OutboundLimits`) are not sent, a
 * QoS 0 one is dropped (an `outbound-drop` line each), and the client is disconnected with DISCONNECT 0x97
 * (quota exceeded; cause `throttled`, AWS IoT's disconnectReason THROTTLED) when a QoS 1 one does not fit,
 * or once more QoS 0 bytes were dropped since it last took a delivery than it may have waiting. [choice]
 * AWS IoT documents the limits and the THROTTLED disconnect, not the queue behind them nor the reason code:
 * 0x97 is MQTT 5's code for a quota, 0x96 (message rate too high) names the client's own sending.
 */
export class MqttSession {
  readonly connectionId: string;
  /** Settles once the session has closed (the stream may still be finishing). */
  readonly closed: Promise<void>;

  readonly #options: MqttSessionOptions;
  readonly #packets: PacketStream;
  readonly #timers: SessionTimers;
  readonly #outbound: ConnectionOutbound;
  readonly #queue: Packet[] = [];
  #resolveClosed!: () => void;
  #state: State = 'awaiting-connect';
  #draining = false;
  #client: ConnectedClient | undefined;
  /** PUBLISH, SUBSCRIBE and UNSUBSCRIBE once connected. */
  #messages: MessagePackets | undefined;
  /** The CONNECT as the authorizer saw it: invoked again with it when the policy is refreshed. */
  #attempt: ConnectAttempt | undefined;
  /** What the authorizer granted; replaced by each successful refresh. */
  #authorized: AuthorizedSession | undefined;
  #connectedAt = 0;
  /** QoS 0 bytes dropped since the client last took a delivery. */
  #droppedBytes = 0;
  /** QoS 1 PUBLISH packets received and not answered yet (AWS IoT's inbound Receive Maximum). */
  #inboundUnacknowledged = 0;

  constructor(options: MqttSessionOptions) {
    this.#options = options;
    this.connectionId = options.connection.connectionId;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#outbound = options.outbound ?? new OutboundAccounting().open(this.connectionId);
    this.#packets = new PacketStream(
      options.stream,
      {
        onPacket: (packet) => this.#received(packet),
        // Malformed or oversized input: DISCONNECT with its reason code when connected (MQTT 5), else just close.
        onFramingError: (error) => this.close(error),
        onPeerGone: (streamError) => this.#onPeerGone(streamError),
        onSendFailed: (reason) => this.#logError(reason),
      },
      options.closeGraceMs ?? 2000,
      this.#outbound,
    );
    this.#timers = new SessionTimers(options.clock);
    this.#timers.startConnectDeadline(options.connectDeadlineMs, () => {
      if (this.#state === 'awaiting-connect') {
        this.close({
          cause: 'connect-timeout',
          reason: `no CONNECT within ${Math.round(options.connectDeadlineMs)} ms of the connection`,
        });
      }
    });
  }

  /** The client id in force once connected. */
  get clientId(): string | undefined {
    return this.#client?.clientId;
  }

  /** Ends the session because the gateway is shutting down (DISCONNECT 0x8B to MQTT 5 clients). */
  shutdown(): void {
    this.close({
      cause: 'server-shutdown',
      reasonCode: RC.serverShuttingDown,
      reason: 'the gateway is shutting down',
    });
  }

  /**
   * Ends the session: sends DISCONNECT with `reasonCode` when the client is a connected MQTT 5 client, logs
   * one `disconnect` line, ends the stream (destroying it if the peer does not close within the grace time).
   */
  close(request: CloseRequest): void {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'closed';
    this.#queue.length = 0;
    this.#timers.cancelAll();
    const client = this.#client;
    if (client) this.#options.registry.release(client.clientId, this);

    const disconnectSent =
      wasConnected &&
      !request.fromClient &&
      request.reasonCode !== undefined &&
      this.#packets.protocolVersion === 5 &&
      this.#packets.send({ cmd: 'disconnect', reasonCode: request.reasonCode });
    this.#options.log({
      event: 'disconnect',
      connectionId: this.connectionId,
      transport: this.#options.connection.transport,
      ...(client ? { clientId: client.clientId } : {}),
      cause: request.cause,
      ...(request.reasonCode === undefined
        ? {}
        : {
            reasonCode: formatReasonCode(request.reasonCode, 'lower'),
            reasonCodeNumber: request.reasonCode,
          }),
      disconnectSent,
      reason: request.reason,
      ...(wasConnected ? { connectedMs: Math.round(this.#options.clock.now() - this.#connectedAt) } : {}),
    });

    this.#packets.end();
    if (client) {
      try {
        this.#options.handler.onDisconnected?.(client, {
          cause: request.cause,
          publishWill: !(request.fromClient && request.reasonCode !== RC.disconnectWithWill),
          // A device whose policy refresh was refused is not let back into its session.
          keepSession: request.cause !== 'refresh-refused',
        });
      } catch (error) {
        this.#logError(`message handler onDisconnected failed: ${errorMessage(error)}`);
      }
    }
    this.#resolveClosed();
  }

  /** Ends the stream immediately, without waiting for the peer (gateway shutdown). */
  destroy(): void {
    this.#packets.destroy();
  }

  #received(packet: Packet): void {
    if (this.#state === 'closed') return;
    // The deadline is for the first packet; whether it is a CONNECT is checked in order, below.
    this.#timers.packetReceived();
    if (isQos1Publish(packet) && ++this.#inboundUnacknowledged > AWS_IOT_MQTT_LIMITS.receiveMaximum) {
      if (this.#packets.protocolVersion === 5) return this.close(receiveMaximumExceeded());
    }
    this.#queue.push(packet);
    void this.#drain();
  }

  /** Handles queued packets one at a time, so an asynchronous authorizer or handler keeps MQTT ordering. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#packets.pause();
    while (this.#queue.length > 0 && this.#state !== 'closed') {
      const packet = this.#queue.shift() as Packet;
      try {
        await this.#handle(packet);
        if (isQos1Publish(packet)) this.#inboundUnacknowledged -= 1;
      } catch (error) {
        this.#logError(`handling ${packet.cmd.toUpperCase()} failed: ${errorMessage(error)}`);
        this.close({
          cause: 'internal-error',
          reasonCode: RC.unspecifiedError,
          reason: `internal error while handling ${packet.cmd.toUpperCase()}`,
        });
      }
    }
    this.#draining = false;
    if (this.#state !== 'closed') this.#packets.resume();
  }

  async #handle(packet: Packet): Promise<void> {
    if (this.#state === 'awaiting-connect') {
      if (packet.cmd === 'connect') return this.#onConnect(packet);
      return this.close({
        cause: 'not-connect',
        reason: `the first packet was ${packet.cmd.toUpperCase()}, not CONNECT`,
      });
    }
    switch (packet.cmd) {
      case 'pingreq':
        this.#sendControl({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        return this.close({
          cause: 'client-disconnect',
          fromClient: true,
          reasonCode: packet.reasonCode ?? RC.success,
          reason: 'the client sent DISCONNECT',
        });
      case 'publish':
        return this.#connectedMessages().publish(packet);
      case 'subscribe':
        return this.#connectedMessages().subscribe(packet);
      case 'unsubscribe':
        return this.#connectedMessages().unsubscribe(packet);
      case 'puback':
        return this.#connectedMessages().puback(packet);
      case 'connect':
        return this.close(protocolError('a second CONNECT on the same connection'));
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        return this.close({
          cause: 'qos-not-supported',
          reasonCode: RC.qosNotSupported,
          reason: `${packet.cmd.toUpperCase()} belongs to QoS 2, which AWS IoT Core does not support`,
        });
      case 'auth':
        return this.close(protocolError('AUTH (enhanced authentication) is not supported by AWS IoT Core'));
      default:
        return this.close(protocolError(`${packet.cmd.toUpperCase()} is sent by servers, not clients`));
    }
  }

  async #onConnect(connect: IConnectPacket): Promise<void> {
    const { connection } = this.#options;
    const version = protocolVersionOf(connect);
    this.#packets.useProtocolVersion(version);
    const logBase = {
      event: 'connect' as const,
      connectionId: this.connectionId,
      transport: connection.transport,
      ...(connection.alpn ? { alpn: connection.alpn } : {}),
      ...(connection.serverName ? { serverName: connection.serverName } : {}),
      ...clientCertificateLogFields(connection),
      protocolVersion: version,
      ...(connect.clientId ? { clientId: connect.clientId } : {}),
    };

    const early = refuseBeforeAuthorizer(connect);
    if (early) return this.#refuseEarly(logBase, early);

    const attempt = connectAttempt(connect, connection);
    this.#state = 'authorizing';
    const decision = await authorizeAttempt(this.#options.authorizer, attempt);
    const decisionLog = {
      ...logBase,
      ...(decision.authorizerName ? { authorizer: decision.authorizerName } : {}),
      ...(decision.signature ? { signature: decision.signature } : {}),
      lambdaInvoked: decision.lambdaInvoked,
      ...(decision.lambdaDurationMs === undefined ? {} : { lambdaDurationMs: decision.lambdaDurationMs }),
      decision: decision.allowed ? ('allow' as const) : ('deny' as const),
      reasonCode: formatReasonCode(decision.reasonCode, 'lower'),
      reasonCodeNumber: decision.reasonCode,
      ...(decision.cause === undefined ? {} : { cause: decision.cause }),
      reason: decision.reason,
    };

    if (this.#isClosed()) {
      // The client (or the gateway) ended the connection while the authorizer ran: record the decision only.
      this.#options.log({ ...decisionLog, clientGone: true });
      return;
    }
    if (!decision.allowed || !decision.session) {
      this.#options.log(decisionLog);
      const refusal = answerRefusal(decision, version);
      if (refusal.connack) this.#sendControl(refusal.connack);
      return this.close({ cause: 'refused', reasonCode: decision.reasonCode, reason: refusal.reason });
    }

    const accepted = acceptedConnect(connect, attempt);
    const { clientId } = accepted;
    this.#attempt = attempt;
    this.#authorized = decision.session;
    this.#client = this.#connectedClient(connect, accepted);
    this.#messages = new MessagePackets({
      client: this.#client,
      handler: this.#options.handler,
      log: this.#options.log,
      protocolVersion: version,
      send: (packet) => this.#sendControl(packet),
      isConnected: () => this.#state === 'connected',
      close: (request) => this.close(request),
    });
    this.#options.log({
      ...decisionLog,
      ...(accepted.clientIdAssigned ? { assignedClientId: clientId } : {}),
    });

    const previous = this.#options.registry.claim(clientId, this);
    previous?.close({
      cause: 'taken-over',
      reasonCode: RC.sessionTakenOver,
      reason: `client id '${clientId}' connected again on connection ${this.connectionId}`,
    });

    this.#state = 'connected';
    this.#connectedAt = this.#options.clock.now();
    const sessionPresent = this.#options.handler.openSession?.(this.#client) ?? false;
    this.#sendControl(acceptConnack(connect, accepted, sessionPresent));
    this.#startConnectedTimers(accepted.keepAliveSeconds, decision.session);
    this.#options.handler.onConnected?.(this.#client);
  }

  #startConnectedTimers(keepAliveSeconds: number, session: AuthorizedSession): void {
    this.#timers.startKeepAlive(keepAliveSeconds, () =>
      this.close({
        cause: 'keep-alive-timeout',
        reasonCode: RC.keepAliveTimeout,
        reason: `no packet for 1.5 x the keep alive of ${keepAliveSeconds} s`,
      }),
    );
    // The lifetime is fixed at connect: refreshes replace the policy, never this timer.
    const lifetimeSeconds = session.disconnectAfterInSeconds;
    this.#timers.startLifetime(lifetimeSeconds, () =>
      this.close({
        cause: 'maximum-connect-time',
        reasonCode: RC.maximumConnectTime,
        reason: `disconnectAfterInSeconds (${lifetimeSeconds} s) from the authorizer has passed`,
      }),
    );
    this.#scheduleRefresh(session.refreshAfterInSeconds);
  }

  #scheduleRefresh(seconds: number): void {
    this.#timers.scheduleRefresh(seconds, () => void this.#refresh());
  }

  /**
   * `refreshAfterInSeconds` has passed: AWS IoT invokes the authorizer again and caches the new policy; "if
   * failures occur during custom authentication, AWS IoT Core terminates the connection". The same attempt
   * goes through the whole pipeline again (same event to the Lambda, response checks, `iot:Connect` for the
   * client id), so a Lambda that now denies, fails or returns a policy without `iot:Connect` ends the
   * connection. MQTT 5 has no DISCONNECT 0x86, so [choice] every refusal is DISCONNECT 0x87 (not
   * authorized), except 0x80 when the pipeline itself failed. Packets keep being handled under the old
   * policy while the Lambda runs.
   */
  async #refresh(): Promise<void> {
    const client = this.#client;
    const attempt = this.#attempt;
    if (this.#state !== 'connected' || !client || !attempt) return;
    const decision = await authorizeAttempt(this.#options.authorizer, attempt);
    if (this.#isClosed()) return;
    const allowed = decision.allowed && decision.session !== undefined;
    this.#options.log({
      event: 'refresh',
      connectionId: this.connectionId,
      clientId: client.clientId,
      ...(decision.authorizerName ? { authorizer: decision.authorizerName } : {}),
      lambdaInvoked: decision.lambdaInvoked,
      ...(decision.lambdaDurationMs === undefined ? {} : { lambdaDurationMs: decision.lambdaDurationMs }),
      decision: allowed ? 'allow' : 'deny',
      reason: decision.reason,
      ...(allowed && decision.session
        ? { refreshAfterInSeconds: decision.session.refreshAfterInSeconds }
        : {}),
    });
    if (!allowed || !decision.session) {
      const reasonCode = decision.reasonCode === RC.unspecifiedError ? RC.unspecifiedError : RC.notAuthorized;
      this.close({
        cause: 'refresh-refused',
        reasonCode,
        reason: `the policy refresh was refused (CONNACK would have been ${formatReasonCode(decision.reasonCode, 'lower')}): ${decision.reason}`,
      });
      return;
    }
    this.#authorized = decision.session;
    this.#scheduleRefresh(decision.session.refreshAfterInSeconds);
  }

  /** Answers a CONNECT that no authorizer may allow, without invoking one. */
  #refuseEarly(
    logBase: Omit<
      Extract<GatewayLogEntryInput, { event: 'connect' }>,
      'lambdaInvoked' | 'decision' | 'reasonCode' | 'reasonCodeNumber' | 'reason'
    >,
    refusal: EarlyRefusal,
  ): void {
    this.#sendControl(refusal.connack);
    this.#options.log({
      ...logBase,
      lambdaInvoked: false,
      decision: 'deny',
      reasonCode: formatReasonCode(refusal.reasonCode, 'lower'),
      reasonCodeNumber: refusal.reasonCode,
      reason: refusal.reason,
    });
    this.close({ cause: 'refused', reason: refusal.reason });
  }

  #connectedClient(connect: IConnectPacket, accepted: AcceptedConnect): ConnectedClient {
    const current = (): AuthorizedSession => this.#authorized as AuthorizedSession;
    return {
      connectionId: this.connectionId,
      clientId: accepted.clientId,
      clientIdAssigned: accepted.clientIdAssigned,
      cleanStart: accepted.cleanStart,
      sessionExpirySeconds: accepted.sessionExpirySeconds,
      protocolVersion: this.#packets.protocolVersion === 5 ? 5 : 4,
      transport: this.#options.connection.transport,
      ...(this.#options.connection.remoteAddress === undefined
        ? {}
        : { sourceIp: this.#options.connection.remoteAddress }),
      ...(this.#options.connection.serverName === undefined
        ? {}
        : { serverName: this.#options.connection.serverName }),
      get session() {
        return current();
      },
      ...(connect.will ? { will: connect.will } : {}),
      ...(connect.properties?.maximumPacketSize === undefined
        ? {}
        : { maximumPacketSize: connect.properties.maximumPacketSize }),
      ...(connect.properties?.receiveMaximum === undefined
        ? {}
        : { receiveMaximum: connect.properties.receiveMaximum }),
      outbound: this.#outbound,
      send: (packet) => this.#deliver(packet),
      disconnect: (reasonCode, reason) => this.close({ cause: 'handler', reasonCode, reason }),
    };
  }

  /**
   * A protocol packet (CONNACK, PINGRESP, acknowledgements): written whatever is held, since the protocol
   * needs it, but a client that piles them up without reading is disconnected.
   */
  #sendControl(packet: Packet): void {
    if (!this.#packets.send(packet) || this.#state !== 'connected') return;
    const { maxQueuedBytesPerConnection } = this.#outbound.limits;
    const cap = maxQueuedBytesPerConnection + CONTROL_PACKET_HEADROOM_BYTES;
    if (this.#packets.queuedBytes <= cap) return;
    this.close({
      cause: 'throttled',
      reasonCode: RC.quotaExceeded,
      reason: `the client is not reading what it is sent: ${this.#packets.queuedBytes} bytes wait for it, more than its limit of ${maxQueuedBytesPerConnection} plus ${CONTROL_PACKET_HEADROOM_BYTES} for acknowledgements`,
    });
  }

  /** A delivery from the handler: sent if the connection has room for it, else dropped or disconnected. */
  #deliver(packet: Packet): DeliveryResult {
    if (this.#state !== 'connected') return { sent: false, reason: 'the connection is closing' };
    const result = this.#packets.sendIfRoom(packet);
    if (result.sent) {
      this.#droppedBytes = 0;
      return result;
    }
    if (!result.over) return { sent: false, reason: result.problem };
    const { over, packetBytes } = result;
    const behind = `the client is not reading what it is sent: ${describeOverLimit(over, packetBytes)}`;
    const client = this.#client as ConnectedClient;
    if (packet.cmd !== 'publish' || packet.qos !== 0) {
      const reason = `${behind}; a QoS 1 message is not dropped, so the client is disconnected`;
      this.close({ cause: 'throttled', reasonCode: RC.quotaExceeded, reason });
      return { sent: false, reason };
    }
    this.#droppedBytes += packetBytes;
    const reason = `${behind}: dropped (QoS 0)`;
    this.#options.log({
      event: 'outbound-drop',
      connectionId: this.connectionId,
      clientId: client.clientId,
      topic: packet.topic,
      qos: 0,
      packetBytes,
      limit: over.limit,
      queuedBytes: over.queuedBytes,
      limitBytes: over.limitBytes,
      droppedBytes: this.#droppedBytes,
      reason,
    });
    const { maxQueuedBytesPerConnection } = this.#outbound.limits;
    if (this.#droppedBytes > maxQueuedBytesPerConnection) {
      this.close({
        cause: 'throttled',
        reasonCode: RC.quotaExceeded,
        reason: `the client fell too far behind: ${this.#droppedBytes} bytes of QoS 0 messages were dropped since it last took a delivery, more than the ${maxQueuedBytesPerConnection} bytes it may have waiting`,
      });
    }
    return { sent: false, reason };
  }

  /** Packets after CONNECT are handled only once connected, so the messages part exists by then. */
  #connectedMessages(): MessagePackets {
    return this.#messages as MessagePackets;
  }

  #onPeerGone(streamError: string | undefined): void {
    if (this.#state === 'closed') return;
    const how = streamError ? ` (${streamError})` : '';
    this.close({
      cause: 'connection-lost',
      reason:
        this.#state === 'connected'
          ? `the client closed the connection without DISCONNECT${how}`
          : `the client closed the connection before ${this.#state === 'authorizing' ? 'CONNACK' : 'CONNECT'}${how}`,
    });
  }

  /** A method rather than an inline test: the state changes across `await`, which narrowing cannot see. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #logError(reason: string): void {
    this.#options.log({ event: 'error', connectionId: this.connectionId, reason });
  }
}
