import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  GITHUB_OIDC_STACK_NAME,
  GitHubOidcStack,
  InfraError,
  addGitHubOidcStack,
  type GitHubOidcStackProps,
} from '../src';
import { newApp, onlyLogicalId } from './helpers';

function synth(props: Partial<GitHubOidcStackProps> = {}): Template {
  return Template.fromStack(new GitHubOidcStack(newApp(), 'Oidc', { repository: 'octo/iot-auth', ...props }));
}

const join = (...parts: unknown[]) => ({ 'Fn::Join': ['', parts] });
const partition = { Ref: 'AWS::Partition' };
const region = { Ref: 'AWS::Region' };
const account = { Ref: 'AWS::AccountId' };

describe('GitHubOidcStack', () => {
  it('registers GitHub as an OIDC provider for the sts.amazonaws.com audience', () => {
    synth().hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  it('lets only main of the one repository assume the deploy role', () => {
    const template = synth();
    const provider = onlyLogicalId(template, 'AWS::IAM::OIDCProvider');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: { Ref: provider } },
            Condition: {
              StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
              StringLike: {
                'token.actions.githubusercontent.com:sub': ['repo:octo/iot-auth:ref:refs/heads/main'],
              },
            },
          },
        ],
      },
    });
  });

  it("grants exactly the bootstrap roles, the e2e stacks, their authorizers, device secrets, log groups, functions' policies and retained domain configurations", () => {
    const template = synth();
    const role = onlyLogicalId(template, 'AWS::IAM::Role');
    const policies = template.findResources('AWS::IAM::Policy');
    expect(Object.values(policies)).toHaveLength(1);
    expect(Object.values(policies)[0]).toEqual({
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: expect.stringMatching(/^DeployRoleDefaultPolicy/) as unknown,
        Roles: [{ Ref: role }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'DeployThroughCdkBootstrapRoles',
              Effect: 'Allow',
              Action: 'sts:AssumeRole',
              Resource: join(
                'arn:',
                partition,
                ':iam::',
                account,
                ':role/cdk-hnb659fds-*-',
                account,
                '-',
                region,
              ),
            },
            {
              Sid: 'ReadE2eStacks',
              Effect: 'Allow',
              Action: ['cloudformation:DescribeStackResources', 'cloudformation:DescribeStacks'],
              Resource: join(
                'arn:',
                partition,
                ':cloudformation:',
                region,
                ':',
                account,
                ':stack/IotCustomAuthE2E-*/*',
              ),
            },
            {
              Sid: 'ExerciseE2eAuthorizers',
              Effect: 'Allow',
              Action: ['iot:DescribeAuthorizer', 'iot:TestInvokeAuthorizer', 'iot:UpdateAuthorizer'],
              Resource: join(
                'arn:',
                partition,
                ':iot:',
                region,
                ':',
                account,
                ':authorizer/IotCustomAuthE2E-*',
              ),
            },
            {
              Sid: 'ReadE2eDeviceSecrets',
              Effect: 'Allow',
              Action: 'secretsmanager:GetSecretValue',
              Resource: join('arn:', partition, ':secretsmanager:', region, ':', account, ':secret:*'),
              Condition: {
                StringLike: { 'aws:ResourceTag/aws:cloudformation:stack-name': 'IotCustomAuthE2E-*' },
              },
            },
            {
              Sid: 'ExplainE2eRefusals',
              Effect: 'Allow',
              Action: 'logs:FilterLogEvents',
              Resource: [
                join('arn:', partition, ':logs:', region, ':', account, ':log-group:AWSIotLogsV2:*'),
                join('arn:', partition, ':logs:', region, ':', account, ':log-group:IotCustomAuthE2E-*'),
              ],
            },
            {
              Sid: 'DiagnoseE2eAuthorizerFunctions',
              Effect: 'Allow',
              Action: 'lambda:GetPolicy',
              Resource: join(
                'arn:',
                partition,
                ':lambda:',
                region,
                ':',
                account,
                ':function:IotCustomAuthE2E-*',
              ),
            },
            {
              Sid: 'CleanUpRetainedE2eDomainConfigurations',
              Effect: 'Allow',
              Action: ['iot:DeleteDomainConfiguration', 'iot:DescribeDomainConfiguration'],
              Resource: join(
                'arn:',
                partition,
                ':iot:',
                region,
                ':',
                account,
                ':domainconfiguration/IotCustomAuthE2E-*',
              ),
            },
            {
              Sid: 'ListDomainConfigurations',
              Effect: 'Allow',
              Action: 'iot:ListDomainConfigurations',
              Resource: '*',
            },
          ],
        },
      },
    });
  });

  it('outputs the role ARN for the AWS_DEPLOY_ROLE_ARN secret', () => {
    const template = synth();
    template.hasOutput('DeployRoleArn', {
      Value: { 'Fn::GetAtt': [onlyLogicalId(template, 'AWS::IAM::Role'), 'Arn'] },
    });
  });

  it('reuses an existing provider and honours subjects, prefix and qualifier', () => {
    const template = synth({
      existingProviderArn: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
      subjects: ['environment:aws', 'ref:refs/tags/*'],
      e2eStackNamePrefix: 'Nightly-',
      bootstrapQualifier: 'abc123',
    });
    template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: {
              Federated: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
            },
            Condition: Match.objectLike({
              StringLike: {
                'token.actions.githubusercontent.com:sub': [
                  'repo:octo/iot-auth:environment:aws',
                  'repo:octo/iot-auth:ref:refs/tags/*',
                ],
              },
            }),
          }),
        ],
      },
    });
    const document = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(document).toContain(':role/cdk-abc123-*-');
    expect(document).toContain(':authorizer/Nightly-*');
    expect(document).not.toContain('IotCustomAuthE2E-');
  });

  it.each([
    [{ repository: 'just-a-name' }, '`repository` must be owner/name, but "just-a-name" was provided'],
    [{ subjects: [] }, '`subjects` must name at least one workflow subject, but an empty list was provided'],
    [
      { e2eStackNamePrefix: '1bad' },
      '`e2eStackNamePrefix` must be a CloudFormation stack name prefix, but "1bad" was provided',
    ],
    [
      { bootstrapQualifier: 'UPPER' },
      '`bootstrapQualifier` must be 1 to 10 characters from a-z 0-9, but "UPPER" was provided',
    ],
  ])('rejects %j', (props, message) => {
    expect(() => synth(props)).toThrow(new InfraError(message));
  });

  it('passes cdk-nag AwsSolutions with every wildcard acknowledged for a stated reason', () => {
    const app = newApp();
    addGitHubOidcStack(app, { repository: 'octo/iot-auth' });
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations).toEqual([]);
    expect(app.node.tryFindChild(GITHUB_OIDC_STACK_NAME)).toBeInstanceOf(GitHubOidcStack);
  });
});
