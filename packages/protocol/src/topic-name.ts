import { AWS_IOT_TOPIC_LIMITS } from './constants';

/** What a message calls the text it checks: a PUBLISH topic name or a SUBSCRIBE topic filter. */
export type TopicSubject = 'topic name' | 'topic filter';

/**
 * Why AWS IoT Core refuses a topic name (or a topic filter, for the checks they share): a stable code, the
 * facts a caller needs to word it its own way, and a sentence for people.
 *
 * `kind` says who refuses it: `malformed` breaks MQTT itself (a protocol error), `limit` is valid MQTT that
 * AWS IoT Core refuses.
 */
export type TopicProblem =
  | { readonly code: 'EMPTY'; readonly kind: 'malformed'; readonly message: string }
  | { readonly code: 'NULL_CHARACTER'; readonly kind: 'malformed'; readonly message: string }
  | {
      readonly code: 'WILDCARD';
      readonly kind: 'malformed';
      /** The wildcard found: `+` when the topic has one, else `#`. */
      readonly wildcard: '+' | '#';
      readonly message: string;
    }
  | {
      readonly code: 'TOO_MANY_BYTES';
      readonly kind: 'limit';
      /** Length in bytes of UTF-8. */
      readonly bytes: number;
      readonly message: string;
    }
  | {
      readonly code: 'TOO_MANY_LEVELS';
      readonly kind: 'limit';
      /** Levels, one more than the `/` separating them. */
      readonly levels: number;
      readonly message: string;
    };

/**
 * Checks a PUBLISH topic name as AWS IoT Core does: empty, U+0000 or an MQTT wildcard (`+`, `#`) is malformed
 * (MQTT 5 4.7.3); more than 256 bytes of UTF-8 or 7 `/` is over AWS IoT's limits. Returns the first problem,
 * in that order, or `undefined` when the topic can be published to.
 */
export function checkTopicName(topic: string): TopicProblem | undefined {
  const text = checkTopicText(topic, 'topic name');
  if (text !== undefined) return text;
  if (topic.includes('+') || topic.includes('#')) {
    return {
      code: 'WILDCARD',
      kind: 'malformed',
      wildcard: topic.includes('+') ? '+' : '#',
      message: `the topic name '${topic}' contains a wildcard ('+' or '#'), which only topic filters may have`,
    };
  }
  return checkTopicLimits(topic, 'topic name');
}

/**
 * The rule topic names and topic filters share in MQTT: not empty, and no U+0000 (MQTT 5 1.5.4 and 4.7.3).
 */
export function checkTopicText(text: string, subject: TopicSubject): TopicProblem | undefined {
  if (text.length === 0) return { code: 'EMPTY', kind: 'malformed', message: `the ${subject} is empty` };
  if (text.includes('\u0000')) {
    return {
      code: 'NULL_CHARACTER',
      kind: 'malformed',
      message: `the ${subject} contains the null character U+0000`,
    };
  }
  return undefined;
}

/**
 * AWS IoT Core's size limits on a topic name or the matched part of a topic filter: at most 256 bytes of
 * UTF-8 and 7 `/` (8 levels).
 */
export function checkTopicLimits(text: string, subject: TopicSubject): TopicProblem | undefined {
  const { maxTopicBytes, maxTopicSlashes, maxTopicLevels } = AWS_IOT_TOPIC_LIMITS;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxTopicBytes) {
    return {
      code: 'TOO_MANY_BYTES',
      kind: 'limit',
      bytes,
      message: `the ${subject} is ${bytes} bytes; AWS IoT Core allows at most ${maxTopicBytes}`,
    };
  }
  const levels = text.split('/').length;
  if (levels > maxTopicLevels) {
    return {
      code: 'TOO_MANY_LEVELS',
      kind: 'limit',
      levels,
      message: `the ${subject} '${text}' has ${levels - 1} '/'; AWS IoT Core allows at most ${maxTopicSlashes} (${maxTopicLevels} levels)`,
    };
  }
  return undefined;
}
