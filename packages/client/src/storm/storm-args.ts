import { MAX_CLIENT_ID_BYTES } from '@iot-custom-auth/protocol';
import {
  booleanLiteral,
  FLAGS,
  flagKey,
  MAX_MESSAGE_COUNT,
  parseArgs,
  wrapText,
  type CliConfig,
} from '../args';
import { UsageError } from '../errors';

/**
 * The storm's command line: its own flags, plus every flag of `connect` (same outputs, credentials, CA and
 * transports), which are handed to the connect parser unchanged so that they mean exactly what they mean
 * there. `storm merge <file>...` combines shard reports.
 */

/** Defaults of the storm flags. */
export const STORM_DEFAULTS = {
  connections: 10,
  ratePerSecond: 10,
  concurrency: 50,
  holdSeconds: 0,
  publish: 0,
  badCredentials: 0,
  /** Beyond the time the arrivals take plus `--hold`: room for the last connects and disconnects. */
  deadlineMarginSeconds: 60,
  /** AWS IoT Core's documented default for connect requests per second per account (adjustable). */
  accountConnectQuota: 500,
} as const;

/** Upper bounds: past these a run is a typo, not a plan. */
export const STORM_LIMITS = {
  connections: 1_000_000,
  ratePerSecond: 100_000,
  concurrency: 100_000,
  holdSeconds: 86_400,
  deadlineSeconds: 7 * 86_400,
  shards: 1_000,
  runIdLength: 20,
} as const;

/** Which shard of how many this runner is (1-based). */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/** `storm` (the default command): one storm, or one shard of it. */
export interface StormRunConfig {
  readonly command: 'run';
  readonly help: boolean;
  /** The connect flags, parsed by the connect command's parser. */
  readonly connect: CliConfig;
  readonly connections: number;
  readonly ratePerSecond: number;
  readonly concurrency: number;
  readonly holdSeconds: number;
  readonly publish: number;
  readonly badCredentials: number;
  /** `undefined`: the time the arrivals take, plus `--hold`, plus `STORM_DEFAULTS.deadlineMarginSeconds`. */
  readonly deadlineSeconds?: number;
  readonly json: boolean;
  readonly reportFile?: string;
  readonly shard: ShardSpec;
  /** `undefined`: a random one. */
  readonly runId?: string;
  readonly allowOverQuota: boolean;
  readonly accountConnectQuota: number;
}

/** `storm merge a.json b.json ...`. */
export interface StormMergeConfig {
  readonly command: 'merge';
  readonly help: boolean;
  readonly files: readonly string[];
  readonly json: boolean;
  readonly reportFile?: string;
}

export type StormConfig = StormRunConfig | StormMergeConfig;

interface StormFlag {
  readonly name: string;
  readonly kind: 'string' | 'boolean';
  readonly valueName?: string;
  readonly description: string;
  /** Also accepted by `storm merge`. */
  readonly merge?: boolean;
}

/** The storm's own flags; `--json` and `--help` are the connect command's. */
export const STORM_FLAGS: readonly StormFlag[] = [
  {
    name: 'connections',
    kind: 'string',
    valueName: 'n',
    description: `Connections in the whole storm (all shards). Default: ${STORM_DEFAULTS.connections}.`,
  },
  {
    name: 'rate',
    kind: 'string',
    valueName: 'per-second',
    description: `Connection arrivals per second, for the whole storm (each of n shards starts rate/n per second). Default: ${STORM_DEFAULTS.ratePerSecond}.`,
  },
  {
    name: 'concurrency',
    kind: 'string',
    valueName: 'n',
    description: `Connections open at once on this runner (opening, held, publishing or closing); an arrival waits for a free place. Default: ${STORM_DEFAULTS.concurrency}.`,
  },
  {
    name: 'hold',
    kind: 'string',
    valueName: 'seconds',
    description: 'Seconds each accepted connection stays connected before it disconnects. Default: 0.',
  },
  {
    name: 'publish',
    kind: 'string',
    valueName: 'k',
    description: `QoS 1 publishes per accepted connection on its own topic (devices/<client id>), 0 to ${MAX_MESSAGE_COUNT}. Default: 0.`,
  },
  {
    name: 'bad-credentials',
    kind: 'string',
    valueName: 'fraction',
    description:
      'Fraction (0 to 1) of connections sent with wrong credentials, expected to be refused with CONNACK 0x86: connection n is bad when floor((n+1)*f) > floor(n*f), so every 1/f-th, the same ones in every shard layout. Default: 0.',
  },
  {
    name: 'deadline',
    kind: 'string',
    valueName: 'seconds',
    description: `Stop after this long: no new connection, held ones disconnect, and the run ends as cut short (exit 1). Default: the time the arrivals take, plus --hold, plus ${STORM_DEFAULTS.deadlineMarginSeconds}.`,
  },
  {
    name: 'report',
    kind: 'string',
    valueName: 'file.html',
    merge: true,
    description:
      'Also write a self-contained HTML page: the latency histogram and connects/refusals over time, with the --json data inside.',
  },
  {
    name: 'shard',
    kind: 'string',
    valueName: 'i/n',
    description:
      'Run shard i of n (1-based): connections n with n % count == i - 1, at rate/n per second. Give every shard the same --run-id and flags, then `storm merge` their --json outputs. Default: 1/1.',
  },
  {
    name: 'run-id',
    kind: 'string',
    valueName: 'id',
    description: `Letters and digits (at most ${STORM_LIMITS.runIdLength}) in every client id, <prefix>storm-<run id>-<shard>-<n>; shards of one storm share it. Default: random.`,
  },
  {
    name: 'allow-over-quota',
    kind: 'boolean',
    description:
      "Run even when the plan exceeds AWS IoT Core's connect quotas (then expect throttling refusals). Default: false (refuse, exit 2).",
  },
  {
    name: 'account-connect-quota',
    kind: 'string',
    valueName: 'per-second',
    description: `Your account's connect requests per second quota in this region, when it differs from AWS's default. Default: ${STORM_DEFAULTS.accountConnectQuota}.`,
  },
];

/** Connect flags that make no sense in a storm, and what to use instead. */
const REFUSED_CONNECT_FLAGS: Readonly<Record<string, string>> = {
  client_id:
    'each storm connection has its own client id, <prefix>storm-<run id>-<shard>-<n>: use --run-id to choose the run id',
  roundtrip: 'a storm publishes with --publish k (QoS 1, on each connection’s own topic)',
  count: 'a storm publishes with --publish k (QoS 1, on each connection’s own topic)',
  topic: 'each storm connection publishes on its own topic, devices/<client id>',
  message: 'a storm sends its own payload (sequence number, client id, time)',
};

const STORM_FLAGS_BY_KEY = new Map(STORM_FLAGS.map((flag) => [flagKey(flag.name), flag]));
const CONNECT_FLAGS_BY_KEY = new Map(FLAGS.map((flag) => [flagKey(flag.name), flag]));

/**
 * Parses `storm`'s command line (without `node` and the script). Pure.
 * @throws UsageError naming the flag and the fix.
 */
export function parseStormArgs(argv: readonly string[]): StormConfig {
  if (argv[0] === 'merge') return parseMergeArgs(argv.slice(1));
  const help = argv.some((arg) => arg === '-h' || arg === '--help' || arg === '--help=true');
  const own = new Map<string, string | boolean>();
  const connectArgv: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(
        `unexpected argument '${arg}': every storm option is a flag such as --connections <n> (or run \`storm merge <file.json>...\`); run with --help to see them`,
      );
    }
    const { name, inline } = splitFlag(arg);
    const key = flagKey(name);
    const flag = STORM_FLAGS_BY_KEY.get(key);
    if (flag !== undefined) {
      i = readOwnFlag(flag, inline, argv, i, own);
      continue;
    }
    const refused = REFUSED_CONNECT_FLAGS[key];
    if (refused !== undefined) throw new UsageError(`--${name} is not a storm flag: ${refused}`);
    const connectFlag = CONNECT_FLAGS_BY_KEY.get(key);
    if (connectFlag === undefined) {
      const suggestion = closestStormFlag(key);
      if (suggestion !== undefined) {
        throw new UsageError(`unknown flag --${name} (did you mean --${suggestion}?); run with --help`);
      }
      // The connect parser words an unknown flag (with its own "did you mean").
      parseArgs([arg]);
    }
    // The connect parser owns its flags (and the error for an unknown one): hand the value over with it.
    connectArgv.push(arg);
    const next = argv[i + 1];
    if (inline === undefined && connectFlag !== undefined && next !== undefined && !next.startsWith('--')) {
      connectArgv.push(next);
      i++;
    }
  }
  const connect = parseArgs(help ? ['--help'] : connectArgv);
  return buildRunConfig(own, connect, help);
}

function parseMergeArgs(argv: readonly string[]): StormMergeConfig {
  const help = argv.some((arg) => arg === '-h' || arg === '--help');
  const files: string[] = [];
  const own = new Map<string, string | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      files.push(arg);
      continue;
    }
    const { name, inline } = splitFlag(arg);
    const key = flagKey(name);
    if (key === 'help') continue;
    if (key === 'json') {
      if (own.has('json')) throw new UsageError('--json is given more than once; give it once');
      const value = inline === undefined ? true : booleanLiteral(inline);
      if (value === undefined) throw new UsageError(`--json takes true or false, but '${inline}' was given`);
      own.set('json', value);
      continue;
    }
    const flag = STORM_FLAGS_BY_KEY.get(key);
    if (flag?.merge !== true) {
      throw new UsageError(
        `--${name} is not a flag of storm merge: it takes the shard reports (file.json ...), --json and --report <file.html>`,
      );
    }
    i = readOwnFlag(flag, inline, argv, i, own);
  }
  if (!help && files.length === 0) {
    throw new UsageError(
      'storm merge needs the shard reports to combine: storm merge shard-1.json shard-2.json ... (each written by storm --json)',
    );
  }
  const reportFile = own.get('report');
  return Object.freeze({
    command: 'merge',
    help,
    files,
    json: own.get('json') === true,
    ...(typeof reportFile === 'string' ? { reportFile } : {}),
  });
}

function splitFlag(arg: string): { name: string; inline?: string } {
  const eq = arg.indexOf('=');
  return eq < 0 ? { name: arg.slice(2) } : { name: arg.slice(2, eq), inline: arg.slice(eq + 1) };
}

/** Reads one storm flag's value into `own`; returns the index of the last argument it used. */
function readOwnFlag(
  flag: StormFlag,
  inline: string | undefined,
  argv: readonly string[],
  i: number,
  own: Map<string, string | boolean>,
): number {
  const key = flagKey(flag.name);
  if (own.has(key)) throw new UsageError(`--${flag.name} is given more than once; give it once`);
  const next = argv[i + 1];
  if (flag.kind === 'boolean') {
    const text = inline ?? (next !== undefined && !next.startsWith('--') ? next : undefined);
    const value = text === undefined ? true : booleanLiteral(text);
    if (value === undefined) {
      throw new UsageError(
        `--${flag.name} takes true or false (or no value, meaning true), but '${text}' was given`,
      );
    }
    own.set(key, value);
    return inline === undefined && text !== undefined ? i + 1 : i;
  }
  const value = inline ?? (next !== undefined && !next.startsWith('--') ? next : undefined);
  if (value === undefined || value.length === 0) {
    throw new UsageError(`--${flag.name} needs a value: --${flag.name} <${flag.valueName ?? 'value'}>`);
  }
  own.set(key, value);
  return inline === undefined ? i + 1 : i;
}

function buildRunConfig(
  own: ReadonlyMap<string, string | boolean>,
  connect: CliConfig,
  help: boolean,
): StormRunConfig {
  const text = (key: string): string | undefined => {
    const value = own.get(key);
    return typeof value === 'string' ? value : undefined;
  };
  const connections = integerFlag('connections', text('connections'), 1, STORM_LIMITS.connections);
  const concurrency = integerFlag('concurrency', text('concurrency'), 1, STORM_LIMITS.concurrency);
  const publish = integerFlag('publish', text('publish'), 0, MAX_MESSAGE_COUNT);
  const rate = positiveNumberFlag('rate', text('rate'), STORM_LIMITS.ratePerSecond);
  const hold = numberFlag('hold', text('hold'), 0, STORM_LIMITS.holdSeconds);
  const deadline = positiveNumberFlag('deadline', text('deadline'), STORM_LIMITS.deadlineSeconds);
  const quota = positiveNumberFlag(
    'account-connect-quota',
    text('account_connect_quota'),
    STORM_LIMITS.ratePerSecond,
  );
  const bad = numberFlag('bad-credentials', text('bad_credentials'), 0, 1);
  const shard = parseShard(text('shard'));
  const runId = text('run_id');
  if (runId !== undefined && !new RegExp(`^[A-Za-z0-9]{1,${STORM_LIMITS.runIdLength}}$`).test(runId)) {
    throw new UsageError(
      `--run-id must be 1 to ${STORM_LIMITS.runIdLength} letters or digits (it becomes part of every client id), but '${runId}' was given`,
    );
  }
  const connectionsTotal = connections ?? STORM_DEFAULTS.connections;
  if (shard.count > connectionsTotal) {
    throw new UsageError(
      `--shard ${shard.index}/${shard.count} splits ${connectionsTotal} connections into more shards than connections: use at most ${connectionsTotal} shards or more --connections`,
    );
  }
  const reportFile = text('report');
  const config: StormRunConfig = {
    command: 'run',
    help,
    connect,
    connections: connectionsTotal,
    ratePerSecond: rate ?? STORM_DEFAULTS.ratePerSecond,
    concurrency: concurrency ?? STORM_DEFAULTS.concurrency,
    holdSeconds: hold ?? STORM_DEFAULTS.holdSeconds,
    publish: publish ?? STORM_DEFAULTS.publish,
    badCredentials: bad ?? STORM_DEFAULTS.badCredentials,
    ...(deadline === undefined ? {} : { deadlineSeconds: deadline }),
    json: connect.json,
    ...(reportFile === undefined ? {} : { reportFile }),
    shard,
    ...(runId === undefined ? {} : { runId }),
    allowOverQuota: own.get('allow_over_quota') === true,
    accountConnectQuota: quota ?? STORM_DEFAULTS.accountConnectQuota,
  };
  return Object.freeze(config);
}

function integerFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, but '${text}' was given`);
  }
  return value;
}

function numberFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d{1,9}(\.\d{1,9})?$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, but '${text}' was given`);
  }
  return value;
}

function positiveNumberFlag(name: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d{1,9}(\.\d{1,9})?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0 && value <= max)) {
    throw new UsageError(
      `--${name} must be a number greater than 0 and at most ${max}, but '${text}' was given`,
    );
  }
  return value;
}

/** `i/n` with 1 <= i <= n. */
export function parseShard(text: string | undefined): ShardSpec {
  if (text === undefined) return { index: 1, count: 1 };
  const match = /^(\d{1,4})\/(\d{1,4})$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (match === null || !(count >= 1 && count <= STORM_LIMITS.shards && index >= 1 && index <= count)) {
    throw new UsageError(
      `--shard must be i/n with 1 <= i <= n <= ${STORM_LIMITS.shards} (shard i of n, e.g. 2/4), but '${text}' was given`,
    );
  }
  return { index, count };
}

/** A storm flag within a typo's reach of `key`, for "did you mean". */
function closestStormFlag(key: string): string | undefined {
  return STORM_FLAGS.map((flag) => flag.name).find(
    (candidate) => editDistance(flagKey(candidate), key) <= Math.max(1, Math.floor(key.length / 5)),
  );
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The client id of connection `n`: `<prefix>storm-<run id>-<shard>-<n>`, checked against AWS IoT's limit. */
export function stormClientId(prefix: string, runId: string, shard: number, n: number): string {
  const clientId = `${prefix}storm-${runId}-${shard}-${n}`;
  if (Buffer.byteLength(clientId, 'utf8') > MAX_CLIENT_ID_BYTES) {
    throw new UsageError(
      `the storm client id ${clientId} is longer than AWS IoT's ${MAX_CLIENT_ID_BYTES} bytes: use a shorter --run-id`,
    );
  }
  return clientId;
}

const HELP_INDENT = 38;
const HELP_WIDTH = 110;

/** `--help`: the storm flags, the connect flags it takes, the exit codes and examples. */
export function stormUsage(): string {
  const flagLines = (flags: readonly { name: string; valueName?: string; description: string }[]) =>
    flags.flatMap((flag) => {
      const head = `  --${flag.name}${flag.valueName === undefined ? '' : ` <${flag.valueName}>`}`;
      const text = wrapText(flag.description, HELP_WIDTH - HELP_INDENT);
      const first = head.length < HELP_INDENT ? [`${head.padEnd(HELP_INDENT)}${text.shift() ?? ''}`] : [head];
      return [...first, ...text.map((line) => `${' '.repeat(HELP_INDENT)}${line}`)];
    });
  const connectFlags = FLAGS.filter(
    (flag) => REFUSED_CONNECT_FLAGS[flagKey(flag.name)] === undefined && flag.name !== 'help',
  );
  return (
    [
      'Usage: npm run storm -w client -- [flags]',
      '       npm run storm -w client -- merge shard-1.json shard-2.json ... [--json] [--report file.html]',
      '',
      'Opens many MQTT 5 connections through the custom authorizer (same outputs, credentials and transports as',
      'connect), at a rate, and reports CONNACK reason codes, connect latency and errors.',
      '',
      'Storm:',
      ...flagLines(STORM_FLAGS),
      '',
      'Connection (as for connect; see npm run connect -w client -- --help):',
      ...flagLines(connectFlags),
      '',
      'Exit codes: 0 every connection as expected (good ones CONNACK 0x00, publishes acknowledged, clean',
      '            disconnect; bad-credential ones CONNACK 0x86) and the storm completed; 1 anything else',
      '            (unexpected refusals, errors, deadline reached); 2 usage or configuration error; 130 Ctrl-C',
      '            (after every connection was closed).',
      '',
      'Examples:',
      '  npm run storm -w client -- --outputs .local-iot/outputs.json --connections 50 --rate 20',
      '  npm run storm -w client -- --connections 1000 --rate 50 --concurrency 200 --hold 5 --publish 2',
      '  npm run storm -w client -- --connections 100 --bad-credentials 0.1 --json > storm.json',
      '  npm run storm -w client -- --connections 1000 --rate 100 --shard 1/2 --run-id r42 --json > s1.json',
      '  npm run storm -w client -- merge s1.json s2.json --report storm.html',
    ].join('\n') + '\n'
  );
}
