import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AWS_IOT_LOG_GROUP, IOT_LOGGING_NOT_MANAGED, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { addCustomAuthorizerStack, parseAppSettings, type IotLoggingLevel } from '../src';
import { expectInfraError, newApp, PUBLIC_KEY_PEM, synthCustomAuthorizerStack } from './helpers';

const outputValue = (template: ReturnType<typeof synthCustomAuthorizerStack>['template'], name: string) =>
  (template.toJSON().Outputs as Record<string, { Value: unknown }>)[name]?.Value;

describe('what a refusal is explained from: outputs and opt-in AWS IoT logging', () => {
  it("outputs the authorizer Lambda's name and log group, and NOT_MANAGED logging by default", () => {
    const { stack, template } = synthCustomAuthorizerStack();
    const functionRef = stack.resolve(stack.authorizer.function.functionName) as { Ref: string };
    const functionId = functionRef.Ref;
    const logGroupIds = Object.keys(template.findResources('AWS::Logs::LogGroup'));
    const functionProperties = template.findResources('AWS::Lambda::Function')[functionId]?.Properties as {
      LoggingConfig: { LogGroup: { Ref: string } };
    };
    const functionLogGroup = functionProperties.LoggingConfig.LogGroup;
    expect(logGroupIds).toContain(functionLogGroup.Ref);
    expect(functionId).toMatch(/^CustomAuthorizerFunction/);
    expect(outputValue(template, STACK_OUTPUTS.authorizerFunctionName)).toEqual({ Ref: functionId });
    expect(outputValue(template, STACK_OUTPUTS.authorizerLogGroupName)).toEqual(functionLogGroup);
    expect(outputValue(template, STACK_OUTPUTS.iotLogLevel)).toBe(IOT_LOGGING_NOT_MANAGED);
  });

  it('leaves account-wide AWS IoT logging alone unless asked', () => {
    const { template } = synthCustomAuthorizerStack();
    template.resourceCountIs('AWS::IoT::Logging', 0);
    template.resourcePropertiesCountIs(
      'AWS::IAM::Role',
      { AssumeRolePolicyDocument: Match.serializedJson(Match.stringLikeRegexp('iot.amazonaws.com')) },
      0,
    );
  });

  it.each<IotLoggingLevel>(['ERROR', 'INFO', 'DEBUG'])(
    'turns AWS IoT logging on at %s with a role that may only write AWSIotLogsV2',
    (level) => {
      const { template } = synthCustomAuthorizerStack({ iotLogLevel: level });
      const logging = Object.values(template.findResources('AWS::IoT::Logging'));
      expect(logging).toHaveLength(1);
      const properties = logging[0]?.Properties as Record<string, unknown>;
      expect(properties.DefaultLogLevel).toBe(level);
      expect(properties.AccountId).toEqual({ Ref: 'AWS::AccountId' });
      const roleId = (properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const role = template.findResources('AWS::IAM::Role')[roleId]?.Properties as Record<string, unknown>;
      expect(role.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'iot.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      });
      expect(role.ManagedPolicyArns).toBeUndefined();
      const accountPrefix = [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':logs:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
      ];
      const groupArn = { 'Fn::Join': ['', [...accountPrefix, `:log-group:${AWS_IOT_LOG_GROUP}`]] };
      const streams = { 'Fn::Join': ['', [...accountPrefix, `:log-group:${AWS_IOT_LOG_GROUP}:*`]] };
      expect(role.Policies).toEqual([
        {
          PolicyName: 'IotLogging',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'WriteAwsIotLogs',
                Effect: 'Allow',
                Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: [groupArn, streams],
              },
            ],
          },
        },
      ]);
      expect(outputValue(template, STACK_OUTPUTS.iotLogLevel)).toBe(level);
    },
  );

  it('passes cdk-nag with logging on (the log-stream wildcard is acknowledged on the role)', () => {
    const app = newApp();
    addCustomAuthorizerStack(app, {
      stackName: 'NagLogging',
      tokenSigningPublicKeyPem: PUBLIC_KEY_PEM,
      iotLogging: 'ERROR',
    });
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations).toEqual([]);
  });

  it('takes -c iotLogging=LEVEL and refuses anything else with the levels it accepts', () => {
    expect(parseAppSettings({ iotLogging: 'INFO' }).iotLogging).toBe('INFO');
    expect(parseAppSettings({}).iotLogging).toBeUndefined();
    expectInfraError(
      () => parseAppSettings({ iotLogging: 'verbose' }),
      'context `iotLogging` must be one of ERROR, WARN, INFO, DEBUG (-c iotLogging=ERROR), but "verbose" was provided',
    );
  });
});
