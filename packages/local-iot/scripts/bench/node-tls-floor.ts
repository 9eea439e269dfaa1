// The least a Node.js MQTT server can do per connect, as its own process for `npm run bench`: TLS with the same
// certificate and ALPN `mqtt`, MQTT CONNECT parsed with mqtt-packet, the password compared in constant time (what
// mosquitto's password file does), CONNACK, then close on DISCONNECT. No authorizer, no policy, no logs, no
// sessions: whatever local-iot costs above this row is local-iot's own; what this row costs above mosquitto is the
// price of Node.js's TLS and streams, which no change inside local-iot can remove.
//   node --import tsx node-tls-floor.ts <certFile> <keyFile>   (user name and password on stdin, one line each)
// Prints `listening <port>` once it accepts connections.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';

const [certFile, keyFile] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined) {
  console.error('usage: node-tls-floor.ts <certFile> <keyFile> (user name and password on stdin)');
  process.exit(2);
}
const [username, password] = readFileSync(0, 'utf8').split('\n');
if (!username || !password) {
  console.error('node-tls-floor: stdin must hold the user name and the password, one line each');
  process.exit(2);
}
// A digest of each, so the comparison is constant-time whatever the lengths.
const digest = (value: Buffer | string): Buffer => createHash('sha256').update(value).digest();
const expectedUser = digest(username);
const expectedPassword = digest(password);

const server = createServer(
  {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['mqtt'],
  },
  (socket) => {
    const parser = createParser({ protocolVersion: 5 });
    const reply = (packet: Packet): void => {
      socket.write(generate(packet, { protocolVersion: 5 }));
    };
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connect') {
        const ok =
          timingSafeEqual(digest(packet.username ?? ''), expectedUser) &&
          timingSafeEqual(digest(packet.password ?? Buffer.alloc(0)), expectedPassword);
        reply({ cmd: 'connack', sessionPresent: false, reasonCode: ok ? 0 : 0x86 });
        if (!ok) socket.end();
      } else if (packet.cmd === 'pingreq') {
        reply({ cmd: 'pingresp' });
      } else if (packet.cmd === 'disconnect') {
        socket.end();
      }
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', () => socket.destroy());
  },
);
server.on('tlsClientError', () => undefined);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address === 'object' && address !== null) console.log(`listening ${address.port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
