import { CfnResource, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, NagRuleCompliance, rules, type NagRuleResult } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { addCustomAuthorizerStack, generateSelfSignedDeviceCertificate } from '../src';
import { newApp, PUBLIC_KEY_PEM } from './helpers';

interface Acknowledgment {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgment recorded in the tree under `root`, with the path of the construct it is on. */
function acknowledgments(root: IConstruct): Acknowledgment[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          // aws-cdk-lib records acknowledgments of plugin rules under a namespace prefix.
          id: id.replace(/^[A-Za-z]+::/, ''),
          reason,
        })),
      ),
  );
}

/** The rule an acknowledgment silences, applied to a resource, so a test can prove it is still needed. */
const RULES: Record<string, { rule: (node: CfnResource) => NagRuleResult; finding?: string }> = {
  'AwsSolutions-SMG4': { rule: rules.secretsmanager.SecretsManagerRotationEnabled },
  'AwsSolutions-IAM5[Resource::*]': { rule: rules.iam.IAMNoWildcardPermissions, finding: 'Resource::*' },
};

/** A device certificate for the X.509 domain, which the checks cover as the app deploys it by default. */
let deviceCertificatePem: string;
beforeAll(async () => {
  ({ certificatePem: deviceCertificatePem } = await generateSelfSignedDeviceCertificate({
    commonName: 'test-mtls-demo',
  }));
});

function buildApp(): ReturnType<typeof newApp> {
  const app = newApp();
  addCustomAuthorizerStack(app, {
    stackName: 'NagStack',
    tokenSigningPublicKeyPem: PUBLIC_KEY_PEM,
    x509: { deviceCertificatePem, deviceCertificateIsDemo: true },
  });
  return app;
}

describe('cdk-nag AwsSolutions checks', () => {
  it('report nothing: no error and no warning is left unacknowledged', () => {
    const app = buildApp();
    // The X.509 domain is part of what is checked.
    expect(app.node.findChild('NagStack').node.tryFindChild('X509Domain')).toBeDefined();
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('run on every synth and let a clean stack synthesize', () => {
    const app = buildApp();
    expect(() => app.synth()).not.toThrow();
  });

  it('fail the synth on a finding nobody acknowledged', () => {
    const app = buildApp();
    const stack = app.node.findChild('NagStack');
    new secretsmanager.Secret(stack, 'Unreviewed');
    expect(() => app.synth()).toThrow(/NagStack\/Unreviewed\/Resource[\s\S]*AwsSolutions-SMG4/);
  });

  it('acknowledge exactly the findings that cannot be fixed, each with a specific reason', () => {
    const app = buildApp();
    const found = acknowledgments(app);
    expect(found.map(({ path, id }) => ({ path, id }))).toEqual([
      { path: 'NagStack/CustomAuthorizer/DeviceCredentials', id: 'AwsSolutions-SMG4' },
      { path: 'NagStack/DataEndpoint/Role', id: 'AwsSolutions-IAM5[Resource::*]' },
    ]);
    expect(found[0]?.reason).toMatch(/changes every device password, so it needs a re-provisioning rollout/);
    expect(found[1]?.reason).toMatch(/iot:DescribeEndpoint has no resource-level permissions/);
    for (const { reason } of found) {
      expect(reason.length).toBeGreaterThan(100);
    }
  });

  it('acknowledge nothing that the rule would not report', () => {
    const app = buildApp();
    for (const { path, id } of acknowledgments(app)) {
      const known = RULES[id];
      if (!known) throw new Error(`no rule known for acknowledgment ${id}`);
      const resources = app.node
        .findAll()
        .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && c.node.path.startsWith(`${path}/`));
      const reported = resources.some((resource) => {
        const result = known.rule(resource);
        return known.finding === undefined
          ? result === NagRuleCompliance.NON_COMPLIANT
          : Array.isArray(result) && result.includes(known.finding);
      });
      expect({ path, id, reported }).toEqual({ path, id, reported: true });
    }
  });
});
