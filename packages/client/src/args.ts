import { isIP } from 'node:net';
import { parseArgs as parseNodeArgs } from 'node:util';
import {
  AWS_IOT_TOPIC_LIMITS,
  checkTopicName,
  CUSTOM_AUTH_PORT,
  DEFAULT_OUTPUTS_FILE,
  DEFAULT_STACK_NAME,
  DEFAULTS,
  MAX_CLIENT_ID_BYTES,
  TOKEN_KEY_NAME_PATTERN,
  TOKEN_SIGNING_KEY_FILES,
  toUrlEncodedSignature,
  type Transport,
  wrapText,
} from '@iot-custom-auth/protocol';
import { UsageError } from './errors';
import { checkMtlsFlags } from './mtls-flags';
import { processSecretInput, resolveSecrets, type SecretField, type SecretInput } from './secret-input';

/** SDK log levels accepted by `--verbosity` (the aws-crt levels; `nologs` is the Python sample's name for none). */
export const VERBOSITY_LEVELS = ['none', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type Verbosity = (typeof VERBOSITY_LEVELS)[number];

/** Seconds a connection attempt may take before it is reported as a timeout. */
export const DEFAULT_TIMEOUT_SECONDS = 10;
/** Upper bound for `--timeout`: beyond this a hung connect is a bug to report, not a wait to configure. */
export const MAX_TIMEOUT_SECONDS = 300;

/**
 * How long, by default, the client looks for the records that explain a refusal in CloudWatch Logs: AWS
 * delivers a Lambda's and AWS IoT's log events a few seconds late (local-iot writes them before the CONNACK,
 * so the first look finds them).
 */
export const DEFAULT_EXPLAIN_WAIT_SECONDS = 15;
/** Upper bound for `--explain-wait`. */
export const MAX_EXPLAIN_WAIT_SECONDS = 120;

/**
 * Upper bound for `--count`: AWS IoT Core accepts at most 100 publish requests per second on one connection,
 * so 100 messages still fit in about a second; a load test needs another tool.
 */
export const MAX_MESSAGE_COUNT = 100;

/**
 * What the command line asked for. Every field a flag did not set is `undefined` (or its documented default),
 * so that `main()` can fill it from the stack outputs: flags override outputs.
 */
export interface CliConfig {
  readonly help: boolean;
  /** Host name or IP address, without scheme, port or path. */
  readonly endpoint?: string;
  /** From `--port`, or from `--endpoint host:port`. @default 443 when neither is given (applied by `main`) */
  readonly port?: number;
  readonly caFile?: string;
  /** `--cert`: the device's X.509 certificate (PEM) for custom authentication with a client certificate. */
  readonly certFile?: string;
  /** `--key`: the private key (PEM) of `certFile`; the two go together. */
  readonly keyFile?: string;
  /** `--mtls`: the demo device certificate from `.keys/` and the X509Endpoint output. @default false */
  readonly mtls?: boolean;
  /** `--https`: publish once over HTTPS (`POST /topics/<topic>?qos=1`, signed authorizer) instead of MQTT. @default false */
  readonly https?: boolean;
  readonly clientId?: string;
  readonly username?: string;
  readonly password?: string;
  readonly authorizerName?: string;
  readonly tokenKeyName?: string;
  readonly tokenValue?: string;
  /** The token signature, already URL-encoded exactly once (given raw or encoded on the command line). */
  readonly signature?: string;
  /** @default 'mqtt' */
  readonly transport: Transport;
  /** @default 'none' */
  readonly verbosity: Verbosity;
  /** @default DEFAULT_TIMEOUT_SECONDS */
  readonly timeoutSeconds: number;
  /** @default false */
  readonly json: boolean;
  /** Create and sign a fresh token for the signed authorizer. @default false */
  readonly signed: boolean;
  readonly tokenSigningKeyFile?: string;
  readonly outputsFile?: string;
  readonly stackName?: string;
  readonly region?: string;
  /**
   * After CONNACK, subscribe to the topic, publish `count` messages to it and wait for each to come back.
   * @default false
   */
  readonly roundtrip: boolean;
  /** Messages to publish (QoS 1), 1 to `MAX_MESSAGE_COUNT`; `main` uses 1 when only `--topic`/`--message`/`--roundtrip` ask for messages. */
  readonly count?: number;
  /** Topic to publish (and, with `roundtrip`, subscribe) to. A valid MQTT topic name. @default the device's own topic (applied by `main`) */
  readonly topic?: string;
  /** Payload of every message, sent as given. @default a JSON object with a sequence number and a timestamp (applied by `main`) */
  readonly message?: string;
  /**
   * After a refusal, look for the records that explain it in CloudWatch Logs for at most this long; 0 reads
   * once and does not wait. @default DEFAULT_EXPLAIN_WAIT_SECONDS (applied by `main`)
   */
  readonly explainWaitSeconds?: number;
  /**
   * Where each secret that was found came from, for messages (never the value): `--custom_auth_password`,
   * `--custom_auth_password_file <file>`, `IOT_CUSTOM_AUTH_PASSWORD`... @default {} (applied by `parseArgs`)
   */
  readonly secretOrigins?: Readonly<Partial<Record<SecretField, string>>>;
}

type StringKey = Exclude<
  { [K in keyof CliConfig]-?: NonNullable<CliConfig[K]> extends string ? K : never }[keyof CliConfig],
  'transport' | 'verbosity'
>;

/** One flag of the connect command's table (reused by the commands built on it, such as `storm`). */
export interface FlagSpec {
  /** Name as documented, without the leading `--`. */
  readonly name: string;
  readonly kind: 'string' | 'boolean';
  readonly valueName?: string;
  readonly description: string;
  readonly section: 'connection' | 'authentication' | 'messages' | 'sources' | 'output';
}

/**
 * Every flag. The upstream sample's flags keep their underscore names; new flags are shown with hyphens. Both
 * separators are accepted for every flag (`--client-id` works as well as `--client_id`).
 */
export const FLAGS: readonly FlagSpec[] = [
  {
    name: 'endpoint',
    kind: 'string',
    valueName: 'host',
    section: 'connection',
    description:
      'AWS IoT data endpoint (the IotEndpoint output, e.g. abc123-ats.iot.eu-west-1.amazonaws.com) or a local gateway host; host:port is accepted. Default: from the stack outputs.',
  },
  {
    name: 'port',
    kind: 'string',
    valueName: 'n',
    section: 'connection',
    description: `TCP port. Default: ${CUSTOM_AUTH_PORT} (custom authentication works only on ${CUSTOM_AUTH_PORT}).`,
  },
  {
    name: 'ca_file',
    kind: 'string',
    valueName: 'file',
    section: 'connection',
    description:
      "PEM file with the CA certificate(s) to trust instead of the system store (a local gateway's CA). Default: system trust store.",
  },
  {
    name: 'cert',
    kind: 'string',
    valueName: 'file',
    section: 'connection',
    description:
      'Device certificate (PEM) for custom authentication with an X.509 client certificate (CUSTOM_AUTH_X509, mTLS): connects to the X509Endpoint output (or --endpoint) on 443 with SNI = that host and ALPN mqtt; the client id defaults to the certificate subject CN. Needs --key; no password needed.',
  },
  {
    name: 'key',
    kind: 'string',
    valueName: 'file',
    section: 'connection',
    description:
      'Private key (PEM) of --cert. Checked against the certificate before connecting; never printed.',
  },
  {
    name: 'mtls',
    kind: 'boolean',
    section: 'connection',
    description:
      'Connect with the demo device certificate of the ClientIdPrefix output (.keys/<ClientIdPrefix>mtls-demo-cert.pem and .keys/<ClientIdPrefix>mtls-demo-key.pem, .keys/test-mtls-demo-cert.pem and .keys/test-mtls-demo-key.pem by default, created by npx cdk synth) to the X509Endpoint output: --cert and --key with their defaults. Default: false.',
  },
  {
    name: 'use_websockets',
    kind: 'boolean',
    section: 'connection',
    description:
      'MQTT over WebSockets (wss://<endpoint>/mqtt) instead of direct MQTT over TLS with ALPN mqtt. Takes an optional true/false. Default: false.',
  },
  {
    name: 'https',
    kind: 'boolean',
    section: 'connection',
    description:
      'Publish one message over HTTPS instead of MQTT: POST https://<endpoint>:443/topics/<topic>?qos=1 through the signed authorizer, implied (token and signature in headers; HTTPS has no user name or password for the unsigned one). Default: false.',
  },
  {
    name: 'client_id',
    kind: 'string',
    valueName: 'id',
    section: 'connection',
    description: `MQTT client id. Default: ${DEFAULTS.clientIdPrefix}<uuid> (the prefix comes from the ClientIdPrefix output).`,
  },
  {
    name: 'timeout',
    kind: 'string',
    valueName: 'seconds',
    section: 'connection',
    description: `Give up on a connection, on the messages (--roundtrip, --count) or on a disconnect after this long each; never retries. Default: ${DEFAULT_TIMEOUT_SECONDS}.`,
  },
  {
    name: 'custom_auth_authorizer_name',
    kind: 'string',
    valueName: 'name',
    section: 'authentication',
    description:
      "Authorizer name. Default: the UnsignedAuthorizerName (or, with --signed, SignedAuthorizerName) output; without outputs, the endpoint's default authorizer.",
  },
  {
    name: 'custom_auth_username',
    kind: 'string',
    valueName: 'user',
    section: 'authentication',
    description:
      'User name sent in front of the authorizer parameters. Default: the device secret’s username.',
  },
  {
    name: 'custom_auth_password',
    kind: 'string',
    valueName: 'password',
    section: 'authentication',
    description:
      "MQTT password. Visible to other processes and in npm's logs, so it prints a warning: prefer IOT_CUSTOM_AUTH_PASSWORD or --custom_auth_password_file. Default: IOT_CUSTOM_AUTH_PASSWORD, else read from Secrets Manager (the DeviceSecretArn output) for the unsigned authorizer.",
  },
  {
    name: 'custom_auth_password_file',
    kind: 'string',
    valueName: 'file',
    section: 'authentication',
    description:
      'Read the MQTT password from this file (mode 600 or stricter; one trailing newline is dropped), or from stdin with -. Takes precedence over IOT_CUSTOM_AUTH_PASSWORD.',
  },
  {
    name: 'signed',
    kind: 'boolean',
    section: 'authentication',
    description:
      'Use the signed authorizer (SignedAuthorizerName output): create a token bound to the client id, valid for a few minutes, and sign it (RSA SHA-256) with the token-signing private key; or send the token given with --custom_auth_token_value.',
  },
  {
    name: 'token-signing-key',
    kind: 'string',
    valueName: 'file',
    section: 'authentication',
    description: `Private key (PEM) for --signed. Default: ${TOKEN_SIGNING_KEY_FILES.directory}/${TOKEN_SIGNING_KEY_FILES.privateKey} at the repository root.`,
  },
  {
    name: 'custom_auth_token_key_name',
    kind: 'string',
    valueName: 'name',
    section: 'authentication',
    description: `Token key name of a signed authorizer. Default: the TokenKeyName output, else "${DEFAULTS.tokenKeyName}".`,
  },
  {
    name: 'custom_auth_token_value',
    kind: 'string',
    valueName: 'token',
    section: 'authentication',
    description:
      'A token you signed yourself, sent with --custom_auth_authorizer_signature and --custom_auth_token_key_name (all three or none; with --signed the key name may come from the outputs). Prints a warning: prefer IOT_CUSTOM_AUTH_TOKEN or --custom_auth_token_value_file.',
  },
  {
    name: 'custom_auth_token_value_file',
    kind: 'string',
    valueName: 'file',
    section: 'authentication',
    description:
      'Read --custom_auth_token_value from this file (mode 600 or stricter; one trailing newline is dropped), or from stdin with -. Takes precedence over IOT_CUSTOM_AUTH_TOKEN.',
  },
  {
    name: 'custom_auth_authorizer_signature',
    kind: 'string',
    valueName: 'base64',
    section: 'authentication',
    description:
      'Signature of --custom_auth_token_value, standard base64, raw or URL-encoded: it is sent URL-encoded exactly once. Prints a warning: prefer IOT_CUSTOM_AUTH_SIGNATURE or --custom_auth_authorizer_signature_file.',
  },
  {
    name: 'custom_auth_authorizer_signature_file',
    kind: 'string',
    valueName: 'file',
    section: 'authentication',
    description:
      'Read --custom_auth_authorizer_signature from this file (mode 600 or stricter; one trailing newline is dropped), or from stdin with -. Takes precedence over IOT_CUSTOM_AUTH_SIGNATURE.',
  },
  {
    name: 'roundtrip',
    kind: 'boolean',
    section: 'messages',
    description:
      "After CONNACK, subscribe (QoS 1) to the device's own topic (or --topic), publish --count messages (QoS 1) to it, wait until every one comes back, then disconnect; reports the SUBACK and PUBACK reason codes and the round-trip time. Default: false (connect and disconnect only).",
  },
  {
    name: 'count',
    kind: 'string',
    valueName: 'n',
    section: 'messages',
    description: `Publish this many messages (QoS 1), 1 to ${MAX_MESSAGE_COUNT}. Without --roundtrip they are only published. Default: none (no message), 1 with --roundtrip, --topic or --message.`,
  },
  {
    name: 'topic',
    kind: 'string',
    valueName: 'topic',
    section: 'messages',
    description: `Topic to publish to (and subscribe to with --roundtrip): an MQTT topic name without wildcards, at most ${AWS_IOT_TOPIC_LIMITS.maxTopicBytes} bytes and ${AWS_IOT_TOPIC_LIMITS.maxTopicLevels} levels. Default: ${DEFAULTS.topicRoot}/<client id>, the only topics the stack's policy allows the device.`,
  },
  {
    name: 'message',
    kind: 'string',
    valueName: 'text',
    section: 'messages',
    description:
      'Payload of every message, sent as given. Default: a JSON object with the sequence number, the count, the client id and the time it was sent.',
  },
  {
    name: 'outputs',
    kind: 'string',
    valueName: 'file',
    section: 'sources',
    description: `Stack outputs file ({"<Stack>": {"<Output>": "value"}}). Default: ${DEFAULT_OUTPUTS_FILE} at the repository root, else CloudFormation.`,
  },
  {
    name: 'stack-name',
    kind: 'string',
    valueName: 'name',
    section: 'sources',
    description: `Stack to use from the outputs file, or to read with CloudFormation DescribeStacks. Default: the only stack in the file, else ${DEFAULT_STACK_NAME}.`,
  },
  {
    name: 'region',
    kind: 'string',
    valueName: 'region',
    section: 'sources',
    description:
      'Region for CloudFormation and Secrets Manager. Default: the Region output, else AWS_REGION / the AWS profile.',
  },
  {
    name: 'json',
    kind: 'boolean',
    section: 'output',
    description: 'Print one JSON object with the result on stdout (for CI) instead of text.',
  },
  {
    name: 'explain-wait',
    kind: 'string',
    valueName: 'seconds',
    section: 'output',
    description: `After a refused or failed connect, look this long for the records that explain it (the authorizer's log group and AWSIotLogsV2 in CloudWatch Logs; AWS delivers them a few seconds late); 0 looks once. Default: ${DEFAULT_EXPLAIN_WAIT_SECONDS}.`,
  },
  {
    name: 'verbosity',
    kind: 'string',
    valueName: 'level',
    section: 'output',
    description: `SDK (aws-crt) log level on stderr: ${VERBOSITY_LEVELS.join(', ')}. Default: none.`,
  },
  { name: 'help', kind: 'boolean', section: 'output', description: 'Show this help.' },
];

const STRING_FIELDS: Readonly<Record<string, StringKey>> = {
  endpoint: 'endpoint',
  ca_file: 'caFile',
  cert: 'certFile',
  key: 'keyFile',
  client_id: 'clientId',
  custom_auth_username: 'username',
  custom_auth_authorizer_name: 'authorizerName',
  custom_auth_token_key_name: 'tokenKeyName',
  token_signing_key: 'tokenSigningKeyFile',
  outputs: 'outputsFile',
  stack_name: 'stackName',
  region: 'region',
  topic: 'topic',
  message: 'message',
};

/** Lookup key of a flag: separators normalised so `--client-id` and `--client_id` are the same flag. */
export function flagKey(name: string): string {
  return name.replace(/-/g, '_');
}

const BOOLEAN_LITERALS: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  on: true,
  off: false,
  '1': true,
  '0': false,
};

/** `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0` (any case); `undefined` for anything else. */
export function booleanLiteral(text: string): boolean | undefined {
  return BOOLEAN_LITERALS[text.toLowerCase()];
}

/** What the shared flag reader needs of a flag table's entry (the connect `FLAGS`, the storm's, the device tool's). */
export interface TableFlag {
  /** Name as documented, without the leading `--`. */
  readonly name: string;
  readonly kind: 'string' | 'boolean';
  readonly valueName?: string;
}

/** The flags `readFlags` found, keyed by `flagKey`, and the arguments that are not flags. */
export interface ReadFlags {
  readonly strings: Map<string, string>;
  readonly booleans: Map<string, boolean>;
  readonly positionals: readonly string[];
}

export interface ReadFlagsOptions {
  /** The error for a flag the table does not have (given the name as typed, without `--`): a "did you mean". */
  readonly unknown: (name: string) => UsageError;
  /**
   * The error for an argument that is not a flag. Without it the command takes positional arguments: they are
   * collected, and a boolean flag's value must then be written `--flag=false` (`--json a.json` leaves the file).
   */
  readonly positional?: (arg: string) => UsageError;
}

/**
 * Reads `argv` against a flag table with `node:util` `parseArgs` (its tokens: `--flag value`, `--flag=value`,
 * `-` as a value, `--` ends the flags), then applies the rules every command of this package shares and
 * `parseArgs` does not have: `-` and `_` are the same separator in a name, a boolean takes an optional literal
 * (`--use_websockets false`, `--json=no`), a flag is given at most once, a string value never silently swallows
 * the next flag, and an unknown flag gets the caller's "did you mean". Messages never say "run with --help":
 * every CLI adds that once to every usage error.
 * @throws UsageError for the first problem, in command-line order.
 */
export function readFlags(
  argv: readonly string[],
  table: readonly TableFlag[],
  options: ReadFlagsOptions,
): ReadFlags {
  const byKey = new Map(table.map((flag) => [flagKey(flag.name), flag]));
  // No command here has short options, and `parseArgs` expands `-abc` into one token per letter (`-` among them
  // an option terminator, which shifts the indices of the tokens after it): such an argument is hidden behind a
  // placeholder that reads as a plain argument, and put back wherever it lands (a value, or an argument).
  const hidden = new Map<string, string>();
  const parseable = argv.map((arg, i) => {
    if (arg.length < 2 || arg[0] !== '-' || arg[1] === '-') return normaliseFlagName(arg);
    const placeholder = `\u0000arg${i}`;
    hidden.set(placeholder, arg);
    return placeholder;
  });
  const restore = (value: string): string => hidden.get(value) ?? value;
  const { tokens } = parseNodeArgs({
    // Names normalised first, so that `parseArgs` knows `--client-id` is the string flag `client_id`.
    args: parseable,
    options: Object.fromEntries(table.map((flag) => [flagKey(flag.name), { type: flag.kind }])),
    // Not strict: the checks below word each problem with its fix, which `parseArgs`' own errors do not.
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const strings = new Map<string, string>();
  const booleans = new Map<string, boolean>();
  const positionals: string[] = [];
  // A short option group (`-abc`) is several tokens of one argument: each argument is handled once.
  let handled = -1;
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t] as (typeof tokens)[number];
    if (token.index <= handled) continue;
    handled = token.index;
    const arg = argv[token.index] as string;
    if (token.kind !== 'option' || !arg.startsWith('--')) {
      if (options.positional !== undefined) throw options.positional(arg);
      if (token.kind !== 'option-terminator') positionals.push(arg);
      continue;
    }
    const flag = byKey.get(token.name);
    if (flag === undefined) throw options.unknown(splitFlagArg(arg).name);
    const key = flagKey(flag.name);
    if (strings.has(key) || booleans.has(key)) {
      throw new UsageError(`--${flag.name} is given more than once; give it once`);
    }
    if (flag.kind === 'boolean') {
      let text = token.inlineValue === true ? token.value : undefined;
      const next = tokens[t + 1];
      // Without positionals, the argument after a boolean is its value (`--json false`, or an error for `maybe`).
      if (
        text === undefined &&
        options.positional !== undefined &&
        next !== undefined &&
        next.index === token.index + 1 &&
        next.kind !== 'option-terminator' &&
        !(argv[next.index] as string).startsWith('--')
      ) {
        text = argv[next.index];
        handled = next.index;
      }
      const value = text === undefined ? true : booleanLiteral(text);
      if (value === undefined) throw notBoolean(flag, text as string);
      booleans.set(key, value);
      continue;
    }
    // `parseArgs` hands a string flag the next argument whatever it is; one starting with -- is a forgotten value.
    const value = token.value === undefined ? undefined : restore(token.value);
    const swallowed = token.inlineValue !== true && value?.startsWith('--') === true;
    if (value === undefined || value.length === 0 || swallowed) {
      throw new UsageError(
        `--${flag.name} needs a value: --${flag.name} <${flag.valueName ?? 'value'}>` +
          (swallowed ? ` (for a value that starts with --, write --${flag.name}=<value>)` : ''),
      );
    }
    if (token.inlineValue !== true) handled = token.index + 1;
    strings.set(key, value);
  }
  return { strings, booleans, positionals };
}

/** `--name` or `--name=value` split at the first `=` (the name without `--`). */
export function splitFlagArg(arg: string): { name: string; inline?: string } {
  const eq = arg.indexOf('=');
  return eq < 0 ? { name: arg.slice(2) } : { name: arg.slice(2, eq), inline: arg.slice(eq + 1) };
}

/** `--client-id=a-b` → `--client_id=a-b`: only a flag's name, never a value or a lone `--`. */
function normaliseFlagName(arg: string): string {
  if (!arg.startsWith('--') || arg === '--') return arg;
  const { name, inline } = splitFlagArg(arg);
  return `--${flagKey(name)}${inline === undefined ? '' : `=${inline}`}`;
}

/**
 * Parses the command line (without `node` and the script). No defaults that depend on the stack; the only
 * I/O is `secrets` (the password, token and signature from their file flags, stdin or environment variables,
 * and the one warning for a secret given as a flag; see `secret-input.ts`), never reached for `--help`.
 * Accepts `--flag value` and `--flag=value`; boolean flags take an optional true/false (so
 * `--use_websockets false` means false, unlike the upstream sample).
 * @throws UsageError naming the flag and the fix; ConfigError for an unreadable or too open secret file.
 */
export function parseArgs(argv: readonly string[], secrets: SecretInput = processSecretInput()): CliConfig {
  if (argv.some((arg) => arg === '-h' || arg === '--help' || arg === '--help=true')) {
    return defaults(true);
  }
  const { strings, booleans } = readFlags(argv, FLAGS, {
    unknown: unknownFlag,
    positional: (arg) =>
      new UsageError(`unexpected argument '${arg}': every option is a flag such as --endpoint <host>`),
  });
  return configFromFlags(strings, booleans, secrets);
}

function defaults(help: boolean): CliConfig {
  return Object.freeze({
    help,
    transport: 'mqtt',
    verbosity: 'none',
    timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
    json: false,
    signed: false,
    roundtrip: false,
  });
}

/**
 * The connect config from flags `readFlags` read (keys by `flagKey`): every value checked, the secrets
 * resolved. Exported for the commands that read the connect flags among their own (`storm`).
 * @throws UsageError naming the flag and the fix; ConfigError for an unreadable or too open secret file.
 */
export function configFromFlags(
  strings: ReadonlyMap<string, string>,
  booleans: ReadonlyMap<string, boolean>,
  secrets: SecretInput = processSecretInput(),
): CliConfig {
  const config: { -readonly [K in keyof CliConfig]: CliConfig[K] } = { ...defaults(false) };
  for (const [key, value] of strings) {
    const field = STRING_FIELDS[key];
    if (field !== undefined) config[field] = value;
  }
  Object.assign(config, resolveSecrets(strings, secrets));
  config.transport = booleans.get('use_websockets') === true ? 'websockets' : 'mqtt';
  config.json = booleans.get('json') ?? false;
  config.signed = booleans.get('signed') ?? false;
  config.roundtrip = booleans.get('roundtrip') ?? false;
  // Only when asked for, so that every other command line's config is as it was.
  if (booleans.get('mtls') === true) config.mtls = true;
  if (booleans.get('https') === true) config.https = true;

  if (config.endpoint !== undefined) {
    const endpoint = parseEndpoint(config.endpoint);
    if (endpoint === undefined) {
      throw new UsageError(
        `--endpoint '${config.endpoint}' is not a host name: give the host only, such as abc123-ats.iot.eu-west-1.amazonaws.com or localhost (no scheme or path; host:port or --port for the port)`,
      );
    }
    config.endpoint = endpoint.host;
    config.port = endpoint.port;
  }
  const port = strings.get('port');
  if (port !== undefined) {
    const value = parsePort(port);
    if (value === undefined) {
      throw new UsageError(`--port must be an integer between 1 and 65535, but '${port}' was given`);
    }
    if (config.port !== undefined && config.port !== value) {
      throw new UsageError(`--endpoint has port ${config.port} but --port is ${value}: give the port once`);
    }
    config.port = value;
  }
  const timeout = strings.get('timeout');
  if (timeout !== undefined) {
    const seconds = /^\d+(\.\d+)?$/.test(timeout) ? Number(timeout) : NaN;
    if (!(seconds > 0 && seconds <= MAX_TIMEOUT_SECONDS)) {
      throw new UsageError(
        `--timeout must be a number of seconds greater than 0 and at most ${MAX_TIMEOUT_SECONDS}, but '${timeout}' was given`,
      );
    }
    config.timeoutSeconds = seconds;
  }
  const explainWait = strings.get('explain_wait');
  if (explainWait !== undefined) {
    const seconds = /^\d+(\.\d+)?$/.test(explainWait) ? Number(explainWait) : NaN;
    if (!(seconds >= 0 && seconds <= MAX_EXPLAIN_WAIT_SECONDS)) {
      throw new UsageError(
        `--explain-wait must be a number of seconds from 0 to ${MAX_EXPLAIN_WAIT_SECONDS}, but '${explainWait}' was given`,
      );
    }
    config.explainWaitSeconds = seconds;
  }
  const verbosity = strings.get('verbosity');
  if (verbosity !== undefined) {
    const level = verbosity.toLowerCase() === 'nologs' ? 'none' : verbosity.toLowerCase();
    if (!(VERBOSITY_LEVELS as readonly string[]).includes(level)) {
      throw new UsageError(
        `--verbosity must be one of ${VERBOSITY_LEVELS.join(', ')}, but '${verbosity}' was given`,
      );
    }
    config.verbosity = level as Verbosity;
  }
  if (config.clientId !== undefined && Buffer.byteLength(config.clientId, 'utf8') > MAX_CLIENT_ID_BYTES) {
    throw new UsageError(
      `--client_id is ${Buffer.byteLength(config.clientId, 'utf8')} bytes long; AWS IoT accepts at most ${MAX_CLIENT_ID_BYTES}`,
    );
  }
  if (config.username !== undefined && config.username.split('?').length > 2) {
    throw new UsageError(
      `--custom_auth_username may contain at most one '?' (user?extra=params); the authorizer parameters are added by the client`,
    );
  }
  if (config.tokenKeyName !== undefined && !TOKEN_KEY_NAME_PATTERN.test(config.tokenKeyName)) {
    throw new UsageError(
      `--custom_auth_token_key_name '${config.tokenKeyName}' is not a valid token key name: AWS IoT requires ${TOKEN_KEY_NAME_PATTERN.source}`,
    );
  }
  checkMtlsFlags(config);
  checkTokenFlags(config);
  checkMessageFlags(config, strings.get('count'));
  if (config.signature !== undefined) {
    try {
      config.signature = toUrlEncodedSignature(config.signature);
    } catch (error) {
      // Named by where it came from (the flag, its file or IOT_CUSTOM_AUTH_SIGNATURE); never its value.
      const origin = config.secretOrigins?.signature ?? '--custom_auth_authorizer_signature';
      throw new UsageError(`${origin}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return Object.freeze(config);
}

/**
 * The all-or-none rule for a token the user signed. Without `--signed` the token key name, token and signature
 * are given together or not at all; with `--signed` (which picks the signed authorizer) a token and its
 * signature may replace the one the client would create, and the key name may come from the outputs.
 */
function checkTokenFlags(config: CliConfig): void {
  const own = config.tokenValue !== undefined || config.signature !== undefined;
  if (config.signed) {
    if (own && (config.tokenValue === undefined || config.signature === undefined)) {
      throw new UsageError(
        `--custom_auth_token_value and --custom_auth_authorizer_signature go together: give both (to send your own signed token) or neither (--signed then creates one)`,
      );
    }
    if (own && config.tokenSigningKeyFile !== undefined) {
      throw new UsageError(
        '--token-signing-key is not used when you give --custom_auth_token_value and --custom_auth_authorizer_signature: remove one or the other',
      );
    }
    return;
  }
  if (config.tokenSigningKeyFile !== undefined) {
    throw new UsageError('--token-signing-key is only used with --signed: add --signed, or remove it');
  }
  const parts = [
    ['--custom_auth_token_key_name', config.tokenKeyName],
    ['--custom_auth_token_value', config.tokenValue],
    ['--custom_auth_authorizer_signature', config.signature],
  ] as const;
  const missing = parts.filter(([, value]) => value === undefined).map(([flag]) => flag);
  if (missing.length > 0 && missing.length < parts.length) {
    throw new UsageError(
      `--custom_auth_token_key_name, --custom_auth_token_value and --custom_auth_authorizer_signature go together: give all three or none (missing ${missing.join(', ')}), or use --signed to create a signed token`,
    );
  }
}

/** Validates `--count`, `--topic` and `--message` and stores the count. */
function checkMessageFlags(
  config: { -readonly [K in keyof CliConfig]: CliConfig[K] },
  count: string | undefined,
): void {
  if (count !== undefined) {
    const value = /^\d{1,4}$/.test(count) ? Number(count) : NaN;
    if (!(value >= 1 && value <= MAX_MESSAGE_COUNT)) {
      throw new UsageError(
        `--count must be a whole number of messages from 1 to ${MAX_MESSAGE_COUNT} (AWS IoT accepts at most ${MAX_MESSAGE_COUNT} publishes per second on a connection), but '${count}' was given`,
      );
    }
    config.count = value;
  }
  if (config.topic !== undefined) {
    const problem = topicNameProblem(config.topic);
    if (problem !== undefined) {
      throw new UsageError(
        `--topic '${config.topic}' is not a topic you can publish to: ${problem}. Give a topic name such as ${DEFAULTS.topicRoot}/<client id>/status, or leave --topic out to use the device's own topic`,
      );
    }
  }
  if (
    config.message !== undefined &&
    Buffer.byteLength(config.message, 'utf8') > AWS_IOT_TOPIC_LIMITS.maxPayloadBytes
  ) {
    throw new UsageError(
      `--message is ${Buffer.byteLength(config.message, 'utf8')} bytes long; AWS IoT accepts payloads of at most ${AWS_IOT_TOPIC_LIMITS.maxPayloadBytes} bytes`,
    );
  }
}

/**
 * Why `topic` cannot be published to on AWS IoT Core, or `undefined` when it can (protocol's
 * `checkTopicName`), worded to follow "--topic '...' is not a topic you can publish to: ".
 */
export function topicNameProblem(topic: string): string | undefined {
  const problem = checkTopicName(topic);
  if (problem === undefined) return undefined;
  const { maxTopicBytes, maxTopicLevels, maxTopicSlashes } = AWS_IOT_TOPIC_LIMITS;
  switch (problem.code) {
    case 'EMPTY':
      return 'it is empty';
    case 'NULL_CHARACTER':
      return 'it contains the null character';
    case 'WILDCARD':
      return `it contains the wildcard '${problem.wildcard}', which only topic filters may use`;
    case 'TOO_MANY_BYTES':
      return `it is ${problem.bytes} bytes long and AWS IoT accepts at most ${maxTopicBytes}`;
    case 'TOO_MANY_LEVELS':
      return `it has ${problem.levels} levels and AWS IoT accepts at most ${maxTopicLevels} (${maxTopicSlashes} '/')`;
  }
}

/**
 * Reads `host` or `host:port` (IPv6 literals only without a port), as given to `--endpoint` or found in the
 * IotEndpoint output; `undefined` when it is not a host name (a URL, a path, spaces...).
 */
export function parseEndpoint(text: string): { host: string; port?: number } | undefined {
  if (isIP(text) === 6) return { host: text };
  const match = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d+))?$/.exec(text);
  if (match === null) return undefined;
  const host = match[1] as string;
  if (match[2] === undefined) return { host };
  const port = parsePort(match[2]);
  return port === undefined ? undefined : { host, port };
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

function notBoolean(flag: TableFlag, value: string): UsageError {
  return new UsageError(
    `--${flag.name} takes true or false (or no value, meaning true), but '${value}' was given`,
  );
}

/** The connect command's error for an unknown flag: what to do instead, or the flag a typo was meant to be. */
export function unknownFlag(name: string): UsageError {
  const suggestion = closestFlag(name, FLAGS);
  return new UsageError(
    // No "run with --help" here: the CLI adds it once to every usage error.
    `unknown flag --${name}${suggestion === undefined ? '' : ` (did you mean --${suggestion}?)`}`,
  );
}

/**
 * The documented name of the table's flag that `name` (as typed, either separator) is a typo of: within one
 * edit per four characters (at least one), for "did you mean --x?"; `undefined` when none is that close.
 */
export function closestFlag(name: string, table: readonly { readonly name: string }[]): string | undefined {
  const key = flagKey(name);
  const reach = Math.max(1, Math.floor(key.length / 4));
  return table.map((flag) => flag.name).find((candidate) => editDistance(flagKey(candidate), key) <= reach);
}

/**
 * Levenshtein distance with two swapped neighbours counting as one edit (`endpiont` is one from
 * `endpoint`), for "did you mean" on mistyped flags.
 */
function editDistance(a: string, b: string): number {
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      let distance = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        distance = Math.min(distance, (beforePrevious[j - 2] as number) + 1);
      current.push(distance);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

const SECTION_TITLES: Readonly<Record<FlagSpec['section'], string>> = {
  connection: 'Connection',
  authentication: 'Custom authentication',
  messages: 'Messages (after CONNACK)',
  sources: 'Where the defaults come from',
  output: 'Output',
};

const HELP_WIDTH = 110;
const HELP_INDENT = 40;

/** The `--help` text: every flag with its default, the exit codes, and examples. */
export function usage(): string {
  const lines = [
    'Usage: npm run connect -w client -- [flags]',
    '       iot-custom-auth-connect [flags]',
    '',
    'Connects with MQTT 5 through an AWS IoT custom authorizer, prints the CONNACK and the negotiated settings,',
    'optionally proves the topic policy with a publish/subscribe round trip (--roundtrip),',
    'disconnects and exits. Without flags it uses the stack outputs (cdk-outputs.json at the repository root,',
    'else CloudFormation) and the device password from Secrets Manager. Flags override the outputs; every flag',
    'accepts --flag value and --flag=value, with - or _ in its name.',
  ];
  for (const section of Object.keys(SECTION_TITLES) as FlagSpec['section'][]) {
    lines.push('', `${SECTION_TITLES[section]}:`);
    for (const flag of FLAGS.filter((f) => f.section === section)) {
      const head = `  --${flag.name}${flag.valueName === undefined ? '' : ` <${flag.valueName}>`}`;
      const text = wrapText(flag.description, HELP_WIDTH - HELP_INDENT);
      const indent = ' '.repeat(HELP_INDENT);
      if (head.length >= HELP_INDENT) lines.push(head);
      text.forEach((line, index) => {
        lines.push(
          index === 0 && head.length < HELP_INDENT
            ? `${head.padEnd(HELP_INDENT)}${line}`
            : `${indent}${line}`,
        );
      });
    }
  }
  lines.push(
    '',
    'Exit codes: 0 connected (and every message acknowledged, and received with --roundtrip) and disconnected',
    '            cleanly; 1 connection refused, failed or timed out, or a message refused or not received;',
    '            2 usage or configuration error (bad flags, missing outputs, unreadable key or CA file,',
    "            a client certificate that is not PEM, not valid now, or not the key's).",
    '',
    'Examples:',
    '  npm run connect -w client                                   # unsigned authorizer, direct MQTT/TLS',
    '  npm run connect -w client -- --signed --use_websockets       # signed token over WebSockets',
    '  npm run connect -w client -- --roundtrip                     # subscribe, publish and receive a message',
    "  npm run connect -w client -- --count 5 --message hello       # publish 5 messages to the device's topic",
    '  npm run connect -w client -- --outputs .local-iot/outputs.json --ca_file .local-iot/ca.pem',
    '  npm run connect -w client -- --mtls                          # demo certificate, X.509 domain (mTLS)',
    '  npm run connect -w client -- --cert device.pem --key device.key   # your own registered certificate',
    '  npm run connect -w client -- --endpoint abc123-ats.iot.eu-west-1.amazonaws.com \\',
    '      --custom_auth_authorizer_name MyAuthorizer --custom_auth_username device \\',
    '      --custom_auth_password_file pw.txt                       # password from a mode-600 file',
    '',
    'Secrets: --custom_auth_password, --custom_auth_token_value and --custom_auth_authorizer_signature',
    'also come from IOT_CUSTOM_AUTH_PASSWORD, IOT_CUSTOM_AUTH_TOKEN and IOT_CUSTOM_AUTH_SIGNATURE, or from',
    'their _file flags (mode 600; - reads stdin). Precedence: flag, then file flag, then environment variable.',
  );
  return `${lines.join('\n')}\n`;
}
