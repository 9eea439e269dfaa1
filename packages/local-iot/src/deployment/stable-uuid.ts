import { createHash } from 'node:crypto';

/**
 * A UUID-shaped id derived from `text`: local resources get ids that look like AWS's (stack ids, secret
 * version ids) yet stay the same across restarts, so outputs and logs are reproducible.
 */
export function stableUuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
