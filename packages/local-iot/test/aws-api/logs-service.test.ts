import { join } from 'node:path';
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  FilterLogEventsCommand,
  paginateFilterLogEvents,
  type FilterLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import fc from 'fast-check';
import { LocalAwsApi } from '../../src/aws-api/local-aws-api';
import { generateLocalAwsCredentials } from '../../src/aws-api/local-aws-credentials';
import { LoopbackListener } from '../../src/aws-api/loopback-listener';
import { loadLocalDeployment, type LocalDeployment } from '../../src/deployment/local-deployment';
import { LocalLogStore } from '../../src/logs/log-store';
import {
  demoTemplate,
  FUNCTIONS_DIR,
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
} from '../fixtures/assembly';
import { signedFetch } from '../support/sigv4-signing';

const STACK = 'LogsApiTest';
const GROUP = '/aws/lambda/fn';
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

let root: string;
let deployment: LocalDeployment;
let api: LocalAwsApi;
let logs: CloudWatchLogsClient;
let lambda: LambdaClient;
const store = new LocalLogStore();
const credentials = generateLocalAwsCredentials();

const unusedTestInvoker = {
  testInvoke: () => Promise.reject(new Error('not used by these tests')),
};

beforeAll(async () => {
  root = tempDir('logs-api');
  const cdkOut = writeAssembly(
    join(root, 'cdk.out'),
    STACK,
    demoTemplate({ asset: 'fn', publicKeyPem: rsaKeyPair().publicKey }),
    { fn: join(FUNCTIONS_DIR, 'behaviours') },
  );
  deployment = loadLocalDeployment({ cdkOut, stateDir: join(root, 'state'), endpointHost: 'localhost' });
  const lines = [
    ['a', '{"decision":"DENY","reason":"BAD_PASSWORD","clientId":"test-1","durationMs":3}'],
    ['a', '{"decision":"ALLOW","reason":"PASSWORD_OK","clientId":"test-2","durationMs":12}'],
    ['b', 'START RequestId: 1 Version: $LATEST'],
    ['b', '{"timestamp":"t","level":"WARN","message":{"decision":"DENY","reason":"UNSAFE_CLIENT_ID"}}'],
    ['b', 'plain ERROR line with a "quoted phrase" in it'],
    ['c', 'WARN something else'],
  ];
  lines.forEach(([stream, message], index) =>
    store.put(GROUP, stream as string, message as string, T0 + index * 1000),
  );
  store.createLogGroup('/aws/lambda/empty');
  api = new LocalAwsApi({
    deployment,
    listener: await LoopbackListener.bind(),
    testInvoker: unusedTestInvoker,
    credentials,
    logs: store,
  });
  const common = { region: deployment.region, endpoint: api.url, credentials, maxAttempts: 1 };
  logs = new CloudWatchLogsClient(common);
  lambda = new LambdaClient(common);
});

afterAll(async () => {
  logs.destroy();
  lambda.destroy();
  await api.close();
  await store.close();
  removeDir(root);
});

const messages = async (input: Omit<FilterLogEventsCommandInput, 'logGroupName'>) => {
  const output = await logs.send(new FilterLogEventsCommand({ logGroupName: GROUP, ...input }));
  return (output.events ?? []).map((event) => event.message);
};

describe('local CloudWatch Logs through @aws-sdk/client-cloudwatch-logs', () => {
  it('FilterLogEvents returns every event in time order with AWS fields', async () => {
    const output = await logs.send(new FilterLogEventsCommand({ logGroupName: GROUP }));
    expect(output.events).toHaveLength(6);
    expect(output.events?.[0]).toEqual({
      logStreamName: 'a',
      timestamp: T0,
      ingestionTime: expect.any(Number) as unknown,
      message: '{"decision":"DENY","reason":"BAD_PASSWORD","clientId":"test-1","durationMs":3}',
      eventId: expect.any(String) as unknown,
    });
    expect(output.nextToken).toBeUndefined();
    expect(output.searchedLogStreams?.map((s) => s.logStreamName).sort()).toEqual(['a', 'b', 'c']);
  });

  it('matches terms, quoted phrases, ?OR and -exclusion', async () => {
    expect(await messages({ filterPattern: 'ERROR' })).toEqual([
      'plain ERROR line with a "quoted phrase" in it',
    ]);
    expect(await messages({ filterPattern: '"quoted phrase" plain' })).toHaveLength(1);
    expect(await messages({ filterPattern: '?WARN ?ERROR' })).toEqual([
      '{"timestamp":"t","level":"WARN","message":{"decision":"DENY","reason":"UNSAFE_CLIENT_ID"}}',
      'plain ERROR line with a "quoted phrase" in it',
      'WARN something else',
    ]);
    expect(await messages({ filterPattern: 'WARN -decision' })).toEqual(['WARN something else']);
    expect(await messages({ filterPattern: 'warn' })).toEqual([]);
  });

  it('matches JSON patterns: =, !=, wildcards, &&, ||, numbers, nested fields, IS NULL / NOT EXISTS', async () => {
    expect(await messages({ filterPattern: '{ $.reason = "BAD_PASSWORD" }' })).toHaveLength(1);
    expect(await messages({ filterPattern: '{ $.decision = "DENY" && $.clientId = "test-*" }' })).toEqual([
      '{"decision":"DENY","reason":"BAD_PASSWORD","clientId":"test-1","durationMs":3}',
    ]);
    expect(await messages({ filterPattern: '{ $.reason = "BAD*" || $.reason = PASSWORD_OK }' })).toHaveLength(
      2,
    );
    expect(await messages({ filterPattern: '{ $.decision != "DENY" }' })).toEqual([
      '{"decision":"ALLOW","reason":"PASSWORD_OK","clientId":"test-2","durationMs":12}',
    ]);
    expect(await messages({ filterPattern: '{ $.durationMs > 5 }' })).toHaveLength(1);
    expect(
      await messages({ filterPattern: '{ $.durationMs <= 12 && ($.clientId = "test-2") }' }),
    ).toHaveLength(1);
    expect(await messages({ filterPattern: '{ $.message.reason = "UNSAFE_CLIENT_ID" }' })).toHaveLength(1);
    expect(await messages({ filterPattern: '{ $.message NOT EXISTS && $.decision = * }' })).toHaveLength(2);
  });

  it('narrows by log stream names or prefix and by time, and takes the group by ARN', async () => {
    expect(await messages({ logStreamNames: ['c'] })).toEqual(['WARN something else']);
    expect(await messages({ logStreamNamePrefix: 'b' })).toHaveLength(3);
    expect(await messages({ startTime: T0 + 2000, endTime: T0 + 3000 })).toHaveLength(2);
    const arn = `arn:aws:logs:${deployment.region}:000000000000:log-group:${GROUP}:*`;
    const byArn = await logs.send(new FilterLogEventsCommand({ logGroupIdentifier: arn, limit: 1 }));
    expect(byArn.events).toHaveLength(1);
  });

  it('pages with limit and nextToken, the SDK paginator included, without repeating or losing an event', async () => {
    const first = await logs.send(new FilterLogEventsCommand({ logGroupName: GROUP, limit: 4 }));
    expect(first.events).toHaveLength(4);
    expect(first.nextToken).toEqual(expect.any(String));
    const second = await logs.send(
      new FilterLogEventsCommand({ logGroupName: GROUP, limit: 4, nextToken: first.nextToken }),
    );
    expect(second.events).toHaveLength(2);
    expect(second.nextToken).toBeUndefined();
    const pages: number[] = [];
    const all: string[] = [];
    for await (const page of paginateFilterLogEvents(
      { client: logs, pageSize: 2 },
      { logGroupName: GROUP, interleaved: true },
    )) {
      pages.push(page.events?.length ?? 0);
      all.push(...(page.events ?? []).map((event) => event.eventId as string));
    }
    expect(pages).toEqual([2, 2, 2]);
    expect(new Set(all).size).toBe(6);
  });

  it('answers an unknown group with ResourceNotFoundException and bad parameters with InvalidParameterException', async () => {
    await expect(logs.send(new FilterLogEventsCommand({ logGroupName: '/nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'The specified log group does not exist.',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      logs.send(new FilterLogEventsCommand({ logGroupName: GROUP, filterPattern: '{ $.a = }' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'Invalid filter pattern: the JSON filter pattern ends where a value after = was expected',
    });
    await expect(
      logs.send(new FilterLogEventsCommand({ logGroupName: GROUP, nextToken: 'forged' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'The specified nextToken is invalid.',
    });
    await expect(
      logs.send(
        new FilterLogEventsCommand({ logGroupName: GROUP, logStreamNames: ['a'], logStreamNamePrefix: 'a' }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      logs.send(new FilterLogEventsCommand({ logGroupName: GROUP, limit: 0 })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'limit must be a whole number from 1 to 10000',
    });
  });

  it('answers any filter pattern with events or InvalidParameterException, never another error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc
            .array(
              fc.constantFrom(
                '{',
                '}',
                '$',
                '.a',
                '=',
                '!=',
                '"x"',
                '&&',
                '||',
                '(',
                ')',
                ' ',
                '*',
                '5',
                '?',
                '-',
                'IS',
                'NULL',
                '[',
              ),
              { maxLength: 12 },
            )
            .map((parts) => parts.join('')),
        ),
        async (filterPattern) => {
          try {
            const output = await logs.send(
              new FilterLogEventsCommand({ logGroupName: GROUP, filterPattern }),
            );
            expect(Array.isArray(output.events)).toBe(true);
          } catch (error) {
            expect((error as Error).name).toBe('InvalidParameterException');
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('DescribeLogGroups lists the groups by prefix, with ARNs', async () => {
    const output = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/lambda/' }));
    expect(output.logGroups?.map((g) => g.logGroupName)).toEqual(['/aws/lambda/empty', GROUP]);
    expect(output.logGroups?.[1]).toMatchObject({
      arn: `arn:aws:logs:${deployment.region}:000000000000:log-group:${GROUP}:*`,
      storedBytes: expect.any(Number) as unknown,
    });
    const paged = await logs.send(new DescribeLogGroupsCommand({ limit: 1 }));
    expect(paged.logGroups).toHaveLength(1);
    const rest = await logs.send(new DescribeLogGroupsCommand({ limit: 1, nextToken: paged.nextToken }));
    expect(rest.logGroups?.[0]?.logGroupName).toBe(GROUP);
  });

  it('refuses an unsigned request as CloudWatch Logs does (400 MissingAuthenticationTokenException)', async () => {
    const response = await fetch(`${api.url}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Logs_20140328.FilterLogEvents',
      },
      body: JSON.stringify({ logGroupName: GROUP }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
  });
});

describe('Lambda GetPolicy through @aws-sdk/client-lambda', () => {
  const fn = () => deployment.functions[0] as LocalDeployment['functions'][0];

  it("returns the function's resource policy: one statement per AWS::Lambda::Permission", async () => {
    const output = await lambda.send(new GetPolicyCommand({ FunctionName: fn().name }));
    const policy = JSON.parse(output.Policy ?? '') as { Statement: Record<string, unknown>[] };
    expect(output.RevisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(policy.Statement).toEqual(
      ['unsigned', 'signed'].map((kind) => ({
        Sid: expect.stringContaining('InvokePermission') as unknown,
        Effect: 'Allow',
        Principal: { Service: 'iot.amazonaws.com' },
        Action: 'lambda:InvokeFunction',
        Resource: fn().arn,
        Condition: {
          StringEquals: { 'AWS:SourceAccount': '000000000000' },
          ArnLike: {
            'AWS:SourceArn': `arn:aws:iot:${deployment.region}:000000000000:authorizer/${STACK}-${kind}`,
          },
        },
      })),
    );
    const byArn = await lambda.send(new GetPolicyCommand({ FunctionName: fn().arn }));
    expect(byArn.Policy).toBe(output.Policy);
  });

  it('answers an unknown function with ResourceNotFoundException', async () => {
    await expect(lambda.send(new GetPolicyCommand({ FunctionName: 'missing' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: `Function not found: arn:aws:lambda:${deployment.region}:000000000000:function:missing`,
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('is signed for lambda: a request scoped to another service is refused', async () => {
    const response = await signedFetch(
      { credentials, region: deployment.region },
      { service: 'iot', method: 'GET', url: `${api.url}/2015-03-31/functions/${fn().name}/policy` },
    );
    // Scoped to iot, so IoT answers it: it has no such route.
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});
