import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { InfraError } from '../src';
import {
  cfnExecutionPolicy,
  coveredResourceTypes,
  EXECUTION_PERMISSIONS,
  type PolicyDocumentJson,
} from '../src/cfn-execution-policy';
import { expectInfraError, REPO_ROOT } from './helpers';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const E2E_STACK = 'IotCustomAuthE2E-1234-1';

/**
 * Every resource of every template (nested stacks' included) of the real app, synthesized as `cdk deploy`
 * does in the e2e-aws workflow (`npx cdk synth -c stackName=...`, the root cdk.json, bin/app.ts with its X.509
 * domain and demo certificate), plus the opt-in AWS IoT logging, whose resource types the policy must cover too.
 */
async function synthesizedResources(
  stackName: string,
): Promise<{ type: string; properties: Record<string, unknown> }[]> {
  const directory = mkdtempSync(path.join(tmpdir(), 'cfn-execution-policy-'));
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'),
        ['synth', '--quiet', '--output', directory, '-c', `stackName=${stackName}`, '-c', 'iotLogging=ERROR'],
        { cwd: REPO_ROOT, timeout: 150_000 },
        (error, _stdout, stderr) => (error ? reject(new Error(`cdk synth failed: ${stderr}`)) : resolve()),
      );
    });
    return readdirSync(directory)
      .filter((file) => file.endsWith('.template.json'))
      .flatMap((file) => {
        const template = JSON.parse(readFileSync(path.join(directory, file), 'utf8')) as {
          Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
        };
        return Object.values(template.Resources ?? {}).map((r) => ({
          type: r.Type,
          properties: r.Properties ?? {},
        }));
      });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

let resources: Awaited<ReturnType<typeof synthesizedResources>>;
let policy: PolicyDocumentJson;
beforeAll(async () => {
  resources = await synthesizedResources(E2E_STACK);
  policy = cfnExecutionPolicy({ account: ACCOUNT, region: REGION });
}, 180_000);

const allowed = (): PolicyDocumentJson['Statement'] => policy.Statement.filter((s) => s.Effect === 'Allow');

it('covers every resource type the synthesized app deploys, each with the actions its table entry names', () => {
  const types = [...new Set(resources.map((r) => r.type))].sort();
  const uncovered = types.filter((type) => !coveredResourceTypes().includes(type));
  // A new resource type in the stack must get its CloudFormation handler permissions in EXECUTION_PERMISSIONS.
  expect(uncovered).toEqual([]);
  const allowedActions = new Set(allowed().flatMap((s) => s.Action));
  for (const type of types) {
    for (const group of EXECUTION_PERMISSIONS[type] ?? []) {
      for (const action of group.actions)
        expect({ type, action, allowed: allowedActions.has(action) }).toEqual({
          type,
          action,
          allowed: true,
        });
    }
  }
  // Custom resources (Custom::AWS and the like) are covered too: their provider function is invoked.
  expect(types.some((type) => type.startsWith('Custom::'))).toBe(true);
  // The real app: the X.509 domain with its demo certificate, and the opt-in logging, are in what was checked.
  expect(types).toEqual(
    expect.arrayContaining(['AWS::IoT::DomainConfiguration', 'AWS::IoT::Certificate', 'AWS::IoT::Logging']),
  );
});

it('has the X.509 resource types in its table before the stack uses them', () => {
  for (const type of [
    'AWS::IoT::DomainConfiguration',
    'AWS::IoT::Certificate',
    'AWS::IoT::CACertificate',
    'Custom::AWS',
  ]) {
    expect(EXECUTION_PERMISSIONS[type]?.length ?? 0).toBeGreaterThan(0);
  }
  const domain = allowed().find((s) => s.Action.includes('iot:DescribeDomainConfiguration'));
  expect(domain?.Resource).toEqual([`arn:aws:iot:${REGION}:${ACCOUNT}:domainconfiguration/IotCustomAuth*`]);
});

it('never allows every action, nor every action of a service', () => {
  for (const statement of policy.Statement) {
    expect(statement.Action).not.toContain('*');
    expect(statement.Action).not.toContain('*:*');
  }
  for (const statement of allowed()) {
    for (const action of statement.Action) expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
  }
});

it('names resources by ARN wherever IAM allows, Resource "*" only for actions without resource types', () => {
  const unscoped = allowed()
    .filter((s) => s.Resource.includes('*'))
    .flatMap((s) => s.Action)
    .sort();
  expect(unscoped).toEqual([
    'iot:GetRegistrationCode',
    'iot:GetV2LoggingOptions',
    'iot:SetV2LoggingOptions',
    'secretsmanager:GetRandomPassword',
  ]);
  for (const statement of allowed()) {
    for (const resource of statement.Resource.filter((r) => r !== '*')) {
      expect(resource).toMatch(new RegExp(`^arn:aws:[a-z0-9-]+:(${REGION})?:(${ACCOUNT})?:`));
    }
  }
  const byAction = (action: string) => allowed().find((s) => s.Action.includes(action))?.Resource;
  expect(byAction('iam:CreateRole')).toEqual([`arn:aws:iam::${ACCOUNT}:role/IotCustomAuth*`]);
  expect(byAction('lambda:CreateFunction')).toEqual([
    `arn:aws:lambda:${REGION}:${ACCOUNT}:function:IotCustomAuth*`,
  ]);
  expect(byAction('iot:CreateAuthorizer')).toEqual([
    `arn:aws:iot:${REGION}:${ACCOUNT}:authorizer/IotCustomAuth*`,
  ]);
  expect(byAction('iot:CreatePolicy')).toEqual([`arn:aws:iot:${REGION}:${ACCOUNT}:policy/IotCustomAuth*`]);
  expect(byAction('logs:CreateLogGroup')).toContain(
    `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:IotCustomAuth*`,
  );
  expect(byAction('s3:GetObject')).toEqual([`arn:aws:s3:::cdk-hnb659fds-assets-${ACCOUNT}-${REGION}/*`]);
  const passRole = allowed().find((s) => s.Action.includes('iam:PassRole'));
  expect(passRole?.Condition).toEqual({
    StringEquals: { 'iam:PassedToService': ['lambda.amazonaws.com', 'iot.amazonaws.com'] },
  });
  const secrets = allowed().find((s) => s.Action.includes('secretsmanager:DeleteSecret'));
  expect(secrets?.Condition).toEqual({
    StringLike: { 'aws:ResourceTag/aws:cloudformation:stack-name': 'IotCustomAuth*' },
  });
});

it("the names the stack gives its IoT resources fall under the policy's prefix", () => {
  // Names CloudFormation generates (roles, functions, log groups) start with the stack name by its rules;
  // the names the stack sets itself must too, or CloudFormation would be denied creating them.
  // A name built at deploy time (Fn::Join of a literal and the stack id) is checked by its literal start.
  const literalStart = (value: unknown): unknown => {
    const join = (value as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
    return join === undefined ? value : join[1][0];
  };
  const named = resources
    .filter((r) => r.type.startsWith('AWS::IoT::'))
    .flatMap((r) =>
      ['AuthorizerName', 'PolicyName', 'DomainConfigurationName']
        .filter((key) => key in r.properties)
        .map((key) => ({ type: r.type, key, start: literalStart(r.properties[key]) })),
    );
  expect(named.map((n) => n.key)).toEqual(
    expect.arrayContaining(['AuthorizerName', 'PolicyName', 'DomainConfigurationName']),
  );
  for (const name of named) {
    expect({
      ...name,
      underPrefix: typeof name.start === 'string' && name.start.startsWith(E2E_STACK),
    }).toEqual({
      ...name,
      underPrefix: true,
    });
  }
});

it('denies the GitHub OIDC stack (the deploy role itself) although its name has the prefix', () => {
  expect(policy.Statement.at(-1)).toEqual({
    Sid: 'NeverTouchTheDeployRoleStack',
    Effect: 'Deny',
    Action: ['iam:*', 'lambda:*', 'logs:*'],
    Resource: [
      `arn:aws:iam::${ACCOUNT}:role/IotCustomAuthGitHubOidc*`,
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:IotCustomAuthGitHubOidc*`,
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:IotCustomAuthGitHubOidc*`,
    ],
  });
});

it('fits the size limit of an IAM managed policy (6,144 characters without white space)', () => {
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
  expect(JSON.stringify(policy).length).toBeLessThanOrEqual(6144);
  expect(new Set(policy.Statement.map((s) => s.Sid)).size).toBe(policy.Statement.length);
});

it('refuses an account, region or prefix IAM would not take, naming it', () => {
  expectInfraError(
    () => cfnExecutionPolicy({ account: '1234', region: REGION }),
    '`account` must be a 12-digit AWS account id, but "1234" was provided',
  );
  expectInfraError(
    () => cfnExecutionPolicy({ account: ACCOUNT, region: 'Europe' }),
    '`region` must be a region such as us-east-1, or *, but "Europe" was provided',
  );
  expectInfraError(
    () => cfnExecutionPolicy({ account: ACCOUNT, region: REGION, stackNamePrefix: 'Other' }),
    '`protectedStackName` IotCustomAuthGitHubOidc does not start with `stackNamePrefix` Other, so nothing needs protecting: leave it out or fix the prefix',
  );
});

it('takes any input without crashing: a policy naming the account, or an InfraError', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.string(), (account, region, prefix) => {
      try {
        const document = cfnExecutionPolicy({
          account,
          region,
          stackNamePrefix: prefix,
          protectedStackName: prefix,
        });
        expect(JSON.stringify(document)).toContain(account);
      } catch (error) {
        expect(error).toBeInstanceOf(InfraError);
      }
    }),
  );
});

it('npm run execution-policy prints the same policy as JSON, and usage problems on stderr with exit 2', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'npm',
        ['run', '-s', 'execution-policy', '-w', 'infra', '--', ...args],
        { cwd: REPO_ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' }, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
    });
  const printed = await run(['--account', ACCOUNT, '--region', REGION]);
  expect(printed.code).toBe(0);
  expect(JSON.parse(printed.stdout)).toEqual(policy);
  const missing = await run(['--region', REGION]);
  expect(missing).toMatchObject({ code: 2, stdout: '' });
  expect(missing.stderr).toContain('--account and --region are required');
}, 120_000);
