import { parseArgs } from '../../src/args';
import type { AwsTarget } from '../../src/aws-clients';
import { prepareConnection, type PlanDeps } from '../../src/connect-plan';
import { ConfigError } from '../../src/errors';
import type { OutputsRequest } from '../../src/outputs';
import { rejectionOf } from '../fixtures/caught';
import { inMemoryFiles } from '../fixtures/in-memory-files';

// With no stack outputs and no --endpoint, connect and diagnose find the account's ATS endpoint with IoT
// DescribeEndpoint (iot:Data-ATS), the upstream sample's way of naming only the authorizer and credentials.

function deps(describeEndpoint?: PlanDeps['describeEndpoint']): { deps: PlanDeps; reads: OutputsRequest[] } {
  const reads: OutputsRequest[] = [];
  return {
    reads,
    deps: {
      outputs: {
        read: (request) => {
          reads.push(request);
          return Promise.resolve(undefined);
        },
      },
      credentials: {
        deviceCredentials: () => Promise.reject(new Error('no secret is read when the password is given')),
        signedToken: () => Promise.reject(new Error('not signed')),
      },
      readFile: inMemoryFiles(),
      clock: () => 1_700_000_000_000,
      randomId: () => 'id',
      paths: { invocationDir: '/work', repoRoot: '/repo' },
      ...(describeEndpoint === undefined ? {} : { describeEndpoint }),
    },
  };
}

const FLAGS = [
  '--custom_auth_authorizer_name',
  'MyAuthorizer',
  '--custom_auth_username',
  'u',
  '--custom_auth_password',
  'p',
];

it('connects to the ATS endpoint DescribeEndpoint gives when the flags name no endpoint and there are no outputs', async () => {
  const targets: AwsTarget[] = [];
  const { deps: planDeps, reads } = deps((target) => {
    targets.push(target);
    return Promise.resolve('abc123-ats.iot.eu-west-1.amazonaws.com');
  });
  const prepared = await prepareConnection(parseArgs([...FLAGS, '--region', 'eu-west-1']), planDeps);
  expect(reads).toEqual([expect.objectContaining({ required: false })]);
  expect(targets).toEqual([{ region: 'eu-west-1' }]);
  expect(prepared.request).toMatchObject({ endpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com', port: 443 });
});

it('says what to do when DescribeEndpoint fails', async () => {
  const { deps: planDeps } = deps(() => Promise.reject(new Error('Region is missing')));
  const error = await rejectionOf(prepareConnection(parseArgs(FLAGS), planDeps));
  expect(error).toBeInstanceOf(ConfigError);
  expect(error.message).toBe(
    'no endpoint: no stack outputs were found, and IoT DescribeEndpoint (iot:Data-ATS) failed: Region is missing; pass --endpoint <host>, or AWS credentials and --region',
  );
});

it('does not call DescribeEndpoint when --endpoint names the host', async () => {
  const { deps: planDeps } = deps(() => Promise.reject(new Error('must not be called')));
  const prepared = await prepareConnection(parseArgs([...FLAGS, '--endpoint', 'host.example.com']), planDeps);
  expect(prepared.request.endpoint).toBe('host.example.com');
});
