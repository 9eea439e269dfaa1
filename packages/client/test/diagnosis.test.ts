import {
  describeReasonCode,
  MQTT_REASON_CODE_TABLE,
  type MqttReasonCodePacket,
} from '@iot-custom-auth/protocol';
import { mqtt5 } from 'aws-iot-device-sdk-v2';
import type { ConnectResult, TransportFailureKind } from '../src/connection';
import { diagnose, diagnoseExchange, needsTlsProbe, type FailureContext } from '../src/diagnosis';
import type { ExchangeResult } from '../src/message-exchange';

const CONTEXT: FailureContext = {
  endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
  port: 443,
  transport: 'mqtt',
  authorizerName: 'Auth',
  signed: false,
  clientId: 'test-1',
  clientIdPrefix: 'test-',
  passwordSource: 'flag',
  timeoutSeconds: 10,
};
const WHERE = 'abc-ats.iot.eu-west-1.amazonaws.com:443';

const refused = (reasonCode: number): ConnectResult & { status: 'refused' } => ({
  status: 'refused',
  connack: { reasonCode, sessionPresent: false, properties: {} },
});
const failed = (kind: TransportFailureKind, name: string): ConnectResult & { status: 'failed' } => ({
  status: 'failed',
  failure: { kind, name, message: `${name} happened` },
});

describe("protocol's reason code table, as the client reads it", () => {
  /** The MQTT 5 codes of an aws-crt reason code enum (without its MQTT 3.1.1 `...311` members). */
  const sdkCodes = (codes: Record<string, string | number>): number[] =>
    Object.entries(codes)
      .filter(([name, code]) => typeof code === 'number' && !name.endsWith('311'))
      .map(([, code]) => code as number);
  const tableCodes = (packet: MqttReasonCodePacket): number[] =>
    MQTT_REASON_CODE_TABLE.filter((row) => (row.packets as readonly string[]).includes(packet)).map(
      (row) => row.code,
    );

  it.each<[MqttReasonCodePacket, Record<string, string | number>]>([
    ['CONNACK', mqtt5.ConnectReasonCode],
    ['SUBACK', mqtt5.SubackReasonCode],
    ['PUBACK', mqtt5.PubackReasonCode],
    ['UNSUBACK', mqtt5.UnsubackReasonCode],
    ['DISCONNECT', mqtt5.DisconnectReasonCode],
  ])('has the same %s codes as the SDK', (packet, codes) => {
    expect(new Set(tableCodes(packet))).toEqual(new Set(sdkCodes(codes)));
  });

  it("agrees with the SDK's success checks", () => {
    for (const code of tableCodes('CONNACK')) {
      expect(mqtt5.isSuccessfulConnectReasonCode(code)).toBe(code === 0);
    }
    for (const code of tableCodes('SUBACK'))
      expect(mqtt5.isSuccessfulSubackReasonCode(code)).toBe(code < 0x80);
    for (const code of tableCodes('PUBACK'))
      expect(mqtt5.isSuccessfulPubackReasonCode(code)).toBe(code < 0x80);
  });
});

describe('needsTlsProbe', () => {
  it('probes after a timeout or a TLS-level failure, never after a CONNACK or a DNS failure', () => {
    expect(needsTlsProbe({ status: 'timeout', afterMs: 1 })).toBe(true);
    expect(needsTlsProbe(failed('tls', 'X'))).toBe(true);
    expect(needsTlsProbe(failed('hangup', 'X'))).toBe(true);
    expect(needsTlsProbe(failed('dns', 'X'))).toBe(false);
    expect(needsTlsProbe(failed('connack-timeout', 'X'))).toBe(false);
    expect(needsTlsProbe(refused(0x86))).toBe(false);
  });
});

describe('diagnose', () => {
  it('explains 0x86 for a signed token by expiry and client id', () => {
    expect(diagnose(refused(0x86), undefined, { ...CONTEXT, signed: true })).toEqual({
      kind: 'refused',
      headline: 'Connection refused: CONNACK 0x86 Bad user name or password',
      likelyCauses: [
        "the authorizer Lambda refused the token: expired (this machine's clock is more than 60 s off), or issued for another client id than test-1",
        'the token went to an authorizer that does not expect one: check --custom_auth_authorizer_name',
      ],
    });
  });

  it('explains 0x87 without an authorizer name by the default authorizer, and a bad signature when signed', () => {
    const { authorizerName: _name, ...withoutName } = CONTEXT;
    const causes = diagnose(refused(0x87), undefined, { ...withoutName, signed: true }).likelyCauses;
    expect(causes).toContain(
      'no authorizer name was sent and the endpoint has no default authorizer: pass --custom_auth_authorizer_name',
    );
    expect(causes).toContain(
      'the token signature did not verify: the private key does not match the public key on the authorizer, or the signature was not standard base64 URL-encoded once',
    );
  });

  it.each([
    [0x85, 'AWS IoT does not accept the client id test-1: at most 128 bytes, and unique per connection'],
    [0x84, 'the endpoint does not speak MQTT 5: it is not AWS IoT Core or the local gateway'],
    [
      0x97,
      'the service is limiting connections (quota or connect rate for the account or client id): try again later',
    ],
    [0x80, 'the server refused for a reason other than authentication; its reason string, if any, is above'],
  ])('explains CONNACK 0x%s', (code, cause) => {
    expect(diagnose(refused(code), undefined, CONTEXT).likelyCauses).toEqual([cause]);
  });

  it.each<[TransportFailureKind, string, string]>([
    [
      'socket-refused',
      `Connection refused by ${WHERE}: nothing accepts connections on that port (N)`,
      'the port is wrong: custom authentication uses 443; a local gateway listens where its outputs file says',
    ],
    [
      'unreachable',
      `Cannot reach ${WHERE} (N)`,
      'a firewall, proxy or missing route blocks outbound connections to this port',
    ],
    [
      'hangup',
      `${WHERE} closed the connection without a CONNACK (N)`,
      'the endpoint is not serving custom authentication here: AWS IoT closes connections on 8883, or on 443 without ALPN mqtt, and never invokes the authorizer',
    ],
    [
      'websocket-upgrade',
      `${WHERE} refused the WebSocket upgrade on /mqtt (N)`,
      'the endpoint or port does not serve MQTT over WebSockets (a proxy, or a wrong --endpoint/--port)',
    ],
    [
      'other',
      `Connection to ${WHERE} failed: N happened`,
      'run again with --verbosity debug to see the SDK log on stderr',
    ],
  ])('explains a %s failure', (kind, headline, firstCause) => {
    const diagnosis = diagnose(failed(kind, 'N'), undefined, CONTEXT);
    expect(diagnosis.kind).toBe(kind);
    expect(diagnosis.headline).toBe(headline);
    expect(diagnosis.likelyCauses[0]).toBe(firstCause);
  });

  it('treats a CONNACK timeout from the SDK as a timeout that points at the authorizer', () => {
    expect(
      diagnose(failed('connack-timeout', 'AWS_ERROR_MQTT5_CONNACK_TIMEOUT'), undefined, CONTEXT),
    ).toEqual({
      kind: 'timeout',
      headline: `Timed out: no CONNACK from ${WHERE} within 10 s`,
      likelyCauses: [
        'the authorizer is slow: AWS IoT gives its Lambda 5 s (a cold start of a large bundle, or a slow Secrets Manager call)',
        `${WHERE} is unreachable or drops the traffic silently (firewall, proxy, wrong --port)`,
        '--timeout 10 is too short for this network',
      ],
    });
  });

  it('puts the network first for a timeout when TLS could not be checked', () => {
    expect(
      diagnose({ status: 'timeout', afterMs: 8000 }, { outcome: 'timeout' }, CONTEXT).likelyCauses[0],
    ).toBe(`${WHERE} is unreachable or drops the traffic silently (firewall, proxy, wrong --port)`);
  });

  it("says when Node.js trusts the server but the SDK's TLS did not", () => {
    const diagnosis = diagnose(
      failed('tls', 'AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE'),
      { outcome: 'ok' },
      { ...CONTEXT, caFile: '/ca.pem' },
    );
    expect(diagnosis.headline).toBe(
      `TLS handshake with ${WHERE} failed (AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE)`,
    );
    expect(diagnosis.likelyCauses).toEqual([
      "Node.js's TLS accepts the server, but the SDK's TLS (s2n, system trust store) does not: pass the server's CA with --ca_file",
      'the server certificate is not issued by the CA in /ca.pem',
      'the endpoint name (SNI) does not match the certificate: use the IotEndpoint output as --endpoint',
      'the server does not accept ALPN mqtt on port 443: custom authentication needs 443',
    ]);
  });

  it('names a certificate for another host', () => {
    expect(
      diagnose(
        { status: 'timeout', afterMs: 1 },
        { outcome: 'name-mismatch', detail: 'the certificate is not valid for x' },
        CONTEXT,
      ),
    ).toEqual({
      kind: 'tls',
      headline: `TLS handshake with ${WHERE} failed: the certificate is not valid for x`,
      likelyCauses: [
        "the endpoint name (sent as SNI) is not one the server's certificate covers: use the IotEndpoint output, or the host name the local gateway's certificate was made for",
      ],
    });
  });
});

describe('diagnoseExchange', () => {
  const exchange = (overrides: Partial<ExchangeResult>): ExchangeResult => ({
    mode: 'roundtrip',
    topic: 'devices/test-1',
    count: 1,
    timeoutMs: 10_000,
    subscribe: { topicFilter: 'devices/test-1', result: { reasonCodes: [1] } },
    publishes: [{ seq: 1, result: { reasonCode: 0 }, roundTripMs: 5 }],
    expected: 1,
    received: 1,
    roundTripMs: 5,
    ...overrides,
  });

  it('finds nothing wrong when every message was accepted and came back, whatever the success code', () => {
    expect(diagnoseExchange(exchange({}), CONTEXT)).toBeUndefined();
    const noSubscribers = exchange({
      mode: 'publish',
      publishes: [{ seq: 1, result: { reasonCode: 0x10 } }],
    });
    expect(diagnoseExchange(noSubscribers, CONTEXT)).toBeUndefined();
  });

  it.each<[string, number, string]>([
    [
      'an invalid topic',
      0x90,
      'AWS IoT does not accept devices/test-1 as a topic: at most 256 bytes and 8 levels, and topics starting with $ are reserved',
    ],
    [
      'a quota',
      0x97,
      "a quota was exceeded: AWS IoT accepts at most 100 publishes per second on a connection, and limits subscriptions and the account's message rate: lower --count or try again later",
    ],
    [
      'another refusal',
      0x80,
      'the server refused the publish for a reason other than the policy; its reason string, if any, is above',
    ],
  ])('explains a PUBACK refusal for %s', (_name, reasonCode, cause) => {
    const result = exchange({
      count: 3,
      publishes: [1, 2, 3].map((seq) => ({ seq, result: { reasonCode } })),
      expected: 0,
      received: 0,
    });
    expect(diagnoseExchange(result, CONTEXT)).toEqual({
      kind: 'publish-refused',
      headline: `Round trip failed: PUBACK ${describeReasonCode('PUBACK', reasonCode)} for devices/test-1 (3 of 3 messages)`,
      likelyCauses: [cause],
    });
  });

  it('reports a lost connection while waiting for the messages', () => {
    const result = exchange({
      received: 0,
      receiveError: { kind: 'lost', reason: 'the server sent DISCONNECT 0xA0' },
    });
    expect(diagnoseExchange(result, CONTEXT)?.headline).toBe(
      'Round trip failed: 0 of 1 message came back on devices/test-1 before the connection was lost: the server sent DISCONNECT 0xA0',
    );
  });

  it('names the allowed topics when a message on another topic does not come back', () => {
    const result = exchange({ topic: 'other', received: 0, receiveError: { kind: 'timeout' } });
    expect(diagnoseExchange(result, CONTEXT)?.likelyCauses[0]).toBe(
      'the policy the authorizer returned does not allow iot:Receive on topic/other (it allows only devices/test-1 and devices/test-1/...); AWS IoT then drops the delivery without any reason code',
    );
  });
});
