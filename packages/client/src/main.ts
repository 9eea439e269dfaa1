import { X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import {
  arnContextOf,
  clientIdProblem,
  CUSTOM_AUTH_PORT,
  DEFAULT_DEVICE_USERNAME,
  DEFAULT_OUTPUTS_FILE,
  DEFAULTS,
  deviceTopic,
  TOKEN_SIGNING_KEY_FILES,
  toUrlEncodedSignature,
  encodeQueryValue,
} from '@iot-custom-auth/protocol';
import { parseArgs, parseEndpoint, topicNameProblem, usage, type CliConfig } from './args';
import type { AwsTarget } from './aws-clients';
import { alpnFor, type ConnectRequest, type Connector, type CustomAuthFields } from './connection';
import type { CredentialSource } from './credentials';
import { diagnose, diagnoseExchange, needsTlsProbe, type FailureContext } from './diagnosis';
import { ClientError, ConfigError, ConnectionFailedError, RuntimeError, UsageError } from './errors';
import { defaultPayload, exchangeMessages, type ExchangeRequest } from './message-exchange';
import type { LoadedOutputs, OutputsReader } from './outputs';
import type { InvocationPaths } from './paths';
import {
  connectedLines,
  connectingLines,
  disconnectLines,
  exchangeLines,
  failureLines,
  jsonErrorReport,
  jsonReport,
  type ConnectionPlan,
} from './report';
import type { TlsProbe } from './tls-probe';

/** Everything `main()` touches outside itself, so that tests run it with fakes. */
export interface MainDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly outputs: OutputsReader;
  readonly credentials: CredentialSource;
  readonly connector: Connector;
  readonly tlsProbe: TlsProbe;
  /** Reads a file as UTF-8 (the `--ca_file`). */
  readonly readFile: (path: string) => Promise<string>;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  /** A random id for the default client id (`test-<uuid>`). */
  readonly randomId: () => string;
  readonly paths: InvocationPaths;
}

/** A signed token lives this long: enough for one connect, short enough to be useless if it leaks. */
export const SIGNED_TOKEN_LIFETIME_SECONDS = 300;

/** The share of `--timeout` kept for the diagnostic TLS handshake after a failure, at most 2 s. */
const PROBE_SHARE = 0.2;
const MAX_PROBE_MS = 2_000;

/**
 * The connect command: parse flags, fill the gaps from the stack outputs and Secrets Manager (or a signed
 * token), connect once, report, disconnect. Resolves when the device connected and disconnected cleanly;
 * otherwise throws a `ClientError` (`UsageError`, `ConfigError`, `RuntimeError`, or `ConnectionFailedError`
 * after printing the report) that `cli.ts` turns into the exit code.
 */
export async function main(argv: readonly string[], deps: MainDeps): Promise<void> {
  let config: CliConfig;
  try {
    config = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError && argv.some((arg) => arg === '--json' || arg.startsWith('--json='))) {
      deps.stdout(`${JSON.stringify(jsonErrorReport('usage', error.message))}\n`);
    }
    throw error;
  }
  if (config.help) {
    deps.stdout(usage());
    return;
  }
  try {
    await connectOnce(config, deps);
  } catch (error) {
    if (config.json && error instanceof ClientError && !(error instanceof ConnectionFailedError)) {
      const kind =
        error instanceof UsageError ? 'usage' : error instanceof RuntimeError ? 'runtime' : 'configuration';
      deps.stdout(`${JSON.stringify(jsonErrorReport(kind, error.message))}\n`);
    }
    throw error;
  }
}

/** The connection settings `main()` worked out, before anything is sent. */
interface Prepared {
  readonly request: ConnectRequest;
  readonly plan: ConnectionPlan;
  readonly context: FailureContext;
  readonly warnings: readonly string[];
  /** The messages to exchange after CONNACK, if any were asked for (the timeout is added later). */
  readonly messages?: Omit<ExchangeRequest, 'timeoutMs'>;
}

async function connectOnce(config: CliConfig, deps: MainDeps): Promise<void> {
  const prepared = await prepare(config, deps);
  const { request, plan, context, messages } = prepared;
  const print = (lines: readonly string[], to: 'stdout' | 'stderr' = 'stdout'): void => {
    if (!config.json && lines.length > 0) deps[to](`${lines.join('\n')}\n`);
  };
  for (const warning of prepared.warnings) deps.stderr(`Warning: ${warning}\n`);
  print(connectingLines(plan));

  const timeoutMs = config.timeoutSeconds * 1000;
  const probeMs = Math.min(MAX_PROBE_MS, timeoutMs * PROBE_SHARE);
  const started = deps.clock();
  const result = await deps.connector.connect({ ...request, timeoutMs: timeoutMs - probeMs });

  if (result.status === 'connected') {
    print(connectedLines(result.connack, result.settings));
    const exchange =
      messages === undefined
        ? undefined
        : await exchangeMessages(result.connection, { ...messages, timeoutMs }, deps.clock);
    const problem = exchange === undefined ? undefined : diagnoseExchange(exchange, context);
    if (exchange !== undefined) print(exchangeLines(exchange));
    if (problem !== undefined) print(failureLines(problem), 'stderr');
    const disconnect = await result.connection.disconnect(timeoutMs);
    print(disconnectLines(disconnect), disconnect.clean ? 'stdout' : 'stderr');
    const report = {
      plan,
      connack: result.connack,
      settings: result.settings,
      ...(messages === undefined ? {} : { messaging: messages.mode }),
      ...(exchange === undefined ? {} : { exchange }),
      ...(problem === undefined ? {} : { diagnosis: problem }),
      disconnect,
      durationMs: deps.clock() - started,
    };
    if (config.json) deps.stdout(`${JSON.stringify(jsonReport(report))}\n`);
    if (problem !== undefined) throw new ConnectionFailedError(problem.headline);
    if (!disconnect.clean) throw new ConnectionFailedError(`disconnect was not clean: ${disconnect.reason}`);
    return;
  }

  const probe = needsTlsProbe(result)
    ? await deps.tlsProbe({
        host: request.endpoint,
        port: request.port,
        ...(plan.alpn === undefined ? {} : { alpn: [plan.alpn] }),
        ...(request.caPem === undefined ? {} : { caPem: request.caPem }),
        timeoutMs: probeMs,
      })
    : undefined;
  const diagnosis = diagnose(result, probe, context);
  print(failureLines(diagnosis), 'stderr');
  if (config.json) {
    const report = {
      plan,
      ...(result.status === 'refused' ? { connack: result.connack } : {}),
      ...(messages === undefined ? {} : { messaging: messages.mode }),
      diagnosis,
      durationMs: deps.clock() - started,
    };
    deps.stdout(`${JSON.stringify(jsonReport(report))}\n`);
  }
  throw new ConnectionFailedError(diagnosis.headline);
}

async function prepare(config: CliConfig, deps: MainDeps): Promise<Prepared> {
  const { invocationDir, repoRoot } = deps.paths;
  const fromFlag = (path: string): string => resolve(invocationDir, path);

  // Outputs are needed unless the flags already say where to connect (the upstream sample's usage); even
  // then an existing default outputs file fills in what the flags leave out.
  const outputs = await deps.outputs.read({
    ...(config.outputsFile === undefined ? {} : { file: fromFlag(config.outputsFile) }),
    defaultFile: join(repoRoot, DEFAULT_OUTPUTS_FILE),
    ...(config.stackName === undefined ? {} : { stackName: config.stackName }),
    ...(config.region === undefined ? {} : { region: config.region }),
    required:
      config.outputsFile !== undefined || config.stackName !== undefined || config.endpoint === undefined,
  });
  const values = outputs?.values ?? {};
  const local = outputs?.connection?.info;

  const { endpoint, port } = resolveEndpoint(config, outputs);
  const clientIdPrefix = values.clientIdPrefix ?? DEFAULTS.clientIdPrefix;
  const clientId = config.clientId ?? `${clientIdPrefix}${deps.randomId()}`;
  const idProblem = clientIdProblem(clientId, clientIdPrefix);
  const messages = messagesFor(config, clientId);
  const warnings: string[] = [];
  if (outputs !== undefined && idProblem !== undefined) {
    warnings.push(
      `${idProblem}: the authorizer of stack ${outputs.stackName} will refuse client id ${clientId} (CONNACK 0x87)`,
    );
  }

  // A token (created here or given) means the signed authorizer; otherwise the unsigned one.
  const signedMode = config.signed || config.tokenValue !== undefined;
  const authorizerName = config.authorizerName ?? authorizerFromOutputs(signedMode, outputs);
  const region = config.region ?? local?.region ?? values.region ?? regionOf(values.deviceSecretArn);
  const aws: AwsTarget = {
    ...(region === undefined ? {} : { region }),
    ...(local === undefined ? {} : { endpoint: local.awsEndpointUrl, credentials: local.credentials }),
  };

  let auth: CustomAuthFields;
  let credentials: string;
  let passwordSource: FailureContext['passwordSource'] = config.password === undefined ? 'none' : 'flag';
  if (signedMode) {
    const tokenKeyName = config.tokenKeyName ?? values.tokenKeyName ?? DEFAULTS.tokenKeyName;
    let token: string;
    let signature: string;
    let origin: string;
    if (config.tokenValue !== undefined && config.signature !== undefined) {
      token = config.tokenValue;
      signature = config.signature;
      origin = 'given on the command line';
    } else {
      const keyFile =
        config.tokenSigningKeyFile === undefined
          ? join(repoRoot, TOKEN_SIGNING_KEY_FILES.directory, TOKEN_SIGNING_KEY_FILES.privateKey)
          : fromFlag(config.tokenSigningKeyFile);
      const signed = await deps.credentials.signedToken({
        clientId,
        keyFile,
        now: new Date(deps.clock()),
        lifetimeSeconds: SIGNED_TOKEN_LIFETIME_SECONDS,
      });
      token = signed.token;
      signature = toUrlEncodedSignature(signed.signature);
      origin = `valid ${SIGNED_TOKEN_LIFETIME_SECONDS} s, signed with ${keyFile}`;
    }
    auth = {
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      tokenKeyName: encodeQueryValue(tokenKeyName),
      tokenValue: encodeQueryValue(token),
      signature,
    };
    credentials =
      `${userPart(config.username, config.password)}token <redacted> (${token.length} characters, key name ${tokenKeyName}, ${origin}), ` +
      `signature <redacted> (${signature.length} characters, URL-encoded once)`;
  } else {
    // With the stack's outputs and a password from the flags, the user is the stack's device.
    let username =
      config.username ??
      (outputs !== undefined && config.password !== undefined ? DEFAULT_DEVICE_USERNAME : undefined);
    let password = config.password;
    if (password === undefined && values.deviceSecretArn !== undefined) {
      const device = await deps.credentials.deviceCredentials({
        secretArn: values.deviceSecretArn,
        target: aws,
      });
      username ??= device.username;
      password = device.password;
      passwordSource = 'secret';
    }
    auth = {
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
    };
    const from =
      passwordSource === 'secret'
        ? `from Secrets Manager ${values.deviceSecretArn}`
        : 'from --custom_auth_password';
    credentials =
      password === undefined
        ? `user name ${username ?? '(none)'}, no password`
        : `user name ${username ?? '(none)'}, password <redacted> (${Buffer.byteLength(password, 'utf8')} bytes, ${from})`;
  }
  if (authorizerName !== undefined) auth = { ...auth, authorizerName: encodeQueryValue(authorizerName) };

  const caFile = config.caFile === undefined ? local?.caFile : fromFlag(config.caFile);
  const caPem = caFile === undefined ? undefined : await readCa(caFile, config.caFile === undefined, deps);
  const alpn = alpnFor(config.transport);
  const sources = [
    outputs === undefined ? undefined : `${outputs.source} (stack ${outputs.stackName})`,
    outputs?.connection?.file,
  ].filter((source) => source !== undefined);
  const plan: ConnectionPlan = {
    endpoint,
    port,
    transport: config.transport,
    ...(alpn === undefined ? {} : { alpn }),
    ...(authorizerName === undefined ? {} : { authorizerName }),
    signed: signedMode,
    clientId,
    credentials,
    ...(sources.length === 0 ? {} : { outputsSource: sources.join(', ') }),
  };
  const context: FailureContext = {
    endpoint,
    port,
    transport: config.transport,
    ...(authorizerName === undefined ? {} : { authorizerName }),
    signed: signedMode,
    clientId,
    clientIdPrefix,
    ...(idProblem === undefined ? {} : { clientIdProblem: idProblem }),
    passwordSource,
    ...(values.deviceSecretArn === undefined ? {} : { secretArn: values.deviceSecretArn }),
    ...(caFile === undefined ? {} : { caFile }),
    timeoutSeconds: config.timeoutSeconds,
  };
  const request: ConnectRequest = {
    endpoint,
    port,
    transport: config.transport,
    ...(caPem === undefined ? {} : { caPem }),
    clientId,
    auth,
    timeoutMs: config.timeoutSeconds * 1000,
    verbosity: config.verbosity,
  };
  return { request, plan, context, warnings, ...(messages === undefined ? {} : { messages }) };
}

/**
 * The messages the flags ask for: `--roundtrip` subscribes, publishes and receives; `--count`, `--topic` or
 * `--message` alone only publish. One message unless `--count` says otherwise; the device's own topic
 * (`devices/<client id>`, the only one the stack's policy allows it) unless `--topic` names another.
 */
function messagesFor(config: CliConfig, clientId: string): Omit<ExchangeRequest, 'timeoutMs'> | undefined {
  const wanted =
    config.roundtrip ||
    config.count !== undefined ||
    config.topic !== undefined ||
    config.message !== undefined;
  if (!wanted) return undefined;
  let topic = config.topic;
  if (topic === undefined) {
    topic = deviceTopic(clientId, DEFAULTS.topicRoot);
    const problem = topicNameProblem(topic);
    if (problem !== undefined) {
      throw new UsageError(
        `the client id ${clientId} does not make a valid topic for the messages (${topic}: ${problem}): pass --topic, or a --client_id of letters, digits, _ . : and -`,
      );
    }
  }
  const count = config.count ?? 1;
  const message = config.message;
  return {
    mode: config.roundtrip ? 'roundtrip' : 'publish',
    topic,
    count,
    payload: (seq, sentAt) => message ?? defaultPayload(seq, count, clientId, sentAt),
  };
}

/** Flags first, then the connection file beside the outputs, then the IotEndpoint output; port 443 last. */
function resolveEndpoint(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
): { endpoint: string; port: number } {
  const local = outputs?.connection?.info;
  if (config.endpoint !== undefined) {
    return { endpoint: config.endpoint, port: config.port ?? local?.port ?? CUSTOM_AUTH_PORT };
  }
  if (local !== undefined) return { endpoint: local.endpoint, port: config.port ?? local.port };
  const fromOutputs = outputs?.values.endpoint;
  if (outputs === undefined || fromOutputs === undefined) {
    throw new ConfigError(
      `no endpoint: ${outputs === undefined ? 'no stack outputs were found' : `${outputs.source} has no IotEndpoint output`}; pass --endpoint <host> or deploy the stack`,
    );
  }
  const parsed = parseEndpoint(fromOutputs);
  if (parsed === undefined) {
    throw new ConfigError(
      `the IotEndpoint output '${fromOutputs}' in ${outputs.source} is not a host name; fix the outputs or pass --endpoint`,
    );
  }
  return { endpoint: parsed.host, port: config.port ?? parsed.port ?? CUSTOM_AUTH_PORT };
}

/** The authorizer the stack deployed for this mode; `undefined` without outputs (the default authorizer). */
function authorizerFromOutputs(signed: boolean, outputs: LoadedOutputs | undefined): string | undefined {
  if (outputs === undefined) return undefined;
  const name = signed ? outputs.values.signedAuthorizerName : outputs.values.unsignedAuthorizerName;
  if (name === undefined) {
    throw new ConfigError(
      `${outputs.source} (stack ${outputs.stackName}) has no ${signed ? 'SignedAuthorizerName' : 'UnsignedAuthorizerName'} output: pass --custom_auth_authorizer_name`,
    );
  }
  return name;
}

function userPart(username: string | undefined, password: string | undefined): string {
  const parts = [
    username === undefined ? undefined : `user name ${username}`,
    password === undefined ? undefined : `password <redacted> (${Buffer.byteLength(password, 'utf8')} bytes)`,
  ].filter((part) => part !== undefined);
  return parts.length === 0 ? '' : `${parts.join(', ')}, `;
}

function regionOf(arn: string | undefined): string | undefined {
  if (arn === undefined) return undefined;
  try {
    return arnContextOf(arn).region;
  } catch {
    // Not an ARN (a plain secret name): the SDK's default region applies.
    return undefined;
  }
}

/** Reads and checks the CA file; `fromConnectionFile` names the source in errors. */
async function readCa(path: string, fromConnectionFile: boolean, deps: MainDeps): Promise<string> {
  const what = fromConnectionFile ? `the CA file ${path} named in the connection file` : `--ca_file ${path}`;
  let pem: string;
  try {
    pem = await deps.readFile(path);
  } catch (error) {
    throw new ConfigError(
      `cannot read ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      { cause: error },
    );
  }
  try {
    new X509Certificate(pem);
  } catch (error) {
    throw new ConfigError(`${what} is not a PEM certificate: pass the CA certificate of the server`, {
      cause: error,
    });
  }
  return pem;
}
