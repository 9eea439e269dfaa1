import {
  clientIdProblem,
  CONNECT_REFUSALS,
  type ConnectRefusalCause,
  type ClientReportExplanation,
  type ClientReportLogSearch,
} from '@iot-custom-auth/protocol';
import type { AwsTarget } from '../aws-clients';
import type { FailureContext } from '../diagnosis';
import { decisionCause, type CauseText } from './decision-fixes';
import { iotCause } from './iot-entry-causes';
import { readFact, type DecisionFact, type IotLogFact, type LogFact } from './log-records';
import { searchGroups, type GroupSearch, type LogGroupRef, type LogsClient } from './log-search';

/** What explaining one refused attempt needs. */
export interface ExplainRequest {
  /** Where the CloudWatch Logs API is: the connection file's locally, the SDK's chain on AWS. */
  readonly target: AwsTarget;
  readonly groups: readonly LogGroupRef[];
  readonly context: FailureContext;
  /** When the attempt started, milliseconds since the epoch. */
  readonly attemptStartedMs: number;
  /** How long to keep looking for records that are not there yet; 0 looks once. */
  readonly waitMs: number;
  /**
   * No CONNACK came (TLS failure, hang-up, timeout): the server may have closed the connection before it
   * read a client id, so AWS IoT's TLS-stage refusals of the moment are looked for too.
   */
  readonly beforeConnack?: boolean;
}

/** Finds why an attempt was refused; never throws (what it could not read is in the answer). */
export interface RefusalExplainer {
  explain(request: ExplainRequest): Promise<ClientReportExplanation>;
}

/** What the CloudWatch Logs explainer touches outside itself. */
export interface CloudWatchExplainerDeps {
  readonly newLogsClient: (target: AwsTarget) => LogsClient;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Records are searched from a minute before the attempt to a minute after now: CloudWatch Logs stamps
 * events with the service's clock, which may be off this machine's.
 */
const CLOCK_SLACK_MS = 60_000;
/** The refusals AWS IoT decides during TLS, before it reads a client id (protocol's table, stage `tls`). */
const TLS_REFUSAL_CAUSES = (Object.keys(CONNECT_REFUSALS) as ConnectRefusalCause[]).filter(
  (cause) => CONNECT_REFUSALS[cause].stage === 'tls',
);
/** Between two looks while waiting for late records. */
const POLL_INTERVAL_MS = 1_000;

/**
 * Reads the authorizer's log group and `AWSIotLogsV2` with `FilterLogEvents` for the client id around the
 * attempt, again every second up to `waitMs` while nothing conclusive is there (AWS delivers log events a few
 * seconds late), and turns the records into the reason and its fix, or into why none was found.
 */
export class CloudWatchRefusalExplainer implements RefusalExplainer {
  constructor(private readonly deps: CloudWatchExplainerDeps) {}

  /** Before a CONNACK and with no record for the client id: AWS IoT's TLS-stage refusals of the moment. */
  private async withTlsRefusals(
    client: LogsClient,
    reading: Reading,
    request: ExplainRequest,
  ): Promise<Reading> {
    if (reading.found !== undefined || request.beforeConnack !== true) return reading;
    const groups = request.groups.filter((group) => group.kind === 'iot');
    if (groups.length === 0) return reading;
    const searches = await searchGroups(client, {
      groups,
      clientId: request.context.clientId,
      filterPattern: TLS_REFUSAL_PATTERN,
      startTime: request.attemptStartedMs - TLS_REFUSAL_SLACK_MS,
      endTime: this.deps.clock() + TLS_REFUSAL_SLACK_MS,
    });
    const tls = interpretSearches(searches, request.context);
    return tls.found === undefined ? reading : { found: tls.found, conclusive: true };
  }

  async explain(request: ExplainRequest): Promise<ClientReportExplanation> {
    const { clock, sleep } = this.deps;
    if (request.groups.length === 0) return { found: false, why: whyNothingFound([], request), searched: [] };
    const client = this.deps.newLogsClient(request.target);
    const deadline = clock() + request.waitMs;
    for (;;) {
      const searches = await searchGroups(client, {
        groups: request.groups,
        clientId: request.context.clientId,
        startTime: request.attemptStartedMs - CLOCK_SLACK_MS,
        endTime: clock() + CLOCK_SLACK_MS,
      });
      const reading = await this.withTlsRefusals(
        client,
        interpretSearches(searches, request.context),
        request,
      );
      if (reading.conclusive || clock() + POLL_INTERVAL_MS > deadline) {
        return finalExplanation(reading, searches, request);
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }
}

/**
 * A connection refused during TLS (SNI not the endpoint's, no ALPN the endpoint speaks) leaves an AWS IoT
 * entry without a client id; one from a few seconds around the attempt is taken as this attempt's.
 */
const TLS_REFUSAL_PATTERN = TLS_REFUSAL_CAUSES.map(
  (cause) => `?${CONNECT_REFUSALS[cause].iotLogReason}`,
).join(' ');
const TLS_REFUSAL_SLACK_MS = 5_000;

/** What the records said so far, and whether waiting could change it. */
export interface Reading {
  readonly found?: CauseText & { readonly fact: LogFact };
  /** True when no later record can change the answer: a failure entry or a decision that says why, or nothing readable. */
  readonly conclusive: boolean;
}

/** The decision reasons that say exactly why on their own; other decision lines wait for AWS IoT's entry. */
const EXACT_DECISIONS = new Set(['CLIENT_ID_OUTSIDE_PREFIX', 'TOKEN_CLIENT_ID_NOT_ALLOWED']);

/** Turns what the groups gave into the best reason found, the most recent record of each kind first. */
export function interpretSearches(searches: readonly GroupSearch[], context: FailureContext): Reading {
  const facts = searches
    .flatMap((search) => (search.status === 'read' ? search.records : []))
    .sort((a, b) => b.timestamp - a.timestamp)
    .map(readFact)
    .filter((fact) => fact !== undefined);
  const decision = facts.find((fact): fact is DecisionFact => fact.source === 'authorizer');
  const iotFailure = facts
    .filter((fact): fact is IotLogFact => fact.source === 'iot')
    .map((fact) => ({ fact, text: iotCause(fact, context) }))
    .find((entry) => entry.text !== undefined);
  const decisionSaysWhy =
    decision !== undefined && (decision.decision === 'DENY' || EXACT_DECISIONS.has(decision.reason));
  if (decisionSaysWhy) {
    return { found: { ...decisionCause(decision, context), fact: decision }, conclusive: true };
  }
  if (iotFailure?.text !== undefined) {
    const text =
      iotFailure.text.cause === 'NOT_AUTHENTICATED'
        ? deniedWithoutDecision(iotFailure.text, context)
        : iotFailure.text;
    // A Lambda's "not authenticated" is explained best by its own decision line, which may still be on its way.
    return {
      found: { ...text, fact: iotFailure.fact },
      conclusive: iotFailure.text.cause !== 'NOT_AUTHENTICATED',
    };
  }
  if (decision !== undefined) {
    return { found: { ...decisionCause(decision, context), fact: decision }, conclusive: false };
  }
  return { conclusive: searches.every((search) => search.status !== 'read') };
}

/**
 * AWS IoT says the Lambda did not authenticate the device, and no decision line names the client id: the
 * authorizer of this stack logs no client id it finds unsafe, which the client can tell for itself.
 */
function deniedWithoutDecision(text: CauseText, context: FailureContext): CauseText {
  const unsafe = clientIdProblem(context.clientId, '');
  if (unsafe === undefined) return text;
  return {
    cause: 'NOT_AUTHENTICATED',
    reason: `${text.reason}: the client id ${context.clientId} is unsafe (${unsafe}), which the authorizer refuses`,
    fix: `use a client id of letters, digits, _ . : and - only, starting with ${context.clientIdPrefix}: --client_id ${context.clientIdPrefix}<something>`,
  };
}

function finalExplanation(
  reading: Reading,
  searches: readonly GroupSearch[],
  request: ExplainRequest,
): ClientReportExplanation {
  const searched = searches.map(searchSummary);
  if (reading.found !== undefined) {
    const { fact, cause, reason, fix } = reading.found;
    const { logGroupName, timestamp, message } = fact.record;
    return { found: true, cause, reason, fix, record: { logGroupName, timestamp, message }, searched };
  }
  const notInvoked = lambdaNotInvoked(searches, request);
  if (notInvoked !== undefined) return { ...notInvoked, searched };
  return { found: false, why: whyNothingFound(searches, request), searched };
}

function searchSummary(search: GroupSearch): ClientReportLogSearch {
  return search.status === 'read'
    ? { logGroupName: search.group.name, status: 'read', records: search.records.length }
    : { logGroupName: search.group.name, status: search.status, message: search.message };
}

/**
 * The authorizer's log group was read and has nothing for the client id, while AWS IoT's entries are not
 * available: the Lambda was not invoked (unless the client id is one it does not log, or the record is late).
 */
function lambdaNotInvoked(
  searches: readonly GroupSearch[],
  request: ExplainRequest,
): Omit<Extract<ClientReportExplanation, { found: true }>, 'searched'> | undefined {
  const authorizer = searches.find((search) => search.group.kind === 'authorizer');
  if (authorizer?.status !== 'read' || authorizer.records.length > 0) return undefined;
  if (clientIdProblem(request.context.clientId, '') !== undefined) return undefined;
  const waited = request.waitMs / 1000;
  return {
    found: true,
    cause: 'LAMBDA_NOT_INVOKED',
    reason: `the authorizer Lambda was not invoked for client id ${request.context.clientId}: ${authorizer.group.name} has no decision line for it ${waited > 0 ? `after ${waited} s` : 'yet'}`,
    fix: `AWS IoT stopped before the Lambda: check the authorizer name and that it is ACTIVE, its lambda:InvokeFunction permission for iot.amazonaws.com, the token signature, and ALPN ${'mqtt'} on port 443 with the endpoint's host name as SNI (npm run diagnose -w client checks each); or the record is late: raise --explain-wait`,
  };
}

/** Why no group had a record, group by group, with what to do about each. */
function whyNothingFound(searches: readonly GroupSearch[], request: ExplainRequest): string {
  if (searches.length === 0) {
    return 'no stack outputs, so no log group to search: pass --outputs or --stack-name for the stack the authorizer belongs to';
  }
  const waited = request.waitMs / 1000;
  const parts = searches.map((search) => {
    const name = search.group.name;
    switch (search.status) {
      case 'read':
        return `${name} has no record for client id ${request.context.clientId}${waited > 0 ? ` after ${waited} s (too early? raise --explain-wait)` : ' (too early? pass --explain-wait)'}`;
      case 'absent':
        return search.group.kind === 'iot'
          ? `${name} does not exist: AWS IoT logging is off in this account and region (deploy with -c iotLogging=ERROR)`
          : `${name} does not exist: the authorizer Lambda never logged, or the outputs name another stack's group`;
      case 'access-denied':
        return `no permission to read ${name} (AccessDenied): allow logs:FilterLogEvents on it for your AWS identity`;
      default:
        return `reading ${name} failed: ${search.message}`;
    }
  });
  return parts.join('; ');
}
