/** The MQTT 5 packets that carry a reason code (MQTT 5.0 section 2.4). */
export type MqttReasonCodePacket =
  'CONNACK' | 'PUBACK' | 'PUBREC' | 'PUBREL' | 'PUBCOMP' | 'SUBACK' | 'UNSUBACK' | 'DISCONNECT' | 'AUTH';

/** One row of the MQTT 5 reason code table. */
export interface MqttReasonCodeEntry {
  /** The constant's name in `MQTT_REASON_CODES`. */
  readonly key: string;
  readonly code: number;
  /** The specification's name, in sentence case, as people read it: `Bad user name or password`. */
  readonly name: string;
  /** The packets that may carry this code with this meaning. */
  readonly packets: readonly MqttReasonCodePacket[];
}

/**
 * Every MQTT 5 reason code (MQTT 5.0 table 2-6, with the packets of each packet's own table), the one table of
 * them in this repository. A value can mean
 * different things in different packets (0x00 is Success, Normal disconnection or Granted QoS 0), so a name
 * is looked up by packet and code. AWS IoT Core sends the same codes for the same situations.
 */
export const MQTT_REASON_CODE_TABLE = [
  {
    key: 'success',
    code: 0x00,
    name: 'Success',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'UNSUBACK', 'AUTH'],
  },
  { key: 'normalDisconnection', code: 0x00, name: 'Normal disconnection', packets: ['DISCONNECT'] },
  { key: 'grantedQos0', code: 0x00, name: 'Granted QoS 0', packets: ['SUBACK'] },
  { key: 'grantedQos1', code: 0x01, name: 'Granted QoS 1', packets: ['SUBACK'] },
  { key: 'grantedQos2', code: 0x02, name: 'Granted QoS 2', packets: ['SUBACK'] },
  { key: 'disconnectWithWill', code: 0x04, name: 'Disconnect with will message', packets: ['DISCONNECT'] },
  {
    key: 'noMatchingSubscribers',
    code: 0x10,
    name: 'No matching subscribers',
    packets: ['PUBACK', 'PUBREC'],
  },
  { key: 'noSubscriptionExisted', code: 0x11, name: 'No subscription existed', packets: ['UNSUBACK'] },
  { key: 'continueAuthentication', code: 0x18, name: 'Continue authentication', packets: ['AUTH'] },
  { key: 'reAuthenticate', code: 0x19, name: 'Re-authenticate', packets: ['AUTH'] },
  {
    key: 'unspecifiedError',
    code: 0x80,
    name: 'Unspecified error',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'SUBACK', 'UNSUBACK', 'DISCONNECT'],
  },
  { key: 'malformedPacket', code: 0x81, name: 'Malformed packet', packets: ['CONNACK', 'DISCONNECT'] },
  { key: 'protocolError', code: 0x82, name: 'Protocol error', packets: ['CONNACK', 'DISCONNECT'] },
  {
    key: 'implementationSpecificError',
    code: 0x83,
    name: 'Implementation specific error',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'SUBACK', 'UNSUBACK', 'DISCONNECT'],
  },
  {
    key: 'unsupportedProtocolVersion',
    code: 0x84,
    name: 'Unsupported protocol version',
    packets: ['CONNACK'],
  },
  { key: 'clientIdentifierNotValid', code: 0x85, name: 'Client identifier not valid', packets: ['CONNACK'] },
  { key: 'badUserNameOrPassword', code: 0x86, name: 'Bad user name or password', packets: ['CONNACK'] },
  {
    key: 'notAuthorized',
    code: 0x87,
    name: 'Not authorized',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'SUBACK', 'UNSUBACK', 'DISCONNECT'],
  },
  { key: 'serverUnavailable', code: 0x88, name: 'Server unavailable', packets: ['CONNACK'] },
  { key: 'serverBusy', code: 0x89, name: 'Server busy', packets: ['CONNACK', 'DISCONNECT'] },
  { key: 'banned', code: 0x8a, name: 'Banned', packets: ['CONNACK'] },
  { key: 'serverShuttingDown', code: 0x8b, name: 'Server shutting down', packets: ['DISCONNECT'] },
  // Table 2-6 also lists DISCONNECT, but the DISCONNECT packet's own table (3.14.2.1) and aws-crt do not.
  { key: 'badAuthenticationMethod', code: 0x8c, name: 'Bad authentication method', packets: ['CONNACK'] },
  { key: 'keepAliveTimeout', code: 0x8d, name: 'Keep alive timeout', packets: ['DISCONNECT'] },
  { key: 'sessionTakenOver', code: 0x8e, name: 'Session taken over', packets: ['DISCONNECT'] },
  {
    key: 'topicFilterInvalid',
    code: 0x8f,
    name: 'Topic filter invalid',
    packets: ['SUBACK', 'UNSUBACK', 'DISCONNECT'],
  },
  {
    key: 'topicNameInvalid',
    code: 0x90,
    name: 'Topic name invalid',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'DISCONNECT'],
  },
  {
    key: 'packetIdentifierInUse',
    code: 0x91,
    name: 'Packet identifier in use',
    packets: ['PUBACK', 'PUBREC', 'SUBACK', 'UNSUBACK'],
  },
  {
    key: 'packetIdentifierNotFound',
    code: 0x92,
    name: 'Packet identifier not found',
    packets: ['PUBREL', 'PUBCOMP'],
  },
  { key: 'receiveMaximumExceeded', code: 0x93, name: 'Receive maximum exceeded', packets: ['DISCONNECT'] },
  { key: 'topicAliasInvalid', code: 0x94, name: 'Topic alias invalid', packets: ['DISCONNECT'] },
  { key: 'packetTooLarge', code: 0x95, name: 'Packet too large', packets: ['CONNACK', 'DISCONNECT'] },
  { key: 'messageRateTooHigh', code: 0x96, name: 'Message rate too high', packets: ['DISCONNECT'] },
  {
    key: 'quotaExceeded',
    code: 0x97,
    name: 'Quota exceeded',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'SUBACK', 'DISCONNECT'],
  },
  { key: 'administrativeAction', code: 0x98, name: 'Administrative action', packets: ['DISCONNECT'] },
  {
    key: 'payloadFormatInvalid',
    code: 0x99,
    name: 'Payload format invalid',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'DISCONNECT'],
  },
  { key: 'retainNotSupported', code: 0x9a, name: 'Retain not supported', packets: ['CONNACK', 'DISCONNECT'] },
  { key: 'qosNotSupported', code: 0x9b, name: 'QoS not supported', packets: ['CONNACK', 'DISCONNECT'] },
  { key: 'useAnotherServer', code: 0x9c, name: 'Use another server', packets: ['CONNACK', 'DISCONNECT'] },
  { key: 'serverMoved', code: 0x9d, name: 'Server moved', packets: ['CONNACK', 'DISCONNECT'] },
  {
    key: 'sharedSubscriptionsNotSupported',
    code: 0x9e,
    name: 'Shared subscriptions not supported',
    packets: ['SUBACK', 'DISCONNECT'],
  },
  {
    key: 'connectionRateExceeded',
    code: 0x9f,
    name: 'Connection rate exceeded',
    packets: ['CONNACK', 'DISCONNECT'],
  },
  { key: 'maximumConnectTime', code: 0xa0, name: 'Maximum connect time', packets: ['DISCONNECT'] },
  {
    key: 'subscriptionIdentifiersNotSupported',
    code: 0xa1,
    name: 'Subscription identifiers not supported',
    packets: ['SUBACK', 'DISCONNECT'],
  },
  {
    key: 'wildcardSubscriptionsNotSupported',
    code: 0xa2,
    name: 'Wildcard subscriptions not supported',
    packets: ['SUBACK', 'DISCONNECT'],
  },
] as const satisfies readonly MqttReasonCodeEntry[];

type ReasonCodeRow = (typeof MQTT_REASON_CODE_TABLE)[number];

/** Each reason code by its name in the specification: `MQTT_REASON_CODES.notAuthorized` is `0x87`. */
export type MqttReasonCodes = { readonly [Row in ReasonCodeRow as Row['key']]: Row['code'] };

/** Each reason code by name, for code that sends them: `MQTT_REASON_CODES.notAuthorized` is `0x87`. */
export const MQTT_REASON_CODES: MqttReasonCodes = Object.freeze(
  Object.fromEntries(MQTT_REASON_CODE_TABLE.map((row) => [row.key, row.code])),
) as MqttReasonCodes;

const NAMES_BY_PACKET = new Map<string, string>(
  MQTT_REASON_CODE_TABLE.flatMap((row) =>
    row.packets.map((packet): [string, string] => [`${packet} ${row.code}`, row.name]),
  ),
);

/** The name of `code` in `packet`, such as `Not authorized` for a CONNACK's 0x87; a neutral name for a code MQTT 5 does not define there. */
export function reasonCodeName(packet: MqttReasonCodePacket, code: number): string {
  return NAMES_BY_PACKET.get(`${packet} ${code}`) ?? 'Unknown reason code';
}

/**
 * Whether `code` reports success: MQTT 5 reason codes below 0x80 do (Success, a granted QoS, No matching
 * subscribers, ...), 0x80 and above are failures (MQTT 5 section 2.4).
 */
export function isSuccessReasonCode(code: number): boolean {
  return code < 0x80;
}

/**
 * `0x8F` for 143: two hex digits at least, upper case as the MQTT specification writes them; `'lower'` gives
 * `0x8f`, the form of local-iot's structured log.
 */
export function formatReasonCode(code: number, letterCase: 'upper' | 'lower' = 'upper'): string {
  const hex = code.toString(16).padStart(2, '0');
  return `0x${letterCase === 'upper' ? hex.toUpperCase() : hex}`;
}

/** `0x87 Not authorized`: the code and its name in `packet`, as the client prints them. */
export function describeReasonCode(packet: MqttReasonCodePacket, code: number): string {
  return `${formatReasonCode(code)} ${reasonCodeName(packet, code)}`;
}
