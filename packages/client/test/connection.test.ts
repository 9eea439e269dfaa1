import { mqtt5 } from 'aws-iot-device-sdk-v2';
import { alpnFor, classifyFailure, summarizeConnack } from '../src/connection';

// The SDK connector itself runs in real processes (cli.test.ts): aws-crt keeps a closed client's native
// handles until garbage collection, which would keep a Jest worker alive. Its pure parts are tested here.

describe('alpnFor', () => {
  it('offers ALPN mqtt for direct MQTT and nothing for WebSockets', () => {
    expect(alpnFor('mqtt')).toBe('mqtt');
    expect(alpnFor('websockets')).toBeUndefined();
  });
});

describe('classifyFailure', () => {
  it.each([
    ['AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE', 'tls'],
    ['AWS_IO_TLS_NEGOTIATION_TIMEOUT', 'tls'],
    ['AWS_IO_DNS_INVALID_NAME', 'dns'],
    ['AWS_IO_DNS_QUERY_FAILED', 'dns'],
    ['AWS_IO_SOCKET_CONNECTION_REFUSED', 'socket-refused'],
    ['AWS_IO_SOCKET_TIMEOUT', 'unreachable'],
    ['AWS_IO_SOCKET_NO_ROUTE_TO_HOST', 'unreachable'],
    ['AWS_ERROR_MQTT5_CONNACK_TIMEOUT', 'connack-timeout'],
    ['AWS_IO_SOCKET_CLOSED', 'hangup'],
    ['AWS_ERROR_MQTT_UNEXPECTED_HANGUP', 'hangup'],
    ['AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE', 'websocket-upgrade'],
    ['AWS_ERROR_UNKNOWN', 'other'],
  ])('sorts %s as %s', (name, kind) => {
    expect(classifyFailure({ error_name: name, message: `aws-c-io: ${name}` })).toEqual({
      kind,
      name,
      message: `aws-c-io: ${name}`,
    });
  });

  it('copes with an error without a name', () => {
    expect(classifyFailure({})).toEqual({ kind: 'other', name: 'UNKNOWN_ERROR', message: 'UNKNOWN_ERROR' });
  });
});

describe('summarizeConnack', () => {
  it('keeps the properties the server sent and drops the SDK internals and empty user properties', () => {
    const connack = {
      type: mqtt5.PacketType.Connack,
      sessionPresent: true,
      reasonCode: 0x87,
      reasonString: 'no',
      maximumQos: 1,
      retainAvailable: false,
      userProperties: [],
    } as mqtt5.ConnackPacket;
    expect(summarizeConnack(connack)).toEqual({
      reasonCode: 0x87,
      sessionPresent: true,
      properties: { reasonString: 'no', maximumQos: 1, retainAvailable: false },
    });
  });

  it('keeps user properties when there are some', () => {
    const connack = {
      sessionPresent: false,
      reasonCode: 0,
      userProperties: [{ name: 'a', value: 'b' }],
    } as mqtt5.ConnackPacket;
    expect(summarizeConnack(connack).properties).toEqual({ userProperties: [{ name: 'a', value: 'b' }] });
  });
});
