import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  deriveDevicePassword,
  serializeMasterSecret,
  type StormErrorReport,
  type StormReport,
} from '@iot-custom-auth/protocol';
import type { SecretsManagerFactory } from '../../src/storm/storm-caches';
import type { LoadedOutputs, OutputsReader } from '../../src/outputs';
import { stormMain, type StormDeps, type StormExitCode } from '../../src/storm/storm-main';
import { inMemoryFiles } from '../fixtures/in-memory-files';
import { FakeConnector } from './support/fake-connector';
import type { TlsProbe, TlsProbeRequest } from '../../src/tls-probe';

// stormMain() with fakes for every side effect: the connector, the outputs, the secret, files, streams.

const MASTER_KEY = 'k'.repeat(40);
const PASSWORD = 'Sup3r+Secret/Pass=';
/** Each storm client id is its own device, with the password derived for it. */
const passwordOf = (username: string | undefined): string =>
  username === 'device' ? PASSWORD : deriveDevicePassword(MASTER_KEY, username ?? '');
const ENDPOINT = 'abc123-ats.iot.eu-west-1.amazonaws.com';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:device-AbCdEf';

const AWS_OUTPUTS: LoadedOutputs = {
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

interface Harness {
  readonly deps: StormDeps;
  readonly connector: FakeConnector;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly written: Map<string, string>;
  readonly calls: { outputs: number; secrets: number };
  readonly interrupt: AbortController;
}

function harness(
  options: {
    outputs?: LoadedOutputs | undefined;
    files?: Record<string, string>;
    tty?: boolean;
    connector?: FakeConnector;
    tlsProbe?: TlsProbe;
  } = {},
): Harness {
  let out = '';
  let err = '';
  const calls = { outputs: 0, secrets: 0 };
  const written = new Map<string, string>();
  const outputs: OutputsReader = {
    read: () => {
      calls.outputs++;
      return Promise.resolve('outputs' in options ? options.outputs : AWS_OUTPUTS);
    },
  };
  const secretsManager: SecretsManagerFactory = () => ({
    send: ((command: unknown) => {
      expect(command).toBeInstanceOf(GetSecretValueCommand);
      calls.secrets++;
      return Promise.resolve({
        SecretString: serializeMasterSecret({ masterKey: MASTER_KEY, revokedDevices: new Map() }),
      });
    }) as ReturnType<SecretsManagerFactory>['send'],
  });
  const connector = options.connector ?? new FakeConnector({ passwordOf });
  const interrupt = new AbortController();
  let id = 0;
  const deps: StormDeps = {
    stdout: (text) => (out += text),
    stderr: (text) => (err += text),
    stderrIsTty: options.tty ?? false,
    outputs,
    secretsManager,
    readFile: inMemoryFiles(options.files ?? {}),
    writeFile: (path, text) => {
      written.set(path, text);
      return Promise.resolve();
    },
    connector,
    tlsProbe: options.tlsProbe ?? (() => Promise.resolve({ outcome: 'ok' })),
    clock: Date.now,
    randomId: () => `0b8f7c1e-2a3d-4e5f-8a9b-${String(id++).padStart(12, '0')}`,
    paths: { invocationDir: '/work', repoRoot: '/repo' },
    interrupt: interrupt.signal,
    progressEveryMs: 0,
  };
  return { deps, connector, stdout: () => out, stderr: () => err, written, calls, interrupt };
}

async function storm(h: Harness, argv: string[]): Promise<{ code: StormExitCode; report: StormReport }> {
  const code = await stormMain([...argv, '--json'], h.deps);
  return { code, report: JSON.parse(h.stdout()) as StormReport };
}

describe('stormMain', () => {
  it('makes the planned connections with exact counts, reading the outputs and the secret once', async () => {
    const h = harness();
    const { code, report } = await storm(h, [
      '--connections',
      '8',
      '--rate',
      '200',
      '--bad-credentials',
      '0.25',
      '--publish',
      '2',
      '--run-id',
      'r7',
    ]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.summary.connack.map((c) => [c.reasonCode, c.count, c.expected])).toEqual([
      [0x00, 6, 6],
      [0x86, 2, 2],
    ]);
    expect(report.summary.publishes).toEqual({ requested: 12, acknowledged: 12, refused: 0, failed: 0 });
    expect(report.connections.filter((c) => c.badCredentials).map((c) => c.n)).toEqual([3, 7]);
    expect(h.connector.requests.map((r) => r.clientId).sort()).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((n) => `test-storm-r7-1-${n}`).sort(),
    );
    const own = h.connector.published.filter((p) => p.clientId === 'test-storm-r7-1-0');
    expect(own.map((p) => [p.topic, (JSON.parse(p.payload) as { seq: number }).seq])).toEqual([
      ['devices/test-storm-r7-1-0', 1],
      ['devices/test-storm-r7-1-0', 2],
    ]);
    expect(h.connector.open).toBe(0);
    expect(h.calls).toEqual({ outputs: 1, secrets: 1 });
    expect(report.target).toEqual({
      endpoint: ENDPOINT,
      port: 443,
      transport: 'mqtt',
      signed: false,
      authorizer: 'Stack-Unsigned',
      aws: true,
    });
    // The summary goes to stderr under --json; stdout holds the one JSON object.
    expect(h.stdout().trim().split('\n')).toHaveLength(1);
    expect(h.stderr()).toMatch(/0x86 Bad user name or password\s+2\s+2/);
    expect(h.stderr()).not.toContain(PASSWORD);
    expect(h.stdout()).not.toContain(PASSWORD);
  });

  it('exits 1 on unexpected refusals and transport errors', async () => {
    const h = harness({
      connector: new FakeConnector({
        passwordOf,
        failFor: (request) =>
          request.clientId.endsWith('-1')
            ? {
                status: 'failed',
                failure: { kind: 'tls', name: 'AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE', message: 'tls' },
              }
            : request.clientId.endsWith('-2')
              ? { status: 'timeout', afterMs: 10 }
              : undefined,
      }),
    });
    const { code, report } = await storm(h, ['--connections', '3', '--rate', '100', '--run-id', 'r1']);
    expect(code).toBe(1);
    expect(report.summary.errorsByKind).toEqual([
      { kind: 'timeout', count: 1 },
      { kind: 'tls', count: 1 },
    ]);
    expect(report.summary.unexpected).toBe(2);
  });

  it('stops before any connection when the TLS check fails, naming the problem (exit 1)', async () => {
    const probes: TlsProbeRequest[] = [];
    const h = harness({
      tlsProbe: (request) => {
        probes.push(request);
        return Promise.resolve({ outcome: 'untrusted', code: 'SELF_SIGNED_CERT_IN_CHAIN' });
      },
    });
    expect(await stormMain(['--connections', '5', '--rate', '50'], h.deps)).toBe(1);
    expect(h.connector.requests).toHaveLength(0);
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ port: 443, alpn: ['mqtt'] });
    expect(h.stderr()).toContain(
      'failed before the storm started (SELF_SIGNED_CERT_IN_CHAIN: the server certificate is not trusted), so no storm connection was made: check --ca_file and --endpoint',
    );
  });

  it('refuses a plan over AWS IoT Core connect quota, unless --allow-over-quota', async () => {
    const refused = harness();
    expect(await stormMain(['--connections', '2', '--rate', '600'], refused.deps)).toBe(2);
    expect(refused.stderr()).toContain(
      `--rate 600 is more than the account's 500 connect requests per second (AWS IoT Core quota "Connect requests per second per account"; AWS throttles the rest): lower --rate, pass --account-connect-quota with your account's raised quota, or --allow-over-quota to storm anyway`,
    );
    expect(refused.connector.requests).toHaveLength(0);

    const allowed = harness();
    expect(await stormMain(['--connections', '2', '--rate', '600', '--allow-over-quota'], allowed.deps)).toBe(
      0,
    );
    expect(allowed.stderr()).toContain('running anyway (--allow-over-quota)');

    const raised = harness();
    expect(
      await stormMain(
        ['--connections', '2', '--rate', '600', '--account-connect-quota', '1000'],
        raised.deps,
      ),
    ).toBe(0);
  });

  it('does not apply AWS quotas to a loopback endpoint', async () => {
    const h = harness({ outputs: undefined });
    const code = await stormMain(
      [
        '--endpoint',
        'localhost',
        '--port',
        '8443',
        '--custom_auth_username',
        'device',
        '--custom_auth_password',
        PASSWORD,
        '--connections',
        '2',
        '--rate',
        '600',
      ],
      h.deps,
    );
    expect(code).toBe(0);
    expect(h.calls.secrets).toBe(0);
  });

  it('on Ctrl-C stops arrivals, ends the holds, closes every connection and exits 130', async () => {
    const h = harness();
    const running = storm(h, ['--connections', '6', '--rate', '400', '--concurrency', '3', '--hold', '60']);
    await waitFor(() => h.connector.open === 3, running);
    h.interrupt.abort('SIGINT');
    const { code, report } = await running;
    expect(code).toBe(130);
    expect(h.connector.open).toBe(0);
    expect(h.connector.disconnects).toBe(3);
    expect(report.stoppedBy).toBe('interrupted');
    expect(report.summary).toMatchObject({ connected: 3, notStarted: 3 });
    expect(report.ok).toBe(false);
  });

  it('at the deadline closes every connection and exits 1', async () => {
    const h = harness();
    const { code, report } = await storm(h, [
      '--connections',
      '4',
      '--rate',
      '400',
      '--hold',
      '60',
      '--deadline',
      '0.3',
    ]);
    expect(code).toBe(1);
    expect(report.stoppedBy).toBe('deadline');
    expect(h.connector.open).toBe(0);
    expect(report.summary.connected).toBe(4);
  });

  it('keeps at most --concurrency connections open', async () => {
    const h = harness();
    const { code } = await storm(h, [
      '--connections',
      '12',
      '--rate',
      '400',
      '--concurrency',
      '4',
      '--hold',
      '0.05',
    ]);
    expect(code).toBe(0);
    expect(h.connector.maxOpen).toBe(4);
  });

  it('marks a connection the server ended during the hold as lost', async () => {
    const h = harness();
    const running = storm(h, [
      '--connections',
      '2',
      '--rate',
      '400',
      '--hold',
      '60',
      '--run-id',
      'r1',
      '--deadline',
      '5',
    ]);
    await waitFor(() => h.connector.accepted === 2, running);
    h.connector.lose('test-storm-r1-1-0');
    await waitFor(() => h.connector.open === 1, running);
    h.interrupt.abort('SIGINT');
    const { report } = await running;
    expect(report.connections.map((c) => c.disconnect)).toEqual(['lost', 'clean']);
    expect(report.connections[0]?.expected).toBe(false);
  });

  it('prints one JSON error object and exits 2 on a usage error under --json', async () => {
    const h = harness();
    expect(await stormMain(['--rate', 'fast', '--json'], h.deps)).toBe(2);
    const error = JSON.parse(h.stdout()) as StormErrorReport;
    expect(error).toEqual({
      ok: false,
      error: {
        kind: 'usage',
        message: "--rate must be a number greater than 0 and at most 100000, but 'fast' was given",
      },
    });
  });

  it('says "run with --help" once after a usage error', async () => {
    const h = harness();
    expect(await stormMain(['--conections', '5'], h.deps)).toBe(2);
    expect(h.stderr()).toBe(
      'Error: unknown flag --conections (did you mean --connections?)\nRun with --help for usage.\n',
    );
    expect(h.connector.requests).toHaveLength(0);
  });

  it('exits 2 before connecting when the configuration is wrong', async () => {
    const h = harness({ outputs: undefined });
    expect(await stormMain(['--connections', '2'], h.deps)).toBe(2);
    expect(h.connector.requests).toHaveLength(0);
  });

  it('redraws the progress line in place on a terminal and prints plain lines otherwise', async () => {
    const tty = harness({ tty: true });
    await stormMain(['--connections', '2', '--rate', '400', '--hold', '0.6'], tty.deps);
    // Carriage return and erase-line (ESC [ K), then the final figures.
    const redraw = `\r${String.fromCharCode(0x1b)}[K`;
    expect(tty.stderr()).toContain(`${redraw}storm 2/2: connected 2, refused 0, errors 0, open 0, `);
    expect(tty.stderr()).toMatch(/storm 2\/2: connected 2, .*, p50 [\d.]+ ms, p99 [\d.]+ ms\n/);
    const plain = harness();
    await stormMain(['--connections', '2', '--rate', '400', '--hold', '0.6'], plain.deps);
    expect(plain.stderr()).not.toContain('\r');
    expect(plain.stderr()).toMatch(/^storm 2\/2: connected 2/m);
  });

  it('writes the HTML report with the same data as --json', async () => {
    const h = harness();
    const { report } = await storm(h, ['--connections', '3', '--rate', '100', '--report', 'out/storm.html']);
    const html = h.written.get('/work/out/storm.html') as string;
    const embedded = /<script type="application\/json" id="storm-data">(.*?)<\/script>/s.exec(
      html,
    )?.[1] as string;
    expect(JSON.parse(embedded)).toEqual(report);
  });

  it('merges shard reports into the totals of one run', async () => {
    const single = harness();
    const one = await storm(single, [
      '--connections',
      '9',
      '--rate',
      '500',
      '--bad-credentials',
      '0.34',
      '--run-id',
      'm1',
    ]);
    const shards: StormReport[] = [];
    for (const shard of ['1/3', '2/3', '3/3']) {
      const h = harness();
      shards.push(
        (
          await storm(h, [
            '--connections',
            '9',
            '--rate',
            '500',
            '--bad-credentials',
            '0.34',
            '--run-id',
            'm1',
            '--shard',
            shard,
          ])
        ).report,
      );
    }
    const files = Object.fromEntries(shards.map((r, i) => [`/work/s${i + 1}.json`, JSON.stringify(r)]));
    const merger = harness({ files });
    const code = await stormMain(['merge', 's1.json', 's2.json', 's3.json', '--json'], merger.deps);
    const merged = JSON.parse(merger.stdout()) as StormReport;
    expect(code).toBe(0);
    expect(merged.summary.connack).toEqual(one.report.summary.connack);
    expect(merged.summary.connack.map((c) => [c.reasonCode, c.count])).toEqual([
      [0x00, 6],
      [0x86, 3],
    ]);
    expect(merged.connections.map((c) => [c.n, c.outcome, c.badCredentials])).toEqual(
      one.report.connections.map((c) => [c.n, c.outcome, c.badCredentials]),
    );
    expect(merged.shards).toEqual({ count: 3, included: [1, 2, 3] });
  });

  it('exits 2 when a merge file is missing or not a report', async () => {
    const h = harness({ files: { '/work/bad.json': '{"format":"other"}' } });
    expect(await stormMain(['merge', 'missing.json'], h.deps)).toBe(2);
    expect(h.stderr()).toContain('cannot read /work/missing.json: ENOENT');
    expect(await stormMain(['merge', 'bad.json'], h.deps)).toBe(2);
    expect(h.stderr()).toContain('/work/bad.json is not a storm report');
  });
});

/**
 * Waits for `condition` without a fixed sleep: polls on timers until it holds, and fails at once if the storm
 * (`running`) ends first.
 */
async function waitFor(condition: () => boolean, running: Promise<unknown>): Promise<void> {
  let ended = false;
  void running.finally(() => (ended = true));
  while (!condition()) {
    if (ended) throw new Error('the storm ended before the awaited state');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
