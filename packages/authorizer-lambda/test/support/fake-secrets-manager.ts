import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the fake answers to GetSecretValue. */
export type FakeSecretBehaviour =
  | { readonly kind: 'secret'; readonly secretString: string }
  | { readonly kind: 'binary' }
  | { readonly kind: 'error'; readonly status: number; readonly type: string; readonly message: string }
  /** Accept the request and never answer (a slow or stuck Secrets Manager). */
  | { readonly kind: 'hang' };

/** One request the fake received. */
export interface FakeSecretRequest {
  readonly target: string | undefined;
  readonly secretId: unknown;
  readonly signed: boolean;
  /** The region of the SigV4 credential scope the request was signed for. */
  readonly region: string | undefined;
}

/**
 * A stand-in for the Secrets Manager API on 127.0.0.1 (ephemeral port), reached by the real SDK through its
 * endpoint override: the network edge, with the product code unchanged.
 */
export class FakeSecretsManager {
  readonly requests: FakeSecretRequest[] = [];
  behaviour: FakeSecretBehaviour = {
    kind: 'error',
    status: 500,
    type: 'InternalServiceError',
    message: 'unset',
  };
  /** How many hanging requests the client gave up on by closing the connection (the SDK's abort). */
  abortedHangs = 0;
  private hangWaiters: (() => void)[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor() {
    this.server = createServer((request, response) => this.handle(request, response));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(): Promise<FakeSecretsManager> {
    const fake = new FakeSecretsManager();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once the client has closed a hanging request's connection. */
  async abortedHang(): Promise<void> {
    if (this.abortedHangs > 0) return;
    await new Promise<void>((resolve) => this.hangWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let secretId: unknown;
      try {
        secretId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId?: unknown }).SecretId;
      } catch {
        secretId = undefined;
      }
      this.requests.push({
        target: request.headers['x-amz-target'] as string | undefined,
        secretId,
        signed: /^AWS4-HMAC-SHA256 /.test(request.headers.authorization ?? ''),
        region: /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(request.headers.authorization ?? '')?.[1],
      });
      const behaviour = this.behaviour;
      const reply = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(body));
      };
      switch (behaviour.kind) {
        case 'secret':
          reply(200, {
            ARN: secretId,
            Name: 'device-credentials',
            SecretString: behaviour.secretString,
            VersionId: '00000000-0000-4000-8000-000000000001',
            VersionStages: ['AWSCURRENT'],
            CreatedDate: 1767225600,
          });
          break;
        case 'binary':
          reply(200, {
            ARN: secretId,
            Name: 'device-credentials',
            SecretBinary: 'AAEC',
            CreatedDate: 1767225600,
          });
          break;
        case 'error':
          reply(behaviour.status, { __type: behaviour.type, message: behaviour.message });
          break;
        case 'hang':
          request.socket.on('close', () => {
            this.abortedHangs += 1;
            this.hangWaiters.splice(0).forEach((wake) => wake());
          });
          break;
      }
    });
  }
}
