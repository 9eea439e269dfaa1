/** AWS IoT Core's MQTT limits and CONNACK values (spec section 5). */
export const AWS_IOT_MQTT_LIMITS = {
  minKeepAliveSeconds: 30,
  maxKeepAliveSeconds: 1200,
  /** A CONNECT keep alive of 0 (no keep alive) gets AWS IoT's default, the maximum. */
  defaultKeepAliveSeconds: 1200,
  maxSessionExpirySeconds: 3600,
  maximumPacketSize: 131_072,
  topicAliasMaximum: 8,
} as const;

/** AWS IoT's keep alive: below 30 s raised to 30, above 1200 lowered to 1200, 0 (none) becomes 1200. */
export function effectiveKeepAlive(requestedSeconds: number): number {
  if (requestedSeconds === 0) return AWS_IOT_MQTT_LIMITS.defaultKeepAliveSeconds;
  return Math.min(
    Math.max(requestedSeconds, AWS_IOT_MQTT_LIMITS.minKeepAliveSeconds),
    AWS_IOT_MQTT_LIMITS.maxKeepAliveSeconds,
  );
}
