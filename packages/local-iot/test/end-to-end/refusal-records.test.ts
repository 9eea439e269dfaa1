import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  AWS_IOT_LOG_GROUP,
  buildCustomAuthUsername,
  CONNECT_REFUSALS,
  type ConnectRefusalCause,
  type IotConnectLogEntry,
} from '@iot-custom-auth/protocol';
import { demoStackNames, demoTemplate, FUNCTIONS_DIR, rsaKeyPair, writeAssembly } from '../fixtures/assembly';
import { useLocalIot } from '../support/local-iot-harness';

// A refused connect leaves its facts where a client reads them on AWS: AWS IoT's AWSIotLogsV2 Connect entry
// (reason and details) and the authorizer Lambda's own lines in its log group, both found through the local
// CloudWatch Logs API right after the CONNACK. Each cause is run through the real gateway and pipeline and
// compared with protocol's CONNECT_REFUSALS table (CONNACK code and log reason), so the table cannot drift.

const STACK = 'RefusalRecords';
const { unsignedAuthorizer, signedAuthorizer, authorizerFunction } = demoStackNames(STACK);
const FUNCTION_LOG_GROUP = `/aws/lambda/${authorizerFunction}`;

const served = useLocalIot({
  assembly: (dir) =>
    writeAssembly(
      join(dir, 'cdk.out'),
      STACK,
      demoTemplate({ asset: 'fn', publicKeyPem: rsaKeyPair().publicKey, timeoutSeconds: 3 }),
      { fn: join(FUNCTIONS_DIR, 'behaviours') },
    ),
  // AWS IoT gives up on the Lambda before the function's own 3 s timeout.
  serve: { authorizerTimeoutMs: 1000 },
});

let logs: CloudWatchLogsClient;
beforeAll(() => {
  const { connection } = served.local;
  logs = new CloudWatchLogsClient({
    region: connection.region,
    endpoint: connection.awsEndpointUrl,
    credentials: connection.credentials,
    maxAttempts: 1,
  });
});
afterAll(() => logs.destroy());

async function filter(logGroupName: string, filterPattern: string): Promise<string[]> {
  const output = await logs.send(new FilterLogEventsCommand({ logGroupName, filterPattern }));
  return (output.events ?? []).map((event) => event.message ?? '');
}

/** The AWSIotLogsV2 Connect entries for `clientId`, read at once. */
async function iotEntries(clientId: string): Promise<IotConnectLogEntry[]> {
  const found = await filter(AWS_IOT_LOG_GROUP, `{ $.eventType = "Connect" && $.clientId = "${clientId}" }`);
  return found.map((message) => JSON.parse(message) as IotConnectLogEntry);
}

const username = (user: string, authorizerName = unsignedAuthorizer) =>
  buildCustomAuthUsername({ user, authorizerName });

interface Case {
  readonly cause: ConnectRefusalCause;
  readonly clientId: string;
  readonly user: string;
  readonly authorizer?: string;
  /** What the entry's `details` says. */
  readonly details: RegExp;
  /** A line the function's log group must hold for this attempt, when the Lambda ran. */
  readonly functionLine?: string;
}

const CASES: readonly Case[] = [
  {
    cause: 'NOT_AUTHENTICATED',
    clientId: 'test-wrong-password',
    user: 'deny',
    details: /returned isAuthenticated: false/,
    functionLine: 'behaviour deny',
  },
  {
    cause: 'AUTHORIZER_NOT_FOUND',
    clientId: 'test-wrong-authorizer',
    user: 'anyone',
    authorizer: 'MyAuthorizer',
    details: new RegExp(
      `authorizer 'MyAuthorizer' does not exist \\(stack ${STACK} has: .*${unsignedAuthorizer}`,
    ),
  },
  {
    cause: 'LAMBDA_TIMEOUT',
    clientId: 'test-lambda-timeout',
    user: 'hang',
    details: /did not answer in time.*AWS IoT allows 1000 ms/,
    functionLine: 'behaviour hang',
  },
  {
    cause: 'LAMBDA_ERROR',
    clientId: 'test-lambda-throws',
    user: 'throw',
    details: /failed: Error: fixture failure/,
    functionLine: 'fixture failure',
  },
  {
    cause: 'INVALID_RESPONSE',
    clientId: 'test-short-ttl',
    user: 'ttl-too-low',
    details: /refreshAfterInSeconds must be an integer between 300 and 86400, but 10 was returned/,
    functionLine: 'behaviour ttl-too-low',
  },
  {
    cause: 'CONNECT_NOT_ALLOWED',
    clientId: 'prod-outside-prefix',
    user: 'allow',
    details: /no Allow for iot:Connect on arn:aws:iot:[^:]+:000000000000:client\/prod-outside-prefix/,
    functionLine: 'behaviour allow',
  },
  {
    cause: 'CLIENT_ID_TOO_LONG',
    clientId: `test-${'x'.repeat(130)}`,
    user: 'allow',
    details: /client id is longer than AWS IoT's 128 bytes/,
  },
  {
    cause: 'SIGNATURE_MISSING',
    clientId: 'test-no-token',
    user: 'anyone',
    authorizer: signedAuthorizer,
    details: /signing enabled but the connection sent no token/,
  },
];

describe('a refused connect is explained by records readable right after its CONNACK', () => {
  it.each(CASES)('$cause: CONNACK, AWSIotLogsV2 entry and function log as the table says', async (c) => {
    const row = CONNECT_REFUSALS[c.cause];
    const invocationsBefore = served.runtime.invocationCount();
    const code = await served.connackCode(c.clientId, {
      username: username(c.user, c.authorizer),
      password: 'not-the-password',
    });
    expect(code).toBe(row.connack);
    const entries = await iotEntries(c.clientId);
    expect(entries).toEqual([
      {
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/) as unknown,
        logLevel: 'ERROR',
        traceId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        accountId: '000000000000',
        status: 'Failure',
        eventType: 'Connect',
        protocol: 'MQTT',
        clientId: c.clientId,
        sourceIp: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$|^::1$/) as unknown,
        reason: row.iotLogReason,
        details: expect.stringMatching(c.details) as unknown,
      },
    ]);
    // The gateway's own log line names the same cause, for filtering (jq 'select(.cause == "...")').
    expect(served.log.matching('connect', { clientId: c.clientId })).toEqual([
      expect.objectContaining({ decision: 'deny', cause: c.cause }),
    ]);
    expect(served.runtime.invocationCount() > invocationsBefore).toBe(row.lambdaInvoked);
    if (c.functionLine !== undefined) {
      expect(await filter(FUNCTION_LOG_GROUP, `"${c.functionLine}"`)).not.toEqual([]);
    }
  });

  it('SERVER_NAME_MISMATCH: a TLS connection to another name is closed and logged without a client id', async () => {
    await expect(
      served.connackCode('test-wrong-sni', { username: username('allow'), servername: 'wrong.example' }),
    ).rejects.toThrow();
    const found = await filter(AWS_IOT_LOG_GROUP, '{ $.reason = "SERVER_NAME_MISMATCH" }');
    expect(found).toHaveLength(1);
    expect(JSON.parse(found[0] as string)).toMatchObject({
      status: 'Failure',
      reason: CONNECT_REFUSALS.SERVER_NAME_MISMATCH.iotLogReason,
      details: expect.stringContaining('wrong.example') as unknown,
    });
  });

  it('a successful connect is logged at INFO with its principal, once per connection', async () => {
    await served.connect('test-accepted', { username: username('allow'), password: 'x' });
    expect(await iotEntries('test-accepted')).toEqual([
      expect.objectContaining({ status: 'Success', logLevel: 'INFO', principalId: 'fixture' }),
    ]);
  });

  it('persists every group to a 0600 file under the state directory', () => {
    const file = served.local.logs.filePath(AWS_IOT_LOG_GROUP) as string;
    expect(file.startsWith(served.local.logsDirectory)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(served.local.logsDirectory).mode & 0o777).toBe(0o700);
    const functionFile = served.local.logs.filePath(FUNCTION_LOG_GROUP) as string;
    expect(readFileSync(functionFile, 'utf8')).toContain('START RequestId: ');
  });
});
