/**
 * Test doubles and clients for the gateway tests: a recording log sink, a fake `ConnectAuthorizer`, a local
 * CA in a temporary directory, and a raw MQTT-over-TLS client that sends exactly the bytes a test asks for.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';
import type { ConnectAttempt, ConnectAuthorizer, ConnectDecision } from '../../src/auth/connect-types';
import { compilePolicies } from '@iot-custom-auth/protocol';
import { LocalIotError } from '../../src/errors';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway';
import { ensureLocalCa, type LocalCa } from '../../src/gateway/local-ca';
import { RecordedLog } from './recorded-log';
import { withTimeout } from './wait';

// The gateway tests import these from here, as they did before both moved to files of their own.
export { RecordedLog } from './recorded-log';
export { withTimeout } from './wait';

/** A `ConnectAuthorizer` that records attempts and answers with `decide` (allow by default). */
export class FakeAuthorizer implements ConnectAuthorizer {
  readonly attempts: ConnectAttempt[] = [];
  decide: (attempt: ConnectAttempt) => ConnectDecision | Promise<ConnectDecision> = () => allowed();

  authorize(attempt: ConnectAttempt): Promise<ConnectDecision> {
    this.attempts.push(attempt);
    return Promise.resolve(this.decide(attempt));
  }
}

/** An allow decision like the pipeline's, with a session. */
export function allowed(session: Partial<NonNullable<ConnectDecision['session']>> = {}): ConnectDecision {
  return {
    allowed: true,
    reasonCode: 0,
    reason: 'iot:Connect allowed on client/test-1',
    authorizerName: 'UnsignedAuthorizer',
    signature: 'not-required',
    lambdaInvoked: true,
    lambdaDurationMs: 12,
    session: {
      authorizerName: 'UnsignedAuthorizer',
      principalId: 'device1',
      policies: compilePolicies([]),
      refreshAfterInSeconds: 300,
      disconnectAfterInSeconds: 86_400,
      ...session,
    },
  };
}

/** A refusal like the pipeline's. */
export function refused(reasonCode: number, reason: string): ConnectDecision {
  return {
    allowed: false,
    reasonCode,
    reason,
    authorizerName: 'UnsignedAuthorizer',
    signature: 'not-required',
    lambdaInvoked: true,
    lambdaDurationMs: 7,
  };
}

let caDir: string | undefined;
let ca: Promise<LocalCa> | undefined;

/** One local CA per test file, in a temporary directory removed by `removeTestCa`. */
export function testCa(): Promise<LocalCa> {
  ca ??= mkdtemp(join(tmpdir(), 'local-iot-ca-')).then((dir) => {
    caDir = dir;
    return ensureLocalCa(dir, ['localhost']);
  });
  return ca;
}

export async function removeTestCa(): Promise<void> {
  if (caDir) await rm(caDir, { recursive: true, force: true });
  caDir = undefined;
  ca = undefined;
}

/** A gateway on an ephemeral 127.0.0.1 port, with a recording log and a fake authorizer. */
export interface TestGateway {
  readonly gateway: Gateway;
  readonly log: RecordedLog;
  readonly authorizer: FakeAuthorizer;
  readonly ca: LocalCa;
  readonly port: number;
}

export async function startTestGateway(options: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const localCa = await testCa();
  const log = new RecordedLog();
  const authorizer = new FakeAuthorizer();
  const gateway = await startGateway({
    port: 0,
    tls: localCa,
    authorizer,
    log: log.sink,
    ...options,
  });
  return { gateway, log, authorizer, ca: localCa, port: gateway.port };
}

/** Options of `RawClient.connect`. */
export interface RawClientOptions {
  readonly host?: string;
  /** SNI; `null` sends none. @default 'localhost' */
  readonly servername?: string | null;
  /** @default ['mqtt'] */
  readonly alpn?: readonly string[];
  /** MQTT protocol level for encoding and decoding. @default 5 */
  readonly protocolVersion?: 4 | 5;
  /** A client certificate and its key (PEM), for the X.509 listener. */
  readonly certificate?: { readonly cert: string; readonly key: string };
}

/** A TLS client that writes raw MQTT packets or bytes and reads the gateway's packets. */
export class RawClient {
  readonly #packets: Packet[] = [];
  readonly #waiters: ((packet: Packet | undefined) => void)[] = [];
  readonly #parser;
  #closed = false;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;
  /** Protocol error seen while parsing the gateway's bytes (must stay empty). */
  parseErrors: string[] = [];

  private constructor(
    readonly socket: TLSSocket,
    readonly protocolVersion: 4 | 5,
  ) {
    this.#parser = createParser({ protocolVersion });
    this.#parser.on('packet', (packet) => this.#push(packet));
    this.#parser.on('error', (error: Error) => this.parseErrors.push(error.message));
    socket.on('data', (chunk: Buffer) => this.#parser.parse(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        for (const waiter of this.#waiters.splice(0)) waiter(undefined);
        resolve();
      }),
    );
  }

  /** Connects and completes the TLS handshake; rejects with the TLS error otherwise. */
  static async connect(port: number, ca: string, options: RawClientOptions = {}): Promise<RawClient> {
    const servername = options.servername === undefined ? 'localhost' : options.servername;
    const socket = tlsConnect({
      host: options.host ?? '127.0.0.1',
      port,
      ca,
      ...(servername === null ? {} : { servername }),
      ALPNProtocols: [...(options.alpn ?? ['mqtt'])],
      ...options.certificate,
    });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      }),
      'TLS handshake',
    );
    return new RawClient(socket, options.protocolVersion ?? 5);
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet, { protocolVersion: this.protocolVersion }));
  }

  write(bytes: Buffer | readonly number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** A CONNECT like a device's; `fields` override. */
  sendConnect(fields: Partial<Extract<Packet, { cmd: 'connect' }>> = {}): void {
    this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: this.protocolVersion,
      clean: true,
      clientId: 'test-1',
      keepalive: 60,
      username: 'device?x-amz-customauthorizer-name=UnsignedAuthorizer',
      password: Buffer.from('secret'),
      ...fields,
    });
  }

  /** The next packet from the gateway, or `undefined` when the connection closed first. */
  nextPacket(): Promise<Packet | undefined> {
    const packet = this.#packets.shift();
    if (packet) return Promise.resolve(packet);
    if (this.#closed) return Promise.resolve(undefined);
    return withTimeout(new Promise((resolve) => this.#waiters.push(resolve)), 'next packet from the gateway');
  }

  /** Connects (CONNECT + CONNACK) and returns the CONNACK. */
  async handshake(fields: Partial<Extract<Packet, { cmd: 'connect' }>> = {}): Promise<Packet | undefined> {
    this.sendConnect(fields);
    return this.nextPacket();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #push(packet: Packet): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(packet);
    else this.#packets.push(packet);
  }
}

/** Asserts that `promise` rejects with a `LocalIotError` carrying exactly `message`. */
export async function expectLocalIotError(promise: Promise<unknown>, message: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LocalIotError);
  expect((error as LocalIotError).message).toBe(message);
}
