import { InfraError } from './errors';
import { validatePattern } from './prop-validation';

/**
 * A least-privilege policy for the CDK bootstrap's CloudFormation execution role, instead of its default
 * `AdministratorAccess` (`cdk bootstrap --cloudformation-execution-policies <policy ARN>`:
 * https://docs.aws.amazon.com/cdk/v2/guide/ref-cli-cmd-bootstrap.html). The GitHub OIDC deploy role
 * (github-oidc-stack.ts) deploys through the CDK bootstrap roles, so this policy, not that role, bounds what an
 * `e2e-aws` run can create or change through CloudFormation: only the resource types this stack uses, and, where
 * IAM has resource-level permissions, only resources named after a stack whose name starts with the prefix.
 *
 * One table, {@link EXECUTION_PERMISSIONS}, says what CloudFormation calls for each resource type (the handler
 * permissions of the type's CloudFormation registry schema, e.g. `aws cloudformation describe-type --type
 * RESOURCE --type-name AWS::IoT::Authorizer`); the policy is built from it, and a test synthesizes the app and
 * checks that every resource type of every template is in the table.
 */

/** Where the policy applies. */
export interface ExecutionPolicyOptions {
  /** The 12-digit account the stacks deploy to. */
  readonly account: string;
  /** The region, or `*` for every region of the account. */
  readonly region: string;
  /** @default 'aws' */
  readonly partition?: string;
  /**
   * Every stack deployed with this policy has a name starting with this; resource names CloudFormation
   * generates start with the stack name. @default 'IotCustomAuth' (the default stack and the e2e-aws stacks)
   */
  readonly stackNamePrefix?: string;
  /**
   * A stack whose resources the execution role must never change, although its name has the prefix: the
   * GitHub OIDC stack with the deploy role itself (deployed once, with administrator credentials).
   * @default GITHUB_OIDC_STACK_NAME ('IotCustomAuthGitHubOidc')
   */
  readonly protectedStackName?: string;
  /** The CDK bootstrap qualifier (the assets bucket, the version parameter). @default 'hnb659fds' */
  readonly bootstrapQualifier?: string;
}

/** An IAM policy statement as JSON. */
export interface PolicyStatementJson {
  readonly Sid: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: readonly string[];
  readonly Resource: readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

/** An IAM policy document as JSON (what `aws iam create-policy --policy-document` takes). */
export interface PolicyDocumentJson {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatementJson[];
}

/** The ARN patterns a statement can name, resolved for one account and region. */
interface ArnScope {
  /** `arn:<partition>:<service>:<region>:<account>:` */
  readonly regional: (service: string) => string;
  /** `arn:<partition>:<service>::<account>:` (IAM) */
  readonly global: (service: string) => string;
  readonly prefix: string;
  readonly qualifier: string;
  readonly account: string;
  readonly region: string;
  readonly partition: string;
}

/** What CloudFormation needs for one group of resources: actions, and the ARNs they may act on. */
interface PermissionGroup {
  readonly sid: string;
  readonly actions: readonly string[];
  readonly resources: (scope: ArnScope) => readonly string[];
  readonly condition?: (scope: ArnScope) => NonNullable<PolicyStatementJson['Condition']>;
}

const lambdaFunctions = (s: ArnScope) => [`${s.regional('lambda')}function:${s.prefix}*`];
const stackRoles = (s: ArnScope) => [`${s.global('iam')}role/${s.prefix}*`];
const stackLogGroups = (s: ArnScope) => [
  `${s.regional('logs')}log-group:${s.prefix}*`,
  `${s.regional('logs')}log-group:${s.prefix}*:*`,
];
/** Tagging is part of create and update of every taggable type (CloudFormation adds its `aws:cloudformation:*` tags). */
const iotTagging = ['iot:TagResource', 'iot:UntagResource', 'iot:ListTagsForResource'];

/**
 * Per resource type, the permission groups CloudFormation needs to create, update, read and delete it.
 * `[]` marks a type CloudFormation handles without calling a service (CDK's metadata).
 */
export const EXECUTION_PERMISSIONS: Readonly<Record<string, readonly PermissionGroup[]>> = {
  'AWS::CDK::Metadata': [],
  'AWS::IAM::Role': [
    {
      sid: 'StackRoles',
      actions: [
        'iam:CreateRole',
        'iam:DeleteRole',
        'iam:GetRole',
        'iam:UpdateRole',
        'iam:UpdateRoleDescription',
        'iam:UpdateAssumeRolePolicy',
        'iam:PutRolePolicy',
        'iam:GetRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:ListRolePolicies',
        'iam:AttachRolePolicy',
        'iam:DetachRolePolicy',
        'iam:ListAttachedRolePolicies',
        'iam:TagRole',
        'iam:UntagRole',
        'iam:ListRoleTags',
      ],
      resources: stackRoles,
    },
    {
      // Lambda (its execution role) and AWS IoT (the logging role) are the only services a stack role is for.
      sid: 'PassStackRolesToLambdaAndIot',
      actions: ['iam:PassRole'],
      resources: stackRoles,
      condition: () => ({
        StringEquals: { 'iam:PassedToService': ['lambda.amazonaws.com', 'iot.amazonaws.com'] },
      }),
    },
  ],
  'AWS::IAM::Policy': [
    {
      sid: 'StackRoleInlinePolicies',
      actions: ['iam:PutRolePolicy', 'iam:GetRolePolicy', 'iam:DeleteRolePolicy'],
      resources: stackRoles,
    },
  ],
  'AWS::Lambda::Function': [
    {
      sid: 'StackFunctions',
      actions: [
        'lambda:CreateFunction',
        'lambda:DeleteFunction',
        'lambda:GetFunction',
        'lambda:GetFunctionConfiguration',
        'lambda:UpdateFunctionCode',
        'lambda:UpdateFunctionConfiguration',
        'lambda:PutFunctionConcurrency',
        'lambda:DeleteFunctionConcurrency',
        'lambda:GetFunctionCodeSigningConfig',
        'lambda:GetRuntimeManagementConfig',
        'lambda:PutRuntimeManagementConfig',
        'lambda:TagResource',
        'lambda:UntagResource',
        'lambda:ListTags',
      ],
      resources: lambdaFunctions,
    },
    {
      // Lambda reads the code from the bootstrap's assets bucket with the caller's permissions.
      sid: 'FunctionCodeFromCdkAssets',
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: (s) => [`arn:${s.partition}:s3:::cdk-${s.qualifier}-assets-${s.account}-${s.region}/*`],
    },
  ],
  'AWS::Lambda::Permission': [
    {
      sid: 'StackFunctionPermissions',
      actions: ['lambda:AddPermission', 'lambda:RemovePermission', 'lambda:GetPolicy'],
      resources: lambdaFunctions,
    },
  ],
  // A CDK custom resource (AwsCustomResource's provider function, in this stack): CloudFormation invokes it.
  'Custom::AWS': [
    {
      sid: 'InvokeStackCustomResourceProviders',
      actions: ['lambda:InvokeFunction'],
      resources: lambdaFunctions,
    },
  ],
  'AWS::Logs::LogGroup': [
    {
      sid: 'StackLogGroups',
      actions: [
        'logs:CreateLogGroup',
        'logs:DeleteLogGroup',
        'logs:PutRetentionPolicy',
        'logs:DeleteRetentionPolicy',
        'logs:TagResource',
        'logs:UntagResource',
        'logs:ListTagsForResource',
        'logs:TagLogGroup',
        'logs:UntagLogGroup',
        'logs:ListTagsLogGroup',
      ],
      resources: stackLogGroups,
    },
    {
      // DescribeLogGroups lists; IAM checks it against the account's log-group ARN pattern only.
      sid: 'DescribeLogGroups',
      actions: ['logs:DescribeLogGroups'],
      resources: (s) => [`${s.regional('logs')}log-group:*`],
    },
  ],
  'AWS::SecretsManager::Secret': [
    {
      // A generated secret name is the logical id plus a random suffix (not the stack name), so the ARN cannot
      // be narrowed; every call but the create is limited to secrets CloudFormation tagged with a stack name
      // under the prefix.
      sid: 'StackSecrets',
      actions: [
        'secretsmanager:DeleteSecret',
        'secretsmanager:DescribeSecret',
        'secretsmanager:UpdateSecret',
        'secretsmanager:PutSecretValue',
        'secretsmanager:TagResource',
        'secretsmanager:UntagResource',
      ],
      resources: (s) => [`${s.regional('secretsmanager')}secret:*`],
      condition: (s) => ({
        StringLike: { 'aws:ResourceTag/aws:cloudformation:stack-name': `${s.prefix}*` },
      }),
    },
    {
      sid: 'CreateSecrets',
      actions: ['secretsmanager:CreateSecret'],
      resources: (s) => [`${s.regional('secretsmanager')}secret:*`],
    },
    {
      // GenerateSecretString: GetRandomPassword has no resource (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html).
      sid: 'GenerateSecretValues',
      actions: ['secretsmanager:GetRandomPassword'],
      resources: () => ['*'],
    },
  ],
  'AWS::IoT::Authorizer': [
    {
      sid: 'StackAuthorizers',
      actions: [
        'iot:CreateAuthorizer',
        'iot:UpdateAuthorizer',
        'iot:DeleteAuthorizer',
        'iot:DescribeAuthorizer',
        ...iotTagging,
      ],
      resources: (s) => [`${s.regional('iot')}authorizer/${s.prefix}*`],
    },
  ],
  'AWS::IoT::Policy': [
    {
      sid: 'StackIotPolicies',
      actions: [
        'iot:CreatePolicy',
        'iot:DeletePolicy',
        'iot:GetPolicy',
        'iot:CreatePolicyVersion',
        'iot:DeletePolicyVersion',
        'iot:ListPolicyVersions',
        'iot:SetDefaultPolicyVersion',
        'iot:ListTargetsForPolicy',
        ...iotTagging,
      ],
      resources: (s) => [`${s.regional('iot')}policy/${s.prefix}*`],
    },
  ],
  'AWS::IoT::PolicyPrincipalAttachment': [
    {
      sid: 'StackIotPolicyAttachments',
      actions: ['iot:AttachPolicy', 'iot:DetachPolicy', 'iot:ListPrincipalPolicies'],
      resources: (s) => [`${s.regional('iot')}policy/${s.prefix}*`, `${s.regional('iot')}cert/*`],
    },
  ],
  'AWS::IoT::DomainConfiguration': [
    {
      sid: 'StackDomainConfigurations',
      actions: [
        'iot:CreateDomainConfiguration',
        'iot:UpdateDomainConfiguration',
        'iot:DeleteDomainConfiguration',
        'iot:DescribeDomainConfiguration',
        ...iotTagging,
      ],
      resources: (s) => [`${s.regional('iot')}domainconfiguration/${s.prefix}*`],
    },
  ],
  'AWS::IoT::Certificate': [
    {
      // Certificate ids are hashes of the certificate: no name to scope by.
      sid: 'StackCertificates',
      actions: [
        'iot:CreateCertificateFromCsr',
        'iot:RegisterCertificate',
        'iot:RegisterCertificateWithoutCA',
        'iot:UpdateCertificate',
        'iot:DeleteCertificate',
        'iot:DescribeCertificate',
      ],
      resources: (s) => [`${s.regional('iot')}cert/*`],
    },
  ],
  'AWS::IoT::CACertificate': [
    {
      sid: 'StackCaCertificates',
      actions: [
        'iot:RegisterCACertificate',
        'iot:UpdateCACertificate',
        'iot:DeleteCACertificate',
        'iot:DescribeCACertificate',
        ...iotTagging,
      ],
      resources: (s) => [`${s.regional('iot')}cacert/*`],
    },
    {
      // SNIP_ONLY / DEFAULT registration asks for the account's registration code; the API has no resource.
      sid: 'CaRegistrationCode',
      actions: ['iot:GetRegistrationCode'],
      resources: () => ['*'],
    },
  ],
  'AWS::IoT::Logging': [
    {
      // Account-wide AWS IoT logging options have no resource-level permissions.
      sid: 'AccountIotLogging',
      actions: ['iot:SetV2LoggingOptions', 'iot:GetV2LoggingOptions'],
      resources: () => ['*'],
    },
  ],
};

/** What CloudFormation resolves for every CDK template: the `BootstrapVersion` SSM parameter. */
const BOOTSTRAP_VERSION_GROUP: PermissionGroup = {
  sid: 'ReadCdkBootstrapVersion',
  actions: ['ssm:GetParameters'],
  resources: (s) => [
    `arn:${s.partition}:ssm:${s.region}:${s.account}:parameter/cdk-bootstrap/${s.qualifier}/version`,
  ],
};

/** The resource types {@link cfnExecutionPolicy} covers. */
export function coveredResourceTypes(): readonly string[] {
  return Object.keys(EXECUTION_PERMISSIONS);
}

/**
 * The execution policy for `options`: one statement per permission group (groups shared by several types
 * appear once), the bootstrap version read, and a Deny on the protected stack's roles, functions and log
 * groups, so no template deployed through CDK can change the deploy role that started it.
 * @throws InfraError for an account, region, partition, prefix or qualifier IAM would not take.
 */
export function cfnExecutionPolicy(options: ExecutionPolicyOptions): PolicyDocumentJson {
  const partition = options.partition ?? 'aws';
  const prefix = options.stackNamePrefix ?? 'IotCustomAuth';
  const qualifier = options.bootstrapQualifier ?? 'hnb659fds';
  const protectedStack = options.protectedStackName ?? 'IotCustomAuthGitHubOidc';
  validatePattern('account', options.account, /^\d{12}$/, 'a 12-digit AWS account id');
  validatePattern(
    'region',
    options.region,
    /^(\*|[a-z]{2}(-[a-z]+)+-\d)$/,
    'a region such as us-east-1, or *',
  );
  validatePattern('partition', partition, /^aws(-[a-z]+)*$/, 'aws, aws-cn or aws-us-gov');
  validatePattern(
    'stackNamePrefix',
    prefix,
    /^[A-Za-z][A-Za-z0-9-]{2,100}$/,
    'a CloudFormation stack name prefix of 3 or more characters',
  );
  validatePattern('bootstrapQualifier', qualifier, /^[a-z0-9]{1,10}$/, '1 to 10 characters from a-z 0-9');
  if (!protectedStack.startsWith(prefix)) {
    throw new InfraError(
      `\`protectedStackName\` ${protectedStack} does not start with \`stackNamePrefix\` ${prefix}, so nothing needs protecting: leave it out or fix the prefix`,
    );
  }
  const scope: ArnScope = {
    regional: (service) => `arn:${partition}:${service}:${options.region}:${options.account}:`,
    global: (service) => `arn:${partition}:${service}::${options.account}:`,
    prefix,
    qualifier,
    account: options.account,
    region: options.region,
    partition,
  };

  const groups = new Map<string, PermissionGroup>();
  for (const group of [BOOTSTRAP_VERSION_GROUP, ...Object.values(EXECUTION_PERMISSIONS).flat()]) {
    groups.set(group.sid, group);
  }
  const statements: PolicyStatementJson[] = [...groups.values()].map((group) => ({
    Sid: group.sid,
    Effect: 'Allow',
    Action: [...group.actions],
    Resource: [...group.resources(scope)],
    ...(group.condition === undefined ? {} : { Condition: group.condition(scope) }),
  }));
  statements.push({
    Sid: 'NeverTouchTheDeployRoleStack',
    Effect: 'Deny',
    Action: ['iam:*', 'lambda:*', 'logs:*'],
    Resource: [
      `${scope.global('iam')}role/${protectedStack}*`,
      `${scope.regional('lambda')}function:${protectedStack}*`,
      `${scope.regional('logs')}log-group:${protectedStack}*`,
    ],
  });
  return { Version: '2012-10-17', Statement: statements };
}
