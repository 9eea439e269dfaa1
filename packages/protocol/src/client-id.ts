import { MAX_CLIENT_ID_BYTES } from './constants';

/**
 * Characters a client id may contain. An allow-list rather than a deny-list: the client id is substituted
 * into `${iot:ClientId}` policies, so anything that is a wildcard in a policy (`*`, `?`), in MQTT (`+`, `#`),
 * a topic level separator (`/`), a variable marker (`$`) or invisible would widen or confuse them.
 */
const SAFE_CLIENT_ID = /^[A-Za-z0-9_.:-]+$/;

/**
 * Why `clientId` may not connect under this project's policy, or `undefined` when it may: it must start with
 * `prefix`, be at most 128 bytes, and use only `A-Z a-z 0-9 _ . : -`.
 */
export function clientIdProblem(clientId: string, prefix: string): string | undefined {
  if (clientId.length === 0) return 'client id is empty';
  if (Buffer.byteLength(clientId, 'utf8') > MAX_CLIENT_ID_BYTES) {
    return `client id is longer than ${MAX_CLIENT_ID_BYTES} bytes`;
  }
  if (!SAFE_CLIENT_ID.test(clientId)) {
    const bad = [...clientId].find((c) => !SAFE_CLIENT_ID.test(c)) ?? '';
    return `client id contains ${JSON.stringify(bad)}; only A-Z a-z 0-9 _ . : - are allowed`;
  }
  if (!clientId.startsWith(prefix)) return `client id does not start with '${prefix}'`;
  return undefined;
}
