import { parseArgs } from 'node:util';
import { LOCAL_IOT_FILES } from '@iot-custom-auth/protocol';
import { LocalIotError } from './errors';
import { GATEWAY_DEFAULTS } from './gateway/gateway';
import { DEFAULT_CONCURRENCY_LIMIT } from './lambda/lambda-runner';

/** The most `--lambda-concurrency` takes: Lambda's default account concurrency, far beyond one machine. */
const MAX_LAMBDA_CONCURRENCY = 1000;

/** A bad command line: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends LocalIotError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: local-iot [options]

Serves the synthesized stack (cdk.out) on this machine as a local AWS IoT Core device gateway.

Options:
  --cdk-out DIR        cloud assembly to serve (default: cdk.out; run \`npx cdk synth\` first)
  --stack NAME         stack to serve (default: the only stack in the assembly)
  --port N             TLS port of the gateway, 0 for a free one (default: ${GATEWAY_DEFAULTS.port})
  --endpoint-host HOST host name clients connect to and send as SNI (default: ${GATEWAY_DEFAULTS.endpointHost})
  --state-dir DIR      CA, generated secrets, outputs.json, connection.json (default: ${LOCAL_IOT_FILES.directory})
  --lambda-concurrency N
                       execution environments (processes) per function whose template sets no
                       ReservedConcurrentExecutions; connects beyond them are throttled (default: ${DEFAULT_CONCURRENCY_LIMIT})
  -h, --help           show this help`;

/** What the local-iot CLI was asked to do. */
export interface LocalIotCliConfig {
  readonly help: boolean;
  readonly cdkOut: string;
  readonly stackName?: string;
  readonly port: number;
  readonly endpointHost: string;
  readonly stateDir: string;
  /** `--lambda-concurrency`: the runner's `concurrencyLimit`. */
  readonly lambdaConcurrency: number;
}

/** Parses the local-iot command line. @throws UsageError naming the bad flag and what it expects. */
export function parseLocalIotArgs(argv: readonly string[]): LocalIotCliConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'cdk-out': { type: 'string' },
        stack: { type: 'string' },
        port: { type: 'string' },
        'endpoint-host': { type: 'string' },
        'state-dir': { type: 'string' },
        'lambda-concurrency': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const portText = values.port as string | undefined;
  const port = portText === undefined ? GATEWAY_DEFAULTS.port : Number(portText);
  if (!/^\d+$/.test(portText ?? '0') || !Number.isInteger(port) || port > 65_535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, but '${portText}' was given`);
  }
  const concurrencyText = values['lambda-concurrency'] as string | undefined;
  const lambdaConcurrency =
    concurrencyText === undefined ? DEFAULT_CONCURRENCY_LIMIT : Number(concurrencyText);
  if (
    !/^\d+$/.test(concurrencyText ?? '1') ||
    lambdaConcurrency < 1 ||
    lambdaConcurrency > MAX_LAMBDA_CONCURRENCY
  ) {
    throw new UsageError(
      `--lambda-concurrency must be a whole number from 1 to ${MAX_LAMBDA_CONCURRENCY}, but '${concurrencyText}' was given`,
    );
  }
  const nonEmpty = (flag: string, fallback: string): string => {
    const value = values[flag] as string | undefined;
    if (value === '') throw new UsageError(`--${flag} must not be empty`);
    return value ?? fallback;
  };
  const stackName = values.stack as string | undefined;
  return {
    help: values.help === true,
    cdkOut: nonEmpty('cdk-out', 'cdk.out'),
    ...(stackName !== undefined && { stackName: nonEmpty('stack', stackName) }),
    port,
    endpointHost: nonEmpty('endpoint-host', GATEWAY_DEFAULTS.endpointHost),
    stateDir: nonEmpty('state-dir', LOCAL_IOT_FILES.directory),
    lambdaConcurrency,
  };
}
