import { Aws, CfnOutput, Stack, Validations, type App, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { InfraError } from './errors';
import { validatePattern } from './prop-validation';

/** The issuer of GitHub Actions' OIDC tokens. */
export const GITHUB_OIDC_ISSUER = 'token.actions.githubusercontent.com';

/** Props of {@link GitHubOidcStack}. */
export interface GitHubOidcStackProps extends StackProps {
  /** The GitHub repository allowed to assume the deploy role, as `owner/name`. */
  readonly repository: string;
  /**
   * Which workflow runs of that repository may assume the role: the part of the token's `sub` claim after
   * `repo:<owner>/<name>:`. `*` wildcards allowed.
   * @default ['ref:refs/heads/main'] (scheduled and manually dispatched runs on main)
   */
  readonly subjects?: readonly string[];
  /**
   * Stacks the workflow deploys are named with this prefix; the role may only read and change resources of
   * stacks so named.
   * @default 'IotCustomAuthE2E-'
   */
  readonly e2eStackNamePrefix?: string;
  /**
   * ARN of an existing GitHub OIDC provider in the account (an account can register the issuer only once).
   * @default - a new provider is created
   */
  readonly existingProviderArn?: string;
  /**
   * The CDK bootstrap qualifier of the target environment.
   * @default 'hnb659fds' (the CDK default)
   */
  readonly bootstrapQualifier?: string;
}

/**
 * The AWS side of the `e2e-aws` workflow's credentials: GitHub's OIDC provider and a deploy role that only this
 * repository's chosen workflow runs can assume, with no long-lived keys. The role deploys through the CDK
 * bootstrap roles (so CloudFormation, not the role, holds the broad deploy permissions, as `cdk bootstrap`
 * intends) and may call directly only what the workflow's checks need, on the e2e stacks' resources only.
 */
export class GitHubOidcStack extends Stack {
  /** The role the workflow assumes: put its ARN in the repository secret `AWS_DEPLOY_ROLE_ARN`. */
  public readonly deployRole: iam.Role;

  constructor(scope: Construct, id: string, props: GitHubOidcStackProps) {
    super(scope, id, props);
    validatePattern('repository', props.repository, /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'owner/name');
    const subjects = props.subjects ?? ['ref:refs/heads/main'];
    if (subjects.length === 0) {
      throw new InfraError(
        '`subjects` must name at least one workflow subject, but an empty list was provided',
      );
    }
    const prefix = props.e2eStackNamePrefix ?? 'IotCustomAuthE2E-';
    validatePattern(
      'e2eStackNamePrefix',
      prefix,
      /^[A-Za-z][A-Za-z0-9-]{0,100}$/,
      'a CloudFormation stack name prefix',
    );
    const qualifier = props.bootstrapQualifier ?? 'hnb659fds';
    validatePattern('bootstrapQualifier', qualifier, /^[a-z0-9]{1,10}$/, '1 to 10 characters from a-z 0-9');

    const providerArn =
      props.existingProviderArn ??
      new iam.OidcProviderNative(this, 'GitHubProvider', {
        url: `https://${GITHUB_OIDC_ISSUER}`,
        clientIds: ['sts.amazonaws.com'],
      }).oidcProviderArn;

    this.deployRole = new iam.Role(this, 'DeployRole', {
      description: `Assumed by GitHub Actions of ${props.repository} to run the e2e-aws workflow`,
      assumedBy: new iam.WebIdentityPrincipal(providerArn, {
        StringEquals: { [`${GITHUB_OIDC_ISSUER}:aud`]: 'sts.amazonaws.com' },
        StringLike: { [`${GITHUB_OIDC_ISSUER}:sub`]: subjects.map((s) => `repo:${props.repository}:${s}`) },
      }),
    });

    const account = Aws.ACCOUNT_ID;
    const region = Aws.REGION;
    const partition = Aws.PARTITION;
    this.deployRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DeployThroughCdkBootstrapRoles',
        actions: ['sts:AssumeRole'],
        resources: [`arn:${partition}:iam::${account}:role/cdk-${qualifier}-*-${account}-${region}`],
      }),
    );
    this.deployRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadE2eStacks',
        actions: ['cloudformation:DescribeStacks', 'cloudformation:DescribeStackResources'],
        resources: [`arn:${partition}:cloudformation:${region}:${account}:stack/${prefix}*/*`],
      }),
    );
    this.deployRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ExerciseE2eAuthorizers',
        actions: ['iot:DescribeAuthorizer', 'iot:TestInvokeAuthorizer', 'iot:UpdateAuthorizer'],
        resources: [`arn:${partition}:iot:${region}:${account}:authorizer/${prefix}*`],
      }),
    );
    this.deployRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadE2eDeviceSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [`arn:${partition}:secretsmanager:${region}:${account}:secret:*`],
        conditions: { StringLike: { 'aws:ResourceTag/aws:cloudformation:stack-name': `${prefix}*` } },
      }),
    );

    this.deployRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ExplainE2eRefusals',
        actions: ['logs:FilterLogEvents'],
        resources: [
          `arn:${partition}:logs:${region}:${account}:log-group:${prefix}*`,
          `arn:${partition}:logs:${region}:${account}:log-group:AWSIotLogsV2:*`,
        ],
      }),
    );
    this.deployRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DiagnoseE2eAuthorizerFunctions',
        actions: ['lambda:GetPolicy'],
        resources: [`arn:${partition}:lambda:${region}:${account}:function:${prefix}*`],
      }),
    );

    // A destroyed e2e stack leaves its AWS-managed X.509 domain configuration disabled (AWS IoT deletes one only
    // 7 days after it was disabled); the workflow deletes those of earlier runs once they may be deleted.
    this.deployRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CleanUpRetainedE2eDomainConfigurations',
        actions: ['iot:DescribeDomainConfiguration', 'iot:DeleteDomainConfiguration'],
        resources: [`arn:${partition}:iot:${region}:${account}:domainconfiguration/${prefix}*`],
      }),
    );
    this.deployRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListDomainConfigurations',
        actions: ['iot:ListDomainConfigurations'],
        resources: ['*'],
      }),
    );

    const arn = (service: string, resource: string, regional = true): string =>
      `arn:<AWS::Partition>:${service}:${regional ? '<AWS::Region>' : ''}:<AWS::AccountId>:${resource}`;
    const acknowledgments: [resource: string, reason: string][] = [
      [
        arn('iam', `role/cdk-${qualifier}-*-<AWS::AccountId>-<AWS::Region>`, false),
        'The CDK bootstrap roles (deploy, file and image publishing, lookup) of this one environment; their names differ only in the role kind. The CloudFormation execution role, not this role, carries the deploy permissions.',
      ],
      [
        arn('cloudformation', `stack/${prefix}*/*`),
        'Each e2e run deploys a stack with a unique name under this prefix; the role only describes those stacks.',
      ],
      [
        arn('iot', `authorizer/${prefix}*`),
        'The authorizers of the e2e stacks, named after their stack: the workflow test-invokes them and sets them INACTIVE before deletion.',
      ],
      [
        arn('logs', `log-group:${prefix}*`),
        "The client explains the e2e refusals from the e2e stacks' log groups, whose names CloudFormation generates after the stack name.",
      ],
      [
        arn('logs', 'log-group:AWSIotLogsV2:*'),
        "AWS IoT's own log group (fixed name); the streams in it are AWS IoT's.",
      ],
      [
        arn('lambda', `function:${prefix}*`),
        "diagnose reads the e2e authorizer functions' resource policies (GetPolicy); their names are generated after the stack name.",
      ],
      [
        arn('iot', `domainconfiguration/${prefix}*`),
        'The X.509 domain configurations the destroyed e2e stacks left (named after their stack, ending in an id AWS IoT assigns): the workflow deletes them once AWS IoT allows it.',
      ],
      [
        '*',
        'iot:ListDomainConfigurations has no resource-level permissions (the IAM service authorization reference lists no resource type for it); the statement allows that one read-only action only.',
      ],
      [
        arn('secretsmanager', 'secret:*'),
        "Secret ARNs end in a random suffix chosen by CloudFormation; access is limited by the condition on the aws:cloudformation:stack-name tag to the e2e stacks' device secrets.",
      ],
    ];
    for (const [resource, reason] of acknowledgments) {
      Validations.of(this.deployRole).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
    }

    new CfnOutput(this, 'DeployRoleArn', {
      value: this.deployRole.roleArn,
      description: 'Set as the GitHub repository secret AWS_DEPLOY_ROLE_ARN',
    });
  }
}

/** Construct id and stack name of the GitHub OIDC stack in the app. */
export const GITHUB_OIDC_STACK_NAME = 'IotCustomAuthGitHubOidc';

/**
 * Adds the GitHub OIDC stack to `app` under cdk-nag's AwsSolutions checks. Deploy it once per account:
 * `npx cdk deploy IotCustomAuthGitHubOidc -c githubRepository=owner/name`.
 */
export function addGitHubOidcStack(app: App, props: GitHubOidcStackProps): GitHubOidcStack {
  const stack = new GitHubOidcStack(app, GITHUB_OIDC_STACK_NAME, props);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
