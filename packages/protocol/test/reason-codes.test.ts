import {
  isSuccessReasonCode,
  MQTT_REASON_CODES,
  MQTT_REASON_CODE_TABLE,
  describeReasonCode,
  formatReasonCode,
  reasonCodeName,
} from '../src';

describe('reasonCodeName and describeReasonCode', () => {
  it('names CONNACK codes', () => {
    expect([0x00, 0x85, 0x86, 0x87, 0x9f].map((code) => describeReasonCode('CONNACK', code))).toEqual([
      '0x00 Success',
      '0x85 Client identifier not valid',
      '0x86 Bad user name or password',
      '0x87 Not authorized',
      '0x9F Connection rate exceeded',
    ]);
  });

  it('names SUBACK codes', () => {
    expect([0x00, 0x01, 0x87, 0x8f, 0xa2].map((code) => describeReasonCode('SUBACK', code))).toEqual([
      '0x00 Granted QoS 0',
      '0x01 Granted QoS 1',
      '0x87 Not authorized',
      '0x8F Topic filter invalid',
      '0xA2 Wildcard subscriptions not supported',
    ]);
  });

  it('names PUBACK codes', () => {
    expect([0x00, 0x10, 0x87, 0x90, 0x97].map((code) => describeReasonCode('PUBACK', code))).toEqual([
      '0x00 Success',
      '0x10 No matching subscribers',
      '0x87 Not authorized',
      '0x90 Topic name invalid',
      '0x97 Quota exceeded',
    ]);
  });

  it('names a code by what it means in the packet', () => {
    expect(reasonCodeName('DISCONNECT', 0x00)).toBe('Normal disconnection');
    expect(reasonCodeName('DISCONNECT', 0x8e)).toBe('Session taken over');
    expect(reasonCodeName('UNSUBACK', 0x11)).toBe('No subscription existed');
  });

  it('gives a neutral name to a code the packet does not define', () => {
    expect(reasonCodeName('CONNACK', 0x42)).toBe('Unknown reason code');
    expect(reasonCodeName('SUBACK', 0x42)).toBe('Unknown reason code');
    expect(reasonCodeName('PUBACK', 0x42)).toBe('Unknown reason code');
    // Granted QoS 1 is a SUBACK code only; 0x8E only ends a connection.
    expect(reasonCodeName('CONNACK', 0x01)).toBe('Unknown reason code');
    expect(reasonCodeName('PUBACK', 0x8e)).toBe('Unknown reason code');
    expect(describeReasonCode('CONNACK', 0x42)).toBe('0x42 Unknown reason code');
  });
});

describe('isSuccessReasonCode', () => {
  it('is true below 0x80 and false from 0x80 on, for every code in the table', () => {
    for (const row of MQTT_REASON_CODE_TABLE) expect(isSuccessReasonCode(row.code)).toBe(row.code < 0x80);
    expect([0x00, 0x01, 0x10, 0x7f].map(isSuccessReasonCode)).toEqual([true, true, true, true]);
    expect([0x80, 0x87, 0x97, 0xff].map(isSuccessReasonCode)).toEqual([false, false, false, false]);
  });
});

describe('formatReasonCode', () => {
  it('writes at least two hex digits, upper case unless asked for lower case', () => {
    expect([0x00, 0x01, 0x87, 0x8f, 0xa0].map((code) => formatReasonCode(code))).toEqual([
      '0x00',
      '0x01',
      '0x87',
      '0x8F',
      '0xA0',
    ]);
    expect([0x00, 0x8d, 0x8e].map((code) => formatReasonCode(code, 'lower'))).toEqual([
      '0x00',
      '0x8d',
      '0x8e',
    ]);
  });
});

describe('MQTT_REASON_CODES', () => {
  it('has the codes the local gateway sends, by their names in the specification', () => {
    expect(MQTT_REASON_CODES).toMatchObject({
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
    });
    expect(Object.isFrozen(MQTT_REASON_CODES)).toBe(true);
  });

  it('is the table: one constant per row, and one meaning per code in each packet', () => {
    expect(Object.keys(MQTT_REASON_CODES)).toEqual(MQTT_REASON_CODE_TABLE.map((row) => row.key));
    const seen = MQTT_REASON_CODE_TABLE.flatMap((row) =>
      row.packets.map((packet) => `${packet} ${row.code}`),
    );
    expect(new Set(seen).size).toBe(seen.length);
    // MQTT 5 2.4: codes below 0x80 succeed, 0x80 and above fail; every code is one byte.
    for (const row of MQTT_REASON_CODE_TABLE) expect(row.code).toBeLessThanOrEqual(0xff);
  });
});
