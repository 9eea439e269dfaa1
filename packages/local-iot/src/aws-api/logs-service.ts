import { compileFilterPattern, FilterPatternError, type LogEventMatcher } from '../logs/filter-pattern';
import type { LocalLogStore, StoredLogEvent, StoredLogGroup } from '../logs/log-store';
import {
  awsError,
  parseJsonObject,
  type AwsError,
  type LocalAwsService,
  type Reply,
  type ServiceRequest,
} from './aws-wire';

const TARGET_PREFIX = 'Logs_20140328.';
/** FilterLogEvents' and DescribeLogGroups' largest `limit` (and the default when none is given). */
const MAX_FILTER_LIMIT = 10_000;
const MAX_DESCRIBE_LIMIT = 50;

/** Where the log groups are and what their ARNs look like. */
export interface LogsServiceOptions {
  readonly store: LocalLogStore;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
}

/**
 * CloudWatch Logs (awsJson1_1, `POST /` with `X-Amz-Target: Logs_20140328.<Operation>`, SigV4 service
 * `logs`): `FilterLogEvents` and `DescribeLogGroups` over the local log store, with the errors AWS sends
 * (`ResourceNotFoundException` "The specified log group does not exist.", `InvalidParameterException`).
 * API reference: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
 */
export class LogsService implements LocalAwsService {
  readonly signingName = 'logs';
  readonly protocol = 'awsJson1_1';
  readonly authFailureStatus = 400;

  constructor(private readonly options: LogsServiceOptions) {}

  claims({ target }: { readonly target: string | undefined }): boolean {
    return target?.startsWith(TARGET_PREFIX) === true;
  }

  handle({ target, body }: ServiceRequest): Reply {
    const input = body.trim() === '' ? {} : parseJsonObject(body);
    if (input === undefined)
      return awsError(400, 'SerializationException', 'the request body is not a JSON object');
    switch (target) {
      case `${TARGET_PREFIX}FilterLogEvents`:
        return this.filterLogEvents(input);
      case `${TARGET_PREFIX}DescribeLogGroups`:
        return this.describeLogGroups(input);
      default:
        return awsError(
          400,
          'UnknownOperationException',
          `local-iot does not implement ${target ?? 'that operation'}`,
        );
    }
  }

  private filterLogEvents(input: Record<string, unknown>): Reply {
    const request = readFilterRequest(input, this.options);
    if ('error' in request) return request;
    const group = this.options.store.group(request.groupName);
    if (group === undefined) return groupNotFound();
    let matcher: LogEventMatcher;
    try {
      matcher = compileFilterPattern(request.filterPattern);
    } catch (error) {
      if (error instanceof FilterPatternError)
        return invalidParameter(`Invalid filter pattern: ${error.message}`);
      throw error;
    }
    const after = request.nextToken === undefined ? undefined : decodeToken(request.nextToken, group.name);
    if (after === null) return invalidParameter('The specified nextToken is invalid.');
    const selected = selectEvents(group, request, matcher, after);
    const page = selected.slice(0, request.limit);
    const last = page[page.length - 1];
    const more = selected.length > request.limit && last !== undefined;
    return {
      status: 200,
      body: {
        events: page.map(({ logStreamName, timestamp, message, ingestionTime, eventId }) => ({
          logStreamName,
          timestamp,
          message,
          ingestionTime,
          eventId,
        })),
        searchedLogStreams: [...group.streams.keys()]
          .filter((name) => streamSelected(name, request))
          .map((logStreamName) => ({ logStreamName, searchedCompletely: true })),
        ...(more && { nextToken: encodeToken(group.name, last) }),
      },
    };
  }

  private describeLogGroups(input: Record<string, unknown>): Reply {
    const prefix = input.logGroupNamePrefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0)) {
      return invalidParameter('logGroupNamePrefix must be a non-empty string');
    }
    const limit = readLimit(input.limit, MAX_DESCRIBE_LIMIT);
    if (typeof limit === 'string') return invalidParameter(limit);
    const names = this.options.store
      .groupNames()
      .filter((name) => prefix === undefined || name.startsWith(prefix));
    const token = input.nextToken;
    if (token !== undefined && typeof token !== 'string')
      return invalidParameter('nextToken must be a string');
    // The token is the last name of the previous page: the next page starts after it.
    const previous = token === undefined ? undefined : Buffer.from(token, 'base64url').toString('utf8');
    const found = previous === undefined ? 0 : names.findIndex((name) => name > previous);
    const from = found === -1 ? names.length : found;
    const page = names.slice(from, from + limit);
    const more = from + limit < names.length;
    return {
      status: 200,
      body: {
        logGroups: page.map((name) => {
          const group = this.options.store.group(name) as StoredLogGroup;
          const arn = this.groupArn(name);
          return {
            logGroupName: name,
            creationTime: group.creationTime,
            storedBytes: group.storedBytes,
            arn: `${arn}:*`,
            logGroupArn: arn,
            logGroupClass: 'STANDARD',
          };
        }),
        ...(more && { nextToken: Buffer.from(page[page.length - 1] as string).toString('base64url') }),
      },
    };
  }

  private groupArn(name: string): string {
    const { partition, region, accountId } = this.options;
    return `arn:${partition}:logs:${region}:${accountId}:log-group:${name}`;
  }
}

interface FilterRequest {
  readonly groupName: string;
  readonly streamNames?: readonly string[];
  readonly streamPrefix?: string;
  readonly startTime?: number;
  readonly endTime?: number;
  readonly filterPattern?: string;
  readonly limit: number;
  readonly nextToken?: string;
}

/** The request's fields, checked as CloudWatch Logs checks them, or the error it answers. */
function readFilterRequest(
  input: Record<string, unknown>,
  context: Pick<LogsServiceOptions, 'region' | 'accountId' | 'partition'>,
): FilterRequest | Failure {
  const { logGroupName, logGroupIdentifier, logStreamNames, logStreamNamePrefix, startTime, endTime } = input;
  const { filterPattern, nextToken, interleaved } = input;
  if (logGroupName !== undefined && logGroupIdentifier !== undefined) {
    return invalidParameter('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
  }
  const groupName = groupNameOf(logGroupName ?? logGroupIdentifier, context);
  if (typeof groupName !== 'string') return groupName;
  if (logStreamNames !== undefined && logStreamNamePrefix !== undefined) {
    return invalidParameter('logStreamNames and logStreamNamePrefix are mutually exclusive');
  }
  if (
    logStreamNames !== undefined &&
    (!Array.isArray(logStreamNames) ||
      logStreamNames.length < 1 ||
      logStreamNames.length > 100 ||
      !logStreamNames.every((name) => typeof name === 'string' && name.length > 0))
  ) {
    return invalidParameter('logStreamNames must be a list of 1 to 100 non-empty strings');
  }
  if (
    logStreamNamePrefix !== undefined &&
    (typeof logStreamNamePrefix !== 'string' || logStreamNamePrefix === '')
  ) {
    return invalidParameter('logStreamNamePrefix must be a non-empty string');
  }
  for (const [name, value] of Object.entries({ startTime, endTime })) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)) {
      return invalidParameter(`${name} must be a whole number of milliseconds since the epoch (0 or more)`);
    }
  }
  if (typeof startTime === 'number' && typeof endTime === 'number' && endTime < startTime) {
    return invalidParameter('endTime must not be earlier than startTime');
  }
  if (filterPattern !== undefined && typeof filterPattern !== 'string') {
    return invalidParameter('filterPattern must be a string');
  }
  if (nextToken !== undefined && (typeof nextToken !== 'string' || nextToken === '')) {
    return invalidParameter('nextToken must be a non-empty string');
  }
  if (interleaved !== undefined && typeof interleaved !== 'boolean') {
    return invalidParameter(
      'interleaved must be a boolean (it is deprecated: results are always interleaved)',
    );
  }
  const limit = readLimit(input.limit, MAX_FILTER_LIMIT);
  if (typeof limit === 'string') return invalidParameter(limit);
  return {
    groupName,
    ...(logStreamNames !== undefined && { streamNames: logStreamNames as string[] }),
    ...(logStreamNamePrefix !== undefined && { streamPrefix: logStreamNamePrefix }),
    ...(typeof startTime === 'number' && { startTime }),
    ...(typeof endTime === 'number' && { endTime }),
    ...(filterPattern !== undefined && { filterPattern }),
    ...(nextToken !== undefined && { nextToken }),
    limit,
  };
}

/** A group name, or the name inside a log group ARN (`arn:aws:logs:<region>:<account>:log-group:<name>[:*]`). */
function groupNameOf(
  value: unknown,
  context: Pick<LogsServiceOptions, 'region' | 'accountId' | 'partition'>,
): string | Failure {
  if (value === undefined) return invalidParameter('Either logGroupName or logGroupIdentifier must be given');
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) {
    return invalidParameter('logGroupName / logGroupIdentifier must be a string of 1 to 2048 characters');
  }
  if (!value.startsWith('arn:')) return value;
  const prefix = `arn:${context.partition}:logs:${context.region}:${context.accountId}:log-group:`;
  if (!value.startsWith(prefix)) return groupNotFound();
  return value.slice(prefix.length).replace(/:\*$/, '');
}

function readLimit(value: unknown, max: number): number | string {
  if (value === undefined) return max;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    return `limit must be a whole number from 1 to ${max}`;
  }
  return value;
}

function streamSelected(name: string, request: FilterRequest): boolean {
  if (request.streamNames !== undefined) return request.streamNames.includes(name);
  if (request.streamPrefix !== undefined) return name.startsWith(request.streamPrefix);
  return true;
}

/** The matching events in (timestamp, arrival) order, after the position a token names. */
function selectEvents(
  group: StoredLogGroup,
  request: FilterRequest,
  matcher: LogEventMatcher,
  after: Position | undefined,
): StoredLogEvent[] {
  const selected = group.events.filter(
    (event) =>
      streamSelected(event.logStreamName, request) &&
      (request.startTime === undefined || event.timestamp >= request.startTime) &&
      (request.endTime === undefined || event.timestamp <= request.endTime) &&
      (after === undefined || comparePosition(event, after) > 0) &&
      matcher(event.message),
  );
  return selected.sort(comparePosition);
}

interface Position {
  readonly timestamp: number;
  readonly sequence: number;
}

function comparePosition(a: Position, b: Position): number {
  return a.timestamp - b.timestamp || a.sequence - b.sequence;
}

/**
 * The token names the group and the last event returned, so the next page starts right after it whatever
 * arrived meanwhile (events are only ever appended). Opaque to clients, as AWS's is.
 */
function encodeToken(groupName: string, last: Position): string {
  return Buffer.from(JSON.stringify({ g: groupName, t: last.timestamp, s: last.sequence })).toString(
    'base64url',
  );
}

/** The position in the token, or null when it is not one this group handed out. */
function decodeToken(token: string, groupName: string): Position | null {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (value.g !== groupName || !Number.isSafeInteger(value.t) || !Number.isSafeInteger(value.s))
      return null;
    return { timestamp: value.t as number, sequence: value.s as number };
  } catch {
    return null;
  }
}

type Failure = { readonly error: AwsError };

function invalidParameter(message: string): Failure {
  return { error: { status: 400, code: 'InvalidParameterException', message } };
}

function groupNotFound(): Failure {
  return {
    error: {
      status: 400,
      code: 'ResourceNotFoundException',
      message: 'The specified log group does not exist.',
    },
  };
}
