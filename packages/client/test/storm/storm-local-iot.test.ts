import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { StormReport } from '@iot-custom-auth/protocol';
import type { ConnectLogEntry, DisconnectLogEntry } from '../../../local-iot/src/gateway/gateway-log';
import {
  REPO_ROOT,
  serveSynthesizedStack,
  type ServedStack,
} from '../../../local-iot/test/support/synthesized-stack';

// The storm CLI as real child processes (through tsx, from the sources) against local-iot serving the real
// synth with the real Lambda bundle, on loopback: exact counts for a mix of good and bad credentials, two
// shards merged against one run, the HTML report rendered in headless chromium, and Ctrl-C leaving no
// connection open on the gateway. Small storms (a dozen connections) and low concurrency, so a busy CI
// machine's Lambda cold starts stay within AWS IoT's 5 s.

const TSX = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const STORM_CLI = path.join(REPO_ROOT, 'packages', 'client', 'src', 'storm', 'storm-cli.ts');

let served: ServedStack;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'storm-e2e-'));
  served = await serveSynthesizedStack();
}, 180_000);

afterAll(async () => {
  await served?.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface StormRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts the storm CLI against the served stack; `done` settles when the process has exited. */
function startStorm(args: readonly string[]): { child: ChildProcess; done: Promise<StormRun> } {
  // A storm reads the served stack's outputs; `merge` reads only its files.
  const argv = args[0] === 'merge' ? args : ['--outputs', served.local.outputsFile, ...args];
  const child = spawn(
    process.execPath,
    [TSX, '--tsconfig', path.join(REPO_ROOT, 'tsconfig.json'), STORM_CLI, ...argv],
    { cwd: scratch, env: { ...process.env, npm_package_name: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<StormRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

async function storm(args: readonly string[]): Promise<StormRun> {
  return startStorm(args).done;
}

function reportOf(run: StormRun): StormReport {
  try {
    return JSON.parse(run.stdout) as StormReport;
  } catch {
    throw new Error(`storm printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** The plan of the good/bad mix: 12 connections, every 4th with wrong credentials. */
function mix(concurrency: number): string[] {
  return [
    '--connections',
    '12',
    '--rate',
    '20',
    '--concurrency',
    String(concurrency),
    '--bad-credentials',
    '0.25',
    '--publish',
    '1',
    '--timeout',
    '20',
    '--json',
  ];
}

/** The connections that did not end as planned, with the gateway's reason: the failure message of a test. */
function unexpected(report: StormReport): unknown[] {
  return report.connections
    .filter((c) => !c.expected)
    .map((c) => ({
      n: c.n,
      reasonCode: c.reasonCode,
      error: c.errorMessage,
      gateway: served.gatewayLog.find((e) => e.event === 'connect' && e.clientId === c.clientId),
    }));
}

function connackCounts(report: StormReport): [number, number][] {
  return report.summary.connack.map((c) => [c.reasonCode, c.count]);
}

function connectsOf(runId: string): ConnectLogEntry[] {
  return served.gatewayLog.filter(
    (e): e is ConnectLogEntry =>
      e.event === 'connect' && (e.clientId ?? '').startsWith(`test-storm-${runId}-`),
  );
}

let single: StormReport;

it('counts exactly 9 accepted (0x00) and 3 refused with bad credentials (0x86), and the gateway agrees', async () => {
  const html = path.join(scratch, 'storm.html');
  const run = await storm([...mix(2), '--run-id', 'e2e1', '--report', html]);
  single = reportOf(run);
  expect(unexpected(single)).toEqual([]);
  expect(run.code).toBe(0);
  expect(connackCounts(single)).toEqual([
    [0x00, 9],
    [0x86, 3],
  ]);
  expect(single.connections.filter((c) => c.reasonCode === 0x86).map((c) => c.n)).toEqual([3, 7, 11]);
  expect(single.summary.publishes).toEqual({ requested: 9, acknowledged: 9, refused: 0, failed: 0 });
  expect(single.target).toMatchObject({ aws: false, signed: false, transport: 'mqtt' });
  // The gateway's own decision log: one decision per connection, the Lambda invoked for each.
  const decisions = connectsOf('e2e1');
  expect(decisions).toHaveLength(12);
  expect(decisions.filter((d) => d.decision === 'allow')).toHaveLength(9);
  expect(decisions.filter((d) => d.reasonCodeNumber === 0x86 && d.lambdaInvoked)).toHaveLength(3);
  expect(run.stderr).toMatch(/0x86 Bad user name or password\s+3\s+3/);
}, 120_000);

it('renders the HTML report in headless chromium with the expected bars and series', async () => {
  await new Promise<void>((resolve, reject) =>
    execFile(
      path.join(REPO_ROOT, 'scripts', 'ensure-debian-packages.sh'),
      ['chromium=chromium'],
      (error, _o, stderr) => (error ? reject(new Error(`cannot install chromium: ${stderr}`)) : resolve()),
    ),
  );
  const profile = mkdtempSync(path.join(scratch, 'chromium-'));
  const dom = await new Promise<string>((resolve, reject) =>
    execFile(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--dump-dom',
        `file://${path.join(scratch, 'storm.html')}`,
      ],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`chromium failed: ${stderr}`)) : resolve(stdout)),
    ),
  );
  expect(dom).toContain('<body data-rendered="true">');
  const series = new Map<string, number>();
  for (const m of dom.matchAll(/<g class="series series-\w+" data-series="(\w+)" data-total="(\d+)">/g)) {
    series.set(m[1] as string, Number(m[2]));
  }
  expect(Object.fromEntries(series)).toEqual({ connected: 9, refused: 3, errors: 0 });
  const bars = [...dom.matchAll(/<rect class="bar"[^>]*data-count="(\d+)"/g)].map((m) => Number(m[1]));
  expect(bars).toHaveLength(single.summary.histogram.length);
  expect(bars.reduce((a, b) => a + b, 0)).toBe(12);
  expect(bars).toEqual(single.summary.histogram.map((b) => b.count));
  const rows = [...dom.matchAll(/<tr data-reason-code="(\d+)" data-count="(\d+)">/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  expect(rows).toEqual([
    [0x00, 9],
    [0x86, 3],
  ]);
}, 120_000);

it('two shards merged give the same totals as one run', async () => {
  const [one, two] = await Promise.all([
    storm([...mix(1), '--run-id', 'e2e2', '--shard', '1/2']),
    storm([...mix(1), '--run-id', 'e2e2', '--shard', '2/2']),
  ]);
  expect([...unexpected(reportOf(one)), ...unexpected(reportOf(two))]).toEqual([]);
  expect([one.code, two.code]).toEqual([0, 0]);
  expect(reportOf(one).summary.connections + reportOf(two).summary.connections).toBe(12);
  const files = [path.join(scratch, 'shard-1.json'), path.join(scratch, 'shard-2.json')];
  await writeFile(files[0] as string, one.stdout);
  await writeFile(files[1] as string, two.stdout);
  const merged = await storm(['merge', ...files, '--json']);
  const report = reportOf(merged);
  expect(merged.code).toBe(0);
  expect(report.shards).toEqual({ count: 2, included: [1, 2] });
  expect(connackCounts(report)).toEqual(connackCounts(single));
  expect(report.summary.publishes).toEqual(single.summary.publishes);
  expect(report.connections.map((c) => [c.n, c.badCredentials, c.reasonCode])).toEqual(
    single.connections.map((c) => [c.n, c.badCredentials, c.reasonCode]),
  );
  expect(report.summary).toMatchObject({ connected: 9, refused: 3, errors: 0, expected: 12 });
  expect(connectsOf('e2e2')).toHaveLength(12);
  expect(JSON.parse(await readFile(files[0] as string, 'utf8'))).toMatchObject({ shards: { included: [1] } });
}, 180_000);

it('Ctrl-C closes every connection it opened (the gateway counts none left) and exits 130', async () => {
  const { gateway } = served.local;
  const { child, done } = startStorm([
    '--connections',
    '4',
    '--rate',
    '20',
    '--concurrency',
    '2',
    '--hold',
    '300',
    '--timeout',
    '20',
    '--run-id',
    'e2e3',
  ]);
  // Both held connections are up, as the gateway counts them.
  await until(
    () =>
      connectsOf('e2e3').filter((d) => d.decision === 'allow').length === 2 && gateway.connectedClients >= 2,
    done,
  );
  child.kill('SIGINT');
  const run = await done;
  expect({ code: run.code, signal: run.signal }).toEqual({ code: 130, signal: null });
  expect(run.stderr).toContain('SIGINT: stopping the storm and closing every connection');
  expect(run.stdout).toContain('stopped early (interrupted)');
  // The storm ended its sessions itself, with DISCONNECT, before it exited.
  const ends = served.gatewayLog.filter(
    (e): e is DisconnectLogEntry =>
      e.event === 'disconnect' && (e.clientId ?? '').startsWith('test-storm-e2e3-'),
  );
  expect(ends.map((e) => e.cause)).toEqual(['client-disconnect', 'client-disconnect']);
  await until(() => gateway.openConnections === 0);
  expect(gateway.connectedClients).toBe(0);
}, 120_000);

/** Polls `condition` on timers (no fixed sleep); fails at once if `running` ends first. */
async function until(condition: () => boolean, running?: Promise<unknown>): Promise<void> {
  let ended = false;
  void running?.finally(() => (ended = true));
  while (!condition()) {
    if (ended) throw new Error('the storm process ended before the awaited state');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
