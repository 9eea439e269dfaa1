import { isIP } from 'node:net';

/**
 * AWS IoT Core's documented connect quotas, checked before a storm against AWS starts (AWS IoT Core message
 * broker limits: https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits, and
 * https://docs.aws.amazon.com/iot/latest/developerguide/limits-iot.html):
 * - connect requests per second per account: 500 by default, adjustable (and lower in some regions: the
 *   account's own value is `--account-connect-quota`);
 * - connect requests per second per client id: 1, not adjustable;
 * - publish requests per second per connection: 100.
 */
export const AWS_CONNECT_QUOTAS = {
  connectsPerSecondPerClientId: 1,
  publishesPerSecondPerConnection: 100,
  limitsPage: 'https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits',
} as const;

/** Whether `host` is this machine: a storm against it is never subject to AWS's quotas. */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase();
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  if (isIP(lower) === 4) return lower.startsWith('127.');
  if (isIP(lower) === 6) return lower === '::1';
  return false;
}

/** What the check looks at. */
export interface QuotaPlan {
  /** Arrivals per second of the whole storm (every shard together). */
  readonly ratePerSecond: number;
  readonly accountConnectQuota: number;
  readonly publishPerConnection: number;
}

/**
 * The quotas the plan would exceed, in words (empty when none). Each storm client id connects once per run,
 * so the per-client-id quota holds by construction; running the same `--run-id` twice within a second would
 * not, which the default random run id avoids.
 */
export function quotaProblems(plan: QuotaPlan): string[] {
  const problems: string[] = [];
  if (plan.ratePerSecond > plan.accountConnectQuota) {
    problems.push(
      `--rate ${plan.ratePerSecond} is more than the account's ${plan.accountConnectQuota} connect requests per second (AWS IoT Core quota "Connect requests per second per account"; AWS throttles the rest)`,
    );
  }
  return problems;
}
