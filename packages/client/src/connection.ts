import {
  formatReasonCode,
  MQTT_ALPN_PROTOCOL,
  type ConnackProperties,
  type Transport,
} from '@iot-custom-auth/protocol';
import { io, iot, mqtt5 } from 'aws-iot-device-sdk-v2';
import type { Verbosity } from './args';
import { ConfigError } from './errors';

/**
 * The custom-authorizer fields of the CONNECT, as the SDK builder takes them. Every value is sent as given:
 * `main()` has already URL-encoded the authorizer name, token key name, token and signature exactly once.
 */
export interface CustomAuthFields {
  readonly authorizerName?: string;
  readonly username?: string;
  readonly password?: string;
  readonly tokenKeyName?: string;
  readonly tokenValue?: string;
  readonly signature?: string;
}

/** Everything one connection attempt needs. */
export interface ConnectRequest {
  readonly endpoint: string;
  readonly port: number;
  readonly transport: Transport;
  /** PEM CA certificates to trust instead of the system store. */
  readonly caPem?: string;
  readonly clientId: string;
  readonly auth: CustomAuthFields;
  /**
   * Custom authentication with an X.509 client certificate (`CUSTOM_AUTH_X509`): the certificate and private
   * key (PEM) presented in the TLS handshake. `auth` then carries at most a user name and password.
   */
  readonly clientCertificate?: { readonly certPem: string; readonly keyPem: string };
  /** The attempt (TCP, TLS, WebSocket upgrade, CONNECT/CONNACK) ends within this long. */
  readonly timeoutMs: number;
  readonly verbosity: Verbosity;
}

/** The CONNACK the server sent. */
export interface ConnackSummary {
  readonly reasonCode: number;
  readonly sessionPresent: boolean;
  readonly properties: ConnackProperties;
}

/** The connection's settings after the CONNECT/CONNACK exchange, as the SDK computes them. */
export type NegotiatedSettings = Readonly<mqtt5.NegotiatedSettings>;

/** Where a connection attempt failed below MQTT, from the SDK's error name. */
export type TransportFailureKind =
  | 'tls'
  | 'dns'
  | 'socket-refused'
  | 'unreachable'
  | 'connack-timeout'
  | 'hangup'
  | 'websocket-upgrade'
  | 'other';

export interface TransportFailure {
  readonly kind: TransportFailureKind;
  /** The SDK's error name, such as `AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE`. */
  readonly name: string;
  readonly message: string;
}

/** How a disconnect ended. */
export type DisconnectResult = { readonly clean: true } | { readonly clean: false; readonly reason: string };

/** The server's answer to a SUBSCRIBE: one reason code per topic filter, in order (MQTT 5 3.9.3). */
export interface SubscribeResult {
  readonly reasonCodes: readonly number[];
  readonly reasonString?: string;
}

/** The server's answer to a QoS 1 PUBLISH (MQTT 5 3.4.2). */
export interface PublishResult {
  readonly reasonCode: number;
  readonly reasonString?: string;
}

/** A PUBLISH the server delivered to this client. */
export interface IncomingMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: number;
  /** Set on a retained message sent because of a new subscription, not on a live delivery. */
  readonly retain: boolean;
}

/**
 * An established connection. Operations resolve with the server's answer whatever its reason code, and reject
 * only when the client could not send or complete them (an `Error` carrying the SDK's error name).
 */
export interface MqttConnection {
  /** Sends SUBSCRIBE for `topicFilter` with QoS 1 and resolves with the SUBACK. */
  subscribe(topicFilter: string): Promise<SubscribeResult>;
  /** Sends `payload` to `topic` with QoS 1 (not retained) and resolves with the PUBACK. */
  publish(topic: string, payload: Buffer): Promise<PublishResult>;
  /** Calls `listener` for every PUBLISH the server delivers from now on. */
  onMessage(listener: (message: IncomingMessage) => void): void;
  /** Resolves, with why, if the server or the network ends the connection before `disconnect()` does. */
  readonly lost: Promise<string>;
  /** Sends DISCONNECT (normal disconnection) and waits for the client to stop, at most `timeoutMs`. */
  disconnect(timeoutMs: number): Promise<DisconnectResult>;
}

/** The outcome of one connection attempt. There is never a second attempt. */
export type ConnectResult =
  | {
      readonly status: 'connected';
      readonly connack: ConnackSummary;
      readonly settings: NegotiatedSettings;
      readonly connection: MqttConnection;
    }
  | { readonly status: 'refused'; readonly connack: ConnackSummary }
  | { readonly status: 'failed'; readonly failure: TransportFailure }
  | { readonly status: 'timeout'; readonly afterMs: number };

/** Opens MQTT 5 connections; `main()` gets a fake in tests. */
export interface Connector {
  connect(request: ConnectRequest): Promise<ConnectResult>;
}

/** The ALPN protocol list a transport offers: `mqtt` for direct MQTT, none for WebSockets. */
export function alpnFor(transport: Transport): string | undefined {
  return transport === 'mqtt' ? MQTT_ALPN_PROTOCOL : undefined;
}

const LOG_LEVELS: Readonly<Record<Verbosity, io.LogLevel>> = {
  none: io.LogLevel.NONE,
  fatal: io.LogLevel.FATAL,
  error: io.LogLevel.ERROR,
  warn: io.LogLevel.WARN,
  info: io.LogLevel.INFO,
  debug: io.LogLevel.DEBUG,
  trace: io.LogLevel.TRACE,
};

/** Long enough that no reconnect can start before `stop()` (issued on the first failure) takes effect. */
const NO_RECONNECT_DELAY_MS = 3_600_000;

/**
 * The real connector on `aws-iot-device-sdk-v2` (aws-crt MQTT 5):
 * - direct: `newDirectMqttBuilderWithCustomAuth` (TLS, ALPN `mqtt`, SNI = endpoint);
 * - WebSockets: `newWebsocketMqttBuilderWithCustomAuth` (`wss://<endpoint>/mqtt`, no SigV4).
 * One attempt only: the first `connectionFailure` stops the client, reconnects are pushed out of reach, and
 * a timer bounds the whole attempt, because the SDK would otherwise retry forever with backoff.
 */
export class SdkConnector implements Connector {
  private loggingEnabled = false;

  connect(request: ConnectRequest): Promise<ConnectResult> {
    if (request.verbosity !== 'none' && !this.loggingEnabled) {
      // aws-crt logging is process-wide and can only be switched on once.
      io.enable_logging(LOG_LEVELS[request.verbosity]);
      this.loggingEnabled = true;
    }
    let client: mqtt5.Mqtt5Client;
    try {
      client = new mqtt5.Mqtt5Client(buildClientConfig(request));
    } catch (error) {
      throw new ConfigError(
        `the MQTT client could not be configured: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return new Promise<ConnectResult>((resolve) => {
      const started = Date.now();
      let reportLost: (reason: string) => void = () => {};
      const state: ConnectionState = {
        lost: new Promise<string>((resolveLost) => (reportLost = resolveLost)),
      };
      let settled = false;
      const finish = (result: ConnectResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result.status !== 'connected') shutDown(client);
        resolve(result);
      };
      const timer = setTimeout(
        () => finish({ status: 'timeout', afterMs: Date.now() - started }),
        request.timeoutMs,
      );
      client.on('connectionSuccess', (event) => {
        finish({
          status: 'connected',
          connack: summarizeConnack(event.connack),
          settings: { ...event.settings },
          connection: new SdkConnection(client, state),
        });
      });
      client.on('connectionFailure', (event) => {
        if (event.connack !== undefined && !mqtt5.isSuccessfulConnectReasonCode(event.connack.reasonCode)) {
          finish({ status: 'refused', connack: summarizeConnack(event.connack) });
        } else {
          finish({ status: 'failed', failure: classifyFailure(event.error) });
        }
      });
      client.on('disconnection', (event) => {
        // The stop we ask for is reported as a disconnection too; anything else is the server (or the
        // network) ending the connection before we did.
        if (event.error.error_name !== 'AWS_ERROR_MQTT5_USER_REQUESTED_STOP') {
          state.serverClosed =
            event.disconnect === undefined
              ? `the connection was closed: ${event.error.error_name ?? 'unknown error'}`
              : `the server sent DISCONNECT ${formatReasonCode(event.disconnect.reasonCode)}` +
                (event.disconnect.reasonString ? ` (${event.disconnect.reasonString})` : '');
          reportLost(state.serverClosed);
        }
      });
      client.on('error', (error) => {
        finish({ status: 'failed', failure: classifyFailure(error) });
      });
      client.start();
    });
  }
}

interface ConnectionState {
  serverClosed?: string;
  readonly lost: Promise<string>;
}

class SdkConnection implements MqttConnection {
  private readonly listeners: ((message: IncomingMessage) => void)[] = [];

  constructor(
    private readonly client: mqtt5.Mqtt5Client,
    private readonly state: ConnectionState,
  ) {
    client.on('messageReceived', ({ message }) => {
      const incoming: IncomingMessage = {
        topic: message.topicName,
        payload: payloadBytes(message.payload),
        qos: message.qos,
        retain: message.retain === true,
      };
      for (const listener of this.listeners) listener(incoming);
    });
  }

  get lost(): Promise<string> {
    return this.state.lost;
  }

  async subscribe(topicFilter: string): Promise<SubscribeResult> {
    const suback = await sdkOperation(() =>
      this.client.subscribe({ subscriptions: [{ topicFilter, qos: mqtt5.QoS.AtLeastOnce }] }),
    );
    return {
      reasonCodes: [...suback.reasonCodes],
      ...(suback.reasonString ? { reasonString: suback.reasonString } : {}),
    };
  }

  async publish(topic: string, payload: Buffer): Promise<PublishResult> {
    const puback = await sdkOperation(() =>
      this.client.publish({ topicName: topic, payload, qos: mqtt5.QoS.AtLeastOnce }),
    );
    if (puback === undefined) throw new Error('the SDK completed a QoS 1 publish without a PUBACK');
    return {
      reasonCode: puback.reasonCode,
      ...(puback.reasonString ? { reasonString: puback.reasonString } : {}),
    };
  }

  onMessage(listener: (message: IncomingMessage) => void): void {
    this.listeners.push(listener);
  }

  disconnect(timeoutMs: number): Promise<DisconnectResult> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.close();
        resolve({ clean: false, reason: `the client did not stop within ${timeoutMs / 1000} s` });
      }, timeoutMs);
      this.client.once('stopped', () => {
        clearTimeout(timer);
        this.client.close();
        const reason = this.state.serverClosed;
        resolve(reason === undefined ? { clean: true } : { clean: false, reason });
      });
      this.client.stop({ reasonCode: mqtt5.DisconnectReasonCode.NormalDisconnection });
    });
  }
}

/**
 * Stops a client that will not be used and releases it once stopped. Not awaited: after a TLS failure s2n
 * delays closing the socket by several seconds on purpose (blinding), and the outcome is known already.
 */
function shutDown(client: mqtt5.Mqtt5Client): void {
  client.once('stopped', () => client.close());
  client.stop();
}

/**
 * Runs an SDK operation, turning its rejection (aws-crt rejects with the error's name as a plain string) into
 * an `Error`.
 */
async function sdkOperation<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw error instanceof Error ? error : new Error(String(error));
  }
}

/** A received payload as bytes, whatever form aws-crt handed it over in. */
function payloadBytes(payload: mqtt5.Payload | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0);
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload instanceof ArrayBuffer) return Buffer.from(payload);
  if (ArrayBuffer.isView(payload)) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

function buildClientConfig(request: ConnectRequest): mqtt5.Mqtt5ClientConfig {
  const auth: iot.MqttConnectCustomAuthConfig = {
    ...(request.auth.authorizerName === undefined ? {} : { authorizerName: request.auth.authorizerName }),
    ...(request.auth.username === undefined ? {} : { username: request.auth.username }),
    ...(request.auth.password === undefined ? {} : { password: Buffer.from(request.auth.password, 'utf8') }),
    ...(request.auth.tokenKeyName === undefined ? {} : { tokenKeyName: request.auth.tokenKeyName }),
    ...(request.auth.tokenValue === undefined ? {} : { tokenValue: request.auth.tokenValue }),
    ...(request.auth.signature === undefined ? {} : { tokenSignature: request.auth.signature }),
  };
  const builder =
    request.clientCertificate !== undefined
      ? iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
          request.endpoint,
          request.clientCertificate.certPem,
          request.clientCertificate.keyPem,
        )
      : request.transport === 'websockets'
        ? iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithCustomAuth(request.endpoint, auth)
        : iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithCustomAuth(request.endpoint, auth);
  builder
    .withPort(request.port)
    .withConnectProperties({ clientId: request.clientId, keepAliveIntervalSeconds: 1200 })
    .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
    .withRetryJitterMode(mqtt5.RetryJitterType.None)
    .withMinReconnectDelayMs(NO_RECONNECT_DELAY_MS)
    .withMaxReconnectDelayMs(NO_RECONNECT_DELAY_MS)
    .withConnackTimeoutMs(request.timeoutMs)
    // A subscribe or publish still waiting when the connection drops fails at once instead of waiting for a
    // reconnect that never comes.
    .withOfflineQueueBehavior(mqtt5.ClientOperationQueueBehavior.FailAllOnDisconnect)
    .withSocketOptions(
      new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.IPV4, Math.ceil(request.timeoutMs)),
    );
  if (request.caPem !== undefined) builder.withCertificateAuthority(request.caPem);
  const config = builder.build();
  return request.clientCertificate === undefined
    ? config
    : withClientCertificate(config, request, request.clientCertificate);
}

/**
 * The SDK mTLS builder's configuration (`newDirectMqttBuilderWithMtlsFromMemory`), adjusted for the X.509 domain
 * configuration: that builder offers ALPN `x-amzn-mqtt-ca` (AWS IoT's own X.509 authentication on the default
 * endpoint, with no setter for the list), while `CUSTOM_AUTH_X509` on `SECURE_MQTT` is reached on 443 with ALPN
 * `mqtt` and SNI = the domain name (aws-crt sends the host name), so the TLS context is rebuilt with the same
 * certificate, key and CA and ALPN `mqtt`. The user name is only the user's: the builder's is an empty query.
 * Every other setting (one attempt, timeouts, session) is the builder's above.
 */
function withClientCertificate(
  config: mqtt5.Mqtt5ClientConfig,
  request: ConnectRequest,
  certificate: NonNullable<ConnectRequest['clientCertificate']>,
): mqtt5.Mqtt5ClientConfig {
  const tls = io.TlsContextOptions.create_client_with_mtls(certificate.certPem, certificate.keyPem);
  tls.alpn_list = [MQTT_ALPN_PROTOCOL];
  if (request.caPem !== undefined) tls.override_default_trust_store(request.caPem);
  const {
    username: _builderUsername,
    password: _builderPassword,
    ...connect
  } = config.connectProperties ?? {
    keepAliveIntervalSeconds: 1200,
  };
  return {
    ...config,
    tlsCtx: new io.ClientTlsContext(tls),
    connectProperties: {
      ...connect,
      ...(request.auth.username === undefined ? {} : { username: request.auth.username }),
      ...(request.auth.password === undefined
        ? {}
        : { password: Buffer.from(request.auth.password, 'utf8') }),
    },
  };
}

const CONNACK_PROPERTY_NAMES = [
  'sessionExpiryInterval',
  'receiveMaximum',
  'maximumQos',
  'retainAvailable',
  'maximumPacketSize',
  'assignedClientIdentifier',
  'topicAliasMaximum',
  'reasonString',
  'wildcardSubscriptionsAvailable',
  'subscriptionIdentifiersAvailable',
  'sharedSubscriptionsAvailable',
  'serverKeepAlive',
  'responseInformation',
  'serverReference',
] as const satisfies readonly (keyof ConnackProperties)[];

/** Copies the CONNACK fields the server actually sent, dropping the SDK's internals. */
export function summarizeConnack(connack: mqtt5.ConnackPacket): ConnackSummary {
  const properties: Record<string, unknown> = {};
  for (const name of CONNACK_PROPERTY_NAMES) {
    if (connack[name] !== undefined && connack[name] !== null) properties[name] = connack[name];
  }
  if (connack.userProperties !== undefined && connack.userProperties.length > 0) {
    properties.userProperties = connack.userProperties.map(({ name, value }) => ({ name, value }));
  }
  return {
    reasonCode: connack.reasonCode,
    sessionPresent: connack.sessionPresent,
    properties,
  };
}

/** Sorts an aws-crt error into what went wrong, by its stable error name. */
export function classifyFailure(error: { error_name?: string; message?: string }): TransportFailure {
  const name = error.error_name ?? 'UNKNOWN_ERROR';
  const message = error.message ?? name;
  return { kind: failureKind(name), name, message };
}

function failureKind(name: string): TransportFailureKind {
  if (name.includes('WEBSOCKET')) return 'websocket-upgrade';
  if (name.includes('_TLS_')) return 'tls';
  if (name.includes('_DNS_')) return 'dns';
  if (name === 'AWS_IO_SOCKET_CONNECTION_REFUSED') return 'socket-refused';
  if (name === 'AWS_ERROR_MQTT5_CONNACK_TIMEOUT') return 'connack-timeout';
  if (/SOCKET_(TIMEOUT|NO_ROUTE_TO_HOST|NETWORK_DOWN)/.test(name)) return 'unreachable';
  if (/SOCKET_CLOSED|UNEXPECTED_HANGUP|BROKEN_PIPE|SOCKET_CONNECT_ABORTED|CONNECTION_RESET/.test(name)) {
    return 'hangup';
  }
  return 'other';
}
