// `npm run -s execution-policy -w infra -- --account 123456789012 --region us-east-1`: prints the least-privilege
// CloudFormation execution policy (src/cfn-execution-policy.ts) as JSON, for
// `aws iam create-policy --policy-document file://...` and `cdk bootstrap --cloudformation-execution-policies`.
import { parseArgs } from 'node:util';
import { InfraError } from '../src/errors';
import { cfnExecutionPolicy } from '../src/cfn-execution-policy';

const USAGE = `Usage: npm run -s execution-policy -w infra -- --account ID --region REGION [options] > execution-policy.json

Prints the IAM policy for the CDK bootstrap's CloudFormation execution role that allows exactly what this
stack's resource types need, on stacks whose name starts with the prefix.

Options:
  --account ID              12-digit account the stacks deploy to (required)
  --region REGION           region, or '*' for all (required)
  --partition NAME          aws, aws-cn, aws-us-gov (default: aws)
  --stack-name-prefix P     stacks deployed through the role are named P... (default: IotCustomAuth)
  --qualifier Q             CDK bootstrap qualifier (default: hnb659fds)
  -h, --help                show this help`;

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        account: { type: 'string' },
        region: { type: 'string' },
        partition: { type: 'string' },
        'stack-name-prefix': { type: 'string' },
        qualifier: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new InfraError(`${(error as Error).message} (npm run -s execution-policy -w infra -- --help)`);
  }
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  if (values.account === undefined || values.region === undefined) {
    throw new InfraError(
      '--account and --region are required, e.g. npm run -s execution-policy -w infra -- --account 123456789012 --region us-east-1',
    );
  }
  const policy = cfnExecutionPolicy({
    account: values.account,
    region: values.region,
    ...(values.partition === undefined ? {} : { partition: values.partition }),
    ...(values['stack-name-prefix'] === undefined ? {} : { stackNamePrefix: values['stack-name-prefix'] }),
    ...(values.qualifier === undefined ? {} : { bootstrapQualifier: values.qualifier }),
  });
  console.log(JSON.stringify(policy, null, 2));
}

try {
  main();
} catch (error) {
  if (!(error instanceof InfraError)) throw error;
  console.error(`Error: ${error.message}`);
  process.exitCode = 2;
}
