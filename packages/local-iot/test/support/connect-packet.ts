import type { IConnectPacket } from 'mqtt-packet';

/** An MQTT 5 CONNECT from client `test-1` (clean start, keep alive 30 s), with `fields` changed. */
export function connectPacket(fields: Partial<IConnectPacket> = {}): IConnectPacket {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clean: true,
    clientId: 'test-1',
    keepalive: 30,
    ...fields,
  };
}
