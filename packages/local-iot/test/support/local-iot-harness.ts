/**
 * The one set-up of the end-to-end suites: `useLocalIot()` serves a stack with local-iot for the whole test
 * file (the real synth, or a fixture assembly), fetches the device credentials as the client does, connects
 * `mqtt` from npm clients to it, ends them after each test and removes everything after the file. A suite
 * declares only what is specific to it: the stack, a clock, the client options its tests have in common.
 */
import { readFileSync } from 'node:fs';
import {
  buildCustomAuthUsername,
  deriveDevicePassword,
  STACK_OUTPUTS,
  type DeviceCredentials,
  type MasterSecret,
} from '@iot-custom-auth/protocol';
import type { IClientOptions } from 'mqtt';
import type { LocalIot } from '../../src/local-iot';
import type { LocalRuntime } from '../../src/local-runtime';
import { TestClient } from './mqtt-test-client';
import type { RecordedLog } from './recorded-log';
import {
  fetchMasterSecret,
  serveStack,
  type AssemblySource,
  type ServedStack,
  type ServeOptions,
} from './served-stack';
import { synthesizedAssembly, type SynthContext } from './synthesized-stack';

/** How long a suite's set-up may take: a real synth, when no other suite of the run made it yet. */
const SET_UP_TIMEOUT_MS = 120_000;

/** The stack a suite serves: the project's synth (with `-c` context), or a fixture cloud assembly. */
export type HarnessStack =
  | { readonly context?: SynthContext; readonly assembly?: never }
  | {
      /** Writes a cloud assembly into the suite's temporary directory and returns its path. */
      readonly assembly: AssemblySource;
      readonly context?: never;
    };

/** What a suite declares about its local-iot. */
export type LocalIotHarnessOptions = HarnessStack & {
  /** Added to `startLocalIot`'s options, e.g. a stepped clock. */
  readonly serve?: ServeOptions;
  /** Options every client of the suite connects with, e.g. a keep alive the stepped clock never reaches. */
  readonly clientDefaults?: IClientOptions;
};

/**
 * How a test client reaches the gateway: direct TLS with ALPN `mqtt` (AWS IoT's port 443 custom-auth path),
 * direct TLS offering no ALPN at all, or MQTT over WebSockets on `/mqtt`.
 */
export type Transport = 'mqtt' | 'tls-without-alpn' | 'websockets';

/**
 * Options of one client: `mqtt`'s, plus the transport. Without a `username`, the client connects with the
 * device credentials through the unsigned authorizer.
 */
export type DeviceOptions = IClientOptions & { readonly transport?: Transport };

/** The served stack of one test file; read it in tests and hooks, after the set-up. */
export class LocalIotHarness {
  readonly #options: LocalIotHarnessOptions;
  readonly #clients: TestClient[] = [];
  #served: ServedStack | undefined;
  #masterSecret: MasterSecret | undefined;

  constructor(options: LocalIotHarnessOptions = {}) {
    this.#options = options;
  }

  get local(): LocalIot {
    return this.#started().local;
  }

  get runtime(): LocalRuntime {
    return this.local.runtime;
  }

  /** The gateway's log. */
  get log(): RecordedLog {
    return this.#started().log;
  }

  /** The functions' console output, one line each. */
  get functionLog(): readonly string[] {
    return this.#started().functionLog;
  }

  /** The stack outputs with local values. */
  get outputs(): Readonly<Record<string, string>> {
    return this.runtime.outputs;
  }

  /**
   * The credentials of device `deviceId`: its id as user name, its password derived from the master secret
   * read from the local Secrets Manager, as the client derives it.
   */
  credentialsFor(deviceId: string): DeviceCredentials {
    this.#started();
    const { masterKey } = this.#masterSecret as MasterSecret;
    return { username: deviceId, password: deriveDevicePassword(masterKey, deviceId) };
  }

  /** The MQTT username for the unsigned authorizer for device `user`. */
  unsignedUsername(user: string): string {
    return buildCustomAuthUsername({
      user,
      authorizerName: this.output(STACK_OUTPUTS.unsignedAuthorizerName),
    });
  }

  /** The stack output `name`; throws when the stack has none. */
  output(name: string): string {
    const value = this.outputs[name];
    if (value === undefined)
      throw new Error(
        `the served stack has no output ${name} (it has: ${Object.keys(this.outputs).join(', ')})`,
      );
    return value;
  }

  /** Connects a client that must be accepted (CONNACK 0x00); it is ended after the test. */
  async connect(clientId: string, options: DeviceOptions = {}): Promise<TestClient> {
    const client = await TestClient.connect(...this.#clientArguments(clientId, options));
    this.#clients.push(client);
    return client;
  }

  /** Connects a client and resolves with the CONNACK reason code, 0x00 or a refusal's; never hangs. */
  async connackCode(clientId: string, options: DeviceOptions = {}): Promise<number> {
    const { client, reasonCode } = await TestClient.open(...this.#clientArguments(clientId, options));
    this.#clients.push(client);
    return reasonCode;
  }

  /** Serves the stack and fetches the credentials (`beforeAll`). */
  async start(): Promise<void> {
    const { assembly, context, serve } = this.#options;
    this.#served = await serveStack(assembly ?? synthesizedAssembly(context), serve);
    this.#masterSecret = await fetchMasterSecret(this.#served.local);
  }

  /** Ends the clients a test connected (`afterEach`). */
  endClients(): void {
    for (const client of this.#clients.splice(0)) client.end();
  }

  /** Stops local-iot and removes its files (`afterAll`); safe when the set-up failed. */
  async close(): Promise<void> {
    this.endClients();
    await this.#served?.close();
    this.#served = undefined;
  }

  #clientArguments(clientId: string, options: DeviceOptions): [string, IClientOptions] {
    const { transport = 'mqtt', ...mqttOptions } = { ...this.#options.clientDefaults, ...options };
    const { connection } = this.local;
    const origin = `${connection.endpoint}:${connection.port}`;
    const url = transport === 'websockets' ? `wss://${origin}/mqtt` : `mqtts://${origin}`;
    return [
      url,
      {
        clientId,
        ca: readFileSync(connection.caFile),
        servername: connection.endpoint,
        ...(transport === 'mqtt' && { ALPNProtocols: ['mqtt'] }),
        // Each device its own credentials: the client id names the device, as the zero-flag client does.
        ...(mqttOptions.username === undefined && {
          username: this.unsignedUsername(clientId),
          password: this.credentialsFor(clientId).password,
        }),
        ...mqttOptions,
      },
    ];
  }

  #started(): ServedStack {
    if (this.#served === undefined)
      throw new Error(
        'local-iot is not served: read the harness in tests and hooks (not at the top of the file), and see why its beforeAll failed',
      );
    return this.#served;
  }
}

/**
 * Serves a stack for the calling test file: registers the `beforeAll` that starts it, the `afterEach` that
 * ends the clients a test connected and the `afterAll` that stops it and removes its temporary files.
 */
export function useLocalIot(options: LocalIotHarnessOptions = {}): LocalIotHarness {
  const harness = new LocalIotHarness(options);
  beforeAll(() => harness.start(), SET_UP_TIMEOUT_MS);
  afterEach(() => harness.endClients());
  afterAll(() => harness.close());
  return harness;
}
