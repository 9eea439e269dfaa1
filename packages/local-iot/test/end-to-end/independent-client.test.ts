import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  STACK_OUTPUTS,
  TOKEN_SIGNING_KEY_FILES,
  buildCustomAuthUsername,
  createToken,
  parseDeviceCredentials,
  signToken,
  type DeviceCredentials,
} from '@iot-custom-auth/protocol';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { ConnectLogEntry } from '../../src/gateway/gateway-log';
import { REPO_ROOT, serveSynthesizedStack, type ServedStack } from '../support/synthesized-stack';

// An MQTT 5 client this project did not write (`mqtt` from npm) against the real synthesized stack: the real
// Lambda bundle, the real authorizers and the device secret served by the local AWS API.

let served: ServedStack;
let outputs: Record<string, string>;
let credentials: DeviceCredentials;
const clients: MqttClient[] = [];

beforeAll(async () => {
  served = await serveSynthesizedStack();
  outputs = { ...served.local.runtime.outputs };
  // The device password, fetched as the client fetches it: the real SDK through the endpoint override.
  const { connection } = served.local;
  const secrets = new SecretsManagerClient({
    region: connection.region,
    endpoint: connection.awsEndpointUrl,
    credentials: connection.credentials,
  });
  const secret = await secrets.send(
    new GetSecretValueCommand({ SecretId: outputs[STACK_OUTPUTS.deviceSecretArn] }),
  );
  secrets.destroy();
  credentials = parseDeviceCredentials(secret.SecretString) as DeviceCredentials;
}, 120_000);

afterEach(() => {
  for (const client of clients.splice(0)) client.end(true);
});

afterAll(async () => {
  await served?.close();
});

function options(clientId: string, extra: IClientOptions): IClientOptions {
  const { connection } = served.local;
  return {
    protocolVersion: 5,
    clientId,
    ca: readFileSync(connection.caFile),
    servername: connection.endpoint,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...extra,
  };
}

/** Connects; resolves with the CONNACK reason code (0 when connected), never hangs. */
function connectOutcome(url: string, opts: IClientOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = connect(url, opts);
    clients.push(client);
    client.once('connect', (connack) => resolve(connack.reasonCode ?? 0));
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
    client.once('error', (error: Error & { code?: number | string }) =>
      typeof error.code === 'number' ? resolve(error.code) : reject(error),
    );
  });
}

const direct = (): string => `mqtts://${served.local.connection.endpoint}:${served.local.connection.port}`;
const websockets = (): string =>
  `wss://${served.local.connection.endpoint}:${served.local.connection.port}/mqtt`;

function decisionFor(clientId: string): ConnectLogEntry | undefined {
  return served.gatewayLog.find(
    (e): e is ConnectLogEntry => e.event === 'connect' && e.clientId === clientId,
  );
}

function unsignedUsername(user = credentials.username): string {
  return buildCustomAuthUsername({
    user,
    authorizerName: outputs[STACK_OUTPUTS.unsignedAuthorizerName],
  });
}

function signedUsername(clientId: string, tamper = false): string {
  const privateKey = readFileSync(
    path.join(REPO_ROOT, TOKEN_SIGNING_KEY_FILES.directory, TOKEN_SIGNING_KEY_FILES.privateKey),
    'utf8',
  );
  const token = createToken({ clientId, lifetimeSeconds: 300 });
  const signature = Buffer.from(signToken(token, privateKey), 'base64');
  if (tamper) signature[10] = (signature[10] ?? 0) ^ 0x01;
  return buildCustomAuthUsername({
    authorizerName: outputs[STACK_OUTPUTS.signedAuthorizerName],
    tokenKeyName: outputs[STACK_OUTPUTS.tokenKeyName],
    token,
    signature: signature.toString('base64'),
  });
}

describe('an independent MQTT 5 client (mqtt.js) through the synthesized stack', () => {
  it('connects through the unsigned authorizer over direct TLS with ALPN mqtt', async () => {
    const code = await connectOutcome(
      direct(),
      options('test-mqttjs-direct', {
        ALPNProtocols: ['mqtt'],
        username: unsignedUsername(),
        password: credentials.password,
      }),
    );
    expect(code).toBe(0);
    expect(decisionFor('test-mqttjs-direct')).toMatchObject({
      transport: 'mqtt',
      alpn: 'mqtt',
      authorizer: outputs[STACK_OUTPUTS.unsignedAuthorizerName],
      signature: 'not-required',
      lambdaInvoked: true,
      decision: 'allow',
      reasonCodeNumber: 0,
    });
  });

  it('connects through the signed authorizer over WebSockets', async () => {
    const code = await connectOutcome(
      websockets(),
      options('test-mqttjs-ws', { username: signedUsername('test-mqttjs-ws') }),
    );
    expect(code).toBe(0);
    expect(decisionFor('test-mqttjs-ws')).toMatchObject({
      transport: 'websockets',
      authorizer: outputs[STACK_OUTPUTS.signedAuthorizerName],
      signature: 'verified',
      lambdaInvoked: true,
      decision: 'allow',
    });
  });

  it('is refused with 0x86 for a wrong password', async () => {
    const code = await connectOutcome(
      direct(),
      options('test-mqttjs-wrong', {
        ALPNProtocols: ['mqtt'],
        username: unsignedUsername(),
        password: 'wrong',
      }),
    );
    expect(code).toBe(0x86);
    expect(decisionFor('test-mqttjs-wrong')).toMatchObject({
      decision: 'deny',
      reasonCode: '0x86',
      lambdaInvoked: true,
      reason: `authorizer '${outputs[STACK_OUTPUTS.unsignedAuthorizerName]}' returned isAuthenticated: false`,
    });
  });

  it('is refused with 0x87 for a client id outside test-*', async () => {
    const code = await connectOutcome(
      direct(),
      options('prod-mqttjs', {
        ALPNProtocols: ['mqtt'],
        username: unsignedUsername(),
        password: credentials.password,
      }),
    );
    expect(code).toBe(0x87);
    expect(decisionFor('prod-mqttjs')?.reason).toBe(
      'policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/prod-mqttjs',
    );
  });

  it('is refused with 0x87 for a tampered signature, without invoking the Lambda', async () => {
    const before = served.local.runtime.invocationCount();
    const code = await connectOutcome(
      direct(),
      options('test-mqttjs-tampered', {
        ALPNProtocols: ['mqtt'],
        username: signedUsername('test-mqttjs-tampered', true),
      }),
    );
    expect(code).toBe(0x87);
    expect(decisionFor('test-mqttjs-tampered')).toMatchObject({ signature: 'failed', lambdaInvoked: false });
    expect(served.local.runtime.invocationCount()).toBe(before);
  });

  it('gets no custom authentication without ALPN mqtt: the connection closes before any CONNACK', async () => {
    const before = served.local.runtime.invocationCount();
    await expect(
      connectOutcome(
        direct(),
        options('test-mqttjs-noalpn', {
          username: unsignedUsername(),
          password: credentials.password,
          connectTimeout: 3000,
        }),
      ),
    ).rejects.toThrow('connection closed before CONNACK');
    expect(decisionFor('test-mqttjs-noalpn')).toBeUndefined();
    expect(served.local.runtime.invocationCount()).toBe(before);
  });
});
