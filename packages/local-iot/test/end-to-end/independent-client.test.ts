import { STACK_OUTPUTS, buildCustomAuthUsername, createToken, signToken } from '@iot-custom-auth/protocol';
import { useLocalIot } from '../support/local-iot-harness';
import { tokenSigningPrivateKey } from '../support/synthesized-stack';

// An MQTT 5 client this project did not write (`mqtt` from npm) against the real synthesized stack: the real
// Lambda bundle, the real authorizers and the device secret served by the local AWS API.

const served = useLocalIot();

const decisionFor = (clientId: string) => served.log.matching('connect', { clientId })[0];

function signedUsername(clientId: string, tamper = false): string {
  const token = createToken({ clientId, lifetimeSeconds: 300 });
  const signature = Buffer.from(signToken(token, tokenSigningPrivateKey()), 'base64');
  if (tamper) signature[10] = (signature[10] ?? 0) ^ 0x01;
  return buildCustomAuthUsername({
    authorizerName: served.output(STACK_OUTPUTS.signedAuthorizerName),
    tokenKeyName: served.output(STACK_OUTPUTS.tokenKeyName),
    token,
    signature: signature.toString('base64'),
  });
}

describe('an independent MQTT 5 client (mqtt.js) through the synthesized stack', () => {
  it('connects through the unsigned authorizer over direct TLS with ALPN mqtt', async () => {
    expect(await served.connackCode('test-mqttjs-direct', { transport: 'mqtt' })).toBe(0);
    expect(decisionFor('test-mqttjs-direct')).toMatchObject({
      transport: 'mqtt',
      alpn: 'mqtt',
      authorizer: served.output(STACK_OUTPUTS.unsignedAuthorizerName),
      signature: 'not-required',
      lambdaInvoked: true,
      decision: 'allow',
      reasonCodeNumber: 0,
    });
  });

  it('connects through the signed authorizer over WebSockets', async () => {
    const code = await served.connackCode('test-mqttjs-ws', {
      transport: 'websockets',
      username: signedUsername('test-mqttjs-ws'),
    });
    expect(code).toBe(0);
    expect(decisionFor('test-mqttjs-ws')).toMatchObject({
      transport: 'websockets',
      authorizer: served.output(STACK_OUTPUTS.signedAuthorizerName),
      signature: 'verified',
      lambdaInvoked: true,
      decision: 'allow',
    });
  });

  it('is refused with 0x86 for a wrong password', async () => {
    const code = await served.connackCode('test-mqttjs-wrong', {
      username: served.unsignedUsername('test-mqttjs-wrong'),
      password: 'wrong',
    });
    expect(code).toBe(0x86);
    expect(decisionFor('test-mqttjs-wrong')).toMatchObject({
      decision: 'deny',
      reasonCode: '0x86',
      lambdaInvoked: true,
      reason: `authorizer '${served.output(STACK_OUTPUTS.unsignedAuthorizerName)}' returned isAuthenticated: false`,
    });
  });

  it('is refused with 0x87 for a client id outside test-*', async () => {
    // Valid credentials of a device: only its own client id (under the prefix) is allowed.
    const device = served.credentialsFor('test-mqttjs-device');
    expect(
      await served.connackCode('prod-mqttjs', {
        username: served.unsignedUsername(device.username),
        password: device.password,
      }),
    ).toBe(0x87);
    expect(decisionFor('prod-mqttjs')?.reason).toBe(
      'policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/prod-mqttjs',
    );
  });

  it('is refused with 0x87 for a tampered signature, without invoking the Lambda', async () => {
    const before = served.runtime.invocationCount();
    const code = await served.connackCode('test-mqttjs-tampered', {
      username: signedUsername('test-mqttjs-tampered', true),
    });
    expect(code).toBe(0x87);
    expect(decisionFor('test-mqttjs-tampered')).toMatchObject({ signature: 'failed', lambdaInvoked: false });
    expect(served.runtime.invocationCount()).toBe(before);
  });

  it('gets no custom authentication without ALPN mqtt: the connection closes before any CONNACK', async () => {
    const before = served.runtime.invocationCount();
    await expect(
      served.connackCode('test-mqttjs-noalpn', { transport: 'tls-without-alpn', connectTimeout: 3000 }),
    ).rejects.toThrow('connection closed before CONNACK');
    expect(decisionFor('test-mqttjs-noalpn')).toBeUndefined();
    expect(served.runtime.invocationCount()).toBe(before);
  });
});
