/**
 * The MQTT 5 reason codes the local gateway sends (MQTT 5.0 section 2.4), named as in the specification.
 * AWS IoT Core sends the same codes for the same situations (see the spec's section 5).
 */
export const MQTT_REASON_CODES = {
  success: 0x00,
  grantedQos0: 0x00,
  grantedQos1: 0x01,
  disconnectWithWill: 0x04,
  noSubscriptionExisted: 0x11,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  implementationSpecificError: 0x83,
  unsupportedProtocolVersion: 0x84,
  clientIdentifierNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  qosNotSupported: 0x9b,
  maximumConnectTime: 0xa0,
  subscriptionIdentifiersNotSupported: 0xa1,
} as const;

/** `0x87` for 135: the form the structured log and the MQTT specification use. */
export function formatReasonCode(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}`;
}
