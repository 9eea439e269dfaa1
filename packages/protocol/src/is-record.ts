/**
 * Whether `value` is a JSON object: not `null`, not an array. Properties still need checking one by one, and
 * for untrusted input only own properties count (`Object.hasOwn`).
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
