import { readFileSync } from 'node:fs';
import { STACK_OUTPUTS, buildCustomAuthUsername, type DeviceCredentials } from '@iot-custom-auth/protocol';
import { connect, type MqttClient } from 'mqtt';
import {
  fetchDeviceCredentials,
  serveSynthesizedStack,
  type ServedStack,
} from '../support/synthesized-stack';

// The stack, not local-iot, decides: re-synthesized with another client id prefix and other TTLs, the same
// local-iot code serves different behaviour (no edit to local-iot).

let served: ServedStack;
let credentials: DeviceCredentials;
const clients: MqttClient[] = [];

beforeAll(async () => {
  served = await serveSynthesizedStack(
    {},
    { clientIdPrefix: 'fleet-', refreshAfterSeconds: '900', disconnectAfterSeconds: '3600' },
  );
  credentials = await fetchDeviceCredentials(served.local);
}, 120_000);

afterEach(() => {
  for (const client of clients.splice(0)) client.end(true);
});

afterAll(async () => {
  await served?.close();
});

function connectCode(clientId: string): Promise<number> {
  const { connection } = served.local;
  return new Promise((resolve, reject) => {
    const client = connect(`mqtts://${connection.endpoint}:${connection.port}`, {
      protocolVersion: 5,
      clientId,
      username: buildCustomAuthUsername({
        user: credentials.username,
        authorizerName: served.local.runtime.outputs[STACK_OUTPUTS.unsignedAuthorizerName],
      }),
      password: credentials.password,
      ca: readFileSync(connection.caFile),
      ALPNProtocols: ['mqtt'],
      reconnectPeriod: 0,
    });
    clients.push(client);
    client.once('connect', (connack) => resolve(connack.reasonCode ?? 0));
    client.once('error', (error: Error & { code?: number | string }) =>
      typeof error.code === 'number' ? resolve(error.code) : reject(error),
    );
  });
}

it('follows the synthesized client id prefix: fleet-* connects, test-* is refused by the policy', async () => {
  expect(served.local.runtime.outputs[STACK_OUTPUTS.clientIdPrefix]).toBe('fleet-');
  expect(served.local.runtime.deployment.policies.map((p) => JSON.stringify(p))).toEqual([
    expect.stringContaining('client/fleet-*') as string,
  ]);
  expect(await connectCode('fleet-1')).toBe(0);
  expect(await connectCode('test-1')).toBe(0x87);
});

it('returns the synthesized TTLs through TestInvokeAuthorizer', async () => {
  const name = served.local.runtime.outputs[STACK_OUTPUTS.unsignedAuthorizerName] as string;
  const response = await fetch(
    `${served.local.connection.awsEndpointUrl}/authorizer/${encodeURIComponent(name)}/test`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        mqttContext: {
          username: credentials.username,
          password: Buffer.from(credentials.password).toString('base64'),
          clientId: 'fleet-2',
        },
      }),
    },
  );
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({
    isAuthenticated: true,
    refreshAfterInSeconds: 900,
    disconnectAfterInSeconds: 3600,
  });
});
