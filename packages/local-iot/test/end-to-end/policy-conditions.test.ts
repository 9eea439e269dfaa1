import { topicArn } from '@iot-custom-auth/protocol';
import { useBehavioursStack } from '../support/behaviours-stack';

// Policy Condition blocks on a real connection: the fixture authorizer returns the documents the test sends
// as the MQTT password, local-iot evaluates them with the source IP the gateway's socket saw (127.0.0.1,
// the test's loopback), and `mqtt` from npm sees the CONNACK and PUBACK codes.

const ARN = { region: 'us-east-1', account: '000000000000' };

const { served, withPolicies } = useBehavioursStack('ConditionsEndToEnd');

function publishFrom(range: string): object {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'PublishFromRange',
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: topicArn(ARN, 'devices/${iot:ClientId}/*'),
        Condition: { IpAddress: { 'aws:SourceIp': range } },
      },
    ],
  };
}

function denyConnectOutside(range: string): object {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OnlyFromRange',
        Effect: 'Deny',
        Action: 'iot:Connect',
        Resource: '*',
        Condition: { NotIpAddress: { 'aws:SourceIp': range } },
      },
    ],
  };
}

describe('policy conditions on aws:SourceIp, end to end', () => {
  it('grants a conditioned Allow from inside the range and nothing from outside it', async () => {
    const inside = await served.connect('test-cond-in', withPolicies([publishFrom('127.0.0.0/8')]));
    expect(await inside.publish('devices/test-cond-in/up', 'x', { qos: 1 })).toBe(0x00);
    const outside = await served.connect('test-cond-out', withPolicies([publishFrom('10.0.0.0/8')]));
    expect(await outside.publish('devices/test-cond-out/up', 'x', { qos: 1 })).toBe(0x87);
    const [refused] = served.log.matching('publish', { clientId: 'test-cond-out' });
    expect(refused).toMatchObject({
      decision: 'deny',
      reasonCode: '0x87',
      reason: expect.stringMatching(
        /statement PublishFromRange of policy document 2 does not apply: IpAddress aws:SourceIp \["10\.0\.0\.0\/8"\] does not hold: the request has \["127\.0\.0\.1"\]/,
      ) as unknown,
    });
  });

  it('refuses the connect under a conditioned Deny that holds, and allows it when it does not', async () => {
    expect(await served.connackCode('test-cond-deny', withPolicies([denyConnectOutside('10.0.0.0/8')]))).toBe(
      0x87,
    );
    expect(served.log.matching('connect', { clientId: 'test-cond-deny' })).toMatchObject([
      { decision: 'deny', reason: 'explicitly denied by statement OnlyFromRange of policy document 2' },
    ]);
    expect(
      await served.connackCode('test-cond-local', withPolicies([denyConnectOutside('127.0.0.0/8')])),
    ).toBe(0x00);
  });

  it('logs why a statement with an unknown condition key never applies', async () => {
    const unknown = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Guard',
          Effect: 'Deny',
          Action: 'iot:Connect',
          Resource: '*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    };
    expect(await served.connackCode('test-cond-unknown', withPolicies([unknown]))).toBe(0x00);
    const [connect] = served.log.matching('connect', { clientId: 'test-cond-unknown' });
    expect(connect?.reason).toContain(
      'statement Guard of policy document 2 does not apply: its Condition key "aws:SecureTransport" is not one AWS IoT Core provides',
    );
  });
});
