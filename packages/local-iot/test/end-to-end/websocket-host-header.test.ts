import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import { buildCustomAuthUsername } from '@iot-custom-auth/protocol';
import type { IClientOptions } from 'mqtt';
import { demoStackNames, FUNCTIONS_DIR, writeDemoAssembly } from '../fixtures/assembly';
import { useLocalIot } from '../support/local-iot-harness';
import { TestClient } from '../support/mqtt-test-client';

// MQTT over WebSockets from a client that sends no SNI (it connects to the IP address, as `ws` then sends
// none) but whose upgrade request's Host header names the endpoint: accepted, as AWS IoT accepts it. A Host
// naming another host is refused with a 400 saying what to send. The client is `mqtt` from npm.

const STACK = 'HostHeaderEndToEnd';
const { unsignedAuthorizer: AUTHORIZER } = demoStackNames(STACK);

const served = useLocalIot({
  assembly: (dir) => writeDemoAssembly(dir, STACK, { bundle: join(FUNCTIONS_DIR, 'behaviours') }),
});

const opened: TestClient[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) client.end();
});

/** TLS options mqtt.js passes on to node:tls (its type does not list them). */
function endpointIdentityCheck(endpoint: string): Pick<ConnectionOptions, 'checkServerIdentity'> {
  // The certificate must still be the endpoint's: only the SNI is missing.
  return { checkServerIdentity: (_host, cert) => checkServerIdentity(endpoint, cert) };
}

/** `wss://127.0.0.1:<port>/mqtt` (so no SNI), the Host header given, the certificate checked for the endpoint. */
function withoutSni(clientId: string, host: string): [string, IClientOptions] {
  const { connection } = served.local;
  const endpointIdentity = endpointIdentityCheck(connection.endpoint);
  return [
    `wss://127.0.0.1:${connection.port}/mqtt`,
    {
      clientId,
      ca: readFileSync(connection.caFile),
      ...endpointIdentity,
      wsOptions: { headers: { Host: host } },
      username: buildCustomAuthUsername({ user: 'open', authorizerName: AUTHORIZER }),
      password: Buffer.from('unused'),
    },
  ];
}

describe('MQTT over WebSockets without SNI', () => {
  it('is accepted when the Host header names the endpoint', async () => {
    const { connection } = served.local;
    const { client, reasonCode } = await TestClient.open(
      ...withoutSni('test-host-ok', `${connection.endpoint}:${connection.port}`),
    );
    opened.push(client);
    expect(reasonCode).toBe(0x00);
    const tls = served.log.matching('tls-connection').at(-1);
    expect(tls).toMatchObject({ route: 'http' });
    expect(tls?.serverName).toBeUndefined();
    expect(await served.log.waitFor('connect', { clientId: 'test-host-ok' })).toMatchObject({
      transport: 'websockets',
      decision: 'allow',
    });
  });

  it('is refused with a 400 saying what to send when the Host header names another host', async () => {
    // mqtt.js reports the refused upgrade as a closed connection; the gateway's log says why.
    const { connection } = served.local;
    await expect(
      TestClient.open(...withoutSni('test-host-other', `elsewhere.example:${connection.port}`)),
    ).rejects.toThrow(/closed before CONNACK|400/);
    expect(await served.log.waitFor('http-refused', { status: 400 })).toMatchObject({
      path: '/mqtt',
      reason: `the client sent no SNI and the Host header 'elsewhere.example:${connection.port}', which does not name the endpoint '${connection.endpoint}': connect to '${connection.endpoint}' by name (SNI), or send Host: ${connection.endpoint}`,
    });
    expect(served.log.matching('connect', { clientId: 'test-host-other' })).toEqual([]);
  });
});
