import type { ClientReport } from '@iot-custom-auth/protocol';
import { jsonErrorReport, jsonReport, type ConnectionPlan, type RunReport } from '../src/report';
import { negotiatedSettings } from './fixtures/negotiated-settings';

const PLAN: ConnectionPlan = {
  endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
  port: 443,
  transport: 'mqtt',
  alpn: 'mqtt',
  authorizerName: 'Unsigned',
  signed: false,
  clientId: 'test-1',
  credentials: 'user name device, password <redacted> (12 bytes)',
  outputsSource: '/repo/cdk-outputs.json (stack S)',
};

const SETTINGS = negotiatedSettings({ clientId: 'test-1', maximumPacketSizeToServer: 149_504 });

/** The line `--json` prints. */
const printed = (report: ClientReport): string => JSON.stringify(report);

describe('jsonReport', () => {
  it('prints a round trip with every field in its place', () => {
    const report: RunReport = {
      plan: PLAN,
      connack: { reasonCode: 0, sessionPresent: false, properties: { maximumQos: 1 } },
      settings: SETTINGS,
      disconnect: { clean: true },
      messaging: 'roundtrip',
      exchange: {
        mode: 'roundtrip',
        topic: 'devices/test-1',
        count: 1,
        timeoutMs: 10_000,
        subscribe: { topicFilter: 'devices/test-1', result: { reasonCodes: [1] } },
        publishes: [{ seq: 1, result: { reasonCode: 0 }, roundTripMs: 12 }],
        expected: 1,
        received: 1,
        roundTripMs: 12,
      },
      durationMs: 40,
    };
    expect(printed(jsonReport(report))).toBe(
      JSON.stringify({
        ok: true,
        endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
        port: 443,
        transport: 'mqtt',
        alpn: 'mqtt',
        authentication: 'CUSTOM_AUTH',
        authorizer: 'Unsigned',
        signed: false,
        clientId: 'test-1',
        connack: { reasonCode: 0, reasonName: 'Success', sessionPresent: false, maximumQos: 1 },
        negotiatedSettings: SETTINGS,
        roundtrip: {
          ok: true,
          topic: 'devices/test-1',
          qos: 1,
          count: 1,
          suback: {
            reasonCodes: [{ topicFilter: 'devices/test-1', reasonCode: 1, reasonName: 'Granted QoS 1' }],
          },
          puback: [{ seq: 1, reasonCode: 0, reasonName: 'Success', roundTripMs: 12 }],
          expected: 1,
          received: 1,
          roundTripMs: 12,
        },
        disconnect: 'clean',
        outputs: '/repo/cdk-outputs.json (stack S)',
        durationMs: 40,
      }),
    );
  });

  it('prints a refusal with its causes, and messages that were never sent', () => {
    const report: RunReport = {
      plan: {
        ...PLAN,
        alpn: undefined,
        transport: 'websockets',
        authorizerName: undefined,
        outputsSource: undefined,
      },
      connack: { reasonCode: 0x87, sessionPresent: false, properties: {} },
      messaging: 'publish',
      diagnosis: {
        kind: 'refused',
        headline: 'Connection refused: CONNACK 0x87 Not authorized',
        likelyCauses: ['the policy does not allow iot:Connect'],
      },
      durationMs: 5,
    };
    expect(printed(jsonReport(report))).toBe(
      JSON.stringify({
        ok: false,
        endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
        port: 443,
        transport: 'websockets',
        alpn: null,
        authentication: 'CUSTOM_AUTH',
        authorizer: null,
        signed: false,
        clientId: 'test-1',
        connack: { reasonCode: 0x87, reasonName: 'Not authorized', sessionPresent: false },
        publish: null,
        error: { kind: 'refused', message: 'Connection refused: CONNACK 0x87 Not authorized' },
        likelyCauses: ['the policy does not allow iot:Connect'],
        durationMs: 5,
      }),
    );
  });

  it('reports an unclean disconnect as the error of an otherwise good run', () => {
    const report = jsonReport({
      plan: PLAN,
      connack: { reasonCode: 0, sessionPresent: false, properties: {} },
      disconnect: { clean: false, reason: 'the client did not stop within 10 s' },
      durationMs: 1,
    });
    expect(report.ok).toBe(false);
    expect(report.disconnect).toBe('the client did not stop within 10 s');
    expect(report.error).toEqual({ kind: 'disconnect', message: 'the client did not stop within 10 s' });
    expect(report.likelyCauses).toBeUndefined();
  });
});

describe('jsonErrorReport', () => {
  it('prints only ok and the error', () => {
    expect(printed(jsonErrorReport('usage', '--port must be an integer'))).toBe(
      '{"ok":false,"error":{"kind":"usage","message":"--port must be an integer"}}',
    );
  });
});
