import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { GatewayConnections, type ClosableSession } from '../../src/gateway/gateway-connections';
import { withTimeout } from '../support/gateway-harness';

let server: Server | undefined;
const clients: Socket[] = [];

/** The server side of a fresh loopback TCP connection (the client side stays open until the test ends). */
async function serverSocket(): Promise<Socket> {
  server ??= await new Promise<Server>((resolve) => {
    const listening = createServer();
    listening.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const accepted = new Promise<Socket>((resolve) => (server as Server).once('connection', resolve));
  const { port } = server.address() as { port: number };
  const client = netConnect({ host: '127.0.0.1', port });
  client.on('error', () => undefined);
  clients.push(client);
  return withTimeout(accepted, 'a TCP connection');
}

/** A session that records what shutdown did to it; `shutdown` ends `socket` when given one. */
function fakeSession(
  calls: string[],
  name: string,
  socket?: Socket,
): ClosableSession & { readonly close: () => void } {
  let close!: () => void;
  return {
    closed: new Promise((resolve) => (close = resolve)),
    close: () => close(),
    shutdown: () => {
      calls.push(`${name} shutdown`);
      socket?.destroy();
    },
    destroy: () => calls.push(`${name} destroy`),
  };
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

describe('GatewayConnections', () => {
  it('shuts every session down, then destroys what is left once the grace time has passed', async () => {
    const connections = new GatewayConnections();
    const calls: string[] = [];
    const socket = await serverSocket();
    connections.trackSecureSocket(socket);
    connections.trackSession(fakeSession(calls, 'a'));
    const started = performance.now();
    await withTimeout(connections.close(50), 'close');
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(calls).toEqual(['a shutdown', 'a destroy']);
    expect(socket.destroyed).toBe(true);
  });

  it('stops waiting as soon as every TLS socket has closed', async () => {
    const connections = new GatewayConnections();
    const calls: string[] = [];
    const socket = await serverSocket();
    connections.trackSecureSocket(socket);
    connections.trackSession(fakeSession(calls, 'a', socket));
    // A grace time far beyond the test's wait limit: only the socket's close can end the wait.
    await withTimeout(connections.close(60_000), 'close');
    expect(calls).toEqual(['a shutdown', 'a destroy']);
  });

  it('destroys connections still in their TLS handshake without waiting for them', async () => {
    const connections = new GatewayConnections();
    const socket = await serverSocket();
    connections.trackConnection(socket);
    await withTimeout(connections.close(60_000), 'close');
    expect(socket.destroyed).toBe(true);
  });

  it('leaves a session that closed before the shutdown alone', async () => {
    const connections = new GatewayConnections();
    const calls: string[] = [];
    const done = fakeSession(calls, 'done');
    connections.trackSession(done);
    connections.trackSession(fakeSession(calls, 'live'));
    done.close();
    await done.closed;
    await connections.close(0);
    expect(calls).toEqual(['live shutdown', 'live destroy']);
  });
});
