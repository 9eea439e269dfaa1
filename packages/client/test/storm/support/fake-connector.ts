import type {
  ConnectRequest,
  ConnectResult,
  Connector,
  DisconnectResult,
  IncomingMessage,
  MqttConnection,
  PublishResult,
  SubscribeResult,
} from '../../../src/connection';
import { negotiatedSettings } from '../../fixtures/negotiated-settings';

/**
 * A connector without a network for the storm's unit tests: accepts a request with the right password for
 * its user name (CONNACK 0x00), refuses any other with 0x86, after `connectDelayMs`; counts what is open, at most how many
 * were open at once, and what was published. `lose(clientId)` ends a connection from the "server".
 */
export class FakeConnector implements Connector {
  readonly requests: ConnectRequest[] = [];
  readonly published: { clientId: string; topic: string; payload: string }[] = [];
  open = 0;
  maxOpen = 0;
  /** Connections accepted (CONNACK 0x00) so far. */
  accepted = 0;
  disconnects = 0;
  readonly #lost = new Map<string, (reason: string) => void>();

  constructor(
    private readonly options: {
      /** The password the device `username` must send. */
      readonly passwordOf: (username: string | undefined) => string;
      readonly connectDelayMs?: number;
      readonly failFor?: (request: ConnectRequest) => ConnectResult | undefined;
      readonly pubackCode?: number;
    },
  ) {}

  async connect(request: ConnectRequest): Promise<ConnectResult> {
    this.requests.push(request);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    await new Promise((resolve) => setTimeout(resolve, this.options.connectDelayMs ?? 1));
    const failure = this.options.failFor?.(request);
    if (failure !== undefined) {
      this.open--;
      return failure;
    }
    if (request.auth.password !== this.options.passwordOf(request.auth.username)) {
      this.open--;
      return { status: 'refused', connack: { reasonCode: 0x86, sessionPresent: false, properties: {} } };
    }
    let reportLost: (reason: string) => void = () => {};
    const lost = new Promise<string>((resolve) => (reportLost = resolve));
    this.#lost.set(request.clientId, reportLost);
    this.accepted++;
    let closed = false;
    const connection: MqttConnection = {
      subscribe: (): Promise<SubscribeResult> => Promise.resolve({ reasonCodes: [1] }),
      publish: (topic: string, payload: Buffer): Promise<PublishResult> => {
        this.published.push({ clientId: request.clientId, topic, payload: payload.toString('utf8') });
        return Promise.resolve({ reasonCode: this.options.pubackCode ?? 0 });
      },
      onMessage: (_listener: (message: IncomingMessage) => void): void => {},
      lost,
      disconnect: (): Promise<DisconnectResult> => {
        if (!closed) {
          closed = true;
          this.open--;
          this.disconnects++;
        }
        return Promise.resolve({ clean: true });
      },
    };
    return {
      status: 'connected',
      connack: { reasonCode: 0, sessionPresent: false, properties: {} },
      settings: negotiatedSettings({ clientId: request.clientId }),
      connection,
    };
  }

  /** The server ends `clientId`'s connection. */
  lose(clientId: string): void {
    this.#lost.get(clientId)?.('the server sent DISCONNECT 0x8E');
  }
}
