import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';

/**
 * Reading the records of one connection attempt from CloudWatch Logs (`FilterLogEvents`), on AWS and against
 * local-iot alike: only the client's endpoint and credentials differ, never the code.
 */

/** The one call of the CloudWatch Logs client used here, so tests can pass `aws-sdk-client-mock`'s or a fake. */
export type LogsClient = Pick<CloudWatchLogsClient, 'send'>;

/** Which log group holds which kind of record. */
export type LogGroupKind = 'authorizer' | 'iot';

/** A log group to search. */
export interface LogGroupRef {
  readonly name: string;
  readonly kind: LogGroupKind;
}

/** One log event as `FilterLogEvents` returns it. */
export interface LogRecord {
  readonly logGroupName: string;
  readonly kind: LogGroupKind;
  readonly timestamp: number;
  readonly message: string;
}

/**
 * What one log group gave: its records for the client id (possibly none yet), or why it could not be read:
 * absent (`ResourceNotFoundException`: never written to, or logging off), no permission
 * (`AccessDeniedException`), or any other failure (network, throttling).
 */
export type GroupSearch =
  | { readonly group: LogGroupRef; readonly status: 'read'; readonly records: readonly LogRecord[] }
  | {
      readonly group: LogGroupRef;
      readonly status: 'absent' | 'access-denied' | 'failed';
      readonly message: string;
    };

/** What to look for, and for how long. */
export interface RecordQuery {
  readonly groups: readonly LogGroupRef[];
  /** The records must contain it (the client id); `filterPattern` replaces the quoted term when given. */
  readonly clientId: string;
  readonly filterPattern?: string;
  /** Milliseconds since the epoch: the window of the connection attempt. */
  readonly startTime: number;
  readonly endTime: number;
}

/** CloudWatch Logs returns at most 10,000 events a page; a connection has a handful, so a few pages is plenty. */
const MAX_PAGES = 5;
const PAGE_LIMIT = 100;

/**
 * A filter pattern matching the client id as a quoted term (it appears in the authorizer's decision line and
 * in AWS IoT's entries for the connection), or none when the id has a character a quoted term cannot hold:
 * then every event of the window comes back and {@link searchGroup} keeps those that contain the id.
 */
export function clientIdFilterPattern(clientId: string): string | undefined {
  return /^[^"\\\s]+$/.test(clientId) ? `"${clientId}"` : undefined;
}

/** Reads `group`'s events for the client id in the window; never throws. */
export async function searchGroup(
  client: LogsClient,
  group: LogGroupRef,
  query: RecordQuery,
): Promise<GroupSearch> {
  const filterPattern = query.filterPattern ?? clientIdFilterPattern(query.clientId);
  const records: LogRecord[] = [];
  let nextToken: string | undefined;
  try {
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await client.send(
        new FilterLogEventsCommand({
          logGroupName: group.name,
          startTime: Math.floor(query.startTime),
          endTime: Math.ceil(query.endTime),
          limit: PAGE_LIMIT,
          ...(filterPattern === undefined ? {} : { filterPattern }),
          ...(nextToken === undefined ? {} : { nextToken }),
        }),
      );
      for (const event of answer.events ?? []) {
        if (typeof event.message !== 'string') continue;
        if (query.filterPattern === undefined && !event.message.includes(query.clientId)) continue;
        records.push({
          logGroupName: group.name,
          kind: group.kind,
          timestamp: event.timestamp ?? 0,
          message: event.message,
        });
      }
      nextToken = answer.nextToken;
      if (nextToken === undefined) break;
    }
  } catch (error) {
    return { group, ...classifyFailure(error) };
  }
  return { group, status: 'read', records };
}

function classifyFailure(error: unknown): {
  status: 'absent' | 'access-denied' | 'failed';
  message: string;
} {
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'ResourceNotFoundException') return { status: 'absent', message };
  if (name === 'AccessDeniedException' || name === 'AccessDenied')
    return { status: 'access-denied', message };
  return {
    status: 'failed',
    message: name === '' || message.includes(name) ? message : `${name}: ${message}`,
  };
}

/** Reads every group once, in parallel. */
export function searchGroups(client: LogsClient, query: RecordQuery): Promise<GroupSearch[]> {
  return Promise.all(query.groups.map((group) => searchGroup(client, group, query)));
}
