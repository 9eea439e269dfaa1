import type { Duplex } from 'node:stream';
import {
  generate,
  parser as createParser,
  type IConnackPacket,
  type IConnectPacket,
  type IPublishPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
} from 'mqtt-packet';
import type {
  AuthorizedSession,
  ConnectAttempt,
  ConnectAuthorizer,
  ConnectDecision,
  Transport,
} from '../auth/connect-types';
import type { ClockTimer, GatewayClock } from './gateway-clock';
import { errorMessage, type DisconnectCause, type GatewayLogEntryInput } from './gateway-log';
import type { ConnectedClient, MessageHandler, PacketOutcome } from './message-handler';
import { formatReasonCode, MQTT_REASON_CODES as RC } from './mqtt-reason-codes';

/** AWS IoT Core's MQTT limits and CONNACK values (spec section 5). */
export const AWS_IOT_MQTT_LIMITS = {
  minKeepAliveSeconds: 30,
  maxKeepAliveSeconds: 1200,
  /** A CONNECT keep alive of 0 (no keep alive) gets AWS IoT's default, the maximum. */
  defaultKeepAliveSeconds: 1200,
  maxSessionExpirySeconds: 3600,
  maximumPacketSize: 131_072,
  topicAliasMaximum: 8,
} as const;

/** What the gateway knows about the transport before MQTT starts. */
export interface ConnectionInfo {
  readonly connectionId: string;
  readonly transport: Transport;
  readonly alpn?: string;
  readonly serverName?: string;
  /** WebSockets only. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly queryString?: string;
}

/** Who holds which client id; a newer connection with the same id takes the session over. */
export class SessionRegistry {
  readonly #byClientId = new Map<string, MqttSession>();

  /** Makes `session` the holder of `clientId`; returns the previous holder, if any. */
  claim(clientId: string, session: MqttSession): MqttSession | undefined {
    const previous = this.#byClientId.get(clientId);
    this.#byClientId.set(clientId, session);
    return previous === session ? undefined : previous;
  }

  /** Forgets `clientId` if `session` still holds it (a taken-over session must not evict its successor). */
  release(clientId: string, session: MqttSession): void {
    if (this.#byClientId.get(clientId) === session) this.#byClientId.delete(clientId);
  }

  /** The connected session holding `clientId`. */
  get(clientId: string): MqttSession | undefined {
    return this.#byClientId.get(clientId);
  }

  get size(): number {
    return this.#byClientId.size;
  }
}

/** Everything an `MqttSession` needs; the gateway supplies one per connection. */
export interface MqttSessionOptions {
  readonly stream: Duplex;
  readonly connection: ConnectionInfo;
  readonly authorizer: ConnectAuthorizer;
  readonly handler: MessageHandler;
  readonly registry: SessionRegistry;
  readonly clock: GatewayClock;
  readonly log: (entry: GatewayLogEntryInput) => void;
  /** Time left, on `clock`, for the CONNECT packet to arrive. */
  readonly connectDeadlineMs: number;
  /**
   * Real milliseconds to wait for the peer to close after the gateway ended the stream, before destroying it.
   * @default 2000
   */
  readonly closeGraceMs?: number;
}

type State = 'awaiting-connect' | 'authorizing' | 'connected' | 'closed';

interface CloseRequest {
  readonly cause: DisconnectCause;
  readonly reason: string;
  /** Reason code to send in a DISCONNECT (MQTT 5 connected sessions only) and to log. */
  readonly reasonCode?: number;
  /** The client sent the DISCONNECT; nothing is sent back. */
  readonly fromClient?: boolean;
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
 */
export class MqttSession {
  readonly connectionId: string;
  /** Settles once the session has closed (the stream may still be finishing). */
  readonly closed: Promise<void>;

  readonly #options: MqttSessionOptions;
  readonly #stream: Duplex;
  readonly #parser = createParser({ protocolVersion: 5 });
  readonly #framer = new PacketFramer(AWS_IOT_MQTT_LIMITS.maximumPacketSize);
  readonly #queue: Packet[] = [];
  readonly #topicAliases = new Map<number, string>();
  #resolveClosed!: () => void;
  #state: State = 'awaiting-connect';
  #draining = false;
  #protocolVersion: 3 | 4 | 5 = 5;
  #client: ConnectedClient | undefined;
  /** The CONNECT as the authorizer saw it: invoked again with it when the policy is refreshed. */
  #attempt: ConnectAttempt | undefined;
  /** What the authorizer granted; replaced by each successful refresh. */
  #authorized: AuthorizedSession | undefined;
  #connectedAt = 0;
  #lastPacketAt = 0;
  #keepAliveMs = 0;
  #connectTimer: ClockTimer | undefined;
  #keepAliveTimer: ClockTimer | undefined;
  #maxConnectTimer: ClockTimer | undefined;
  #refreshTimer: ClockTimer | undefined;
  #destroyTimer: NodeJS.Timeout | undefined;
  #streamError: string | undefined;

  constructor(options: MqttSessionOptions) {
    this.#options = options;
    this.#stream = options.stream;
    this.connectionId = options.connection.connectionId;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));

    this.#parser.on('packet', (packet) => this.#received(packet));
    this.#parser.on('error', (error: unknown) =>
      this.#closeForBadInput(
        'malformed-packet',
        RC.malformedPacket,
        `malformed packet: ${errorMessage(error)}`,
      ),
    );
    this.#stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#stream.on('error', (error: NodeJS.ErrnoException) => {
      this.#streamError = error.code ?? error.message;
    });
    this.#stream.on('end', () => this.#onPeerGone());
    this.#stream.on('close', () => {
      clearTimeout(this.#destroyTimer);
      this.#onPeerGone();
    });

    this.#connectTimer = options.clock.setTimer(() => {
      if (this.#state === 'awaiting-connect') {
        this.close({
          cause: 'connect-timeout',
          reason: `no CONNECT within ${Math.round(options.connectDeadlineMs)} ms of the connection`,
        });
      }
    }, options.connectDeadlineMs);
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
    this.#connectTimer?.cancel();
    this.#keepAliveTimer?.cancel();
    this.#maxConnectTimer?.cancel();
    this.#refreshTimer?.cancel();
    const client = this.#client;
    if (client) this.#options.registry.release(client.clientId, this);

    const disconnectSent =
      wasConnected &&
      !request.fromClient &&
      request.reasonCode !== undefined &&
      this.#protocolVersion === 5 &&
      this.#send({ cmd: 'disconnect', reasonCode: request.reasonCode });
    this.#options.log({
      event: 'disconnect',
      connectionId: this.connectionId,
      transport: this.#options.connection.transport,
      ...(client ? { clientId: client.clientId } : {}),
      cause: request.cause,
      ...(request.reasonCode === undefined
        ? {}
        : { reasonCode: formatReasonCode(request.reasonCode), reasonCodeNumber: request.reasonCode }),
      disconnectSent,
      reason: request.reason,
      ...(wasConnected ? { connectedMs: Math.round(this.#options.clock.now() - this.#connectedAt) } : {}),
    });

    if (!this.#stream.destroyed) {
      this.#stream.end();
      // Read (and ignore) whatever still arrives, so the peer's close is seen and the stream can finish.
      this.#stream.resume();
      // A peer that never closes its side must not pin the connection forever.
      this.#destroyTimer = setTimeout(
        () => this.#stream.destroy(),
        this.#options.closeGraceMs ?? 2000,
      ).unref();
    }
    if (client) {
      try {
        this.#options.handler.onDisconnected?.(client, {
          cause: request.cause,
          publishWill: !(request.fromClient && request.reasonCode !== RC.disconnectWithWill),
        });
      } catch (error) {
        this.#logError(`message handler onDisconnected failed: ${errorMessage(error)}`);
      }
    }
    this.#resolveClosed();
  }

  /** Ends the stream immediately, without waiting for the peer (gateway shutdown). */
  destroy(): void {
    clearTimeout(this.#destroyTimer);
    this.#stream.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    const tooLarge = this.#framer.push(chunk);
    if (tooLarge !== undefined) {
      this.#closeForBadInput(
        'packet-too-large',
        RC.packetTooLarge,
        `a ${tooLarge}-byte packet exceeds the maximum packet size of ${AWS_IOT_MQTT_LIMITS.maximumPacketSize} bytes`,
      );
      return;
    }
    try {
      this.#parser.parse(chunk);
    } catch (error) {
      this.#closeForBadInput(
        'malformed-packet',
        RC.malformedPacket,
        `malformed packet: ${errorMessage(error)}`,
      );
    }
  }

  #received(packet: Packet): void {
    if (this.#state === 'closed') return;
    this.#lastPacketAt = this.#options.clock.now();
    // The deadline is for the first packet; whether it is a CONNECT is checked in order, below.
    this.#connectTimer?.cancel();
    this.#queue.push(packet);
    void this.#drain();
  }

  /** Handles queued packets one at a time, so an asynchronous authorizer or handler keeps MQTT ordering. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#stream.pause();
    while (this.#queue.length > 0 && this.#state !== 'closed') {
      const packet = this.#queue.shift() as Packet;
      try {
        await this.#handle(packet);
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
    if (this.#state !== 'closed') this.#stream.resume();
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
        this.#send({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        return this.close({
          cause: 'client-disconnect',
          fromClient: true,
          reasonCode: packet.reasonCode ?? RC.success,
          reason: 'the client sent DISCONNECT',
        });
      case 'publish':
        return this.#onPublish(packet);
      case 'subscribe':
        return this.#onSubscribe(packet);
      case 'unsubscribe':
        return this.#onUnsubscribe(packet);
      case 'puback':
        this.#options.handler.onPubAck?.(this.#client as ConnectedClient, packet);
        return;
      case 'connect':
        return this.#protocolError('a second CONNECT on the same connection');
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        return this.close({
          cause: 'qos-not-supported',
          reasonCode: RC.qosNotSupported,
          reason: `${packet.cmd.toUpperCase()} belongs to QoS 2, which AWS IoT Core does not support`,
        });
      case 'auth':
        return this.#protocolError('AUTH (enhanced authentication) is not supported by AWS IoT Core');
      default:
        return this.#protocolError(`${packet.cmd.toUpperCase()} is sent by servers, not clients`);
    }
  }

  async #onConnect(connect: IConnectPacket): Promise<void> {
    const { connection } = this.#options;
    const version = connect.protocolVersion ?? 4;
    this.#protocolVersion = version;
    const logBase = {
      event: 'connect' as const,
      connectionId: this.connectionId,
      transport: connection.transport,
      ...(connection.alpn ? { alpn: connection.alpn } : {}),
      ...(connection.serverName ? { serverName: connection.serverName } : {}),
      protocolVersion: version,
      ...(connect.clientId ? { clientId: connect.clientId } : {}),
    };

    if (version === 3) {
      // MQTT 3.1 has no reason codes; return code 1 is "unacceptable protocol version".
      this.#send({ cmd: 'connack', returnCode: 1, sessionPresent: false });
      return this.#refuseWithoutAuthorizer(
        logBase,
        RC.unsupportedProtocolVersion,
        'MQTT 3.1 is not supported; use MQTT 5 or 3.1.1',
      );
    }
    if (version === 4 && connect.clientId === '' && !connect.clean) {
      // MQTT-3.1.3-8: an empty client id needs a clean session; return code 2 is "identifier rejected".
      this.#send({ cmd: 'connack', returnCode: 2, sessionPresent: false });
      return this.#refuseWithoutAuthorizer(
        logBase,
        RC.clientIdentifierNotValid,
        'MQTT 3.1.1 CONNECT with an empty client id must set clean session',
      );
    }

    const attempt: ConnectAttempt = {
      connectionId: this.connectionId,
      transport: connection.transport,
      ...(connection.alpn ? { alpn: connection.alpn } : {}),
      ...(connection.serverName ? { serverName: connection.serverName } : {}),
      ...(connect.clientId ? { clientId: connect.clientId } : {}),
      ...(connect.username === undefined ? {} : { username: connect.username }),
      ...(connect.password === undefined ? {} : { password: connect.password }),
      ...(connection.headers ? { headers: connection.headers } : {}),
      ...(connection.queryString === undefined ? {} : { queryString: connection.queryString }),
    };
    this.#state = 'authorizing';
    const decision = await this.#authorize(attempt);
    const decisionLog = {
      ...logBase,
      ...(decision.authorizerName ? { authorizer: decision.authorizerName } : {}),
      ...(decision.signature ? { signature: decision.signature } : {}),
      lambdaInvoked: decision.lambdaInvoked,
      ...(decision.lambdaDurationMs === undefined ? {} : { lambdaDurationMs: decision.lambdaDurationMs }),
      decision: decision.allowed ? ('allow' as const) : ('deny' as const),
      reasonCode: formatReasonCode(decision.reasonCode),
      reasonCodeNumber: decision.reasonCode,
      reason: decision.reason,
    };

    if (this.#isClosed()) {
      // The client (or the gateway) ended the connection while the authorizer ran: record the decision only.
      this.#options.log({ ...decisionLog, clientGone: true });
      return;
    }
    if (!decision.allowed || !decision.session) {
      this.#options.log(decisionLog);
      if (version === 5) {
        this.#send({ cmd: 'connack', reasonCode: decision.reasonCode, sessionPresent: false });
      }
      return this.close({
        cause: 'refused',
        reasonCode: decision.reasonCode,
        reason:
          version === 5
            ? `CONNACK ${formatReasonCode(decision.reasonCode)}: ${decision.reason}`
            : `MQTT 3.1.1 connection refused (closed without CONNACK, as AWS IoT does): ${decision.reason}`,
      });
    }

    const assigned = attempt.clientId === undefined;
    const clientId = attempt.clientId ?? this.connectionId;
    const keepAliveSeconds = effectiveKeepAlive(connect.keepalive ?? 0);
    this.#keepAliveMs = keepAliveSeconds * 1000;
    this.#attempt = attempt;
    this.#authorized = decision.session;
    this.#client = this.#connectedClient(connect, clientId, assigned);
    this.#options.log({ ...decisionLog, ...(assigned ? { assignedClientId: clientId } : {}) });

    const previous = this.#options.registry.claim(clientId, this);
    previous?.close({
      cause: 'taken-over',
      reasonCode: RC.sessionTakenOver,
      reason: `client id '${clientId}' connected again on connection ${this.connectionId}`,
    });

    this.#state = 'connected';
    this.#connectedAt = this.#options.clock.now();
    this.#send(
      version === 5
        ? this.#successConnack(connect, clientId, assigned, keepAliveSeconds)
        : {
            cmd: 'connack',
            returnCode: 0,
            sessionPresent: false,
          },
    );
    this.#armKeepAlive();
    // The lifetime is fixed at connect: refreshes replace the policy, never this timer.
    const lifetimeSeconds = decision.session.disconnectAfterInSeconds;
    this.#maxConnectTimer = this.#options.clock.setTimer(
      () =>
        this.close({
          cause: 'maximum-connect-time',
          reasonCode: RC.maximumConnectTime,
          reason: `disconnectAfterInSeconds (${lifetimeSeconds} s) from the authorizer has passed`,
        }),
      lifetimeSeconds * 1000,
    );
    this.#armRefresh(decision.session.refreshAfterInSeconds);
    this.#options.handler.onConnected?.(this.#client);
  }

  #armRefresh(seconds: number): void {
    this.#refreshTimer = this.#options.clock.setTimer(() => void this.#refresh(), seconds * 1000);
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
    const decision = await this.#authorize(attempt);
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
        reason: `the policy refresh was refused (CONNACK would have been ${formatReasonCode(decision.reasonCode)}): ${decision.reason}`,
      });
      return;
    }
    this.#authorized = decision.session;
    this.#armRefresh(decision.session.refreshAfterInSeconds);
  }

  async #authorize(attempt: ConnectAttempt): Promise<ConnectDecision> {
    let decision: ConnectDecision;
    try {
      decision = await this.#options.authorizer.authorize(attempt);
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

  #refuseWithoutAuthorizer(
    logBase: Omit<
      Extract<GatewayLogEntryInput, { event: 'connect' }>,
      'lambdaInvoked' | 'decision' | 'reasonCode' | 'reasonCodeNumber' | 'reason'
    >,
    reasonCode: number,
    reason: string,
  ): void {
    this.#options.log({
      ...logBase,
      lambdaInvoked: false,
      decision: 'deny',
      reasonCode: formatReasonCode(reasonCode),
      reasonCodeNumber: reasonCode,
      reason,
    });
    this.close({ cause: 'refused', reason });
  }

  #successConnack(
    connect: IConnectPacket,
    clientId: string,
    assigned: boolean,
    keepAliveSeconds: number,
  ): IConnackPacket {
    const requestedExpiry = connect.properties?.sessionExpiryInterval ?? 0;
    return {
      cmd: 'connack',
      reasonCode: RC.success,
      sessionPresent: false,
      properties: {
        maximumQoS: 1,
        retainAvailable: true,
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: false,
        sharedSubscriptionAvailable: true,
        topicAliasMaximum: AWS_IOT_MQTT_LIMITS.topicAliasMaximum,
        maximumPacketSize: AWS_IOT_MQTT_LIMITS.maximumPacketSize,
        serverKeepAlive: keepAliveSeconds,
        // Only sent when it changes what the client asked for (MQTT 5 3.2.2.3.2).
        ...(requestedExpiry > AWS_IOT_MQTT_LIMITS.maxSessionExpirySeconds
          ? { sessionExpiryInterval: AWS_IOT_MQTT_LIMITS.maxSessionExpirySeconds }
          : {}),
        ...(assigned ? { assignedClientIdentifier: clientId } : {}),
      },
    };
  }

  #connectedClient(connect: IConnectPacket, clientId: string, assigned: boolean): ConnectedClient {
    const current = (): AuthorizedSession => this.#authorized as AuthorizedSession;
    return {
      connectionId: this.connectionId,
      clientId,
      clientIdAssigned: assigned,
      protocolVersion: this.#protocolVersion === 5 ? 5 : 4,
      transport: this.#options.connection.transport,
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
      send: (packet) => {
        if (this.#state === 'connected') this.#send(packet);
      },
      disconnect: (reasonCode, reason) => this.close({ cause: 'handler', reasonCode, reason }),
    };
  }

  #armKeepAlive(): void {
    const limitMs = this.#keepAliveMs * 1.5;
    const dueInMs = this.#lastPacketAt + limitMs - this.#options.clock.now();
    this.#keepAliveTimer = this.#options.clock.setTimer(
      () => {
        if (this.#state !== 'connected') return;
        if (this.#options.clock.now() - this.#lastPacketAt >= limitMs) {
          this.close({
            cause: 'keep-alive-timeout',
            reasonCode: RC.keepAliveTimeout,
            reason: `no packet for 1.5 x the keep alive of ${this.#keepAliveMs / 1000} s`,
          });
        } else {
          this.#armKeepAlive();
        }
      },
      Math.max(dueInMs, 0),
    );
  }

  async #onPublish(publish: IPublishPacket): Promise<void> {
    const client = this.#client as ConnectedClient;
    if (publish.qos === 2) {
      return this.close({
        cause: 'qos-not-supported',
        reasonCode: RC.qosNotSupported,
        reason: 'PUBLISH with QoS 2, which AWS IoT Core does not support',
      });
    }
    if (publish.properties?.subscriptionIdentifier !== undefined) {
      // MQTT-3.3.4-6: only servers put subscription identifiers in a PUBLISH.
      return this.#protocolError('PUBLISH from a client with a subscription identifier');
    }
    const topic = this.#resolveTopicAlias(publish);
    if (topic === undefined) return;
    const { topicAlias: _alias, ...properties } = publish.properties ?? {};
    const resolved: IPublishPacket = {
      ...publish,
      topic,
      ...(publish.properties ? { properties } : {}),
    };
    const outcome = await this.#options.handler.onPublish(client, resolved);
    if (this.#state !== 'connected') return;
    const allowed = outcome.reasonCode < 0x80;
    this.#options.log({
      event: 'publish',
      connectionId: this.connectionId,
      clientId: client.clientId,
      topic,
      qos: publish.qos,
      decision: allowed ? 'allow' : 'deny',
      reasonCode: formatReasonCode(outcome.reasonCode),
      reasonCodeNumber: outcome.reasonCode,
      reason: outcome.reason,
      ...(!allowed && publish.qos === 0 ? { dropped: true as const } : {}),
    });
    if (publish.qos === 1) {
      if (this.#protocolVersion === 5) {
        this.#send({ cmd: 'puback', messageId: publish.messageId, reasonCode: outcome.reasonCode });
      } else if (allowed) {
        this.#send({ cmd: 'puback', messageId: publish.messageId });
      } else {
        // MQTT 3.1.1 has no PUBACK reason codes: AWS IoT closes the connection instead.
        this.close({ cause: 'not-authorized', reason: `PUBLISH to '${topic}' refused: ${outcome.reason}` });
      }
    }
  }

  /** The PUBLISH's topic with its alias applied; `undefined` after closing the connection for a bad alias. */
  #resolveTopicAlias(publish: IPublishPacket): string | undefined {
    const alias = this.#protocolVersion === 5 ? publish.properties?.topicAlias : undefined;
    if (alias === undefined) {
      if (publish.topic === '') this.#protocolError('PUBLISH with an empty topic and no topic alias');
      return publish.topic === '' ? undefined : publish.topic;
    }
    if (alias < 1 || alias > AWS_IOT_MQTT_LIMITS.topicAliasMaximum) {
      this.close({
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
    if (topic === undefined) this.#protocolError(`topic alias ${alias} was used before being set`);
    return topic;
  }

  async #onSubscribe(subscribe: ISubscribePacket): Promise<void> {
    const client = this.#client as ConnectedClient;
    if (subscribe.properties?.subscriptionIdentifier !== undefined) {
      return this.close({
        cause: 'protocol-error',
        reasonCode: RC.subscriptionIdentifiersNotSupported,
        reason: 'SUBSCRIBE with a subscription identifier, which AWS IoT Core does not support',
      });
    }
    const outcomes = await this.#options.handler.onSubscribe(client, subscribe);
    if (this.#state !== 'connected') return;
    this.#logFilters(
      'subscribe',
      client,
      subscribe.subscriptions.map((s) => s.topic),
      outcomes,
    );
    this.#send({
      cmd: 'suback',
      messageId: subscribe.messageId as number,
      // MQTT 3.1.1 SUBACK knows only granted QoS or 0x80 (failure).
      granted: outcomes.map(({ reasonCode }) =>
        this.#protocolVersion === 5 || reasonCode < 0x80 ? reasonCode : 0x80,
      ),
    });
    this.#options.handler.onSubscribed?.(client, subscribe, outcomes);
  }

  async #onUnsubscribe(unsubscribe: IUnsubscribePacket): Promise<void> {
    const client = this.#client as ConnectedClient;
    const outcomes = await this.#options.handler.onUnsubscribe(client, unsubscribe);
    if (this.#state !== 'connected') return;
    this.#logFilters('unsubscribe', client, unsubscribe.unsubscriptions, outcomes);
    this.#send({
      cmd: 'unsuback',
      messageId: unsubscribe.messageId as number,
      granted: outcomes.map(({ reasonCode }) => reasonCode),
    });
  }

  #logFilters(
    event: 'subscribe' | 'unsubscribe',
    client: ConnectedClient,
    filters: readonly string[],
    outcomes: readonly PacketOutcome[],
  ): void {
    if (outcomes.length !== filters.length) {
      throw new Error(
        `the message handler returned ${outcomes.length} outcomes for ${filters.length} filters`,
      );
    }
    filters.forEach((topic, i) => {
      const outcome = outcomes[i] as PacketOutcome;
      this.#options.log({
        event,
        connectionId: this.connectionId,
        clientId: client.clientId,
        topic,
        decision: outcome.reasonCode < 0x80 ? 'allow' : 'deny',
        reasonCode: formatReasonCode(outcome.reasonCode),
        reasonCodeNumber: outcome.reasonCode,
        reason: outcome.reason,
      });
    });
  }

  #protocolError(reason: string): void {
    this.close({
      cause: 'protocol-error',
      reasonCode: RC.protocolError,
      reason: `protocol error: ${reason}`,
    });
  }

  /** Malformed or oversized input: DISCONNECT with `reasonCode` when connected (MQTT 5), otherwise just close. */
  #closeForBadInput(cause: DisconnectCause, reasonCode: number, reason: string): void {
    this.close({ cause, reasonCode, reason });
  }

  #onPeerGone(): void {
    if (this.#state === 'closed') return;
    const how = this.#streamError ? ` (${this.#streamError})` : '';
    this.close({
      cause: 'connection-lost',
      reason:
        this.#state === 'connected'
          ? `the client closed the connection without DISCONNECT${how}`
          : `the client closed the connection before ${this.#state === 'authorizing' ? 'CONNACK' : 'CONNECT'}${how}`,
    });
  }

  /** Serializes and writes a packet; false when the stream is gone or the packet cannot be encoded. */
  #send(packet: Packet): boolean {
    if (this.#stream.destroyed || this.#stream.writableEnded) return false;
    let bytes: Buffer;
    try {
      bytes = generate(packet, { protocolVersion: this.#protocolVersion });
    } catch (error) {
      this.#logError(`could not encode ${packet.cmd.toUpperCase()}: ${errorMessage(error)}`);
      return false;
    }
    this.#stream.write(bytes);
    return true;
  }

  /** A method rather than an inline test: the state changes across `await`, which narrowing cannot see. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #logError(reason: string): void {
    this.#options.log({ event: 'error', connectionId: this.connectionId, reason });
  }
}

/** AWS IoT's keep alive: below 30 s raised to 30, above 1200 lowered to 1200, 0 (none) becomes 1200. */
export function effectiveKeepAlive(requestedSeconds: number): number {
  if (requestedSeconds === 0) return AWS_IOT_MQTT_LIMITS.defaultKeepAliveSeconds;
  return Math.min(
    Math.max(requestedSeconds, AWS_IOT_MQTT_LIMITS.minKeepAliveSeconds),
    AWS_IOT_MQTT_LIMITS.maxKeepAliveSeconds,
  );
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

/**
 * Follows MQTT fixed headers across chunks to learn each packet's total size before the parser buffers it,
 * so a client cannot make the gateway hold a 256 MB "packet".
 */
export class PacketFramer {
  #phase: 'type' | 'length' | 'body' = 'type';
  #length = 0;
  #lengthBytes = 0;
  #multiplier = 1;
  #bodyLeft = 0;

  constructor(private readonly maximumPacketSize: number) {}

  /** Feeds bytes; returns the size of the first packet over the limit, or `undefined`. */
  push(chunk: Buffer): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#phase === 'type') {
        i += 1;
        this.#phase = 'length';
        this.#length = 0;
        this.#lengthBytes = 0;
        this.#multiplier = 1;
      } else if (this.#phase === 'length') {
        const byte = chunk[i] as number;
        i += 1;
        this.#length += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        this.#lengthBytes += 1;
        // A fifth length byte is malformed; the parser reports it, this only bounds the size.
        if (byte & 0x80 && this.#lengthBytes < 4) continue;
        const total = 1 + this.#lengthBytes + this.#length;
        if (total > this.maximumPacketSize) return total;
        this.#bodyLeft = this.#length;
        this.#phase = this.#bodyLeft === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.#bodyLeft, chunk.length - i);
        i += take;
        this.#bodyLeft -= take;
        if (this.#bodyLeft === 0) this.#phase = 'type';
      }
    }
    return undefined;
  }
}
