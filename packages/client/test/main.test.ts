import { rootCertificates } from 'node:tls';
import { usage } from '../src/args';
import { run } from '../src/cli';
import type {
  ConnectRequest,
  ConnectResult,
  DisconnectResult,
  IncomingMessage,
  MqttConnection,
  PublishResult,
  SubscribeResult,
} from '../src/connection';
import {
  AwsCredentialSource,
  type CredentialSource,
  type DeviceCredentialsRequest,
  type SignedTokenRequest,
} from '../src/credentials';
import { ConfigError, RuntimeError } from '../src/errors';
import type { MainDeps } from '../src/main';
import type { LoadedOutputs, OutputsRequest } from '../src/outputs';
import type { TlsProbeRequest, TlsProbeResult } from '../src/tls-probe';
import { inMemoryFiles } from './fixtures/in-memory-files';
import { rsaSigningKeyPair } from './fixtures/signing-keys';
import { negotiatedSettings } from './fixtures/negotiated-settings';

// main() through run() (cli.ts), so every test also pins the exit code, with fakes for every side effect.

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-AbCdEf';
const PASSWORD = 'Sup3r+Secret/Pass=';
const UUID = '0b8f7c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b';
const ENDPOINT = 'abc123-ats.iot.eu-west-1.amazonaws.com';

const OUTPUTS: LoadedOutputs = {
  source: '/repo/cdk-outputs.json',
  stackName: 'IotCustomAuthorizerStack',
  values: {
    endpoint: ENDPOINT,
    region: 'eu-west-1',
    unsignedAuthorizerName: 'Stack-Unsigned',
    signedAuthorizerName: 'Stack-Signed',
    tokenKeyName: 'token',
    deviceSecretArn: SECRET_ARN,
    connectPolicyName: 'Stack-Connect',
    clientIdPrefix: 'test-',
  },
};

const CONNACK_OK = {
  reasonCode: 0,
  sessionPresent: false,
  properties: { maximumQos: 1, topicAliasMaximum: 8, retainAvailable: true },
};

const SETTINGS = negotiatedSettings({ clientId: `test-${UUID}` });

interface Harness {
  readonly deps: MainDeps;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly outputReads: OutputsRequest[];
  readonly secretReads: DeviceCredentialsRequest[];
  readonly tokenRequests: SignedTokenRequest[];
  readonly connects: ConnectRequest[];
  readonly probes: TlsProbeRequest[];
  readonly disconnectTimeouts: number[];
  /** Topic filters the fake connection was asked to subscribe to, and the messages it was asked to publish. */
  readonly subscribes: string[];
  readonly publishes: { topic: string; payload: string }[];
}

/**
 * How the fake connection answers after CONNACK. `never`: no answer at all. By default it grants QoS 1,
 * accepts every publish and delivers it back (as a broker does for a client subscribed to its own topic).
 */
interface FakeBroker {
  suback?: SubscribeResult | Error | 'never';
  puback?: PublishResult | Error | 'never';
  /** Deliver accepted publishes back on a granted subscription. @default true */
  echo?: boolean;
  /** A retained message with this payload is delivered right after the SUBACK. */
  retained?: string;
  /** The server closes the connection with this reason when the first PUBLISH arrives. */
  loseOnPublish?: string;
}

interface HarnessOptions {
  outputs?: LoadedOutputs | undefined | Error;
  result?: ConnectResult | ((request: ConnectRequest) => ConnectResult) | Error;
  disconnect?: DisconnectResult;
  probe?: TlsProbeResult;
  files?: Record<string, string>;
  credentials?: Partial<CredentialSource>;
  broker?: FakeBroker;
}

function fakeConnection(
  disconnect: DisconnectResult,
  broker: FakeBroker,
  h: Pick<Harness, 'disconnectTimeouts' | 'subscribes' | 'publishes'>,
): MqttConnection {
  const listeners: ((message: IncomingMessage) => void)[] = [];
  const deliver = (topic: string, payload: string, retain: boolean): void => {
    // Later, as a broker would: never inside the publish call.
    setImmediate(() => {
      for (const listener of listeners) listener({ topic, payload: Buffer.from(payload), qos: 1, retain });
    });
  };
  let granted = false;
  let loseConnection: (reason: string) => void = () => {};
  const answer = <T>(value: T | Error | 'never'): Promise<T> =>
    value === 'never'
      ? new Promise<T>(() => {})
      : value instanceof Error
        ? Promise.reject(value)
        : Promise.resolve(value);
  return {
    lost: new Promise<string>((resolve) => (loseConnection = resolve)),
    subscribe: (topicFilter) => {
      h.subscribes.push(topicFilter);
      const suback = broker.suback ?? { reasonCodes: [1] };
      granted = !(suback instanceof Error) && suback !== 'never' && suback.reasonCodes.every((c) => c < 0x80);
      if (granted && broker.retained !== undefined) deliver(topicFilter, broker.retained, true);
      return answer(suback);
    },
    publish: (topic, payload) => {
      h.publishes.push({ topic, payload: payload.toString('utf8') });
      if (broker.loseOnPublish !== undefined) {
        loseConnection(broker.loseOnPublish);
        return new Promise<PublishResult>(() => {});
      }
      const puback = broker.puback ?? { reasonCode: 0 };
      const accepted = !(puback instanceof Error) && puback !== 'never' && puback.reasonCode < 0x80;
      if (accepted && granted && broker.echo !== false) deliver(topic, payload.toString('utf8'), false);
      return answer(puback);
    },
    onMessage: (listener) => listeners.push(listener),
    disconnect: (timeoutMs) => {
      h.disconnectTimeouts.push(timeoutMs);
      return Promise.resolve(disconnect);
    },
  };
}

function harness(options: HarnessOptions = {}): Harness {
  const out: string[] = [];
  const err: string[] = [];
  const h: Omit<Harness, 'deps' | 'stdout' | 'stderr'> = {
    outputReads: [],
    secretReads: [],
    tokenRequests: [],
    connects: [],
    probes: [],
    disconnectTimeouts: [],
    subscribes: [],
    publishes: [],
  };
  let now = 1_700_000_000_000;
  const deps: MainDeps = {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    outputs: {
      read: (request) => {
        h.outputReads.push(request);
        const outputs = 'outputs' in options ? options.outputs : OUTPUTS;
        return outputs instanceof Error ? Promise.reject(outputs) : Promise.resolve(outputs);
      },
    },
    credentials: {
      deviceCredentials: (request) => {
        h.secretReads.push(request);
        return Promise.resolve({ username: request.deviceId, password: PASSWORD });
      },
      signedToken: (request) => {
        h.tokenRequests.push(request);
        return Promise.resolve({ token: 'eyJ0b2tlbiI6MX0', signature: 'c2ln+/w=' });
      },
      ...options.credentials,
    },
    connector: {
      connect: (request) => {
        h.connects.push(request);
        const result = options.result ?? {
          status: 'connected',
          connack: CONNACK_OK,
          settings: SETTINGS,
          connection: fakeConnection(options.disconnect ?? { clean: true }, options.broker ?? {}, h),
        };
        if (result instanceof Error) return Promise.reject(result);
        return Promise.resolve(typeof result === 'function' ? result(request) : result);
      },
    },
    tlsProbe: (request) => {
      h.probes.push(request);
      return Promise.resolve(options.probe ?? { outcome: 'ok' });
    },
    readFile: inMemoryFiles(options.files),
    clock: () => (now += 25),
    randomId: () => UUID,
    paths: { invocationDir: '/repo/packages/client', repoRoot: '/repo' },
  };
  return { ...h, deps, stdout: () => out.join(''), stderr: () => err.join('') };
}

const CONNECTING_UNSIGNED = [
  `Connecting to ${ENDPOINT}:443 over direct MQTT/TLS (ALPN mqtt) with authorizer Stack-Unsigned (unsigned), client id test-${UUID}`,
  `  credentials: user name test-${UUID}, password <redacted> (18 bytes, derived for device test-${UUID} from the master secret ${SECRET_ARN})`,
  '  stack outputs: /repo/cdk-outputs.json (stack IotCustomAuthorizerStack)',
];

describe('main (through run)', () => {
  it('connects with the outputs and the secret, reports, disconnects, and exits 0', async () => {
    const h = harness();
    expect(await run([], h.deps)).toBe(0);
    expect(h.stdout()).toBe(
      [
        ...CONNECTING_UNSIGNED,
        'Connected: CONNACK 0x00 Success',
        `  session present: no, client id: test-${UUID}`,
        '  maximum QoS: 1, retain: yes, wildcard subscriptions: yes, shared subscriptions: yes, subscription identifiers: no',
        '  keep alive: 1200 s, session expiry: 0 s, receive maximum: 100, maximum packet size: 131072 bytes, topic alias maximum: 8',
        'Disconnected cleanly',
        '',
      ].join('\n'),
    );
    expect(h.stderr()).toBe('');
    expect(h.outputReads).toEqual([{ defaultFile: '/repo/cdk-outputs.json', required: true }]);
    expect(h.secretReads).toEqual([
      { secretArn: SECRET_ARN, target: { region: 'eu-west-1' }, deviceId: `test-${UUID}` },
    ]);
    expect(h.connects).toEqual([
      {
        endpoint: ENDPOINT,
        port: 443,
        transport: 'mqtt',
        clientId: `test-${UUID}`,
        auth: { username: `test-${UUID}`, password: PASSWORD, authorizerName: 'Stack-Unsigned' },
        // --timeout 10 s less the 2 s kept for a diagnostic TLS handshake.
        timeoutMs: 8000,
        verbosity: 'none',
      },
    ]);
    expect(h.disconnectTimeouts).toEqual([10_000]);
    // The TLS pre-check, with the SDK's host, ALPN and CA, in the share of --timeout kept from the SDK.
    expect(h.probes).toEqual([{ host: ENDPOINT, port: 443, alpn: ['mqtt'], timeoutMs: 2000 }]);
  });

  it('prints one JSON object with --json and nothing else', async () => {
    const h = harness();
    expect(await run(['--json', '--use_websockets', 'true'], h.deps)).toBe(0);
    expect(h.stderr()).toBe('');
    expect(h.stdout().endsWith('}\n')).toBe(true);
    expect(JSON.parse(h.stdout())).toEqual({
      ok: true,
      endpoint: ENDPOINT,
      port: 443,
      transport: 'websockets',
      alpn: null,
      authentication: 'CUSTOM_AUTH',
      authorizer: 'Stack-Unsigned',
      signed: false,
      clientId: `test-${UUID}`,
      connack: {
        reasonCode: 0,
        reasonName: 'Success',
        sessionPresent: false,
        maximumQos: 1,
        topicAliasMaximum: 8,
        retainAvailable: true,
      },
      negotiatedSettings: SETTINGS,
      disconnect: 'clean',
      outputs: '/repo/cdk-outputs.json (stack IotCustomAuthorizerStack)',
      // The fake clock moves 25 ms per reading: one before the connect, one after the disconnect.
      durationMs: 25,
    });
    expect(h.connects[0]?.transport).toBe('websockets');
  });

  it('exits 1 on CONNACK 0x86 and explains it, without printing the password', async () => {
    const h = harness({
      result: { status: 'refused', connack: { reasonCode: 0x86, sessionPresent: false, properties: {} } },
    });
    expect(await run([], h.deps)).toBe(1);
    expect(h.stdout()).toBe(`${CONNECTING_UNSIGNED.join('\n')}\n`);
    expect(h.stderr()).toBe(
      [
        'Connection refused: CONNACK 0x86 Bad user name or password',
        'Likely causes:',
        `  - the authorizer does not accept the password derived from the device secret ${SECRET_ARN} for device test-${UUID}: the device is revoked (npm run device -w client -- list), the master key was rotated less than 300 s ago (the Lambda caches it), or the Lambda reads another secret`,
        '  - the authorizer Lambda answered isAuthenticated: false; its decision log line says why',
        '  - the authorizer Stack-Unsigned expects a signed token: use --signed (and its signed authorizer)',
        '',
      ].join('\n'),
    );
    expect(h.stdout() + h.stderr()).not.toContain(PASSWORD);
    expect(h.probes).toEqual([{ host: ENDPOINT, port: 443, alpn: ['mqtt'], timeoutMs: 2000 }]);
  });

  it('exits 1 on CONNACK 0x87 for a client id outside the prefix, warning before connecting', async () => {
    const h = harness({
      result: {
        status: 'refused',
        connack: { reasonCode: 0x87, sessionPresent: false, properties: { reasonString: 'denied' } },
      },
    });
    expect(await run(['--client_id', 'prod-7', '--json'], h.deps)).toBe(1);
    expect(h.stderr()).toBe(
      "Warning: client id does not start with 'test-': the authorizer of stack IotCustomAuthorizerStack will refuse client id prod-7 (CONNACK 0x87)\n",
    );
    expect(JSON.parse(h.stdout())).toEqual({
      ok: false,
      endpoint: ENDPOINT,
      port: 443,
      transport: 'mqtt',
      alpn: 'mqtt',
      authentication: 'CUSTOM_AUTH',
      authorizer: 'Stack-Unsigned',
      signed: false,
      clientId: 'prod-7',
      connack: {
        reasonCode: 0x87,
        reasonName: 'Not authorized',
        sessionPresent: false,
        reasonString: 'denied',
      },
      error: {
        kind: 'refused',
        message: 'Connection refused: CONNACK 0x87 Not authorized (server says: denied)',
      },
      likelyCauses: [
        "the client id prod-7 is outside this stack's policy (client id does not start with 'test-'): use --client_id test-<something>",
        'the policy the authorizer returned does not allow iot:Connect on client/prod-7 (this stack allows client ids starting with test-; check region and account in its ARNs)',
        'the authorizer Stack-Unsigned does not exist in this account and region, is INACTIVE, or AWS IoT may not invoke its Lambda (lambda:InvokeFunction for iot.amazonaws.com)',
        "the credentials are another device's: a device may only connect with its own id as client id (the user name), here prod-7",
        'the authorizer could not read its master secret (decision reason SECRET_UNAVAILABLE or SECRET_INVALID): it refuses with a deny-all policy, never 0x86, since the credentials were not checked',
        "the Lambda failed, took longer than 5 s or returned an invalid response: read its CloudWatch logs (or the local gateway's decision log)",
      ],
      outputs: '/repo/cdk-outputs.json (stack IotCustomAuthorizerStack)',
      durationMs: 25,
    });
  });

  it('exits 1 on a timeout, after a TLS probe that finds TLS working, blaming the authorizer first', async () => {
    const h = harness({ result: { status: 'timeout', afterMs: 4000 }, probe: { outcome: 'ok' } });
    expect(await run(['--timeout', '5', '--custom_auth_password', 'pw'], h.deps)).toBe(1);
    expect(h.connects[0]?.timeoutMs).toBe(4000);
    expect(h.probes).toEqual([{ host: ENDPOINT, port: 443, alpn: ['mqtt'], timeoutMs: 1000 }]);
    expect(h.stderr()).toBe(
      [
        `Timed out: no CONNACK from ${ENDPOINT}:443 within 5 s`,
        'Likely causes:',
        '  - the authorizer is slow: AWS IoT gives its Lambda 5 s (a cold start of a large bundle, or a slow Secrets Manager call)',
        `  - ${ENDPOINT}:443 is unreachable or drops the traffic silently (firewall, proxy, wrong --port)`,
        '  - --timeout 5 is too short for this network',
        '',
      ].join('\n'),
    );
    expect(h.secretReads).toEqual([]);
  });

  it('reports an untrusted certificate found by the probe instead of a bare timeout', async () => {
    const h = harness({
      result: { status: 'timeout', afterMs: 8000 },
      probe: { outcome: 'untrusted', code: 'SELF_SIGNED_CERT_IN_CHAIN' },
    });
    expect(await run(['--json'], h.deps)).toBe(1);
    const report = JSON.parse(h.stdout()) as Record<string, unknown>;
    expect(report.error).toEqual({
      kind: 'tls',
      message: `TLS handshake with ${ENDPOINT}:443 failed: the server certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN)`,
    });
    expect(report.likelyCauses).toEqual([
      'the server uses a private CA: pass it with --ca_file (for the local gateway, its ca.pem)',
      'on AWS, use the -ats data endpoint (IotEndpoint output): its certificate chains to Amazon Root CA 1',
    ]);
    expect(report.connack).toBeNull();
    // Found by the pre-check: the SDK never tried (it would have reported a timeout after s2n's blinding).
    expect(h.connects).toEqual([]);
  });

  it.each<[string, TlsProbeResult, string]>([
    [
      'a certificate for another host',
      { outcome: 'name-mismatch', detail: 'the certificate is not valid for x (it is for DNS:y)' },
      `TLS handshake with ${ENDPOINT}:443 failed: the certificate is not valid for x (it is for DNS:y)`,
    ],
    [
      'an ALPN refused with an alert',
      { outcome: 'alpn-refused', detail: 'the server refused ALPN mqtt', refused: true },
      `TLS handshake with ${ENDPOINT}:443 failed: the server refused ALPN mqtt`,
    ],
    [
      'a handshake error',
      { outcome: 'tls-error', code: 'ERR_SSL_WRONG_VERSION_NUMBER', detail: 'wrong version number' },
      `TLS handshake with ${ENDPOINT}:443 failed (ERR_SSL_WRONG_VERSION_NUMBER)`,
    ],
  ])('reports %s from the pre-check at once, with no SDK attempt', async (_name, probe, headline) => {
    const h = harness({ probe });
    expect(await run([], h.deps)).toBe(1);
    expect(h.connects).toEqual([]);
    expect(h.stderr().split('\n')[0]).toBe(headline);
  });

  it('still lets the SDK try a server that ignores ALPN (some MQTT servers work without it)', async () => {
    const h = harness({ probe: { outcome: 'alpn-refused', detail: 'the server did not select ALPN mqtt' } });
    expect(await run([], h.deps)).toBe(0);
    expect(h.connects).toHaveLength(1);
  });

  it('reports a refused ALPN on a TLS failure, naming port 443 and ALPN mqtt', async () => {
    const h = harness({
      result: {
        status: 'failed',
        failure: {
          kind: 'tls',
          name: 'AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE',
          message: 'TLS (SSL) negotiation failed',
        },
      },
      probe: { outcome: 'alpn-refused', detail: 'the server refused ALPN mqtt' },
    });
    expect(await run(['--port', '8883'], h.deps)).toBe(1);
    expect(h.stderr().split('\n').slice(0, 4)).toEqual([
      `TLS handshake with ${ENDPOINT}:8883 failed: the server refused ALPN mqtt`,
      'Likely causes:',
      '  - custom authentication over direct MQTT needs port 443 with ALPN mqtt on the AWS IoT data endpoint (8883 and ALPN x-amzn-mqtt-ca are for X.509 certificates)',
      '  - or connect with --use_websockets',
    ]);
  });

  it('leaves a failure below TLS to the SDK, in its words, without a second probe', async () => {
    const h = harness({
      result: {
        status: 'failed',
        failure: { kind: 'dns', name: 'AWS_IO_DNS_INVALID_NAME', message: 'Host name was invalid' },
      },
      probe: { outcome: 'tcp-error', code: 'ENOTFOUND' },
    });
    expect(await run([], h.deps)).toBe(1);
    expect(h.probes).toEqual([{ host: ENDPOINT, port: 443, alpn: ['mqtt'], timeoutMs: 2000 }]);
    expect(h.connects).toHaveLength(1);
    expect(h.stderr().split('\n')[0]).toBe(`Cannot resolve ${ENDPOINT} (AWS_IO_DNS_INVALID_NAME)`);
  });

  it('exits 1 when the disconnect is not clean', async () => {
    const h = harness({ disconnect: { clean: false, reason: 'the server sent DISCONNECT 0x8E' } });
    expect(await run([], h.deps)).toBe(1);
    expect(h.stderr()).toBe('Disconnect was not clean: the server sent DISCONNECT 0x8E\n');
    expect(h.stdout()).toContain('Connected: CONNACK 0x00 Success\n');
  });

  it('exits 2 with one line when there are no outputs', async () => {
    const h = harness({ outputs: new ConfigError('cannot read --outputs /repo/x.json: ENOENT') });
    expect(await run(['--outputs', '../../x.json'], h.deps)).toBe(2);
    expect(h.outputReads[0]?.file).toBe('/repo/x.json');
    expect(h.stdout()).toBe('');
    expect(h.stderr()).toBe('Error: cannot read --outputs /repo/x.json: ENOENT\n');
    expect(h.connects).toEqual([]);
  });

  it('prints the configuration error as JSON too with --json', async () => {
    const h = harness({ outputs: new ConfigError('no outputs') });
    expect(await run(['--json'], h.deps)).toBe(2);
    expect(JSON.parse(h.stdout())).toEqual({
      ok: false,
      error: { kind: 'configuration', message: 'no outputs' },
    });
  });

  it('exits 2 when the token-signing key cannot be read, naming the file and the fix', async () => {
    const h = harness({ credentials: {} });
    const real = new AwsCredentialSource({ readFile: h.deps.readFile });
    const deps = { ...h.deps, credentials: real };
    expect(await run(['--signed'], deps)).toBe(2);
    expect(h.stderr()).toBe(
      'Error: cannot read the token-signing private key /repo/.keys/token-signing-private.pem: ENOENT. ' +
        'The first `npx cdk synth` creates .keys/token-signing-private.pem at the repository root; or pass --token-signing-key FILE\n',
    );
    expect(h.connects).toEqual([]);
  });

  it('signs a token with the real credential source and sends the signature URL-encoded once', async () => {
    const keyFile = '/keys/device.pem';
    const h = harness({ files: { [keyFile]: rsaSigningKeyPair().privateKeyPem } });
    const deps = { ...h.deps, credentials: new AwsCredentialSource({ readFile: h.deps.readFile }) };
    expect(await run(['--signed', '--token-signing-key', keyFile, '--client_id', 'test-s'], deps)).toBe(0);
    const auth = h.connects[0]?.auth;
    expect(auth?.authorizerName).toBe('Stack-Signed');
    expect(auth?.tokenKeyName).toBe('token');
    expect(auth?.signature).toMatch(/%3D$/);
    expect(decodeURIComponent(auth?.signature ?? '')).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(h.stdout().split('\n')[1]).toMatch(
      /^ {2}credentials: token <redacted> \(\d+ characters, key name token, valid 300 s, signed with \/keys\/device\.pem\), signature <redacted> \(\d+ characters, URL-encoded once\)$/,
    );
    expect(h.stdout()).not.toContain(auth?.tokenValue ?? 'no token');
  });

  it('uses a fake signer for --signed: key file at the repository root, token bound to the client id', async () => {
    const h = harness();
    expect(await run(['--signed', '--client_id', 'test-x'], h.deps)).toBe(0);
    expect(h.tokenRequests).toEqual([
      {
        clientId: 'test-x',
        keyFile: '/repo/.keys/token-signing-private.pem',
        now: new Date(1_700_000_000_025),
        lifetimeSeconds: 300,
      },
    ]);
    expect(h.connects[0]?.auth).toEqual({
      authorizerName: 'Stack-Signed',
      tokenKeyName: 'token',
      tokenValue: 'eyJ0b2tlbiI6MX0',
      signature: 'c2ln%2B%2Fw%3D',
    });
    expect(h.secretReads).toEqual([]);
  });

  it('lets flags override the outputs, and reads no secret when the password is given', async () => {
    const h = harness();
    expect(
      await run(
        [
          '--endpoint',
          'other.example.com',
          '--port',
          '8443',
          '--custom_auth_authorizer_name',
          'My Auth=1',
          '--custom_auth_password',
          'pw',
          '--client_id',
          'test-y',
        ],
        h.deps,
      ),
    ).toBe(0);
    expect(h.outputReads).toEqual([{ defaultFile: '/repo/cdk-outputs.json', required: false }]);
    expect(h.secretReads).toEqual([]);
    expect(h.connects[0]).toMatchObject({
      endpoint: 'other.example.com',
      port: 8443,
      clientId: 'test-y',
      auth: { username: 'test-y', password: 'pw', authorizerName: 'My%20Auth%3D1' },
    });
    expect(h.stdout().split('\n')[1]).toBe(
      '  credentials: user name test-y, password <redacted> (2 bytes, from --custom_auth_password)',
    );
  });

  it("connects with the upstream sample's flags and no outputs at all, to the endpoint's default authorizer", async () => {
    const h = harness({ outputs: undefined });
    expect(await run(['--endpoint', 'host.example.com', '--client_id', 'test-z'], h.deps)).toBe(0);
    expect(h.stdout().split('\n').slice(0, 2)).toEqual([
      "Connecting to host.example.com:443 over direct MQTT/TLS (ALPN mqtt) with the endpoint's default authorizer (unsigned), client id test-z",
      '  credentials: user name (none), no password',
    ]);
    expect(h.connects[0]?.auth).toEqual({});
  });

  it('takes endpoint, port, CA and the AWS API from the connection file beside the outputs', async () => {
    const pem = generateCa();
    const outputs: LoadedOutputs = {
      ...OUTPUTS,
      source: '/repo/.local-iot/outputs.json',
      values: { ...OUTPUTS.values, endpoint: 'localhost', region: 'us-east-1' },
      connection: {
        file: '/repo/.local-iot/connection.json',
        info: {
          endpoint: 'localhost',
          port: 8443,
          caFile: '/repo/.local-iot/ca.pem',
          awsEndpointUrl: 'http://127.0.0.1:4566',
          region: 'us-east-1',
          credentials: { accessKeyId: 'LOCAL', secretAccessKey: 'local' },
        },
      },
    };
    const h = harness({ outputs, files: { '/repo/.local-iot/ca.pem': pem } });
    expect(await run(['--outputs', '/repo/.local-iot/outputs.json'], h.deps)).toBe(0);
    expect(h.connects[0]).toMatchObject({ endpoint: 'localhost', port: 8443, caPem: pem });
    expect(h.secretReads).toEqual([
      {
        secretArn: SECRET_ARN,
        target: {
          region: 'us-east-1',
          endpoint: 'http://127.0.0.1:4566',
          credentials: { accessKeyId: 'LOCAL', secretAccessKey: 'local' },
        },
        deviceId: `test-${UUID}`,
      },
    ]);
    expect(h.stdout().split('\n')[2]).toBe(
      '  stack outputs: /repo/.local-iot/outputs.json (stack IotCustomAuthorizerStack), /repo/.local-iot/connection.json',
    );
  });

  it('resolves --ca_file against the directory the user ran the command in', async () => {
    const pem = generateCa();
    const h = harness({ files: { '/repo/ca.pem': pem } });
    expect(await run(['--ca_file', '../../ca.pem'], h.deps)).toBe(0);
    expect(h.connects[0]?.caPem).toBe(pem);
  });

  it.each([
    ['missing', {}, 'Error: cannot read --ca_file /repo/packages/client/ca.pem: ENOENT\n'],
    [
      'not a certificate',
      { '/repo/packages/client/ca.pem': 'hello' },
      'Error: --ca_file /repo/packages/client/ca.pem is not a PEM certificate: pass the CA certificate of the server\n',
    ],
  ])('exits 2 when the CA file is %s', async (_name, files, message) => {
    const h = harness({ files });
    expect(await run(['--ca_file', 'ca.pem'], h.deps)).toBe(2);
    expect(h.stderr()).toBe(message);
    expect(h.connects).toEqual([]);
  });

  it('exits 2 when the outputs lack the authorizer for the mode', async () => {
    const h = harness({ outputs: { ...OUTPUTS, values: { endpoint: ENDPOINT } } });
    expect(await run(['--signed'], h.deps)).toBe(2);
    expect(h.stderr()).toBe(
      'Error: /repo/cdk-outputs.json (stack IotCustomAuthorizerStack) has no SignedAuthorizerName output: pass --custom_auth_authorizer_name\n',
    );
  });

  it('exits 2 when there is no endpoint anywhere', async () => {
    const h = harness({ outputs: { ...OUTPUTS, values: {} } });
    expect(await run([], h.deps)).toBe(2);
    expect(h.stderr()).toBe(
      'Error: no endpoint: /repo/cdk-outputs.json has no IotEndpoint output; pass --endpoint <host> or deploy the stack\n',
    );
  });

  it('exits 1 when Secrets Manager fails for a reason that may pass', async () => {
    const h = harness({
      credentials: {
        deviceCredentials: () =>
          Promise.reject(new RuntimeError('reading the device secret failed: socket hang up')),
      },
    });
    expect(await run([], h.deps)).toBe(1);
    expect(h.stderr()).toBe('Error: reading the device secret failed: socket hang up\n');
  });

  it('exits 2 on a usage error, with JSON too when --json was given', async () => {
    const h = harness();
    expect(await run(['--json', '--port', 'x'], h.deps)).toBe(2);
    expect(h.stderr()).toBe(
      "Error: --port must be an integer between 1 and 65535, but 'x' was given\nRun with --help for usage.\n",
    );
    expect(JSON.parse(h.stdout())).toEqual({
      ok: false,
      error: { kind: 'usage', message: "--port must be an integer between 1 and 65535, but 'x' was given" },
    });
    expect(h.outputReads).toEqual([]);
  });

  it('prints the help and exits 0 without reading anything', async () => {
    const h = harness();
    expect(await run(['--help'], h.deps)).toBe(0);
    expect(h.stdout()).toBe(usage());
    expect(h.outputReads).toEqual([]);
  });

  it('exits 1 and prints the stack for an unexpected error', async () => {
    const h = harness({ result: new TypeError('boom') });
    expect(await run([], h.deps)).toBe(1);
    expect(h.stderr()).toMatch(/^Unexpected error \(please report it\): TypeError: boom\n {4}at /);
  });
});

const TOPIC = `devices/test-${UUID}`;
const CONNECTED_LINES = [
  'Connected: CONNACK 0x00 Success',
  `  session present: no, client id: test-${UUID}`,
  '  maximum QoS: 1, retain: yes, wildcard subscriptions: yes, shared subscriptions: yes, subscription identifiers: no',
  '  keep alive: 1200 s, session expiry: 0 s, receive maximum: 100, maximum packet size: 131072 bytes, topic alias maximum: 8',
];
const OWN_TOPICS_CAUSE = (topic: string): string =>
  `the policy returned by the authorizer only allows ${TOPIC} and ${TOPIC}/... for client id test-${UUID} (devices/\${iot:ClientId} and devices/\${iot:ClientId}/* for iot:Publish, iot:Receive and iot:Subscribe); ${topic} is outside it: leave --topic out, or use --topic ${TOPIC}/<sub-topic>`;

describe('main with messages (through run)', () => {
  it('--roundtrip subscribes to the device topic, publishes, receives the message back, disconnects and exits 0', async () => {
    const h = harness();
    expect(await run(['--roundtrip'], h.deps)).toBe(0);
    expect(h.stdout()).toBe(
      [
        ...CONNECTING_UNSIGNED,
        ...CONNECTED_LINES,
        `Subscription to ${TOPIC} (QoS 1): SUBACK 0x01 Granted QoS 1`,
        `Sent 1 message to ${TOPIC} (QoS 1): PUBACK 0x00 Success`,
        // The fake clock moves 25 ms per reading: sent, then received.
        `Received 1 of 1 message back on ${TOPIC}: round trip 25 ms`,
        'Disconnected cleanly',
        '',
      ].join('\n'),
    );
    expect(h.stderr()).toBe('');
    expect(h.subscribes).toEqual([TOPIC]);
    // The default payload: sequence number, count, client id and when it was sent.
    expect(h.publishes).toEqual([
      {
        topic: TOPIC,
        payload: `{"seq":1,"count":1,"clientId":"test-${UUID}","sentAt":"2023-11-14T22:13:20.050Z"}`,
      },
    ]);
    expect(h.disconnectTimeouts).toEqual([10_000]);
  });

  it('adds a roundtrip object with every reason code and the round-trip time to --json', async () => {
    const h = harness();
    expect(await run(['--roundtrip', '--json', '--count', '3'], h.deps)).toBe(0);
    expect(h.stderr()).toBe('');
    const report = JSON.parse(h.stdout()) as Record<string, unknown>;
    expect(report.ok).toBe(true);
    expect(report.roundtrip).toEqual({
      ok: true,
      topic: TOPIC,
      qos: 1,
      count: 3,
      suback: { reasonCodes: [{ topicFilter: TOPIC, reasonCode: 1, reasonName: 'Granted QoS 1' }] },
      // Sent at 50, 75, 100 ms; received at 125, 150, 175 ms.
      puback: [
        { seq: 1, reasonCode: 0, reasonName: 'Success', roundTripMs: 75 },
        { seq: 2, reasonCode: 0, reasonName: 'Success', roundTripMs: 75 },
        { seq: 3, reasonCode: 0, reasonName: 'Success', roundTripMs: 75 },
      ],
      expected: 3,
      received: 3,
      roundTripMs: 125,
    });
    expect(h.publishes.map((p) => (JSON.parse(p.payload) as { seq: number }).seq)).toEqual([1, 2, 3]);
    expect(Object.keys(report)).toEqual([
      'ok',
      'endpoint',
      'port',
      'transport',
      'alpn',
      'authentication',
      'authorizer',
      'signed',
      'clientId',
      'connack',
      'negotiatedSettings',
      'roundtrip',
      'disconnect',
      'outputs',
      'durationMs',
    ]);
  });

  it('--count with --topic and --message only publishes: no subscription, the payload as given', async () => {
    const h = harness();
    expect(
      await run(['--count', '2', '--topic', `${TOPIC}/status`, '--message', 'on', '--json'], h.deps),
    ).toBe(0);
    expect(h.subscribes).toEqual([]);
    expect(h.publishes).toEqual([
      { topic: `${TOPIC}/status`, payload: 'on' },
      { topic: `${TOPIC}/status`, payload: 'on' },
    ]);
    const report = JSON.parse(h.stdout()) as Record<string, unknown>;
    expect(report.roundtrip).toBeUndefined();
    expect(report.publish).toEqual({
      ok: true,
      topic: `${TOPIC}/status`,
      qos: 1,
      count: 2,
      puback: [
        { seq: 1, reasonCode: 0, reasonName: 'Success' },
        { seq: 2, reasonCode: 0, reasonName: 'Success' },
      ],
    });
  });

  it('receives identical payloads one for one with --message', async () => {
    const h = harness();
    expect(await run(['--roundtrip', '--count', '2', '--message', 'same', '--json'], h.deps)).toBe(0);
    const report = JSON.parse(h.stdout()) as { roundtrip: { received: number; ok: boolean } };
    expect(report.roundtrip).toMatchObject({ ok: true, received: 2 });
    expect(h.publishes).toEqual([
      { topic: TOPIC, payload: 'same' },
      { topic: TOPIC, payload: 'same' },
    ]);
  });

  it('does not take a retained message with the same payload for the one it sent', async () => {
    const h = harness({ broker: { retained: 'same', echo: false } });
    expect(await run(['--roundtrip', '--message', 'same', '--timeout', '0.2', '--json'], h.deps)).toBe(1);
    const report = JSON.parse(h.stdout()) as { roundtrip: { received: number; ok: boolean } };
    expect(report.roundtrip).toMatchObject({ ok: false, received: 0 });
  });

  it('exits 1 on SUBACK 0x87 for a topic outside the policy, shows the PUBACK too, and names the allowed topics', async () => {
    const h = harness({ broker: { suback: { reasonCodes: [0x87] }, puback: { reasonCode: 0x87 } } });
    expect(await run(['--roundtrip', '--topic', 'other/topic'], h.deps)).toBe(1);
    expect(h.stdout()).toBe(
      [
        ...CONNECTING_UNSIGNED,
        ...CONNECTED_LINES,
        'Subscription to other/topic (QoS 1): SUBACK 0x87 Not authorized',
        'Sent 1 message to other/topic (QoS 1): PUBACK 0x87 Not authorized',
        'No message can come back: the subscription was refused',
        'Disconnected cleanly',
        '',
      ].join('\n'),
    );
    expect(h.stderr()).toBe(
      [
        'Round trip failed: SUBACK 0x87 Not authorized for other/topic; PUBACK 0x87 Not authorized for other/topic',
        'Likely causes:',
        `  - ${OWN_TOPICS_CAUSE('other/topic')}`,
        '',
      ].join('\n'),
    );
    expect(h.disconnectTimeouts).toEqual([10_000]);
  });

  it('reports SUBACK 0x87 in --json: top-level error and causes, reason codes in the roundtrip object', async () => {
    const h = harness({
      broker: { suback: { reasonCodes: [0x87], reasonString: 'denied' }, puback: { reasonCode: 0x87 } },
    });
    expect(await run(['--roundtrip', '--topic', 'other/topic', '--json'], h.deps)).toBe(1);
    expect(h.stderr()).toBe('');
    const report = JSON.parse(h.stdout()) as Record<string, unknown>;
    expect(report).toMatchObject({
      ok: false,
      disconnect: 'clean',
      error: {
        kind: 'subscribe-refused',
        message:
          'Round trip failed: SUBACK 0x87 Not authorized for other/topic (server says: denied); PUBACK 0x87 Not authorized for other/topic',
      },
      likelyCauses: [OWN_TOPICS_CAUSE('other/topic')],
    });
    expect(report.roundtrip).toEqual({
      ok: false,
      topic: 'other/topic',
      qos: 1,
      count: 1,
      suback: {
        reasonCodes: [{ topicFilter: 'other/topic', reasonCode: 0x87, reasonName: 'Not authorized' }],
        reasonString: 'denied',
      },
      puback: [{ seq: 1, reasonCode: 0x87, reasonName: 'Not authorized' }],
      expected: 0,
      received: 0,
      roundTripMs: null,
    });
  });

  it('exits 1 on PUBACK 0x87 on a granted subscription, without waiting for a message', async () => {
    const h = harness({ broker: { puback: { reasonCode: 0x87 } } });
    const started = Date.now();
    expect(await run(['--roundtrip', '--count', '2', '--topic', 'devices/someone-else'], h.deps)).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(h.stdout().split('\n').slice(7, 10)).toEqual([
      'Subscription to devices/someone-else (QoS 1): SUBACK 0x01 Granted QoS 1',
      'Sent 2 messages to devices/someone-else (QoS 1): PUBACK 0x87 Not authorized',
      'No message can come back: none was accepted',
    ]);
    expect(h.stderr()).toBe(
      [
        'Round trip failed: PUBACK 0x87 Not authorized for devices/someone-else (2 of 2 messages)',
        'Likely causes:',
        `  - ${OWN_TOPICS_CAUSE('devices/someone-else')}`,
        '',
      ].join('\n'),
    );
  });

  it('exits 1 on PUBACK 0x87 in publish-only mode', async () => {
    const h = harness({ broker: { puback: { reasonCode: 0x87 } } });
    expect(await run(['--topic', 'other/topic', '--json'], h.deps)).toBe(1);
    const report = JSON.parse(h.stdout()) as Record<string, unknown>;
    expect(report.error).toEqual({
      kind: 'publish-refused',
      message: 'Publish failed: PUBACK 0x87 Not authorized for other/topic',
    });
    expect(report.publish).toEqual({
      ok: false,
      topic: 'other/topic',
      qos: 1,
      count: 1,
      puback: [{ seq: 1, reasonCode: 0x87, reasonName: 'Not authorized' }],
    });
  });

  it('blames the policy rather than the topic when the device topic itself is refused', async () => {
    const h = harness({ broker: { suback: { reasonCodes: [0x87] } } });
    expect(await run(['--roundtrip'], h.deps)).toBe(1);
    expect(h.stderr().split('\n')).toEqual([
      `Round trip failed: SUBACK 0x87 Not authorized for ${TOPIC}`,
      'Likely causes:',
      `  - the policy the authorizer returned does not allow iot:Subscribe on topicfilter/${TOPIC}, although this project's policy allows a client its own topics: the deployed authorizer returns another policy, or its ARNs name another region or account`,
      '',
    ]);
  });

  it('exits 1 within --timeout when the message never comes back, naming iot:Receive', async () => {
    const h = harness({ broker: { echo: false } });
    expect(await run(['--roundtrip', '--timeout', '0.3', '--json'], h.deps)).toBe(1);
    const report = JSON.parse(h.stdout()) as Record<string, unknown>;
    expect(report.error).toEqual({
      kind: 'not-received',
      message: `Round trip failed: 0 of 1 message came back on ${TOPIC} within 0.3 s`,
    });
    expect(report.likelyCauses).toEqual([
      `the policy the authorizer returned does not allow iot:Receive on topic/${TOPIC}; AWS IoT then drops the delivery without any reason code (this project's policy allows it: is the deployed authorizer returning another policy?)`,
      'the subscription was granted but the broker did not route the message to it (on the local gateway, its log shows every delivery decision)',
      'the round trip takes longer than --timeout 0.3 s on this network: raise --timeout',
    ]);
    expect(report.roundtrip).toMatchObject({
      ok: false,
      puback: [{ seq: 1, reasonCode: 0, reasonName: 'Success' }],
      expected: 1,
      received: 0,
      roundTripMs: null,
    });
    expect(report.disconnect).toBe('clean');
    expect(h.disconnectTimeouts).toEqual([300]);
  });

  it('prints the missing message in text and names the time waited', async () => {
    const h = harness({ broker: { echo: false } });
    expect(await run(['--roundtrip', '--timeout', '0.2'], h.deps)).toBe(1);
    expect(h.stdout()).toContain(
      `Received 0 of 1 message back on ${TOPIC} within 0.2 s\nDisconnected cleanly\n`,
    );
    expect(h.stderr().split('\n')[0]).toBe(
      `Round trip failed: 0 of 1 message came back on ${TOPIC} within 0.2 s`,
    );
  });

  it('exits 1 within --timeout when no SUBACK comes, sending nothing', async () => {
    const h = harness({ broker: { suback: 'never' } });
    expect(await run(['--roundtrip', '--timeout', '0.2'], h.deps)).toBe(1);
    expect(h.publishes).toEqual([]);
    expect(h.stdout()).toContain(`Subscription to ${TOPIC} (QoS 1): no SUBACK within 0.2 s\n`);
    expect(h.stderr().split('\n').slice(0, 2)).toEqual([
      `Round trip failed: no answer (the SUBACK for ${TOPIC}) within 0.2 s`,
      'Likely causes:',
    ]);
  });

  it('exits 1 within --timeout when no PUBACK comes', async () => {
    const h = harness({ broker: { puback: 'never' } });
    expect(await run(['--count', '1', '--timeout', '0.2', '--json'], h.deps)).toBe(1);
    const report = JSON.parse(h.stdout()) as Record<string, unknown>;
    expect(report.error).toEqual({
      kind: 'message-timeout',
      message: `Publish failed: no answer (the PUBACK to ${TOPIC}) within 0.2 s`,
    });
    expect(report.publish).toMatchObject({
      puback: [{ seq: 1, reasonCode: null, reasonName: null, error: 'no PUBACK within 0.2 s' }],
    });
  });

  it('stops at once when the server closes the connection, and says so', async () => {
    const h = harness({
      broker: { loseOnPublish: 'the server sent DISCONNECT 0x87' },
      disconnect: { clean: false, reason: 'the server sent DISCONNECT 0x87' },
    });
    const started = Date.now();
    expect(await run(['--roundtrip'], h.deps)).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(h.stderr().split('\n')[0]).toBe(
      `Round trip failed: the connection was lost while waiting for the PUBACK to ${TOPIC}: the server sent DISCONNECT 0x87`,
    );
    expect(h.stderr()).toContain('Disconnect was not clean: the server sent DISCONNECT 0x87\n');
  });

  it('reports an SDK error on subscribe', async () => {
    const h = harness({ broker: { suback: new Error('AWS_ERROR_MQTT5_SUBSCRIBE_OPTIONS_VALIDATION') } });
    expect(await run(['--roundtrip'], h.deps)).toBe(1);
    expect(h.stderr().split('\n').slice(0, 3)).toEqual([
      `Round trip failed: the client could not subscribe to ${TOPIC}: AWS_ERROR_MQTT5_SUBSCRIBE_OPTIONS_VALIDATION`,
      'Likely causes:',
      '  - run again with --verbosity debug to see the SDK log on stderr',
    ]);
  });

  it('reports roundtrip null in --json when the connection is refused first', async () => {
    const h = harness({
      result: { status: 'refused', connack: { reasonCode: 0x86, sessionPresent: false, properties: {} } },
    });
    expect(await run(['--roundtrip', '--json'], h.deps)).toBe(1);
    const report = JSON.parse(h.stdout()) as Record<string, unknown>;
    expect(report.roundtrip).toBeNull();
    expect((report.error as { kind: string }).kind).toBe('refused');
  });

  it('exits 2 when the client id cannot make the default topic', async () => {
    const h = harness();
    expect(await run(['--roundtrip', '--client_id', 'test-a/b/c/d/e/f/g/h'], h.deps)).toBe(2);
    expect(h.stderr()).toBe(
      "Error: the client id test-a/b/c/d/e/f/g/h does not make a valid topic for the messages (devices/test-a/b/c/d/e/f/g/h: it has 9 levels and AWS IoT accepts at most 8 (7 '/')): pass --topic, or a --client_id of letters, digits, _ . : and -\nRun with --help for usage.\n",
    );
    expect(h.connects).toEqual([]);
  });
});

/** A real CA certificate to pass as --ca_file (main checks the content with X509Certificate). */
function generateCa(): string {
  return rootCertificates[0] as string;
}
