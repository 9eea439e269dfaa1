import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  AUTHORIZER_SIGNATURE_PARAM,
  AWS_IOT_LOG_GROUP,
  buildCustomAuthUsername,
  CONNECT_REFUSALS,
  signToken,
  type ConnectRefusalCause,
} from '@iot-custom-auth/protocol';
import type { ConnectAttempt } from '../../src/auth/connect-types';
import type { CfnResource, CfnTemplate } from '../../src/deployment/intrinsics';
import { createLocalRuntime, type LocalRuntime } from '../../src/local-runtime';
import { ConnectLogRecorder, connectRefusalCause, IotConnectLog } from '../../src/logs/iot-connect-log';
import { LocalLogStore } from '../../src/logs/log-store';
import {
  demoTemplate,
  FUNCTIONS_DIR,
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
  type DemoTemplateOptions,
} from '../fixtures/assembly';

const STACK = 'ConnectLogTest';
const HOST = 'local-iot.localhost';
const UNSIGNED = `${STACK}-unsigned`;
const SIGNED = `${STACK}-signed`;
const keys = rsaKeyPair();

let root: string;
const runtimes: LocalRuntime[] = [];
beforeAll(() => {
  root = tempDir('connect-log');
});
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
});
afterAll(() => removeDir(root));

async function start(options: Partial<DemoTemplateOptions> = {}, edit?: (t: CfnTemplate) => void) {
  const template = demoTemplate({ asset: 'fn', publicKeyPem: keys.publicKey, ...options });
  edit?.(template);
  const dir = join(root, randomUUID());
  const cdkOut = writeAssembly(join(dir, 'cdk.out'), STACK, template, {
    fn: join(FUNCTIONS_DIR, 'behaviours'),
  });
  const runtime = await createLocalRuntime({
    cdkOut,
    stateDir: join(dir, 'state'),
    endpointHost: HOST,
    authorizerTimeoutMs: 2000,
    log: () => undefined,
  });
  runtimes.push(runtime);
  return runtime;
}

function attempt(username: string | undefined, extra: Partial<ConnectAttempt> = {}): ConnectAttempt {
  return {
    connectionId: randomUUID(),
    transport: 'mqtt',
    alpn: 'mqtt',
    serverName: HOST,
    clientId: 'test-1',
    ...(username !== undefined && { username }),
    password: Buffer.from('secret'),
    ...extra,
  };
}

const unsigned = (behaviour: string) =>
  buildCustomAuthUsername({ user: behaviour, authorizerName: UNSIGNED });

/** Each cause the pipeline decides that the end-to-end suite does not reach, with the stack that causes it. */
const PIPELINE_CASES: readonly {
  readonly cause: ConnectRefusalCause;
  readonly stack?: Partial<DemoTemplateOptions>;
  readonly edit?: (t: CfnTemplate) => void;
  readonly attempt: () => ConnectAttempt;
}[] = [
  { cause: 'NO_AUTHORIZER', attempt: () => attempt('device') },
  {
    cause: 'AUTHORIZER_INACTIVE',
    stack: { unsignedStatus: 'INACTIVE' },
    attempt: () => attempt(unsigned('allow')),
  },
  { cause: 'PERMISSION_MISSING', stack: { permissions: false }, attempt: () => attempt(unsigned('allow')) },
  {
    cause: 'LAMBDA_THROTTLED',
    edit: (t) => {
      const fn = (t.Resources as Record<string, CfnResource>).AuthorizerFunction as CfnResource;
      (fn.Properties as Record<string, unknown>).ReservedConcurrentExecutions = 0;
    },
    attempt: () => attempt(unsigned('allow')),
  },
  {
    cause: 'SIGNATURE_INVALID',
    attempt: () => {
      const token = 'eyJjbGllbnRJZCI6InRlc3QtMSJ9';
      const forged = signToken(token, rsaKeyPair().privateKey);
      const user = buildCustomAuthUsername({
        user: 'allow',
        authorizerName: SIGNED,
        tokenKeyName: 'token',
        token,
      });
      return attempt(`${user}&${AUTHORIZER_SIGNATURE_PARAM}=${encodeURIComponent(forged)}`);
    },
  },
  { cause: 'NOT_AUTHENTICATED', attempt: () => attempt(unsigned('deny')) },
  { cause: 'INVALID_RESPONSE', attempt: () => attempt(unsigned('bad-principal')) },
  { cause: 'LAMBDA_ERROR', attempt: () => attempt(unsigned('exit')) },
  { cause: 'CONNECT_NOT_ALLOWED', attempt: () => attempt(unsigned('allow'), { clientId: 'prod-1' }) },
];

describe('connectRefusalCause: the pipeline decides each cause with the CONNACK code of CONNECT_REFUSALS', () => {
  it.each(PIPELINE_CASES)('$cause', async ({ cause, stack, edit, attempt: make }) => {
    const runtime = await start(stack, edit);
    const decision = await runtime.authorizer.authorize(make());
    expect(decision.allowed).toBe(false);
    // Set where the pipeline refused, not read back from the wording of its reason.
    expect([decision.cause, connectRefusalCause(decision), decision.reasonCode]).toEqual([
      cause,
      cause,
      CONNECT_REFUSALS[cause].connack,
    ]);
    expect(decision.lambdaInvoked).toBe(CONNECT_REFUSALS[cause].lambdaInvoked);
  });
});

describe('connectRefusalCause of a refusal made before any authorizer (no cause given)', () => {
  it.each([
    ['UNSUPPORTED_PROTOCOL_VERSION', { reasonCode: 0x84, lambdaInvoked: false }],
    ['CLIENT_ID_TOO_LONG', { reasonCode: 0x85, lambdaInvoked: false }],
    ['SERVER_ERROR', { reasonCode: 0x80, signature: 'missing', lambdaInvoked: false }],
    ['NOT_AUTHENTICATED', { reasonCode: 0x86, lambdaInvoked: true }],
    ['SIGNATURE_MISSING', { reasonCode: 0x87, signature: 'missing', lambdaInvoked: false }],
    ['SIGNATURE_INVALID', { reasonCode: 0x87, signature: 'failed', lambdaInvoked: false }],
    ['CONNECT_NOT_ALLOWED', { reasonCode: 0x87, signature: 'verified', lambdaInvoked: true }],
    ['AUTHORIZER_NOT_FOUND', { reasonCode: 0x87, signature: 'not-required', lambdaInvoked: false }],
  ] as const)('%s by its CONNACK code and how far it got', (cause, outcome) => {
    expect(connectRefusalCause({ allowed: false, reason: 'whatever the wording', ...outcome })).toBe(cause);
    expect(CONNECT_REFUSALS[cause].connack).toBe(outcome.reasonCode);
  });
});

describe('IotConnectLog and ConnectLogRecorder', () => {
  const now = new Date('2026-12-01T10:20:30.456Z');
  const setUp = (level?: 'INFO' | 'ERROR' | 'DISABLED') => {
    const store = new LocalLogStore({ now: () => now.getTime() });
    const log = new IotConnectLog({
      store,
      accountId: '000000000000',
      now: () => now,
      ...(level && { level }),
    });
    const entries = () =>
      (store.group(AWS_IOT_LOG_GROUP)?.events ?? []).map((event) => JSON.parse(event.message) as unknown);
    return { store, log, recorder: new ConnectLogRecorder(log), entries };
  };
  const refused = {
    allowed: false,
    reasonCode: 0x86,
    reason: "authorizer 'a' returned isAuthenticated: false",
    lambdaInvoked: true,
  };

  it('writes one AWSIotLogsV2 Connect entry per connection, refreshes and the gateway echo included', () => {
    const { recorder, entries } = setUp();
    recorder.gatewayEntry({ event: 'tls-connection', connectionId: 'c1', remoteAddress: '127.0.0.1' });
    recorder.decided({ connectionId: 'c1', clientId: 'test-1', sourceIp: '127.0.0.1' }, refused);
    recorder.gatewayEntry({
      event: 'connect',
      connectionId: 'c1',
      decision: 'deny',
      reason: refused.reason,
      reasonCodeNumber: 0x86,
    });
    recorder.decided({ connectionId: 'c1', clientId: 'test-1' }, refused);
    expect(entries()).toEqual([
      {
        timestamp: '2026-12-01 10:20:30.456',
        logLevel: 'ERROR',
        traceId: 'c1',
        accountId: '000000000000',
        status: 'Failure',
        eventType: 'Connect',
        protocol: 'MQTT',
        clientId: 'test-1',
        sourceIp: '127.0.0.1',
        reason: 'AUTHENTICATION_FAILURE',
        details: refused.reason,
      },
    ]);
  });

  it('records what never reached the pipeline from the gateway log, with the TLS source address', () => {
    const { recorder, entries } = setUp();
    recorder.gatewayEntry({ event: 'tls-connection', connectionId: 'c2', remoteAddress: '::1' });
    recorder.gatewayEntry({
      event: 'connect',
      connectionId: 'c2',
      clientId: 'x',
      decision: 'deny',
      reasonCodeNumber: 0x84,
      reason: 'MQTT 3.1 is not supported; use MQTT 5 or 3.1.1',
      lambdaInvoked: false,
    });
    recorder.gatewayEntry({
      event: 'tls-refused',
      reason: "the client offered ALPN 'h2'; this port speaks 'mqtt'",
    });
    expect(entries()).toMatchObject([
      { traceId: 'c2', sourceIp: '::1', reason: 'UNSUPPORTED_PROTOCOL_VERSION' },
      { reason: 'CUSTOM_AUTH_NOT_NEGOTIATED' },
    ]);
  });

  it('follows the log level: ERROR leaves successes out, DISABLED writes nothing', () => {
    const allowed = {
      allowed: true,
      reasonCode: 0,
      reason: 'ok',
      lambdaInvoked: true,
      session: { principalId: 'p' },
    };
    const info = setUp('INFO');
    info.log.connect({ connectionId: 'a' }, allowed);
    expect(info.entries()).toMatchObject([{ status: 'Success', logLevel: 'INFO', principalId: 'p' }]);
    const error = setUp('ERROR');
    error.log.connect({ connectionId: 'a' }, allowed);
    error.log.connect({ connectionId: 'b' }, refused);
    expect(error.entries()).toMatchObject([{ status: 'Failure' }]);
    const disabled = setUp('DISABLED');
    disabled.log.connect({ connectionId: 'b' }, refused);
    expect(disabled.entries()).toEqual([]);
  });
});

describe('LocalLogStore', () => {
  it('keeps at most maxEventsPerGroup events, dropping the oldest', () => {
    const store = new LocalLogStore({ maxEventsPerGroup: 3 });
    for (let index = 0; index < 5; index++) store.put('g', 's', `line ${index}`);
    expect(store.group('g')?.events.map((event) => event.message)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(store.group('g')?.storedBytes).toBe(18);
  });
});
