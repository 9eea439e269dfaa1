import { isRecord } from '@iot-custom-auth/protocol';

/**
 * An own property of an object, or `undefined` (also for non-objects): inherited names such as `toString`
 * or `__proto__` in an untrusted event never count as fields.
 */
export function own(value: unknown, key: string): unknown {
  if (!isRecord(value) || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
  return value[key];
}
