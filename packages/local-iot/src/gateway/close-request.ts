import { MQTT_REASON_CODES as RC } from '@iot-custom-auth/protocol';
import type { DisconnectCause } from './gateway-log';

/** Why and how an MQTT session ends; `MqttSession.close` takes one. */
export interface CloseRequest {
  readonly cause: DisconnectCause;
  readonly reason: string;
  /** Reason code to send in a DISCONNECT (MQTT 5 connected sessions only) and to log. */
  readonly reasonCode?: number;
  /** The client sent the DISCONNECT; nothing is sent back. */
  readonly fromClient?: boolean;
}

/** The client broke the MQTT protocol: DISCONNECT 0x82, with `reason` saying how. */
export function protocolError(reason: string): CloseRequest {
  return { cause: 'protocol-error', reasonCode: RC.protocolError, reason: `protocol error: ${reason}` };
}
