import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalIotError } from '../errors';

/** Where to bind. */
export interface LoopbackListenerOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (an ephemeral port) */
  readonly port?: number;
}

/**
 * An HTTP listener bound before anything serves it, so that its URL is known first: the local AWS API's
 * URL goes into the Lambda runner's environment, and the API's TestInvokeAuthorizer needs the pipeline
 * built on that runner. Binding the listener first breaks that cycle without a half-built API: the runner
 * and the pipeline are built with `url`, then the API is constructed complete and serves the listener.
 */
export class LoopbackListener {
  private constructor(
    private readonly server: Server,
    private readonly address: AddressInfo,
    /** Where the server sends requests; filled once by `serve`. */
    private readonly route: { handler?: RequestListener },
  ) {}

  /** Binds a listener on `host:port`. @throws when the port cannot be bound (e.g. EADDRINUSE). */
  static async bind(options: LoopbackListenerOptions = {}): Promise<LoopbackListener> {
    const route: { handler?: RequestListener } = {};
    const server = createServer((request, response) => {
      if (route.handler !== undefined) {
        route.handler(request, response);
        return;
      }
      // Not reachable through createLocalRuntime (nothing knows the URL before the API serves it), but a
      // bound listener without a handler must not leave a client hanging.
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: 'nothing serves this local-iot listener yet' }));
    });
    // A client that sends garbage instead of HTTP gets its socket closed; the server goes on.
    server.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new LoopbackListener(server, server.address() as AddressInfo, route);
  }

  /** The port it listens on. */
  get port(): number {
    return this.address.port;
  }

  /** `http://<host>:<port>`, e.g. the value for `AWS_ENDPOINT_URL` and the SDK clients' `endpoint`. */
  get url(): string {
    const { address, family } = this.address;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${this.port}`;
  }

  /**
   * Hands every request to `handler`. One handler per listener.
   * @throws LocalIotError when something already serves this listener.
   */
  serve(handler: RequestListener): void {
    if (this.route.handler !== undefined) {
      throw new LocalIotError(
        `the listener on ${this.url} is already served; bind another LoopbackListener for a second server`,
      );
    }
    this.route.handler = handler;
  }

  /**
   * Stops handing requests to the current handler and returns it, so that another server can `serve` this
   * listener: watch mode swaps the deployment behind one port. Requests already handed over finish.
   */
  release(): RequestListener | undefined {
    const released = this.route.handler;
    delete this.route.handler;
    return released;
  }

  /** Stops listening and closes open connections (SDK clients keep theirs alive). Safe to call twice. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
