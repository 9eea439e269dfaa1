import {
  ProtocolError,
  arnContextOf,
  regionOfArn,
  buildConnectPolicy,
  buildDevicePolicies,
  buildTopicPolicy,
  clientArn,
  deviceTopic,
  topicArn,
  topicFilterArn,
} from '../src';

const context = { region: 'eu-west-1', account: '123456789012' };

describe('IoT ARNs', () => {
  it('builds client, topic and topicfilter ARNs in the aws partition by default', () => {
    expect(clientArn(context, 'test-1')).toBe('arn:aws:iot:eu-west-1:123456789012:client/test-1');
    expect(topicArn(context, 'a/b')).toBe('arn:aws:iot:eu-west-1:123456789012:topic/a/b');
    expect(topicFilterArn({ ...context, partition: 'aws-cn' }, 'a/+')).toBe(
      'arn:aws-cn:iot:eu-west-1:123456789012:topicfilter/a/+',
    );
  });

  it('reads partition, region and account from a Lambda function ARN', () => {
    expect(arnContextOf('arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:auth')).toEqual({
      partition: 'aws-us-gov',
      region: 'us-gov-west-1',
      account: '123456789012',
    });
  });

  it.each([
    '',
    'arn:aws:lambda:eu-west-1:1234:function:x',
    'not:an:arn:at:all:really',
    'arn:aws:lambda::123456789012:x',
  ])('rejects %j', (arn) => {
    expect(() => arnContextOf(arn)).toThrow(ProtocolError);
  });

  it('reads the region of a secret or function ARN, and nothing from a plain name', () => {
    expect(regionOfArn('arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-AbCdEf')).toBe(
      'eu-west-1',
    );
    expect(regionOfArn('arn:aws-cn:lambda:cn-north-1:123456789012:function:auth')).toBe('cn-north-1');
    expect(regionOfArn('device-secret')).toBeUndefined();
    expect(regionOfArn('arn:aws:lambda:eu-west-1:1234:function:x')).toBeUndefined();
    expect(regionOfArn(undefined)).toBeUndefined();
  });
});

describe('policy builders', () => {
  it('builds the test-* connect policy', () => {
    expect(buildConnectPolicy(context)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ConnectWithPrefix',
          Effect: 'Allow',
          Action: 'iot:Connect',
          Resource: 'arn:aws:iot:eu-west-1:123456789012:client/test-*',
        },
      ],
    });
  });

  it('honours another client id prefix', () => {
    expect(buildConnectPolicy({ ...context, clientIdPrefix: 'fleet-' }).Statement[0]?.Resource).toBe(
      'arn:aws:iot:eu-west-1:123456789012:client/fleet-*',
    );
  });

  it('scopes the topic policy to ${iot:ClientId}', () => {
    expect(buildTopicPolicy({ ...context, topicRoot: 'things' })).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'OwnTopics',
          Effect: 'Allow',
          Action: ['iot:Publish', 'iot:Receive', 'iot:RetainPublish'],
          Resource: [
            'arn:aws:iot:eu-west-1:123456789012:topic/things/${iot:ClientId}',
            'arn:aws:iot:eu-west-1:123456789012:topic/things/${iot:ClientId}/*',
          ],
        },
        {
          Sid: 'OwnTopicFilters',
          Effect: 'Allow',
          Action: 'iot:Subscribe',
          Resource: [
            'arn:aws:iot:eu-west-1:123456789012:topicfilter/things/${iot:ClientId}',
            'arn:aws:iot:eu-west-1:123456789012:topicfilter/things/${iot:ClientId}/*',
          ],
        },
      ],
    });
  });

  it('returns the connect and topic policies, each within the 2,048 character limit', () => {
    const documents = buildDevicePolicies({ ...context, partition: 'aws-us-gov', region: 'us-gov-west-1' });
    expect(documents).toEqual([
      buildConnectPolicy({ ...context, partition: 'aws-us-gov', region: 'us-gov-west-1' }),
      buildTopicPolicy({ ...context, partition: 'aws-us-gov', region: 'us-gov-west-1' }),
    ]);
    for (const document of documents) expect(JSON.stringify(document).length).toBeLessThanOrEqual(2048);
  });

  it('names the device topic', () => {
    expect(deviceTopic('test-1')).toBe('devices/test-1');
    expect(deviceTopic('test-1', 'things')).toBe('things/test-1');
  });
});
