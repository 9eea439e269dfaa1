/**
 * MQTT topic names and topic filters as AWS IoT Core's message broker treats them.
 *
 * No well-kept MQTT topic matcher is installed in this repository (no `qlobber`, `mqtt-match` or
 * `mqemitter`; `mqtt` only validates filters client-side), and nothing may be installed, so matching is
 * written here, kept small, and property-tested against an independent regular-expression model
 * (`test/topic-filter.test.ts`).
 *
 * Where AWS IoT Core departs from MQTT, AWS wins (AWS IoT developer guide, "AWS IoT differences from MQTT
 * specifications" and "Topic filters"):
 * - `#` matches every topic at and below its level but not the parent: `sensor/#` matches `sensor/` and
 *   `sensor/a/b`, not `sensor` (MQTT would match `sensor` too). Stricter than MQTT, so an application that
 *   works locally also works on AWS.
 * - Topics and filters are limited to 256 bytes of UTF-8 and 7 `/` (8 levels).
 *
 * As in MQTT 5 (4.7.2): a filter starting with a wildcard never matches a topic starting with `$`.
 *
 * The rules topic names and filters share (empty, U+0000, the limits) and the topic-name rule are protocol's
 * (`checkTopicName`, `checkTopicText`, `checkTopicLimits`), so the client refuses the same topics; filter
 * syntax is the broker's alone and lives here.
 */

import {
  checkTopicLimits,
  checkTopicName,
  checkTopicText,
  type TopicProblem as ProtocolTopicProblem,
} from '@iot-custom-auth/protocol';

/** Why a topic name or topic filter is refused. */
export interface TopicProblem {
  /** `malformed`: breaks MQTT itself (a protocol error); `limit`: valid MQTT that AWS IoT Core refuses. */
  readonly kind: 'malformed' | 'limit';
  readonly reason: string;
}

/** A topic filter from a SUBSCRIBE, with a shared subscription's parts separated. */
export interface TopicFilter {
  /** The filter exactly as sent, e.g. `$share/workers/jobs/+`: the `iot:Subscribe` resource. */
  readonly filter: string;
  /** The part matched against topics, e.g. `jobs/+`. */
  readonly match: string;
  /** The share name of a shared subscription (`$share/<name>/<filter>`), e.g. `workers`. */
  readonly shareName?: string;
  /** Whether `match` has `+` or `#`. */
  readonly wildcard: boolean;
}

const SHARE_PREFIX = '$share/';

/**
 * The problem with a PUBLISH topic name, or `undefined` when AWS IoT Core accepts it: empty, wildcard
 * characters or U+0000 are malformed (MQTT 5 4.7.3); over 256 bytes or 7 slashes is an AWS IoT limit.
 */
export function topicNameProblem(topic: string): TopicProblem | undefined {
  return brokerProblem(checkTopicName(topic));
}

/**
 * Parses and checks a SUBSCRIBE topic filter: `+` and `#` must fill a whole level, `#` only last; a shared
 * subscription needs a share name without wildcards and a filter after it. AWS IoT's size limits apply to
 * the part that is matched ([choice]: the `$share/<name>/` prefix is routing syntax, as AWS exempts Basic
 * Ingest's `$aws/rules/<rule>/` prefix).
 */
export function parseTopicFilter(
  filter: string,
): { ok: true; value: TopicFilter } | { ok: false; problem: TopicProblem } {
  const fail = (kind: TopicProblem['kind'], reason: string) => ({
    ok: false as const,
    problem: { kind, reason },
  });
  const text = brokerProblem(checkTopicText(filter, 'topic filter'));
  if (text) return { ok: false, problem: text };
  let match = filter;
  let shareName: string | undefined;
  if (filter.startsWith(SHARE_PREFIX)) {
    const rest = filter.slice(SHARE_PREFIX.length);
    const slash = rest.indexOf('/');
    shareName = slash < 0 ? rest : rest.slice(0, slash);
    match = slash < 0 ? '' : rest.slice(slash + 1);
    if (shareName.length === 0 || shareName.includes('+') || shareName.includes('#')) {
      return fail(
        'malformed',
        `the shared subscription '${filter}' needs a share name without '+' or '#': $share/<name>/<filter>`,
      );
    }
    if (match.length === 0) {
      return fail(
        'malformed',
        `the shared subscription '${filter}' has no topic filter after $share/${shareName}/`,
      );
    }
  }
  const levels = match.split('/');
  for (const [index, level] of levels.entries()) {
    if (level === '#' && index !== levels.length - 1) {
      return fail('malformed', `in the topic filter '${filter}', '#' is not the last level`);
    }
    if (level.length > 1 && (level.includes('+') || level.includes('#'))) {
      return fail(
        'malformed',
        `in the topic filter '${filter}', a wildcard shares the level '${level}' with other characters`,
      );
    }
  }
  const limit = brokerProblem(checkTopicLimits(match, 'topic filter'));
  if (limit) return { ok: false, problem: limit };
  return {
    ok: true,
    value: {
      filter,
      match,
      ...(shareName === undefined ? {} : { shareName }),
      wildcard: levels.some((level) => level === '+' || level === '#'),
    },
  };
}

/**
 * Whether `topic` (a valid topic name) matches `filter` (the matched part of a valid topic filter) the way
 * AWS IoT Core routes it: `+` is one whole level, `#` one or more levels at the end (not the parent), and a
 * leading wildcard never matches a `$` topic.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  const first = filterLevels[0];
  if (topic.startsWith('$') && (first === '+' || first === '#')) return false;
  for (const [index, level] of filterLevels.entries()) {
    if (level === '#') return topicLevels.length > index;
    const topicLevel = topicLevels[index];
    if (topicLevel === undefined) return false;
    if (level !== '+' && level !== topicLevel) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/** Protocol's problem as the broker reports it: who refuses it, and the sentence. */
function brokerProblem(problem: ProtocolTopicProblem | undefined): TopicProblem | undefined {
  return problem === undefined ? undefined : { kind: problem.kind, reason: problem.message };
}
