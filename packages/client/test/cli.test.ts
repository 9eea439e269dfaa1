import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildCustomAuthUsername,
  decodeToken,
  LOCAL_IOT_FILES,
  parseCustomAuthUsername,
  deriveDevicePassword,
  signToken,
  STACK_OUTPUTS,
  TOKEN_SIGNING_KEY_FILES,
  usernameParam,
  verifyTokenSignature,
  AUTHORIZER_SIGNATURE_PARAM,
  type LocalConnectionInfo,
  type Transport,
} from '@iot-custom-auth/protocol';
import { createTestCertificates, type TestCertificates } from './fixtures/certificates';
import { getSecretValueCall, LoopbackSecretsManager } from './fixtures/loopback-secrets-manager';
import { runCli } from './fixtures/run-cli';
import { rsaSigningKeyPair } from './fixtures/signing-keys';
import {
  AWS_LIKE_CONNACK_PROPERTIES,
  TestGateway,
  type GatewayBehaviour,
  type TestGatewayOptions,
} from './fixtures/test-gateway';

// The real CLI process, the real aws-iot-device-sdk-v2 (aws-crt, s2n) and real servers on 127.0.0.1: what the
// server sees on the wire, what the user sees, the exit code and how long it took.

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-credentials-AbCdEf';
/** The stack's master secret, and the password of a device derived from it (the user name is the device id). */
const MASTER_SECRET = { masterKey: 'cli-test-master-key-0123456789abcdefghij', revokedDevices: {} };
const passwordOf = (deviceId: string): string => deriveDevicePassword(MASTER_SECRET.masterKey, deviceId);

let certs: TestCertificates;
let dir: string;
const gateways: TestGateway[] = [];
let secretsManager: LoopbackSecretsManager | undefined;

beforeAll(async () => {
  certs = await createTestCertificates();
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'client-cli-'));
  writeFileSync(join(dir, 'ca.pem'), certs.caCert);
});

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
  await secretsManager?.close();
  secretsManager = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function gateway(
  transport: Transport,
  behaviour: GatewayBehaviour,
  cert: { cert: string; key: string } = { cert: certs.serverCert, key: certs.serverKey },
  messages: Pick<TestGatewayOptions, 'refuse' | 'deliver'> = {},
): Promise<TestGateway> {
  const started = await TestGateway.start({ transport, behaviour, ...cert, ...messages });
  gateways.push(started);
  return started;
}

function writeOutputs(file: string, outputs: Partial<Record<keyof typeof STACK_OUTPUTS, string>>): void {
  const values = Object.fromEntries(
    Object.entries(outputs).map(([key, value]) => [STACK_OUTPUTS[key as keyof typeof STACK_OUTPUTS], value]),
  );
  writeFileSync(file, JSON.stringify({ TestStack: values }));
}

const STACK = {
  region: 'eu-west-1',
  unsignedAuthorizerName: 'TestStack-Unsigned',
  signedAuthorizerName: 'TestStack-Signed',
  tokenKeyName: 'deviceToken',
  deviceSecretArn: SECRET_ARN,
  clientIdPrefix: 'test-',
};

const OK: GatewayBehaviour = { connack: 0, properties: AWS_LIKE_CONNACK_PROPERTIES };

/** A mode-600 file in the test's folder holding `password`, for --custom_auth_password_file (no warning). */
function passwordFile(password: string): string {
  const file = join(dir, `password-${randomUUID()}`);
  writeFileSync(file, password, { mode: 0o600 });
  return file;
}

/** Where a test gateway listens, as the upstream sample's flags, trusting the test CA: no outputs needed. */
function gatewayFlags(port: number): string[] {
  return ['--endpoint', 'localhost', '--port', String(port), '--ca_file', 'ca.pem'];
}

/** Everything before the SDK's metrics (`&SDK=IoTDeviceSDK/JS&Platform=...`), which the SDK appends. */
function withoutMetrics(username: string | undefined): string {
  const at = (username ?? '').indexOf('&SDK=');
  return at < 0 ? (username ?? '') : (username ?? '').slice(0, at);
}

describe('connect CLI, real process and real SDK', () => {
  it('connects with the defaults after deploy: outputs file at the root, password from Secrets Manager, direct MQTT/TLS with ALPN mqtt', async () => {
    const server = await gateway('mqtt', OK);
    secretsManager = await LoopbackSecretsManager.start({ [SECRET_ARN]: JSON.stringify(MASTER_SECRET) });
    writeOutputs(join(dir, 'cdk-outputs.json'), { ...STACK, endpoint: `localhost:${server.port}` });
    const password = passwordOf('test-e2e-direct');

    const run = await runCli(['--ca_file', 'ca.pem', '--client_id', 'test-e2e-direct'], {
      cwd: dir,
      env: {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'example-secret',
      },
    });

    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `Connecting to localhost:${server.port} over direct MQTT/TLS (ALPN mqtt) with authorizer TestStack-Unsigned (unsigned), client id test-e2e-direct`,
    );
    expect(lines[1]).toBe(
      `  credentials: user name test-e2e-direct, password <redacted> (${password.length} bytes, derived for device test-e2e-direct from the master secret ${SECRET_ARN})`,
    );
    expect(lines[2]).toBe(`  stack outputs: ${join(dir, 'cdk-outputs.json')} (stack TestStack)`);
    expect(lines.slice(3)).toEqual([
      'Connected: CONNACK 0x00 Success',
      '  session present: no, client id: test-e2e-direct',
      '  maximum QoS: 1, retain: yes, wildcard subscriptions: yes, shared subscriptions: yes, subscription identifiers: no',
      '  keep alive: 1200 s, session expiry: 0 s, receive maximum: 65535, maximum packet size: 131072 bytes, topic alias maximum: 8',
      'Disconnected cleanly',
    ]);
    expect(run.stdout).not.toContain(password);

    // What went over the wire.
    await server.closedConnections(1);
    expect(server.connections).toHaveLength(1);
    const [seen] = server.connections;
    expect(seen?.transport).toBe('mqtt');
    expect(seen?.alpn).toBe('mqtt');
    expect(seen?.servername).toBe('localhost');
    expect(seen?.connect?.protocolVersion).toBe(5);
    expect(seen?.connect?.clientId).toBe('test-e2e-direct');
    expect(withoutMetrics(seen?.connect?.username)).toBe(
      buildCustomAuthUsername({ user: 'test-e2e-direct', authorizerName: 'TestStack-Unsigned' }),
    );
    expect(seen?.connect?.username).toMatch(/&SDK=IoTDeviceSDK\/JS&Platform=/);
    expect(seen?.connect?.password?.toString('utf8')).toBe(password);
    expect(seen?.disconnectReasonCode).toBe(0);

    // The secret was read through the standard endpoint override, in the stack's region.
    expect(secretsManager.calls).toEqual([getSecretValueCall(SECRET_ARN, 'AKIDEXAMPLE', 'eu-west-1')]);
  });

  it('connects over WebSockets with --outputs and the connection file beside it, and prints one JSON object', async () => {
    const server = await gateway('websockets', OK);
    secretsManager = await LoopbackSecretsManager.start({ [SECRET_ARN]: JSON.stringify(MASTER_SECRET) });
    const state = join(dir, LOCAL_IOT_FILES.directory);
    mkdirSync(state);
    writeOutputs(join(state, LOCAL_IOT_FILES.outputs), { ...STACK, endpoint: 'localhost' });
    const connection: LocalConnectionInfo = {
      endpoint: 'localhost',
      port: server.port,
      caFile: join(dir, 'ca.pem'),
      awsEndpointUrl: secretsManager.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'LOCALKEY', secretAccessKey: 'local-secret' },
    };
    writeFileSync(join(state, LOCAL_IOT_FILES.connection), JSON.stringify(connection));

    const run = await runCli(
      [
        '--outputs',
        join(LOCAL_IOT_FILES.directory, LOCAL_IOT_FILES.outputs),
        '--use_websockets',
        'true',
        '--json',
      ],
      { cwd: dir },
    );

    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(report).toEqual({
      ok: true,
      endpoint: 'localhost',
      port: server.port,
      transport: 'websockets',
      alpn: null,
      authentication: 'CUSTOM_AUTH',
      authorizer: 'TestStack-Unsigned',
      signed: false,
      clientId: expect.stringMatching(/^test-[0-9a-f-]{36}$/) as unknown,
      connack: {
        reasonCode: 0,
        reasonName: 'Success',
        sessionPresent: false,
        maximumQos: 1,
        retainAvailable: true,
        wildcardSubscriptionsAvailable: true,
        subscriptionIdentifiersAvailable: false,
        sharedSubscriptionsAvailable: true,
        topicAliasMaximum: 8,
        maximumPacketSize: 131072,
        serverKeepAlive: 1200,
        sessionExpiryInterval: 0,
      },
      negotiatedSettings: expect.objectContaining({ maximumQos: 1, serverKeepAlive: 1200 }) as unknown,
      disconnect: 'clean',
      outputs: `${join(state, LOCAL_IOT_FILES.outputs)} (stack TestStack), ${join(state, LOCAL_IOT_FILES.connection)}`,
      durationMs: expect.any(Number) as unknown,
    });

    await server.closedConnections(1);
    const [seen] = server.connections;
    expect(seen?.transport).toBe('websockets');
    expect(seen?.upgrade?.path).toBe('/mqtt');
    expect(seen?.upgrade?.headers['sec-websocket-protocol']).toBe('mqtt');
    expect(seen?.servername).toBe('localhost');
    expect(seen?.connect?.protocolVersion).toBe(5);
    expect(seen?.connect?.clientId).toBe(report.clientId);
    // The zero-flag client id test-<uuid> is the device: its own password, derived for it.
    expect(withoutMetrics(seen?.connect?.username)).toBe(
      buildCustomAuthUsername({ user: report.clientId as string, authorizerName: 'TestStack-Unsigned' }),
    );
    expect(seen?.connect?.password?.toString('utf8')).toBe(passwordOf(report.clientId as string));
    // The connection file's AWS endpoint, credentials and region were used, not the environment's.
    expect(secretsManager.calls).toEqual([getSecretValueCall(SECRET_ARN, 'LOCALKEY', 'us-east-1')]);
  });

  it('--signed creates a token bound to the client id, signs it with .keys/ and sends the signature URL-encoded exactly once', async () => {
    const server = await gateway('mqtt', OK);
    const keys = rsaSigningKeyPair();
    mkdirSync(join(dir, TOKEN_SIGNING_KEY_FILES.directory));
    writeFileSync(
      join(dir, TOKEN_SIGNING_KEY_FILES.directory, TOKEN_SIGNING_KEY_FILES.privateKey),
      keys.privateKeyPem,
    );
    writeOutputs(join(dir, 'cdk-outputs.json'), { ...STACK, endpoint: 'localhost' });

    const run = await runCli(
      ['--signed', '--port', String(server.port), '--ca_file', 'ca.pem', '--client_id', 'test-e2e-signed'],
      { cwd: dir },
    );

    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout.split('\n')[0]).toBe(
      `Connecting to localhost:${server.port} over direct MQTT/TLS (ALPN mqtt) with authorizer TestStack-Signed (signed), client id test-e2e-signed`,
    );
    await server.closedConnections(1);
    const username = server.connections[0]?.connect?.username ?? '';
    const parsed = parseCustomAuthUsername(username);
    const token = usernameParam(parsed, 'deviceToken') ?? '';
    const signature = usernameParam(parsed, AUTHORIZER_SIGNATURE_PARAM) ?? '';
    // Decoding the username once gives back standard base64 that verifies: encoded once, not twice.
    expect(verifyTokenSignature(token, signature, [keys.publicKeyPem])).toBe(true);
    expect(username).toContain(`${AUTHORIZER_SIGNATURE_PARAM}=${encodeURIComponent(signature)}`);
    expect(signature).toMatch(/=$/);
    expect(decodeToken(token)).toEqual({
      ok: true,
      claims: {
        clientId: 'test-e2e-signed',
        iat: expect.any(Number) as unknown,
        exp: expect.any(Number) as unknown,
      },
    });
    expect(run.stdout).not.toContain(token);
    expect(run.stdout).not.toContain(encodeURIComponent(signature));
    expect(parsed.params.map(([name]) => name).slice(0, 3)).toEqual([
      'x-amz-customauthorizer-name',
      'deviceToken',
      AUTHORIZER_SIGNATURE_PARAM,
    ]);
  });

  it("keeps the upstream sample's flags working without any outputs: WebSockets with a token, key name and an already URL-encoded signature", async () => {
    const server = await gateway('websockets', OK);
    const token = 'my-opaque-token';
    const signature = signToken(token, rsaSigningKeyPair().privateKeyPem);

    const run = await runCli(
      [
        ...gatewayFlags(server.port),
        '--use_websockets',
        '--client_id',
        'test-upstream',
        '--custom_auth_authorizer_name',
        'MyAuthorizer',
        '--custom_auth_username',
        'someone',
        '--custom_auth_password',
        'pw',
        '--custom_auth_token_key_name',
        'tok',
        '--custom_auth_token_value',
        token,
        `--custom_auth_authorizer_signature=${encodeURIComponent(signature)}`,
      ],
      { cwd: dir },
    );

    expect(run.code).toBe(0);
    // Secrets given as flags still work, with the one warning that they are visible to other processes.
    expect(run.stderr).toBe(
      "Warning: --custom_auth_password, --custom_auth_token_value, --custom_auth_authorizer_signature on the command line are visible to other processes (ps) and in npm's banner and logs (~/.npm/_logs); use IOT_CUSTOM_AUTH_PASSWORD or --custom_auth_password_file <file>; IOT_CUSTOM_AUTH_TOKEN or --custom_auth_token_value_file <file>; IOT_CUSTOM_AUTH_SIGNATURE or --custom_auth_authorizer_signature_file <file> (chmod 600, or - for stdin) instead.\n",
    );
    await server.closedConnections(1);
    const [seen] = server.connections;
    expect(seen?.transport).toBe('websockets');
    expect(withoutMetrics(seen?.connect?.username)).toBe(
      buildCustomAuthUsername({
        user: 'someone',
        authorizerName: 'MyAuthorizer',
        tokenKeyName: 'tok',
        token,
        signature,
      }),
    );
    expect(seen?.connect?.password?.toString('utf8')).toBe('pw');
  });

  it('exits 1 on CONNACK 0x86 and says the credentials are the likely cause', async () => {
    const server = await gateway('mqtt', { connack: 0x86 });
    const run = await runCli(
      [
        ...gatewayFlags(server.port),
        '--custom_auth_authorizer_name',
        'Unsigned',
        '--custom_auth_username',
        'device',
        `--custom_auth_password_file=${passwordFile('not-the-password')}`,
        '--client_id',
        'test-bad-password',
      ],
      { cwd: dir },
    );

    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')[0]).toBe(
      `Connecting to localhost:${server.port} over direct MQTT/TLS (ALPN mqtt) with authorizer Unsigned (unsigned), client id test-bad-password`,
    );
    expect(run.stderr.split('\n').slice(0, 3)).toEqual([
      'Connection refused: CONNACK 0x86 Bad user name or password',
      'Likely causes:',
      "  - --custom_auth_password (or --custom_auth_username) is not the device's: compare with the device secret",
    ]);
    expect(run.stdout + run.stderr).not.toContain('not-the-password');
  });

  it('exits 1 on CONNACK 0x87 and reports it in --json with the likely causes', async () => {
    const server = await gateway('mqtt', { connack: 0x87, properties: { reasonString: 'not allowed' } });
    const run = await runCli(
      [
        '--endpoint',
        `localhost:${server.port}`,
        '--ca_file',
        'ca.pem',
        '--json',
        '--custom_auth_authorizer_name',
        'Unsigned',
        `--custom_auth_password_file=${passwordFile('pw')}`,
        '--client_id',
        'prod-1',
      ],
      { cwd: dir },
    );

    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as {
      error: unknown;
      likelyCauses: string[];
      connack: unknown;
      ok: boolean;
    };
    expect(report.ok).toBe(false);
    expect(report.connack).toEqual({
      reasonCode: 0x87,
      reasonName: 'Not authorized',
      sessionPresent: false,
      reasonString: 'not allowed',
    });
    expect(report.error).toEqual({
      kind: 'refused',
      message: 'Connection refused: CONNACK 0x87 Not authorized (server says: not allowed)',
    });
    expect(report.likelyCauses[0]).toBe(
      "the client id prod-1 is outside this stack's policy (client id does not start with 'test-'): use --client_id test-<something>",
    );
  });

  it('names an untrusted server certificate, although s2n withholds its TLS error', async () => {
    const server = await gateway('mqtt', OK, { cert: certs.untrustedCert, key: certs.untrustedKey });
    const run = await runCli(
      [...gatewayFlags(server.port), '--timeout', '3', `--custom_auth_password_file=${passwordFile('pw')}`],
      {
        cwd: dir,
      },
    );

    expect(run.code).toBe(1);
    expect(run.stderr.split('\n').slice(0, 3)).toEqual([
      `TLS handshake with localhost:${server.port} failed: the server certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT)`,
      'Likely causes:',
      `  - the server certificate is not issued by the CA in ${join(dir, 'ca.pem')}: pass the right --ca_file`,
    ]);
    expect(server.connections.every((c) => c.connect === undefined)).toBe(true);
  });

  it('times out within --timeout when the server never answers the CONNECT, with no retry', async () => {
    const server = await gateway('mqtt', 'silent');
    const run = await runCli(
      [...gatewayFlags(server.port), '--timeout', '2', `--custom_auth_password_file=${passwordFile('pw')}`],
      {
        cwd: dir,
      },
    );

    expect(run.code).toBe(1);
    expect(run.stderr.split('\n').slice(0, 3)).toEqual([
      `Timed out: no CONNACK from localhost:${server.port} within 2 s`,
      'Likely causes:',
      '  - the authorizer is slow: AWS IoT gives its Lambda 5 s (a cold start of a large bundle, or a slow Secrets Manager call)',
    ]);
    expect(server.connections).toHaveLength(1);
  });

  it('exits 2 with one line when the outputs file is missing, and 2 on a bad flag', async () => {
    const missing = await runCli(['--outputs', 'nowhere.json'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(
      new RegExp(
        `^Error: cannot read --outputs ${join(dir, 'nowhere.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`,
      ),
    );
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);

    const usage = await runCli(['--use_websockets', 'maybe'], { cwd: dir });
    expect(usage).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        "Error: --use_websockets takes true or false (or no value, meaning true), but 'maybe' was given\nRun with --help for usage.\n",
    });
  });
});

describe('messages after CONNACK, real process and real SDK', () => {
  const SERVER = (port: number): string[] => [
    ...gatewayFlags(port),
    '--custom_auth_authorizer_name',
    'Unsigned',
    `--custom_auth_password_file=${passwordFile('pw')}`,
  ];
  const certificate = (): { cert: string; key: string } => ({ cert: certs.serverCert, key: certs.serverKey });

  it('--roundtrip sends SUBSCRIBE QoS 1 to the device topic, PUBLISH QoS 1, receives the message and exits 0', async () => {
    const server = await gateway('mqtt', OK);
    const run = await runCli([...SERVER(server.port), '--client_id', 'test-e2e-rt', '--roundtrip'], {
      cwd: dir,
    });

    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.slice(-4, -1)).toEqual([
      'Subscription to devices/test-e2e-rt (QoS 1): SUBACK 0x01 Granted QoS 1',
      'Sent 1 message to devices/test-e2e-rt (QoS 1): PUBACK 0x00 Success',
      expect.stringMatching(/^Received 1 of 1 message back on devices\/test-e2e-rt: round trip \d+ ms$/),
    ]);
    expect(lines.at(-1)).toBe('Disconnected cleanly');

    await server.closedConnections(1);
    const [seen] = server.connections;
    expect(seen?.subscribes.map((p) => p.subscriptions)).toEqual([
      [expect.objectContaining({ topic: 'devices/test-e2e-rt', qos: 1 })],
    ]);
    expect(seen?.publishes).toHaveLength(1);
    const [publish] = seen?.publishes ?? [];
    expect({ topic: publish?.topic, qos: publish?.qos, retain: publish?.retain }).toEqual({
      topic: 'devices/test-e2e-rt',
      qos: 1,
      retain: false,
    });
    expect(JSON.parse(publish?.payload.toString() ?? '')).toEqual({
      seq: 1,
      count: 1,
      clientId: 'test-e2e-rt',
      sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
    });
    // The gateway delivered the message back at QoS 1, then the client disconnected normally.
    expect(seen?.deliveries.map((d) => [d.topic, d.qos])).toEqual([['devices/test-e2e-rt', 1]]);
    expect(seen?.disconnectReasonCode).toBe(0);
  });

  it('--roundtrip --count 3 over WebSockets receives all three and reports them in --json', async () => {
    const server = await gateway('websockets', OK);
    const run = await runCli(
      [
        ...SERVER(server.port),
        '--use_websockets',
        '--client_id',
        'test-e2e-ws',
        '--roundtrip',
        '--count',
        '3',
        '--json',
      ],
      { cwd: dir },
    );

    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(run.stdout) as { ok: boolean; transport: string; roundtrip: unknown };
    expect(report.ok).toBe(true);
    expect(report.transport).toBe('websockets');
    const success = (seq: number): unknown => ({
      seq,
      reasonCode: 0,
      reasonName: 'Success',
      roundTripMs: expect.any(Number) as unknown,
    });
    expect(report.roundtrip).toEqual({
      ok: true,
      topic: 'devices/test-e2e-ws',
      qos: 1,
      count: 3,
      suback: {
        reasonCodes: [{ topicFilter: 'devices/test-e2e-ws', reasonCode: 1, reasonName: 'Granted QoS 1' }],
      },
      puback: [success(1), success(2), success(3)],
      expected: 3,
      received: 3,
      roundTripMs: expect.any(Number) as unknown,
    });
    await server.closedConnections(1);
    const [seen] = server.connections;
    expect(seen?.transport).toBe('websockets');
    expect(seen?.publishes.map((p) => (JSON.parse(p.payload.toString()) as { seq: number }).seq)).toEqual([
      1, 2, 3,
    ]);
    expect(seen?.deliveries).toHaveLength(3);
  });

  it('exits 1 on a topic outside the policy, showing SUBACK 0x87 and PUBACK 0x87 and the allowed topics', async () => {
    const server = await gateway('mqtt', OK, certificate(), { refuse: ['other/topic'] });
    const run = await runCli(
      [...SERVER(server.port), '--client_id', 'test-e2e-refused', '--roundtrip', '--topic', 'other/topic'],
      { cwd: dir },
    );

    expect(run.code).toBe(1);
    expect(run.stdout.trimEnd().split('\n').slice(-4)).toEqual([
      'Subscription to other/topic (QoS 1): SUBACK 0x87 Not authorized',
      'Sent 1 message to other/topic (QoS 1): PUBACK 0x87 Not authorized',
      'No message can come back: the subscription was refused',
      'Disconnected cleanly',
    ]);
    expect(run.stderr).toBe(
      [
        'Round trip failed: SUBACK 0x87 Not authorized for other/topic; PUBACK 0x87 Not authorized for other/topic',
        'Likely causes:',
        '  - the policy returned by the authorizer only allows devices/test-e2e-refused and devices/test-e2e-refused/... for client id test-e2e-refused (devices/${iot:ClientId} and devices/${iot:ClientId}/* for iot:Publish, iot:Receive and iot:Subscribe); other/topic is outside it: leave --topic out, or use --topic devices/test-e2e-refused/<sub-topic>',
        '',
      ].join('\n'),
    );
    await server.closedConnections(1);
    const [seen] = server.connections;
    expect(seen?.subscribes.map((p) => p.subscriptions.map((sub) => [sub.topic, sub.qos]))).toEqual([
      [['other/topic', 1]],
    ]);
    expect(seen?.publishes.map((p) => [p.topic, p.qos])).toEqual([['other/topic', 1]]);
    expect(seen?.deliveries).toEqual([]);
    expect(seen?.disconnectReasonCode).toBe(0);
  });

  it('exits 1 within --timeout when the message never comes back, naming iot:Receive', async () => {
    const server = await gateway('mqtt', OK, certificate(), { deliver: false });
    const run = await runCli(
      [...SERVER(server.port), '--client_id', 'test-e2e-lost', '--roundtrip', '--timeout', '2', '--json'],
      { cwd: dir },
    );

    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(report.error).toEqual({
      kind: 'not-received',
      message: 'Round trip failed: 0 of 1 message came back on devices/test-e2e-lost within 2 s',
    });
    expect((report.likelyCauses as string[])[0]).toMatch(
      /^the policy the authorizer returned does not allow iot:Receive on topic\/devices\/test-e2e-lost/,
    );
    expect(report.disconnect).toBe('clean');
  });

  it('--count with --message only publishes, the payload as given', async () => {
    const server = await gateway('mqtt', OK);
    const run = await runCli(
      [...SERVER(server.port), '--client_id', 'test-e2e-pub', '--count', '2', '--message', 'hello'],
      { cwd: dir },
    );

    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toContain('Sent 2 messages to devices/test-e2e-pub (QoS 1): PUBACK 0x00 Success\n');
    await server.closedConnections(1);
    const [seen] = server.connections;
    expect(seen?.subscribes).toEqual([]);
    expect(seen?.publishes.map((p) => [p.topic, p.qos, p.payload.toString()])).toEqual([
      ['devices/test-e2e-pub', 1, 'hello'],
      ['devices/test-e2e-pub', 1, 'hello'],
    ]);
  });
});
