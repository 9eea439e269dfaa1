import { AWS_IOT_TOPIC_LIMITS } from '@iot-custom-auth/protocol';

/**
 * Bytes a PUBLISH may carry besides its payload (fixed header, topic, packet id, properties). [choice] AWS IoT
 * limits the payload to 128 KB, not the packet ("Message size: The payload for every publish request can be
 * no larger than 128 KB", https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits),
 * and documents no bound on the rest: 16 KiB covers a 256-byte topic and generous user properties.
 */
const PUBLISH_HEADER_ALLOWANCE_BYTES = 16 * 1024;

/** AWS IoT Core's MQTT limits and CONNACK values (spec section 5). */
export const AWS_IOT_MQTT_LIMITS = {
  minKeepAliveSeconds: 30,
  maxKeepAliveSeconds: 1200,
  /** A CONNECT keep alive of 0 (no keep alive) gets AWS IoT's default, the maximum. */
  defaultKeepAliveSeconds: 1200,
  maxSessionExpirySeconds: 3600,
  /** The largest PUBLISH payload accepted: 131,072 bytes exactly; one more and the client is disconnected. */
  maxPayloadBytes: AWS_IOT_TOPIC_LIMITS.maxPayloadBytes,
  /**
   * The largest packet read (and the CONNACK's Maximum Packet Size): a 128 KB payload plus its headers, so
   * an MQTT 5 client that honours the CONNACK can send exactly 128 KB of payload.
   */
  maximumPacketSize: AWS_IOT_TOPIC_LIMITS.maxPayloadBytes + PUBLISH_HEADER_ALLOWANCE_BYTES,
  topicAliasMaximum: 8,
  /**
   * "Maximum inbound unacknowledged messages: The message broker allows 100 in-flight unacknowledged
   * messages per client" (same quotas page): the CONNACK's Receive Maximum.
   */
  receiveMaximum: 100,
} as const;

/** AWS IoT's keep alive: below 30 s raised to 30, above 1200 lowered to 1200, 0 (none) becomes 1200. */
export function effectiveKeepAlive(requestedSeconds: number): number {
  if (requestedSeconds === 0) return AWS_IOT_MQTT_LIMITS.defaultKeepAliveSeconds;
  return Math.min(
    Math.max(requestedSeconds, AWS_IOT_MQTT_LIMITS.minKeepAliveSeconds),
    AWS_IOT_MQTT_LIMITS.maxKeepAliveSeconds,
  );
}
