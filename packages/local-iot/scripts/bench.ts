// `npm run bench`: what a connect costs local-iot next to mosquitto 2.0, measured in one run. Not a test: it
// prints figures and never fails on timing (it exits 1 only when it cannot run, e.g. mosquitto is missing).
//   npm run bench [-- --connects N --rounds R --concurrency C --warm N --cold N --cdk-out DIR --profile DIR
//                    --rows ROWS --skip-lambda --baseline DIR]
// 1. The Lambda runner alone in both isolations: cold and warm invocation, CPU per warm invocation.
// 2. Connect storms against two server processes on loopback with the same ECDSA P-256 certificate: local-iot
//    (dist/cli.js: gateway, custom-auth pipeline, the real Lambda bundle in its environment processes) and
//    mosquitto (TLS, a password file). One load generator (`mqtt` from npm) in this process; rounds interleaved
//    so the shared machine's noise falls on both. Server CPU per connect = user + system time of the server's
//    process tree over the measured batches, read from /proc.
// 3. Beside them, the Node.js TLS floor (bench/node-tls-floor.ts): node:tls and mqtt-packet doing only CONNECT,
//    password and CONNACK, so the table separates local-iot's own cost from what Node.js's TLS costs.
// 4. With --baseline DIR, another local-iot build (its dist directory, e.g. an earlier revision's) in the same
//    rounds: what a change to local-iot saves or costs, measured side by side rather than across runs.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  STACK_OUTPUTS,
  TOKEN_SIGNING_KEY_FILES,
  buildCustomAuthUsername,
  createToken,
  findWorkspaceRoot,
  signToken,
} from '@iot-custom-auth/protocol';
import { ISOLATIONS } from '../src/lambda/lambda-runner';
import {
  runConnectBatch,
  type BenchTransport,
  type ConnectCredentials,
  type ConnectTarget,
} from './bench/connect-load';
import { unsignedLoginFor } from './bench/device-credentials';
import { benchIsolation } from './bench/lambda-bench';
import { descendantPids, settledTreeCpu } from './bench/process-cpu';
import {
  randomPassword,
  startLocalIotServer,
  startMosquitto,
  startNodeTlsFloor,
  type BenchServer,
  type LocalIotServer,
} from './bench/servers';

const repoRoot = findWorkspaceRoot(__dirname) as string;
const args = parseArgs({
  options: {
    connects: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '50' },
    warm: { type: 'string', default: '200' },
    cold: { type: 'string', default: '5' },
    'cdk-out': { type: 'string', default: path.join(repoRoot, 'cdk.out') },
    profile: { type: 'string' },
    'skip-lambda': { type: 'boolean', default: false },
    rows: { type: 'string' },
    baseline: { type: 'string' },
  },
});
const settings = {
  connects: positive('connects'),
  rounds: positive('rounds'),
  concurrency: positive('concurrency'),
  warm: positive('warm'),
  cold: positive('cold'),
  cdkOut: path.resolve(args.values['cdk-out']),
  baseline: args.values.baseline === undefined ? undefined : baselineDist(args.values.baseline),
};

/** `--baseline DIR`: a local-iot dist directory (with cli.js), checked before anything starts. */
function baselineDist(dir: string): string {
  const resolved = path.resolve(dir);
  if (!existsSync(path.join(resolved, 'cli.js'))) {
    throw new Error(
      `--baseline takes a local-iot dist directory (the one holding cli.js), but ${path.join(resolved, 'cli.js')} does not exist: ` +
        'build the revision to compare with first (see "Comparing two builds" in packages/local-iot/README.md)',
    );
  }
  return resolved;
}

function positive(name: 'connects' | 'rounds' | 'concurrency' | 'warm' | 'cold'): number {
  const text = args.values[name];
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1) {
    throw new Error(`--${name} must be a whole number of at least 1, but '${text}' was given`);
  }
  return value;
}

type Authorizer = 'unsigned' | 'signed';

interface Row {
  readonly transport: BenchTransport;
  readonly authorizer: Authorizer;
}

const ALL_ROWS: readonly Row[] = [
  { transport: 'direct', authorizer: 'unsigned' },
  { transport: 'direct', authorizer: 'signed' },
  { transport: 'websockets', authorizer: 'unsigned' },
  { transport: 'websockets', authorizer: 'signed' },
];
/** `--rows direct-unsigned,websockets-signed` measures only those. */
const ROWS = ALL_ROWS.filter(
  (row) =>
    args.values.rows === undefined ||
    args.values.rows.split(',').includes(`${row.transport}-${row.authorizer}`),
);

/** What one server did over one row's measured batches. */
interface Tally {
  cpuMs: number;
  /** Of `cpuMs`, the server's main process alone (local-iot: the gateway without its Lambda environments). */
  rootCpuMs: number;
  seconds: number;
  accepted: number;
  latenciesMs: number[];
  failures: Map<string, number>;
  /** Environment processes started during measured batches (cold starts on the measured path). */
  newEnvironments: number;
}

async function main(): Promise<void> {
  // The SDK's notice about this Node.js version would only bury the figures (the local AWS API does not care).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  console.log(`npm run bench: Node.js ${process.version}, ${settings.cdkOut}`);
  if (!args.values['skip-lambda']) benchLambdaPrint(await lambdaFigures());
  await benchConnects();
}

async function lambdaFigures(): Promise<string[]> {
  const lines = [
    `Lambda behind the custom-auth pipeline (real bundle, run from sources in this process): ${settings.cold} cold starts, ${settings.warm} warm invocations per isolation`,
    '',
    '| isolation | cold p50 ms | cold max ms | Init p50 ms | warm p50 ms | warm p95 ms | REPORT p50 ms | CPU per warm invocation ms (host + environments) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const isolation of ISOLATIONS) {
    const f = await benchIsolation(settings.cdkOut, isolation, settings.cold, settings.warm);
    lines.push(
      `| ${isolation} | ${fixed(percentile(f.cold, 0.5))} | ${fixed(percentile(f.cold, 1))} | ${fixed(percentile(f.init, 0.5))} | ${fixed(percentile(f.warm, 0.5), 2)} | ${fixed(percentile(f.warm, 0.95), 2)} | ${fixed(percentile(f.reported, 0.5), 2)} | ${fixed(f.cpuPerWarmMs, 2)} (${fixed(f.hostCpuPerWarmMs, 2)} + ${fixed(f.environmentCpuPerWarmMs, 2)}) |`,
    );
  }
  return lines;
}

function benchLambdaPrint(lines: readonly string[]): void {
  console.log('');
  for (const line of lines) console.log(line);
}

async function benchConnects(): Promise<void> {
  const runDir = mkdtempSync(path.join(tmpdir(), 'local-iot-bench-'));
  const servers: BenchServer[] = [];
  try {
    const local = await startLocalIotServer({
      runDir,
      cdkOut: settings.cdkOut,
      lambdaConcurrency: settings.concurrency,
      ...(args.values.profile !== undefined && {
        nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args.values.profile)}`],
      }),
    });
    servers.push(local);
    const baseline =
      settings.baseline === undefined
        ? undefined
        : await startLocalIotServer({
            runDir,
            cdkOut: settings.cdkOut,
            lambdaConcurrency: settings.concurrency,
            dist: settings.baseline,
            name: 'baseline',
          });
    if (baseline !== undefined) servers.push(baseline);
    const locals = baseline === undefined ? [local] : [local, baseline];
    // Each local-iot has its own state: its own CA and device secret. mosquitto and the floor serve the first
    // one's certificate, so they are reached as it is.
    const servingOf = async (server: LocalIotServer) => ({
      device: await deviceSetup(server),
      ca: readFileSync(server.connection.caFile),
    });
    const localServing = await servingOf(local);
    const baselineServing = baseline === undefined ? undefined : await servingOf(baseline);
    const mosquitto = await startMosquitto({
      runDir,
      certFile: path.join(local.stateDir, 'server.pem'),
      keyFile: path.join(local.stateDir, 'server-key.pem'),
      users: [MOSQUITTO_USER],
    });
    servers.push(mosquitto);
    const floor = await startNodeTlsFloor({
      runDir,
      certFile: path.join(local.stateDir, 'server.pem'),
      keyFile: path.join(local.stateDir, 'server-key.pem'),
      user: MOSQUITTO_USER,
    });
    servers.push(floor);
    const host = local.connection.endpoint;

    const targetFor = (server: BenchServer, row: Row, batch: string): ConnectTarget | undefined => {
      // Debian's mosquitto 2.0 is built without WebSockets: those rows compare with its direct TLS figures.
      // Neither serves WebSockets (Debian's mosquitto 2.0 is built without them; the floor is TLS only).
      const passwordServer = server === mosquitto || server === floor;
      if (passwordServer && row.transport === 'websockets') return undefined;
      // The floor and mosquitto do the same work for both authorizer rows: measure them once, on the unsigned one.
      if (passwordServer && row.authorizer === 'signed') return undefined;
      const { device, ca } = (server === baseline ? baselineServing : undefined) ?? localServing;
      const clientId = (i: number): string => `${device.clientIdPrefix}bench-${batch}-${i}`;
      const credentials: (i: number) => ConnectCredentials = passwordServer
        ? (i) => ({ clientId: clientId(i), ...MOSQUITTO_USER })
        : row.authorizer === 'unsigned'
          ? (i) => ({ clientId: clientId(i), ...device.unsignedLogin(clientId(i)) })
          : device.signedCredentials(
              // A ramp-up batch connects up to --concurrency devices, a measured one --connects.
              Array.from({ length: Math.max(settings.connects, settings.concurrency) }, (_, i) =>
                clientId(i),
              ),
            );
      return { transport: row.transport, host, port: server.port, ca, credentials };
    };
    const tallies = new Map<string, Tally>();
    const tally = (server: BenchServer, row: Row): Tally => {
      const key = `${server.name} ${row.transport} ${row.authorizer}`;
      let found = tallies.get(key);
      if (!found) {
        found = {
          cpuMs: 0,
          rootCpuMs: 0,
          seconds: 0,
          accepted: 0,
          latenciesMs: [],
          failures: new Map(),
          newEnvironments: 0,
        };
        tallies.set(key, found);
      }
      return found;
    };

    console.log('');
    console.log(
      `Connect storms: ${settings.rounds} measured rounds of ${settings.connects} MQTT 5 connects per row and server, concurrency ${settings.concurrency}, after one warm-up round; local-iot with ${settings.concurrency} Lambda environments at most`,
    );
    // Each measured row ramps up on its own transport and authorizer: a row with slower connects keeps more
    // invocations in flight, so it needs more warm environments than a ramp on another row leaves.
    for (const server of locals)
      for (const row of ROWS)
        await rampUpEnvironments(
          targetFor(server, row, `ramp-${row.transport}-${row.authorizer}`) as ConnectTarget,
        );
    for (let round = 0; round <= settings.rounds; round++) {
      const measured = round > 0;
      for (const row of ROWS) {
        // A B C, then C B A: no server always runs first.
        const order =
          round % 2 === 0 ? [...locals, mosquitto, floor] : [floor, mosquitto, ...[...locals].reverse()];
        for (const server of order) {
          const target = targetFor(server, row, `${round}-${row.transport}-${row.authorizer}`);
          if (target === undefined) continue;
          const isLocal = (locals as readonly BenchServer[]).includes(server);
          const environmentsBefore = isLocal ? descendantPids(server.pid) : [];
          const cpuBefore = await settledTreeCpu(server.pid);
          const result = await runConnectBatch(target, settings.connects, settings.concurrency);
          const cpuAfter = await settledTreeCpu(server.pid);
          if (!measured) continue;
          const t = tally(server, row);
          t.cpuMs += cpuAfter.treeMs - cpuBefore.treeMs;
          t.rootCpuMs += cpuAfter.rootMs - cpuBefore.rootMs;
          t.seconds += result.seconds;
          t.accepted += result.latenciesMs.length;
          t.latenciesMs.push(...result.latenciesMs);
          for (const [what, count] of result.failures)
            t.failures.set(what, (t.failures.get(what) ?? 0) + count);
          if (isLocal) {
            t.newEnvironments += descendantPids(server.pid).filter(
              (pid) => !environmentsBefore.includes(pid),
            ).length;
          }
        }
      }
      process.stdout.write(measured ? `  round ${round} done\n` : '  warm-up done\n');
    }
    printConnectTable(tally, local, mosquitto, floor);
    if (baseline !== undefined) printBaselineTable(tally, local, baseline);
    const refusal = firstRefusal(path.join(runDir, 'local-iot.log'));
    if (refusal !== undefined) console.log(`local-iot's first refusal: ${refusal}`);
  } finally {
    for (const server of servers.reverse()) await server.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

/**
 * Starts local-iot's Lambda environments one at a time: batches of 1, 2, ... `concurrency` connects, each at its
 * own size as concurrency, so at most about one environment is in its cold start at once. Many cold starts at
 * once on a busy machine can each outlast AWS IoT's 5 s, which ends the environment and refuses the connect.
 */
async function rampUpEnvironments(target: ConnectTarget): Promise<void> {
  for (let inFlight = 1; inFlight <= settings.concurrency; inFlight++) {
    await runConnectBatch(target, inFlight, inFlight);
  }
}

function printConnectTable(
  tally: (server: BenchServer, row: Row) => Tally,
  local: LocalIotServer,
  mosquitto: BenchServer,
  floor: BenchServer,
): void {
  console.log('');
  console.log(
    '| transport | authorizer | server CPU per connect ms: local-iot / mosquitto = ratio | local-iot: gateway + Lambda environments ms | connects/s: local-iot / mosquitto | p50 ms: local-iot / mosquitto | p99 ms: local-iot / mosquitto | refused or failed: local-iot / mosquitto |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  const notes = new Set<string>();
  for (const row of ROWS) {
    const a = tally(local, row);
    // mosquitto and the floor were measured on the direct unsigned row only (see targetFor).
    const passwordRow: Row = { transport: 'direct', authorizer: 'unsigned' };
    const b = tally(mosquitto, passwordRow);
    const star = row.transport === 'websockets' ? '*' : '';
    if (star)
      notes.add("* mosquitto: its direct TLS figures (Debian's mosquitto 2.0 is built without WebSockets)");
    if (row.authorizer === 'signed')
      notes.add('mosquitto has no token authorizer: its signed rows are its password-file figures');
    const cpu = cpuPerConnect;
    const rate = (t: Tally): number => (t.accepted + countOf(t.failures)) / t.seconds;
    console.log(
      `| ${row.transport} | ${row.authorizer} | ${fixed(cpu(a), 3)} / ${fixed(cpu(b), 3)}${star} = ${fixed(cpu(a) / cpu(b), 2)}× | ${fixed(gatewayCpuPerConnect(a), 3)} + ${fixed(cpu(a) - gatewayCpuPerConnect(a), 3)} | ${fixed(rate(a), 0)} / ${fixed(rate(b), 0)}${star} | ${fixed(percentile(a.latenciesMs, 0.5))} / ${fixed(percentile(b.latenciesMs, 0.5))}${star} | ${fixed(percentile(a.latenciesMs, 0.99))} / ${fixed(percentile(b.latenciesMs, 0.99))}${star} | ${failureText(a.failures)} / ${failureText(b.failures)}${star} |`,
    );
    if (a.newEnvironments > 0)
      notes.add(
        `local-iot started Lambda environments during measured batches (cold starts counted): ${row.transport} ${row.authorizer} ${a.newEnvironments}`,
      );
  }
  console.log('');
  for (const note of notes) console.log(note);
  const floorTally = tally(floor, { transport: 'direct', authorizer: 'unsigned' });
  const mosquittoTally = tally(mosquitto, { transport: 'direct', authorizer: 'unsigned' });
  const cpuOf = cpuPerConnect;
  console.log(
    `Node.js TLS floor (node:tls + mqtt-packet: CONNECT, password, CONNACK, nothing else; direct TLS): ${fixed(cpuOf(floorTally), 3)} ms server CPU per connect = ${fixed(cpuOf(floorTally) / cpuOf(mosquittoTally), 2)}× mosquitto, ${fixed(percentile(floorTally.latenciesMs, 0.99))} ms p99, refused or failed ${failureText(floorTally.failures)}. local-iot above it is local-iot's own cost; the floor above mosquitto is Node.js's TLS and streams.`,
  );
  console.log(
    'Server CPU = user + system time of the server process and everything it started (local-iot: the gateway and its Lambda environment processes), over the measured batches, from /proc; the load generator runs in this process and is not counted.',
  );
}

/** Server CPU per connect attempted (accepted, refused or failed), ms: the server and all it started. */
function cpuPerConnect(t: Tally): number {
  return t.cpuMs / Math.max(t.accepted + countOf(t.failures), 1);
}

/** Of `cpuPerConnect`, the server's main process alone (local-iot's gateway, without its environments). */
function gatewayCpuPerConnect(t: Tally): number {
  return t.rootCpuMs / Math.max(t.accepted + countOf(t.failures), 1);
}

/** This build next to `--baseline`'s, row by row: the ratio is this build's CPU per connect over the baseline's. */
function printBaselineTable(
  tally: (server: BenchServer, row: Row) => Tally,
  local: LocalIotServer,
  baseline: LocalIotServer,
): void {
  console.log('');
  console.log(`This build next to --baseline ${settings.baseline ?? ''} (same rounds, same cdk.out):`);
  console.log('');
  console.log(
    '| transport | authorizer | server CPU per connect ms: this build / baseline = ratio | gateway ms: this build / baseline | Lambda environments ms: this build / baseline | p99 ms: this build / baseline | refused or failed: this build / baseline |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const row of ROWS) {
    const a = tally(local, row);
    const b = tally(baseline, row);
    const cpu = cpuPerConnect;
    const gateway = gatewayCpuPerConnect;
    console.log(
      `| ${row.transport} | ${row.authorizer} | ${fixed(cpu(a), 3)} / ${fixed(cpu(b), 3)} = ${fixed(cpu(a) / cpu(b), 2)}× | ${fixed(gateway(a), 3)} / ${fixed(gateway(b), 3)} | ${fixed(cpu(a) - gateway(a), 3)} / ${fixed(cpu(b) - gateway(b), 3)} | ${fixed(percentile(a.latenciesMs, 0.99))} / ${fixed(percentile(b.latenciesMs, 0.99))} | ${failureText(a.failures)} / ${failureText(b.failures)} |`,
    );
  }
  for (const row of ROWS) {
    const started = tally(baseline, row).newEnvironments;
    if (started > 0)
      console.log(
        `the baseline started Lambda environments during measured batches (cold starts counted): ${row.transport} ${row.authorizer} ${started}`,
      );
  }
}

/** mosquitto's one user (its password file holds just this; the password is random per run). */
const MOSQUITTO_USER = { username: 'bench-device', password: randomPassword() };

/** What the load generator needs to connect as the stack's devices. */
interface DeviceSetup {
  readonly clientIdPrefix: string;
  /** User name (with the authorizer's name) and password of the device `clientId` for the unsigned authorizer. */
  unsignedLogin(clientId: string): { username: string; password: string };
  /** Signed-authorizer credentials for these client ids, each with a token signed beforehand. */
  signedCredentials(clientIds: readonly string[]): (index: number) => ConnectCredentials;
}

/** Reads the outputs and the device secret (through the local AWS API, as the client does). */
async function deviceSetup(local: LocalIotServer): Promise<DeviceSetup> {
  const outputsFile = path.join(local.stateDir, 'outputs.json');
  const stacks = JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>;
  const outputs = Object.values(stacks)[0] ?? {};
  const output = (key: keyof typeof STACK_OUTPUTS): string => {
    const value = outputs[STACK_OUTPUTS[key]];
    if (value === undefined) throw new Error(`${outputsFile} has no ${STACK_OUTPUTS[key]} output`);
    return value;
  };
  const secrets = new SecretsManagerClient({
    endpoint: local.connection.awsEndpointUrl,
    region: local.connection.region,
    credentials: local.connection.credentials,
  });
  const secret = await secrets.send(new GetSecretValueCommand({ SecretId: output('deviceSecretArn') }));
  secrets.destroy();
  const privateKey = readFileSync(
    path.join(repoRoot, TOKEN_SIGNING_KEY_FILES.directory, TOKEN_SIGNING_KEY_FILES.privateKey),
    'utf8',
  );
  return {
    clientIdPrefix: output('clientIdPrefix'),
    unsignedLogin: (clientId) => {
      const login = unsignedLoginFor(secret.SecretString, clientId);
      return {
        username: buildCustomAuthUsername({
          user: login.username,
          authorizerName: output('unsignedAuthorizerName'),
        }),
        password: login.password,
      };
    },
    signedCredentials: (clientIds) => {
      // Signed before the batch, so the generator's RSA signing does not slow the connects it times.
      const usernames = clientIds.map((clientId) => {
        const token = createToken({ clientId, lifetimeSeconds: 600 });
        return buildCustomAuthUsername({
          authorizerName: output('signedAuthorizerName'),
          tokenKeyName: output('tokenKeyName'),
          token,
          signature: signToken(token, privateKey),
        });
      });
      return (i) => ({ clientId: clientIds[i] as string, username: usernames[i] as string });
    },
  };
}

/** The reason of the first refused connect in local-iot's log (its decisions are one JSON line each). */
function firstRefusal(logFile: string): string | undefined {
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { event?: string; allowed?: boolean; reason?: string };
      if (entry.event === 'connect' && entry.allowed === false) return entry.reason;
    } catch {
      // Not a log line of the gateway (the Lambda's output shares the file).
    }
  }
  return undefined;
}

function countOf(failures: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const count of failures.values()) total += count;
  return total;
}

function failureText(failures: ReadonlyMap<string, number>): string {
  if (failures.size === 0) return '0';
  return [...failures].map(([what, count]) => `${count} ${what}`).join(', ');
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
