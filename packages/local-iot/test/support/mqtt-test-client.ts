/**
 * An independent MQTT 5 client for end-to-end tests: `mqtt` from npm, wrapped so a test can await the next
 * message, the server's DISCONNECT and each acknowledgement's reason code, never with a fixed sleep.
 */
import { connect, type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { IDisconnectPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { WAIT_MS, withTimeout } from './wait';

/** A message as the test client received it. */
export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly retain: boolean;
}

/** Subscription options as `mqtt` takes them. */
export type SubscriptionOptions = Readonly<{ qos: 0 | 1 | 2; nl?: boolean; rap?: boolean; rh?: number }>;

/** What every test client connects with unless told otherwise: MQTT 5, no reconnect, a bounded CONNACK wait. */
const CONNECT_DEFAULTS = { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000 } as const;

export class TestClient {
  readonly #messages: Received[] = [];
  readonly #waiters: ((message: Received) => void)[] = [];
  /** The DISCONNECT the server sent, once it does. */
  readonly serverDisconnect: Promise<IDisconnectPacket>;

  private constructor(readonly mqtt: MqttClient) {
    mqtt.on('message', (topic, payload, packet: IPublishPacket) => {
      const message = { topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain };
      const waiter = this.#waiters.shift();
      if (waiter) waiter(message);
      else this.#messages.push(message);
    });
    this.serverDisconnect = new Promise((resolve) => mqtt.once('disconnect', resolve));
  }

  /**
   * Connects and resolves once the CONNACK arrived, with its reason code (0x00 connected, or the refusal's
   * code); rejects when the connection closes before any CONNACK or fails otherwise. The client is returned
   * either way so that the caller ends it.
   */
  static async open(
    url: string,
    options: IClientOptions,
  ): Promise<{ readonly client: TestClient; readonly reasonCode: number }> {
    const connectTimeout = options.connectTimeout ?? CONNECT_DEFAULTS.connectTimeout;
    const mqtt = connect(url, { ...CONNECT_DEFAULTS, ...options });
    const client = new TestClient(mqtt);
    try {
      const reasonCode = await withTimeout(
        new Promise<number>((resolve, reject) => {
          mqtt.once('connect', (connack) => resolve(connack.reasonCode ?? 0));
          mqtt.once('close', () => reject(new Error('connection closed before CONNACK')));
          mqtt.once('error', (error: Error & { code?: number | string }) =>
            typeof error.code === 'number' ? resolve(error.code) : reject(error),
          );
        }),
        `CONNACK for ${options.clientId ?? 'a client'}`,
        // mqtt.js gives up (and closes) after its own connectTimeout; this only bounds a client that hangs.
        connectTimeout + WAIT_MS,
      );
      return { client, reasonCode };
    } catch (error) {
      mqtt.end(true);
      throw error;
    }
  }

  /** Connects and resolves once CONNACK 0x00 arrived; rejects with the refusal or the client's error otherwise. */
  static async connect(url: string, options: IClientOptions): Promise<TestClient> {
    const { client, reasonCode } = await TestClient.open(url, options);
    if (reasonCode !== 0) {
      client.end();
      throw new Error(
        `CONNACK 0x${reasonCode.toString(16).padStart(2, '0')} for ${options.clientId ?? 'a client'}, expected 0x00`,
      );
    }
    return client;
  }

  /** The next message received (already queued, or to come). */
  nextMessage(): Promise<Received> {
    const queued = this.#messages.shift();
    if (queued) return Promise.resolve(queued);
    return withTimeout(new Promise((resolve) => this.#waiters.push(resolve)), 'a message');
  }

  /** Messages received and not yet taken by `nextMessage`. */
  get pending(): readonly Received[] {
    return this.#messages;
  }

  /** Sends one SUBSCRIBE; resolves with the SUBACK's reason codes, refusals included. */
  subscribe(filters: Readonly<Record<string, SubscriptionOptions>>): Promise<number[]> {
    return withTimeout(
      new Promise((resolve, reject) => {
        this.mqtt.subscribe({ ...filters }, (error, _granted, packet?: ISubackPacket) => {
          if (packet) resolve(packet.granted as number[]);
          else reject(error ?? new Error('SUBSCRIBE got no SUBACK'));
        });
      }),
      `SUBACK for ${Object.keys(filters).join(', ')}`,
    );
  }

  /**
   * Publishes; resolves with the PUBACK reason code for QoS 1 (0x87 when refused), or 0 once a QoS 0
   * message is written.
   */
  publish(topic: string, payload: string, options: IClientPublishOptions = {}): Promise<number> {
    return withTimeout(
      new Promise((resolve, reject) => {
        this.mqtt.publish(topic, payload, options, (error?: Error & { code?: unknown }) => {
          if (!error) resolve(0);
          else if (typeof error.code === 'number') resolve(error.code);
          else reject(error);
        });
      }),
      `PUBACK for ${topic}`,
    );
  }

  end(): void {
    this.mqtt.end(true);
  }
}
