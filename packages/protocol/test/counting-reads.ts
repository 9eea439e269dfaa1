/**
 * `value` behind a proxy that calls `onRead` on every property read, nested objects included: a test sees
 * whether (and how often) code reads a policy document.
 */
export function countingReads<T extends object>(value: T, onRead: () => void): T {
  return new Proxy(value, {
    get(target, key, receiver) {
      onRead();
      const property: unknown = Reflect.get(target, key, receiver);
      return typeof property === 'object' && property !== null ? countingReads(property, onRead) : property;
    },
  });
}
