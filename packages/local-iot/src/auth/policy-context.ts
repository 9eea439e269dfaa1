import type { PolicyRequestContext } from '@iot-custom-auth/protocol';

/** The connection facts the request context of a policy decision is made of. */
export interface PolicyContextSource {
  /** The device's IP address as the gateway's socket reports it. */
  readonly sourceIp?: string;
  /** The TLS SNI the device sent: `iot:DomainName`. */
  readonly serverName?: string;
  /** `iot:ConnectAttributes`, on `iot:Connect` only. */
  readonly connectAttributes?: readonly string[];
}

/**
 * The `Condition` context of one decision: the connection's facts and the wall-clock time now
 * (`aws:CurrentTime`, `aws:EpochTime`: real time, not the gateway clock, which only measures intervals).
 */
export function policyContext(source: PolicyContextSource, nowMs: number = Date.now()): PolicyRequestContext {
  return {
    ...(source.sourceIp === undefined ? {} : { sourceIp: source.sourceIp }),
    ...(source.serverName === undefined ? {} : { domainName: source.serverName }),
    ...(source.connectAttributes === undefined ? {} : { connectAttributes: source.connectAttributes }),
    currentTimeMs: nowMs,
  };
}

/**
 * `iot:ConnectAttributes` of a CONNECT as AWS IoT documents them (connect-policy.html, "MQTT persistent
 * sessions policy examples"): `PersistentConnect` when the session outlives the connection (MQTT 3.1.1
 * clean session 0; MQTT 5 a Session Expiry Interval above 0), `LastWill` when it carries a will.
 */
export function connectAttributesOf(connect: {
  readonly protocolVersion?: number;
  readonly clean?: boolean;
  readonly will?: unknown;
  readonly properties?: { readonly sessionExpiryInterval?: number };
}): string[] {
  const persistent =
    connect.protocolVersion === 5
      ? (connect.properties?.sessionExpiryInterval ?? 0) > 0
      : connect.clean === false;
  return [...(persistent ? ['PersistentConnect'] : []), ...(connect.will ? ['LastWill'] : [])];
}
