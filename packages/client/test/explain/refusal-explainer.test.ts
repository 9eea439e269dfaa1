import {
  AccessDeniedException,
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  ResourceNotFoundException,
  type FilteredLogEvent,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import type { FailureContext } from '../../src/diagnosis';
import { CloudWatchRefusalExplainer, type ExplainRequest } from '../../src/explain/refusal-explainer';
import { clientIdFilterPattern } from '../../src/explain/log-search';

const AUTHORIZER_GROUP = '/aws/lambda/Stack-AuthorizerFunction';
const STARTED = Date.parse('2026-01-01T10:00:00Z');

const context: FailureContext = {
  endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
  port: 443,
  transport: 'mqtt',
  authorizerName: 'Stack-Unsigned',
  signed: false,
  clientId: 'test-1',
  clientIdPrefix: 'test-',
  passwordSource: 'flag',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device',
  timeoutSeconds: 10,
};

const logs = mockClient(CloudWatchLogsClient);

/** An explainer on the mocked client and a clock that the polling's sleeps advance. */
function explainer(): { explainer: CloudWatchRefusalExplainer; sleeps: number[] } {
  let now = STARTED + 500;
  const sleeps: number[] = [];
  return {
    sleeps,
    explainer: new CloudWatchRefusalExplainer({
      newLogsClient: (target) => new CloudWatchLogsClient({ region: target.region ?? 'eu-west-1' }),
      clock: () => now,
      sleep: (ms) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    }),
  };
}

function request(overrides: Partial<ExplainRequest> = {}): ExplainRequest {
  return {
    target: { region: 'eu-west-1' },
    groups: [
      { name: AUTHORIZER_GROUP, kind: 'authorizer' },
      { name: 'AWSIotLogsV2', kind: 'iot' },
    ],
    context,
    attemptStartedMs: STARTED,
    waitMs: 15_000,
    ...overrides,
  };
}

function event(message: string, timestamp = STARTED + 100): FilteredLogEvent {
  return { message, timestamp, logStreamName: 'stream', eventId: `${timestamp}` };
}

const decisionLine = (entry: Record<string, unknown>): string =>
  JSON.stringify({
    timestamp: '2026-01-01T10:00:00.100Z',
    level: 'WARN',
    requestId: 'f00',
    message: entry,
  });

const iotEntry = (entry: Record<string, unknown>): string =>
  JSON.stringify({
    timestamp: '2026-01-01 10:00:00.120',
    logLevel: 'ERROR',
    traceId: 'trace',
    accountId: '123456789012',
    status: 'Failure',
    eventType: 'Connect',
    protocol: 'MQTT',
    clientId: 'test-1',
    ...entry,
  });

beforeEach(() => logs.reset());

it('asks FilterLogEvents for the client id as a quoted term in a window around the attempt', async () => {
  logs.on(FilterLogEventsCommand).resolves({ events: [] });
  await explainer().explainer.explain(request({ waitMs: 0 }));
  const calls = logs.commandCalls(FilterLogEventsCommand).map((call) => call.args[0].input);
  expect(calls).toEqual([
    expect.objectContaining({ logGroupName: AUTHORIZER_GROUP, filterPattern: '"test-1"' }),
    expect.objectContaining({ logGroupName: 'AWSIotLogsV2', filterPattern: '"test-1"' }),
  ]);
  expect(calls[0]?.startTime).toBeLessThan(STARTED);
  expect(calls[0]?.endTime).toBeGreaterThan(STARTED + 500);
});

it('explains a wrong password from the decision line, with the fix first', async () => {
  logs
    .on(FilterLogEventsCommand, { logGroupName: AUTHORIZER_GROUP })
    .resolves({
      events: [event(decisionLine({ decision: 'DENY', reason: 'BAD_PASSWORD', clientId: 'test-1' }))],
    })
    .on(FilterLogEventsCommand, { logGroupName: 'AWSIotLogsV2' })
    .rejects(
      new ResourceNotFoundException({ message: 'The specified log group does not exist.', $metadata: {} }),
    );
  const explanation = await explainer().explainer.explain(request());
  expect(explanation).toMatchObject({
    found: true,
    cause: 'NOT_AUTHENTICATED',
    fix: expect.stringContaining('--custom_auth_password is not the device') as string,
    record: { logGroupName: AUTHORIZER_GROUP, timestamp: STARTED + 100 },
    searched: [
      { logGroupName: AUTHORIZER_GROUP, status: 'read', records: 1 },
      { logGroupName: 'AWSIotLogsV2', status: 'absent' },
    ],
  });
});

it("explains AWS IoT's entry for an authorizer that does not exist, reading its details", async () => {
  logs
    .on(FilterLogEventsCommand, { logGroupName: AUTHORIZER_GROUP })
    .resolves({ events: [] })
    .on(FilterLogEventsCommand, { logGroupName: 'AWSIotLogsV2' })
    .resolves({
      events: [
        event(
          iotEntry({
            reason: 'AUTHORIZER_NOT_FOUND',
            details: "authorizer 'Wrong' does not exist (stack Stack has: Stack-Unsigned, Stack-Signed)",
          }),
        ),
      ],
    });
  const explanation = await explainer().explainer.explain(request());
  expect(explanation).toMatchObject({
    found: true,
    cause: 'AUTHORIZER_NOT_FOUND',
    reason: expect.stringContaining(
      "authorizer 'Wrong' does not exist (stack Stack has: Stack-Unsigned",
    ) as string,
  });
});

it("reads the cause from the words of the details when AWS IoT's reason is not one protocol names", async () => {
  logs.on(FilterLogEventsCommand).resolves({
    events: [
      event(iotEntry({ reason: 'SOME_AWS_REASON', details: "authorizer 'Stack-Unsigned' is INACTIVE" })),
    ],
  });
  const explanation = await explainer().explainer.explain(
    request({ waitMs: 0, groups: [{ name: 'AWSIotLogsV2', kind: 'iot' }] }),
  );
  expect(explanation).toMatchObject({
    found: true,
    cause: 'AUTHORIZER_INACTIVE',
    reason: "AWS IoT refused the connection (SOME_AWS_REASON): authorizer 'Stack-Unsigned' is INACTIVE",
  });
});

it('polls until the late records arrive, then stops', async () => {
  logs
    .on(FilterLogEventsCommand)
    .resolvesOnce({ events: [] })
    .resolvesOnce({ events: [] })
    .resolvesOnce({ events: [] })
    .resolvesOnce({ events: [] })
    .resolves({
      events: [event(decisionLine({ decision: 'DENY', reason: 'BAD_PASSWORD', clientId: 'test-1' }))],
    });
  const { explainer: subject, sleeps } = explainer();
  const explanation = await subject.explain(request());
  expect(explanation).toMatchObject({ found: true, cause: 'NOT_AUTHENTICATED' });
  expect(sleeps).toEqual([1000, 1000]);
});

it('gives up after the wait and says the Lambda was not invoked when its group is readable and empty', async () => {
  logs
    .on(FilterLogEventsCommand, { logGroupName: AUTHORIZER_GROUP })
    .resolves({ events: [] })
    .on(FilterLogEventsCommand, { logGroupName: 'AWSIotLogsV2' })
    .rejects(
      new ResourceNotFoundException({ message: 'The specified log group does not exist.', $metadata: {} }),
    );
  const { explainer: subject, sleeps } = explainer();
  const explanation = await subject.explain(request({ waitMs: 3_000 }));
  expect(sleeps).toEqual([1000, 1000, 1000]);
  expect(explanation).toMatchObject({
    found: true,
    cause: 'LAMBDA_NOT_INVOKED',
    reason: expect.stringContaining(`${AUTHORIZER_GROUP} has no decision line for it after 3 s`) as string,
  });
  expect(explanation).not.toHaveProperty('record');
});

it('says that nothing can be read without permission (AccessDenied) and stops at once', async () => {
  logs.on(FilterLogEventsCommand).rejects(
    new AccessDeniedException({
      message: 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: logs:FilterLogEvents',
      $metadata: {},
    }),
  );
  const { explainer: subject, sleeps } = explainer();
  const explanation = await subject.explain(request());
  expect(sleeps).toEqual([]);
  expect(explanation).toMatchObject({
    found: false,
    why: expect.stringContaining(`no permission to read ${AUTHORIZER_GROUP} (AccessDenied)`) as string,
    searched: [
      { logGroupName: AUTHORIZER_GROUP, status: 'access-denied' },
      { logGroupName: 'AWSIotLogsV2', status: 'access-denied' },
    ],
  });
});

it('says logging is off when AWSIotLogsV2 does not exist and the outputs name no authorizer group', async () => {
  logs
    .on(FilterLogEventsCommand)
    .rejects(
      new ResourceNotFoundException({ message: 'The specified log group does not exist.', $metadata: {} }),
    );
  const explanation = await explainer().explainer.explain(
    request({ groups: [{ name: 'AWSIotLogsV2', kind: 'iot' }] }),
  );
  expect(explanation).toEqual({
    found: false,
    why: 'AWSIotLogsV2 does not exist: AWS IoT logging is off in this account and region (deploy with -c iotLogging=ERROR)',
    searched: [
      {
        logGroupName: 'AWSIotLogsV2',
        status: 'absent',
        message: 'The specified log group does not exist.',
      },
    ],
  });
});

it('says it is too early when the groups are readable and empty, and the Lambda may not log this id', async () => {
  logs.on(FilterLogEventsCommand).resolves({ events: [] });
  const explanation = await explainer().explainer.explain(
    request({ waitMs: 0, groups: [{ name: 'AWSIotLogsV2', kind: 'iot' }] }),
  );
  expect(explanation).toMatchObject({
    found: false,
    why: 'AWSIotLogsV2 has no record for client id test-1 (too early? pass --explain-wait)',
  });
});

it('names the unsafe client id when AWS IoT says the Lambda did not authenticate it', async () => {
  const unsafe = { ...context, clientId: 'test-a+b' };
  logs
    .on(FilterLogEventsCommand, { logGroupName: AUTHORIZER_GROUP })
    .resolves({ events: [] })
    .on(FilterLogEventsCommand, { logGroupName: 'AWSIotLogsV2' })
    .resolves({
      events: [
        event(
          iotEntry({
            clientId: 'test-a+b',
            reason: 'AUTHENTICATION_FAILURE',
            details: "authorizer 'Stack-Unsigned' returned isAuthenticated: false",
          }),
        ),
      ],
    });
  const explanation = await explainer().explainer.explain(request({ context: unsafe, waitMs: 0 }));
  expect(explanation).toMatchObject({
    found: true,
    cause: 'NOT_AUTHENTICATED',
    reason: expect.stringContaining('the client id test-a+b is unsafe') as string,
  });
});

it('reads every page of a long answer', async () => {
  logs
    .on(FilterLogEventsCommand)
    .resolvesOnce({ events: [event('START RequestId: x test-1')], nextToken: 'page-2' })
    .resolves({
      events: [event(decisionLine({ decision: 'DENY', reason: 'UNKNOWN_USERNAME', clientId: 'test-1' }))],
    });
  const explanation = await explainer().explainer.explain(
    request({ waitMs: 0, groups: [{ name: AUTHORIZER_GROUP, kind: 'authorizer' }] }),
  );
  expect(logs.commandCalls(FilterLogEventsCommand)[1]?.args[0].input.nextToken).toBe('page-2');
  expect(explanation).toMatchObject({
    found: true,
    cause: 'NOT_AUTHENTICATED',
    reason: expect.stringContaining('UNKNOWN_USERNAME') as string,
  });
});

it('reads the text log format, whose JSON follows a timestamp, request id and level', async () => {
  logs.on(FilterLogEventsCommand).resolves({
    events: [
      event(
        `2026-01-01T10:00:00.100Z\tf00\tWARN\t${JSON.stringify({ decision: 'DENY', reason: 'TOKEN_EXPIRED', clientId: 'test-1' })}`,
      ),
    ],
  });
  const explanation = await explainer().explainer.explain(
    request({
      waitMs: 0,
      groups: [{ name: AUTHORIZER_GROUP, kind: 'authorizer' }],
      context: { ...context, signed: true, tokenOrigin: 'given' },
    }),
  );
  expect(explanation).toMatchObject({
    found: true,
    cause: 'NOT_AUTHENTICATED',
    reason: expect.stringContaining('TOKEN_EXPIRED') as string,
  });
  // A token given on the command line was made elsewhere: this machine's clock is not to blame.
  expect(explanation).toMatchObject({ fix: expect.not.stringContaining('clock') as string });
});

it('filters client ids a quoted term cannot hold on this side instead', () => {
  expect(clientIdFilterPattern('test-1')).toBe('"test-1"');
  expect(clientIdFilterPattern('test "quoted"')).toBeUndefined();
});
