import { MAX_CLIENT_ID_BYTES, wrapText } from '@iot-custom-auth/protocol';
import {
  closestFlag,
  configFromFlags,
  FLAGS,
  flagKey,
  MAX_MESSAGE_COUNT,
  parseArgs,
  readFlags,
  unknownFlag as unknownConnectFlag,
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
  // A certificate is admitted only with its subject CN as client id: one certificate cannot be many devices.
  cert: 'a client certificate is admitted only as its own subject CN, and each storm connection has its own client id: storms use custom authentication without certificates',
  key: 'a client certificate is admitted only as its own subject CN, and each storm connection has its own client id: storms use custom authentication without certificates',
  mtls: 'the demo certificate is admitted only as its own subject CN, and each storm connection has its own client id: storms use custom authentication without certificates',
};

const STORM_KEYS = new Set(STORM_FLAGS.map((flag) => flagKey(flag.name)));
/** The connect flags a storm takes, handed to the connect command's validation unchanged. */
const STORM_CONNECT_FLAGS = FLAGS.filter((flag) => REFUSED_CONNECT_FLAGS[flagKey(flag.name)] === undefined);

/**
 * Parses `storm`'s command line (without `node` and the script): one `readFlags` pass over the storm's flags
 * and the connect flags it takes; the connect ones are then validated by the connect command's own
 * `configFromFlags`, so that they mean exactly what they mean there.
 * @throws UsageError naming the flag and the fix; ConfigError for an unreadable or too open secret file.
 */
export function parseStormArgs(argv: readonly string[]): StormConfig {
  if (argv[0] === 'merge') return parseMergeArgs(argv.slice(1));
  // `--help` wins over every other problem on the line, as for connect.
  if (argv.some((arg) => arg === '-h' || arg === '--help' || arg === '--help=true')) {
    return buildRunConfig(new Map(), parseArgs(['--help']), true);
  }
  const { strings, booleans } = readFlags(argv, [...STORM_FLAGS, ...STORM_CONNECT_FLAGS], {
    unknown: unknownStormFlag,
    positional: (arg) =>
      new UsageError(
        `unexpected argument '${arg}': every storm option is a flag such as --connections <n> (or run \`storm merge <file.json>...\`)`,
      ),
  });
  const own = new Map<string, string | boolean>();
  const connectStrings = new Map<string, string>();
  const connectBooleans = new Map<string, boolean>();
  for (const [key, value] of strings) (STORM_KEYS.has(key) ? own : connectStrings).set(key, value);
  for (const [key, value] of booleans) (STORM_KEYS.has(key) ? own : connectBooleans).set(key, value);
  const connect = configFromFlags(connectStrings, connectBooleans);
  return buildRunConfig(own, connect, false);
}

function unknownStormFlag(name: string): UsageError {
  const key = flagKey(name);
  const refused = REFUSED_CONNECT_FLAGS[key];
  if (refused !== undefined) return new UsageError(`--${name} is not a storm flag: ${refused}`);
  const suggestion = closestFlag(name, STORM_FLAGS);
  // No "run with --help": the storm CLI adds it once to every usage error.
  if (suggestion !== undefined)
    return new UsageError(`unknown flag --${name} (did you mean --${suggestion}?)`);
  // The connect command words an unknown flag (with its own "did you mean").
  return unknownConnectFlag(name);
}

const MERGE_FLAGS = STORM_FLAGS.filter((flag) => flag.merge === true);

function parseMergeArgs(argv: readonly string[]): StormMergeConfig {
  const help = argv.some((arg) => arg === '-h' || arg === '--help');
  // Merge takes files, so its booleans are written --json or --json=false (`--json a.json` keeps the file).
  const { strings, booleans, positionals } = readFlags(
    argv,
    [...MERGE_FLAGS, { name: 'json', kind: 'boolean' }, { name: 'help', kind: 'boolean' }],
    {
      unknown: (name) =>
        new UsageError(
          `--${name} is not a flag of storm merge: it takes the shard reports (file.json ...), --json and --report <file.html>`,
        ),
    },
  );
  if (!help && positionals.length === 0) {
    throw new UsageError(
      'storm merge needs the shard reports to combine: storm merge shard-1.json shard-2.json ... (each written by storm --json)',
    );
  }
  const reportFile = strings.get('report');
  return Object.freeze({
    command: 'merge',
    help,
    files: positionals,
    json: booleans.get('json') === true,
    ...(reportFile === undefined ? {} : { reportFile }),
  });
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
