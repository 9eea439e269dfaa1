import { parseArgs } from 'node:util';
import { LOCAL_IOT_FILES } from '@iot-custom-auth/protocol';
import { LocalIotError } from './errors';
import { GATEWAY_DEFAULTS } from './gateway/gateway';
import { DEFAULT_CONCURRENCY_LIMIT } from './lambda/lambda-runner';

/** The most `--lambda-concurrency` takes: Lambda's default account concurrency, far beyond one machine. */
const MAX_LAMBDA_CONCURRENCY = 1000;

/** The most `--time-scale` takes: a day of session time in under a second and a half. */
const MAX_TIME_SCALE = 100_000;

/** A bad command line: the CLI prints the message and how to get the usage, and exits 2. */
export class UsageError extends LocalIotError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: local-iot [options]

Serves the synthesized stack (cdk.out) on this machine as a local AWS IoT Core device gateway.
\`npm run local\` runs \`local-iot --watch\` from the repository root.

Options:
  --watch              synthesize first, then watch the stack and Lambda sources (packages/infra,
                       packages/authorizer-lambda/src, packages/protocol/src): each change re-synthesizes
                       and swaps the deployment in place (same port, CA and credentials; connected clients
                       keep their session until their policy refresh). A failed synth keeps the old one.
  --synth              synthesize once before serving (\`npx cdk synth --quiet\` in the repository root)
  -c, --context KEY=VALUE
                       CDK context for the synth, as \`cdk synth -c\` (repeatable; needs --synth or --watch),
                       e.g. -c clientIdPrefix=dev-
  --cdk-out DIR        cloud assembly to serve, and where --synth/--watch write it (default: cdk.out)
  --stack NAME         stack to serve (default: the only stack in the assembly)
  --port N             TLS port of the gateway, 0 for a free one (default: ${GATEWAY_DEFAULTS.port})
  --endpoint-host HOST host name clients connect to and send as SNI (default: ${GATEWAY_DEFAULTS.endpointHost})
  --x509-port N        TLS port of the X.509 listener, which serves the stack's CUSTOM_AUTH_X509 domain
                       configuration (client certificate required), 0 for a free one (default: 0)
  --x509-endpoint-host HOST
                       host name of the X.509 listener (SNI, certificate, X509Endpoint output); it must
                       resolve to this machine (default: the --endpoint-host)
  --state-dir DIR      CA, generated secrets, outputs.json, connection.json (default: ${LOCAL_IOT_FILES.directory})
  --lambda-concurrency N
                       execution environments (processes) per function whose template sets no
                       ReservedConcurrentExecutions; connects beyond them are throttled (default: ${DEFAULT_CONCURRENCY_LIMIT})
  --time-scale N       run the MQTT session clock N times faster than real time, to see policy refreshes
                       (refreshAfterInSeconds), disconnectAfterInSeconds and keep alive expire in tests:
                       with 60, a 300 s refresh comes after 5 s (default: 1, the real clock; up to ${MAX_TIME_SCALE})
  -h, --help           show this help`;

/** What the local-iot CLI was asked to do. */
export interface LocalIotCliConfig {
  readonly help: boolean;
  readonly cdkOut: string;
  readonly stackName?: string;
  readonly port: number;
  /** `--x509-port`: the X.509 listener's port (0: a free one). */
  readonly x509Port: number;
  /** `--x509-endpoint-host`; absent: the endpoint host. */
  readonly x509EndpointHost?: string;
  readonly endpointHost: string;
  readonly stateDir: string;
  /** `--lambda-concurrency`: the runner's `concurrencyLimit`. */
  readonly lambdaConcurrency: number;
  /** Synthesize before serving (`--synth`, implied by `--watch`). */
  readonly synth: boolean;
  readonly watch: boolean;
  /** `-c KEY=VALUE` pairs for the synth, in the order given. */
  readonly context: readonly string[];
  /** `--time-scale`: the session clock's factor (1 is real time). */
  readonly timeScale: number;
}

const OPTIONS = {
  watch: { type: 'boolean' },
  synth: { type: 'boolean' },
  context: { type: 'string', short: 'c', multiple: true },
  'cdk-out': { type: 'string' },
  stack: { type: 'string' },
  port: { type: 'string' },
  'x509-port': { type: 'string' },
  'x509-endpoint-host': { type: 'string' },
  'endpoint-host': { type: 'string' },
  'state-dir': { type: 'string' },
  'lambda-concurrency': { type: 'string' },
  'time-scale': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The flags local-iot takes, `--name` form: for "did you mean" and the tests. */
export const LOCAL_IOT_FLAGS: readonly string[] = Object.keys(OPTIONS).map((name) => `--${name}`);

/** Parses the local-iot command line. @throws UsageError naming the bad flag and what it expects. */
export function parseLocalIotArgs(argv: readonly string[]): LocalIotCliConfig {
  // `--help` anywhere wins over every other problem: it must print at once, whatever else is on the line.
  if (argv.includes('--help') || argv.includes('-h')) return { ...defaults(), help: true };
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: OPTIONS }));
  } catch (error) {
    throw new UsageError(withSuggestion((error as Error).message));
  }
  const context = (values.context as string[] | undefined) ?? [];
  for (const pair of context) {
    if (!/^[^=\s]+=/.test(pair))
      throw new UsageError(
        `-c takes KEY=VALUE (as cdk synth -c), e.g. -c clientIdPrefix=dev-, but '${pair}' was given`,
      );
  }
  const watch = values.watch === true;
  const synth = watch || values.synth === true;
  if (context.length > 0 && !synth)
    throw new UsageError('-c only reaches a synth: add --watch (as npm run local does) or --synth');
  const nonEmpty = (flag: string, fallback: string): string => {
    const value = values[flag] as string | undefined;
    if (value === '') throw new UsageError(`--${flag} must not be empty`);
    return value ?? fallback;
  };
  const stackName = values.stack as string | undefined;
  const x509EndpointHost = values['x509-endpoint-host'] as string | undefined;
  return {
    help: false,
    cdkOut: nonEmpty('cdk-out', 'cdk.out'),
    ...(stackName !== undefined && { stackName: nonEmpty('stack', stackName) }),
    port: wholeNumber('port', values.port as string | undefined, GATEWAY_DEFAULTS.port, 0, 65_535),
    x509Port: wholeNumber('x509-port', values['x509-port'] as string | undefined, 0, 0, 65_535),
    ...(x509EndpointHost !== undefined && {
      x509EndpointHost: nonEmpty('x509-endpoint-host', x509EndpointHost),
    }),
    endpointHost: nonEmpty('endpoint-host', GATEWAY_DEFAULTS.endpointHost),
    stateDir: nonEmpty('state-dir', LOCAL_IOT_FILES.directory),
    lambdaConcurrency: wholeNumber(
      'lambda-concurrency',
      values['lambda-concurrency'] as string | undefined,
      DEFAULT_CONCURRENCY_LIMIT,
      1,
      MAX_LAMBDA_CONCURRENCY,
    ),
    synth,
    watch,
    context,
    timeScale: wholeNumber('time-scale', values['time-scale'] as string | undefined, 1, 1, MAX_TIME_SCALE),
  };
}

function defaults(): LocalIotCliConfig {
  return {
    help: false,
    cdkOut: 'cdk.out',
    port: GATEWAY_DEFAULTS.port,
    x509Port: 0,
    endpointHost: GATEWAY_DEFAULTS.endpointHost,
    stateDir: LOCAL_IOT_FILES.directory,
    lambdaConcurrency: DEFAULT_CONCURRENCY_LIMIT,
    synth: false,
    watch: false,
    context: [],
    timeScale: 1,
  };
}

function wholeNumber(
  flag: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, but '${text}' was given`);
  return value;
}

/** Adds "did you mean --x?" to parseArgs' unknown-option message when a known flag is one typo away. */
function withSuggestion(message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
  if (unknown === undefined) return message;
  const given = unknown.split('=')[0] as string;
  const suggestion = closestFlag(given, LOCAL_IOT_FLAGS);
  const base = `unknown option '${given}'`;
  return suggestion === undefined ? base : `${base}: did you mean ${suggestion}?`;
}

/** The flag within two edits of `given` (the closest), if any. */
export function closestFlag(given: string, flags: readonly string[]): string | undefined {
  let best: { flag: string; distance: number } | undefined;
  for (const flag of flags) {
    const distance = editDistance(given, flag);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { flag, distance };
  }
  return best?.flag;
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit (`endpiont`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = value;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
