import type { ConnectAttempt, ConnectDecision } from '../../src/auth/connect-types';
import {
  acceptConnack,
  acceptedConnect,
  answerRefusal,
  authorizeAttempt,
  connectAttempt,
  refuseBeforeAuthorizer,
  type ConnectionInfo,
} from '../../src/gateway/connect-authorization';
import { allowed, FakeAuthorizer, refused } from '../support/gateway-harness';
import { connectPacket as connect } from '../support/connect-packet';

const CONNECTION: ConnectionInfo = {
  connectionId: 'c0ffee00-0000-4000-8000-000000000001',
  transport: 'mqtt',
  alpn: 'mqtt',
  serverName: 'localhost',
};

describe('refuseBeforeAuthorizer', () => {
  it('answers MQTT 3.1 with return code 1', () => {
    expect(refuseBeforeAuthorizer(connect({ protocolId: 'MQIsdp', protocolVersion: 3 }))).toEqual({
      connack: { cmd: 'connack', returnCode: 1, sessionPresent: false },
      reasonCode: 0x84,
      reason: 'MQTT 3.1 is not supported; use MQTT 5 or 3.1.1',
    });
  });

  it('answers MQTT 3.1.1 with an empty client id and no clean session with return code 2', () => {
    expect(refuseBeforeAuthorizer(connect({ protocolVersion: 4, clientId: '', clean: false }))).toEqual({
      connack: { cmd: 'connack', returnCode: 2, sessionPresent: false },
      reasonCode: 0x85,
      reason: 'MQTT 3.1.1 CONNECT with an empty client id must set clean session',
    });
  });

  it.each([
    ['MQTT 5 with an empty client id', connect({ clientId: '', clean: false })],
    ['MQTT 3.1.1 with an empty client id and clean session', connect({ protocolVersion: 4, clientId: '' })],
  ])('leaves %s to the authorizer', (_name, packet) => {
    expect(refuseBeforeAuthorizer(packet)).toBeUndefined();
  });
});

describe('connectAttempt', () => {
  it('builds the attempt from the CONNECT: no clientId when empty, password bytes as sent', () => {
    const password = Buffer.from([1, 2, 3, 250]);
    expect(
      connectAttempt(
        connect({ clientId: '', username: 'u?x-amz-customauthorizer-name=A', password }),
        CONNECTION,
      ),
    ).toEqual<ConnectAttempt>({
      connectionId: 'c0ffee00-0000-4000-8000-000000000001',
      transport: 'mqtt',
      alpn: 'mqtt',
      serverName: 'localhost',
      username: 'u?x-amz-customauthorizer-name=A',
      password,
      connectAttributes: [],
    });
  });

  it('carries the source IP and the connect attributes policy conditions read', () => {
    const will = { topic: 'w', payload: Buffer.from('x'), qos: 0 as const, retain: false };
    const attempt = (packet: Parameters<typeof connect>[0]) =>
      connectAttempt(connect(packet), { ...CONNECTION, remoteAddress: '::ffff:127.0.0.1' });
    expect(attempt({ protocolVersion: 4, clean: false, will })).toMatchObject({
      sourceIp: '::ffff:127.0.0.1',
      connectAttributes: ['PersistentConnect', 'LastWill'],
    });
    expect(attempt({ protocolVersion: 5, clean: false }).connectAttributes).toEqual([]);
    const expiring = { protocolVersion: 5 as const, properties: { sessionExpiryInterval: 60 } };
    expect(attempt(expiring).connectAttributes).toEqual(['PersistentConnect']);
  });

  it("carries a WebSocket upgrade's headers and query string", () => {
    const connection: ConnectionInfo = {
      connectionId: 'c0ffee00-0000-4000-8000-000000000002',
      transport: 'websockets',
      serverName: 'localhost',
      headers: { 'x-amz-customauthorizer-name': 'A' },
      queryString: '?token=t',
    };
    expect(connectAttempt(connect(), connection)).toEqual<ConnectAttempt>({
      ...connection,
      clientId: 'test-1',
      connectAttributes: [],
    });
  });
});

describe('authorizeAttempt', () => {
  const attempt = connectAttempt(connect(), CONNECTION);

  async function decide(decision: ConnectDecision): Promise<ConnectDecision> {
    const authorizer = new FakeAuthorizer();
    authorizer.decide = () => decision;
    return authorizeAttempt(authorizer, attempt);
  }

  it.each<[string, ConnectDecision, number, string]>([
    [
      'an allow without a session',
      { ...allowed(), session: undefined },
      0x80,
      'the custom-auth pipeline allowed the connection without a session or with a non-zero reason code',
    ],
    [
      'a refusal with reason code 0',
      refused(0, 'odd'),
      0x80,
      'odd (invalid refusal reason code 0 replaced by 0x80)',
    ],
    [
      'a 0x87 refusal',
      refused(0x87, 'policy has no Allow for iot:Connect on client/test-1'),
      0x87,
      'policy has no Allow for iot:Connect on client/test-1',
    ],
  ])('answers %s with the matching refusal', async (_name, decision, code, reason) => {
    expect(await decide(decision)).toMatchObject({ allowed: false, reasonCode: code, reason });
  });

  it('passes an allow through unchanged', async () => {
    const decision = allowed();
    expect(await decide(decision)).toBe(decision);
  });

  it('turns a failing authorizer into a 0x80 refusal without a Lambda invocation', async () => {
    const authorizer = new FakeAuthorizer();
    authorizer.decide = () => {
      throw new Error('worker pool gone');
    };
    expect(await authorizeAttempt(authorizer, attempt)).toEqual<ConnectDecision>({
      allowed: false,
      reasonCode: 0x80,
      reason: 'the custom-auth pipeline failed: worker pool gone',
      signature: 'missing',
      lambdaInvoked: false,
    });
  });
});

describe('answerRefusal', () => {
  const decision = refused(0x86, 'bad password');

  it('answers MQTT 5 with a CONNACK carrying the reason code', () => {
    expect(answerRefusal(decision, 5)).toEqual({
      connack: { cmd: 'connack', reasonCode: 0x86, sessionPresent: false },
      reason: 'CONNACK 0x86: bad password',
    });
  });

  it('closes MQTT 3.1.1 without a CONNACK, as AWS IoT does', () => {
    expect(answerRefusal(decision, 4)).toEqual({
      reason: 'MQTT 3.1.1 connection refused (closed without CONNACK, as AWS IoT does): bad password',
    });
  });
});

describe('acceptedConnect and acceptConnack', () => {
  it('assigns the connection id to a CONNECT without a client id and says so in the CONNACK', () => {
    const packet = connect({ clientId: '', keepalive: 0 });
    const accepted = acceptedConnect(packet, connectAttempt(packet, CONNECTION));
    expect(accepted).toEqual({
      clientId: 'c0ffee00-0000-4000-8000-000000000001',
      clientIdAssigned: true,
      keepAliveSeconds: 1200,
      cleanStart: true,
      sessionExpirySeconds: 0,
    });
    expect(acceptConnack(packet, accepted).properties).toMatchObject({
      assignedClientIdentifier: 'c0ffee00-0000-4000-8000-000000000001',
      serverKeepAlive: 1200,
    });
  });

  it('answers MQTT 3.1.1 with return code 0 and no properties', () => {
    const packet = connect({ protocolVersion: 4 });
    const accepted = acceptedConnect(packet, connectAttempt(packet, CONNECTION));
    expect(acceptConnack(packet, accepted)).toEqual({ cmd: 'connack', returnCode: 0, sessionPresent: false });
  });

  it('grants a persistent session AWS IoT expiry: 1 hour for 3.1.1 clean session 0, the interval capped for 5', () => {
    const expiry = (packet: ReturnType<typeof connect>) =>
      acceptedConnect(packet, connectAttempt(packet, CONNECTION)).sessionExpirySeconds;
    expect(expiry(connect({ protocolVersion: 4, clean: false }))).toBe(3600);
    expect(expiry(connect({ protocolVersion: 4, clean: true }))).toBe(0);
    expect(expiry(connect({ protocolVersion: 5, clean: false }))).toBe(0);
    expect(expiry(connect({ protocolVersion: 5, properties: { sessionExpiryInterval: 60 } }))).toBe(60);
    expect(expiry(connect({ protocolVersion: 5, properties: { sessionExpiryInterval: 99_999 } }))).toBe(3600);
    const resumed = connect({ protocolVersion: 4, clean: false });
    const accepted = acceptedConnect(resumed, connectAttempt(resumed, CONNECTION));
    expect(accepted.cleanStart).toBe(false);
    expect(acceptConnack(resumed, accepted, true)).toEqual({
      cmd: 'connack',
      returnCode: 0,
      sessionPresent: true,
    });
  });
});
