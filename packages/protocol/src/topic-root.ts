/** Longest topic root: keeps the returned topic policy far below AWS IoT's 2,048 characters per document. */
export const MAX_TOPIC_ROOT_LENGTH = 128;

/**
 * Topic levels of the same safe characters as a client id, separated by single `/`. MQTT (`+`, `#`) and
 * policy (`*`, `?`, `$`) wildcards, or an empty level, would widen or break the topic policy beyond the
 * device's own topics.
 */
const TOPIC_ROOT_PATTERN = /^[A-Za-z0-9_.:-]+(?:\/[A-Za-z0-9_.:-]+)*$/;

/**
 * Whether `root` may be the topic root devices publish under (`<topicRoot>/<clientId>`): 1 to 128 characters
 * of topic levels made of `A-Z a-z 0-9 _ . : -`, separated by single `/`.
 */
export function isValidTopicRoot(root: string): boolean {
  return root.length <= MAX_TOPIC_ROOT_LENGTH && TOPIC_ROOT_PATTERN.test(root);
}
