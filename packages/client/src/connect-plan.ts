import { X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import {
  clientIdProblem,
  CONNECT_REFUSALS,
  CUSTOM_AUTH_PORT,
  formatReasonCode,
  DEFAULT_OUTPUTS_FILE,
  DEFAULTS,
  demoDeviceCertificateFiles,
  MQTT_ALPN_PROTOCOL,
  deviceTopic,
  TOKEN_SIGNING_KEY_FILES,
  toUrlEncodedSignature,
  encodeQueryValue,
  regionOfArn,
} from '@iot-custom-auth/protocol';
import { parseEndpoint, topicNameProblem, type CliConfig } from './args';
import type { AwsTarget } from './aws-clients';
import { alpnFor, type ConnectRequest, type CustomAuthFields } from './connection';
import type { CredentialSource } from './credentials';
import type { FailureContext } from './diagnosis';
import { ConfigError, UsageError } from './errors';
import { refusalLogGroups } from './explain/log-groups';
import type { LogGroupRef } from './explain/log-search';
import { defaultPayload, type ExchangeRequest } from './message-exchange';
import { readClientCertificate, type ClientCertificate } from './mtls';
import { usesClientCertificate } from './mtls-flags';
import type { LoadedOutputs, OutputsReader } from './outputs';
import type { InvocationPaths } from './paths';
import { readConfigFile, type ReadTextFile } from './read-config-file';
import type { ConnectionPlan } from './report';
import type { TlsProbeRequest } from './tls-probe';

/**
 * Turning flags into a connection: every command that connects as a device (`connect`, and the tools built
 * on it) resolves its settings here, so they read the same outputs, credentials and CA the same way.
 */

/** A signed token lives this long: enough for one connect, short enough to be useless if it leaks. */
export const SIGNED_TOKEN_LIFETIME_SECONDS = 300;

/** What preparing a connection reads: the outputs, the credentials, the CA file, the clock and ids. */
export interface PlanDeps {
  readonly outputs: OutputsReader;
  readonly credentials: CredentialSource;
  /** Reads the `--ca_file` (or the connection file's CA). */
  readonly readFile: ReadTextFile;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  /** A random id for the default client id (`test-<uuid>`). */
  readonly randomId: () => string;
  readonly paths: InvocationPaths;
  /**
   * IoT `DescribeEndpoint` (`iot:Data-ATS`) where the call goes: the endpoint when neither `--endpoint` nor
   * the outputs give one. Without it, that is a configuration error.
   */
  readonly describeEndpoint?: (target: AwsTarget) => Promise<string>;
}

/** The connection settings worked out from the flags, the outputs and the credentials, before anything is sent. */
/**
 * The Node.js handshake that checks TLS before the SDK connects (`connect`, and once before a `storm`): the
 * SDK's host, port, ALPN, CA and client certificate, so it fails exactly where the SDK would.
 */
export function tlsProbeRequest(
  prepared: Pick<PreparedConnection, 'request' | 'plan'>,
  timeoutMs: number,
): TlsProbeRequest {
  const { request, plan } = prepared;
  return {
    host: request.endpoint,
    port: request.port,
    ...(plan.alpn === undefined ? {} : { alpn: [plan.alpn] }),
    ...(request.caPem === undefined ? {} : { caPem: request.caPem }),
    ...(request.clientCertificate === undefined ? {} : { clientCertificate: request.clientCertificate }),
    timeoutMs,
  };
}

export interface PreparedConnection {
  readonly request: ConnectRequest;
  readonly plan: ConnectionPlan;
  readonly context: FailureContext;
  readonly warnings: readonly string[];
  /** The messages to exchange after CONNACK, if any were asked for (the timeout is added later). */
  readonly messages?: Omit<ExchangeRequest, 'timeoutMs'>;
  /** Where the AWS APIs are (the device secret, the logs, the authorizer), as for the device secret. */
  readonly aws: AwsTarget;
  /** The log groups with the records that explain a refusal. */
  readonly logGroups: readonly LogGroupRef[];
  /** The stack outputs, when they were used. */
  readonly outputs?: LoadedOutputs;
}

/** Where the device connects, and with which client id: the fields the request, the plan and the context share. */
interface ConnectTarget {
  readonly endpoint: string;
  readonly port: number;
  readonly transport: CliConfig['transport'];
  readonly clientId: string;
}

/** The authorizer the device asks for, as the plan and the failure context both name it. */
interface AuthorizerChoice {
  readonly signed: boolean;
  /** `undefined`: the endpoint's default authorizer. */
  readonly authorizerName?: string;
}

/** The client id, and why this stack's policy would refuse it, if it would. */
interface ClientIdChoice {
  readonly clientId: string;
  readonly prefix: string;
  readonly problem?: string;
}

/** How the device proves who it is, and how the report says so without a secret. */
interface ResolvedCredentials {
  /** The custom-auth fields, all but the authorizer name. */
  readonly auth: CustomAuthFields;
  /** For the plan: every secret redacted (lengths only). */
  readonly description: string;
  readonly passwordSource: FailureContext['passwordSource'];
  /** Signed mode: whether the client signed the token or it was given on the command line. */
  readonly tokenOrigin?: FailureContext['tokenOrigin'];
}

/** The CA to trust instead of the system store, when one was named. */
interface ResolvedCa {
  readonly file?: string;
  readonly pem?: string;
}

/**
 * Works out everything before anything is sent, in the order the user fixes things: the outputs, where to
 * connect, the client id and its messages, the authorizer, the credentials, the CA. Each setting is
 * resolved once and shared by the connect request, the printed plan and the context of a diagnosis.
 */
export async function prepareConnection(config: CliConfig, deps: PlanDeps): Promise<PreparedConnection> {
  if (usesClientCertificate(config)) return prepareMtlsConnection(config, deps);
  const outputs = await readOutputs(config, deps);
  const { endpoint, port } = await resolveEndpointOrDescribe(config, outputs, deps);
  const id = resolveClientId(config, outputs, deps.randomId);
  const messages = messagesFor(config, id.clientId);
  const authorizer = resolveAuthorizer(config, outputs);
  const credentials = authorizer.signed
    ? await signedCredentials(config, outputs, id.clientId, deps)
    : await unsignedCredentials(config, outputs, id.clientId, deps);
  const ca = await resolveCa(config, outputs, deps);

  const target: ConnectTarget = { endpoint, port, transport: config.transport, clientId: id.clientId };
  const alpn = alpnFor(config.transport);
  const outputsSource = outputsSourceOf(outputs);
  const secretArn = outputs?.values.deviceSecretArn;
  const plan: ConnectionPlan = {
    ...target,
    ...(alpn === undefined ? {} : { alpn }),
    ...authorizer,
    credentials: credentials.description,
    ...(outputsSource === undefined ? {} : { outputsSource }),
  };
  const context: FailureContext = {
    ...target,
    ...authorizer,
    clientIdPrefix: id.prefix,
    ...(id.problem === undefined ? {} : { clientIdProblem: id.problem }),
    passwordSource: credentials.passwordSource,
    ...(credentials.tokenOrigin === undefined ? {} : { tokenOrigin: credentials.tokenOrigin }),
    ...(secretArn === undefined ? {} : { secretArn }),
    ...(ca.file === undefined ? {} : { caFile: ca.file }),
    timeoutSeconds: config.timeoutSeconds,
  };
  const request: ConnectRequest = {
    ...target,
    ...(ca.pem === undefined ? {} : { caPem: ca.pem }),
    auth:
      authorizer.authorizerName === undefined
        ? credentials.auth
        : { ...credentials.auth, authorizerName: encodeQueryValue(authorizer.authorizerName) },
    timeoutMs: config.timeoutSeconds * 1000,
    verbosity: config.verbosity,
  };
  return preparedConnection(config, outputs, { request, plan, context, messages }, (stackName) =>
    id.problem === undefined
      ? undefined
      : `${id.problem}: the authorizer of stack ${stackName} will refuse client id ${id.clientId} (CONNACK ${formatReasonCode(expectedClientIdRefusal(id.clientId))})`,
  );
}

/**
 * What both connection kinds hand back once planned: the request and plan, with the Secrets Manager target and
 * log groups a refusal's explanation reads, and a warning when the stack's authorizer will refuse the client id
 * (`refusalWarning` gets the stack's name; it says nothing without outputs).
 */
function preparedConnection(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
  planned: Pick<PreparedConnection, 'request' | 'plan' | 'context'> & {
    readonly messages: PreparedConnection['messages'] | undefined;
  },
  refusalWarning: (stackName: string) => string | undefined,
): PreparedConnection {
  const { messages, ...rest } = planned;
  const warning = outputs === undefined ? undefined : refusalWarning(outputs.stackName);
  return {
    ...rest,
    warnings: warning === undefined ? [] : [warning],
    aws: secretsTarget(config, outputs),
    logGroups: refusalLogGroups(outputs),
    ...(outputs === undefined ? {} : { outputs }),
    ...(messages === undefined ? {} : { messages }),
  };
}

/**
 * The CONNACK code protocol's refusal table gives a client id this stack refuses: an unsafe one is denied
 * by the Lambda (not authenticated), one outside the prefix by the returned policy (not authorized).
 */
function expectedClientIdRefusal(clientId: string): number {
  const unsafe = clientIdProblem(clientId, '') !== undefined;
  return (unsafe ? CONNECT_REFUSALS.NOT_AUTHENTICATED : CONNECT_REFUSALS.CONNECT_NOT_ALLOWED).connack;
}

/**
 * Outputs are needed unless the flags already say where to connect (the upstream sample's usage); even
 * then an existing default outputs file fills in what the flags leave out.
 */
function readOutputs(config: CliConfig, deps: PlanDeps): Promise<LoadedOutputs | undefined> {
  return deps.outputs.read({
    ...(config.outputsFile === undefined ? {} : { file: flagPath(deps.paths, config.outputsFile) }),
    defaultFile: join(deps.paths.repoRoot, DEFAULT_OUTPUTS_FILE),
    ...(config.stackName === undefined ? {} : { stackName: config.stackName }),
    ...(config.region === undefined ? {} : { region: config.region }),
    // The upstream sample's flags (an authorizer and credentials, with or without --endpoint) need no
    // outputs: the endpoint then comes from DescribeEndpoint.
    required:
      config.outputsFile !== undefined ||
      config.stackName !== undefined ||
      (config.endpoint === undefined &&
        (config.authorizerName === undefined || deps.describeEndpoint === undefined)),
  });
}

/** `--client_id`, else the stack's prefix and a random id. */
function resolveClientId(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
  randomId: () => string,
): ClientIdChoice {
  const prefix = clientIdPrefixOf(outputs);
  const clientId = config.clientId ?? `${prefix}${randomId()}`;
  const problem = clientIdProblem(clientId, prefix);
  return { clientId, prefix, ...(problem === undefined ? {} : { problem }) };
}

/** A token (created here or given) means the signed authorizer; otherwise the unsigned one. */
function resolveAuthorizer(config: CliConfig, outputs: LoadedOutputs | undefined): AuthorizerChoice {
  const signed = config.signed || config.tokenValue !== undefined;
  const authorizerName = config.authorizerName ?? authorizerFromOutputs(signed, outputs);
  return { signed, ...(authorizerName === undefined ? {} : { authorizerName }) };
}

/** The signed authorizer's fields: the token, its key name and signature, and a user name or password if given. */
async function signedCredentials(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
  clientId: string,
  deps: PlanDeps,
): Promise<ResolvedCredentials> {
  const tokenKeyName = config.tokenKeyName ?? outputs?.values.tokenKeyName ?? DEFAULTS.tokenKeyName;
  const { token, signature, origin } = await tokenFor(config, clientId, deps);
  const user = [
    config.username === undefined ? undefined : `user name ${config.username}`,
    config.password === undefined ? undefined : redactedPassword(config.password),
  ].filter((part) => part !== undefined);
  return {
    auth: {
      ...userFields(config.username, config.password),
      tokenKeyName: encodeQueryValue(tokenKeyName),
      tokenValue: encodeQueryValue(token),
      signature,
    },
    description: [
      ...user,
      `token <redacted> (${token.length} characters, key name ${tokenKeyName}, ${origin})`,
      `signature <redacted> (${signature.length} characters, URL-encoded once)`,
    ].join(', '),
    passwordSource: config.password === undefined ? 'none' : 'flag',
    tokenOrigin: config.tokenValue === undefined ? 'signed-here' : 'given',
  };
}

/**
 * The token and signature the user gave (flags, files or environment), else a fresh token bound to the client id and signed
 * with the key file (`.keys/` at the repository root unless `--token-signing-key` names one). The signature
 * comes back URL-encoded once, as the username query needs it.
 */
async function tokenFor(
  config: CliConfig,
  clientId: string,
  deps: PlanDeps,
): Promise<{ token: string; signature: string; origin: string }> {
  if (config.tokenValue !== undefined && config.signature !== undefined) {
    return {
      token: config.tokenValue,
      signature: config.signature,
      origin: `given with ${config.secretOrigins?.tokenValue ?? '--custom_auth_token_value'}`,
    };
  }
  const keyFile =
    config.tokenSigningKeyFile === undefined
      ? join(deps.paths.repoRoot, TOKEN_SIGNING_KEY_FILES.directory, TOKEN_SIGNING_KEY_FILES.privateKey)
      : flagPath(deps.paths, config.tokenSigningKeyFile);
  const signed = await deps.credentials.signedToken({
    clientId,
    keyFile,
    now: new Date(deps.clock()),
    lifetimeSeconds: SIGNED_TOKEN_LIFETIME_SECONDS,
  });
  return {
    token: signed.token,
    signature: toUrlEncodedSignature(signed.signature),
    origin: `valid ${SIGNED_TOKEN_LIFETIME_SECONDS} s, signed with ${keyFile}`,
  };
}

/**
 * The unsigned authorizer's user name and password: from the flags, else derived from the stack's master
 * secret for the device the user name names, which is the client id unless `--custom_auth_username` says
 * otherwise (a device may only connect with its own id as client id). With the stack's outputs and a
 * password from the flags, the user is the client id too.
 */
async function unsignedCredentials(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
  clientId: string,
  deps: PlanDeps,
): Promise<ResolvedCredentials> {
  const secretArn = outputs?.values.deviceSecretArn;
  const deviceId = config.username ?? clientId;
  const device =
    config.password === undefined && secretArn !== undefined
      ? await deps.credentials.deviceCredentials({
          secretArn,
          target: secretsTarget(config, outputs),
          deviceId,
        })
      : undefined;
  const username =
    config.username ??
    device?.username ??
    (outputs !== undefined && config.password !== undefined ? clientId : undefined);
  const password = config.password ?? device?.password;
  const origin =
    device === undefined
      ? `from ${config.secretOrigins?.password ?? '--custom_auth_password'}`
      : `derived for device ${deviceId} from the master secret ${secretArn}`;
  return {
    auth: userFields(username, password),
    description: `user name ${username ?? '(none)'}, ${password === undefined ? 'no password' : redactedPassword(password, origin)}`,
    passwordSource: device !== undefined ? 'secret' : config.password === undefined ? 'none' : 'flag',
  };
}

/**
 * Where to call AWS (the device secret, and the logs that explain a refusal): the connection file's AWS API,
 * else the SDK's chain; the stack's region.
 */
export function secretsTarget(
  config: Pick<CliConfig, 'region'>,
  outputs: LoadedOutputs | undefined,
): AwsTarget {
  const values = outputs?.values ?? {};
  const local = outputs?.connection?.info;
  const region = config.region ?? local?.region ?? values.region ?? regionOfArn(values.deviceSecretArn);
  return {
    ...(region === undefined ? {} : { region }),
    ...(local === undefined ? {} : { endpoint: local.awsEndpointUrl, credentials: local.credentials }),
  };
}

/** The user name and password fields, each only when there is one. */
function userFields(
  username: string | undefined,
  password: string | undefined,
): Pick<CustomAuthFields, 'username' | 'password'> {
  return {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

/** The length tells a truncated password from a wrong one without showing either. */
function redactedPassword(password: string, origin?: string): string {
  const size = `${Buffer.byteLength(password, 'utf8')} bytes`;
  return `password <redacted> (${origin === undefined ? size : `${size}, ${origin}`})`;
}

/** `--ca_file`, else the CA of the connection file beside the outputs; read and checked. */
async function resolveCa(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
  deps: PlanDeps,
): Promise<ResolvedCa> {
  if (config.caFile !== undefined) {
    const file = flagPath(deps.paths, config.caFile);
    return { file, pem: await readCa(deps.readFile, file, `--ca_file ${file}`) };
  }
  const file = outputs?.connection?.info.caFile;
  if (file === undefined) return {};
  return { file, pem: await readCa(deps.readFile, file, `the CA file ${file} named in the connection file`) };
}

/** The outputs file (or CloudFormation stack) and the connection file beside it, for the plan. */
function outputsSourceOf(outputs: LoadedOutputs | undefined): string | undefined {
  if (outputs === undefined) return undefined;
  const sources = [`${outputs.source} (stack ${outputs.stackName})`, outputs.connection?.file];
  return sources.filter((source) => source !== undefined).join(', ');
}

/** A path given in a flag is relative to where the user ran the command, not to this package. */
function flagPath(paths: InvocationPaths, path: string): string {
  return resolve(paths.invocationDir, path);
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

/**
 * {@link resolveEndpoint}, or, when neither the flags nor the outputs name an endpoint, the account's ATS
 * data endpoint from IoT `DescribeEndpoint` (`iot:Data-ATS`) in the region the AWS calls go to.
 */
async function resolveEndpointOrDescribe(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
  deps: PlanDeps,
): Promise<{ endpoint: string; port: number }> {
  const named =
    config.endpoint !== undefined ||
    outputs?.connection !== undefined ||
    outputs?.values.endpoint !== undefined;
  if (named || deps.describeEndpoint === undefined) return resolveEndpoint(config, outputs);
  let host: string;
  try {
    host = await deps.describeEndpoint(secretsTarget(config, outputs));
  } catch (error) {
    throw new ConfigError(
      `no endpoint: ${outputs === undefined ? 'no stack outputs were found' : `${outputs.source} has no IotEndpoint output`}, and IoT DescribeEndpoint (iot:Data-ATS) failed: ${error instanceof Error ? error.message : String(error)}; pass --endpoint <host>, or AWS credentials and --region`,
      { cause: error },
    );
  }
  return { endpoint: host, port: config.port ?? CUSTOM_AUTH_PORT };
}

/**
 * The host: `--endpoint`, else the connection file beside the outputs, else the IotEndpoint output. The
 * port: `--port`, else the connection file's, else the one in the IotEndpoint output, else 443.
 */
function resolveEndpoint(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
): { endpoint: string; port: number } {
  const local = outputs?.connection?.info;
  const found =
    config.endpoint !== undefined
      ? { host: config.endpoint, port: local?.port }
      : local !== undefined
        ? { host: local.endpoint, port: local.port }
        : endpointFromOutputs(outputs);
  return { endpoint: found.host, port: config.port ?? found.port ?? CUSTOM_AUTH_PORT };
}

/** The IotEndpoint output as host and optional port. */
function endpointFromOutputs(outputs: LoadedOutputs | undefined): { host: string; port?: number } {
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
  return parsed;
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

/** Reads the CA file and checks that it holds a certificate; `what` names it in errors. */
async function readCa(readFile: ReadTextFile, path: string, what: string): Promise<string> {
  const pem = await readConfigFile(
    readFile,
    path,
    (error) => `cannot read ${what}: ${error.code ?? error.message}`,
  );
  try {
    new X509Certificate(pem);
  } catch (error) {
    throw new ConfigError(`${what} is not a PEM certificate: pass the CA certificate of the server`, {
      cause: error,
    });
  }
  return pem;
}

/**
 * Custom authentication with an X.509 client certificate (`CUSTOM_AUTH_X509`, mTLS): the certificate and key
 * (`--cert`/`--key`, or the demo files for `--mtls`) and the outputs are read and checked first (see
 * {@link readCertificateAndOutputs}), then the X.509 endpoint, the
 * client id (the certificate's subject CN unless `--client_id` says otherwise), the CA and the messages. No
 * password is needed: the X.509 authorizer decides from the certificate AWS IoT verified; a user name and
 * password given anyway are sent, as AWS IoT passes them to the authorizer in `protocolData.mqtt`
 * (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html).
 */
async function prepareMtlsConnection(config: CliConfig, deps: PlanDeps): Promise<PreparedConnection> {
  const { certificate, outputs } = await readCertificateAndOutputs(config, deps);
  const { endpoint, port } = resolveX509Endpoint(config, outputs);
  const id = x509ClientId(config, outputs, certificate);
  const messages = messagesFor(config, id.clientId);
  const ca = await resolveCa(config, outputs, deps);
  const authorizerName = outputs?.values.x509AuthorizerName;

  const target: ConnectTarget = { endpoint, port, transport: 'mqtt', clientId: id.clientId };
  const outputsSource = outputsSourceOf(outputs);
  const user = [
    config.username === undefined ? undefined : `user name ${config.username}`,
    config.password === undefined
      ? undefined
      : redactedPassword(
          config.password,
          `from ${config.secretOrigins?.password ?? '--custom_auth_password'}`,
        ),
  ].filter((part) => part !== undefined);
  const plan: ConnectionPlan = {
    ...target,
    alpn: MQTT_ALPN_PROTOCOL,
    ...(authorizerName === undefined ? {} : { authorizerName }),
    signed: false,
    authentication: 'CUSTOM_AUTH_X509',
    clientCertificate: {
      file: certificate.certFile,
      id: certificate.certificateId,
      ...(certificate.subjectCn === undefined ? {} : { subjectCn: certificate.subjectCn }),
      validTo: certificate.validTo,
    },
    credentials: [
      `client certificate ${certificate.certFile} (id ${certificate.certificateId}, subject CN ${certificate.subjectCn ?? '(none)'}, valid until ${certificate.validTo}), private key ${certificate.keyFile} (never sent)`,
      ...user,
    ].join(', '),
    ...(outputsSource === undefined ? {} : { outputsSource }),
  };
  const context: FailureContext = {
    ...target,
    signed: false,
    ...(authorizerName === undefined ? {} : { authorizerName }),
    clientIdPrefix: id.prefix,
    ...(id.problem === undefined ? {} : { clientIdProblem: id.problem }),
    passwordSource: config.password === undefined ? 'none' : 'flag',
    ...(ca.file === undefined ? {} : { caFile: ca.file }),
    clientCertificateId: certificate.certificateId,
    timeoutSeconds: config.timeoutSeconds,
  };
  const request: ConnectRequest = {
    ...target,
    ...(ca.pem === undefined ? {} : { caPem: ca.pem }),
    auth: userFields(config.username, config.password),
    clientCertificate: { certPem: certificate.certPem, keyPem: certificate.keyPem },
    timeoutMs: config.timeoutSeconds * 1000,
    verbosity: config.verbosity,
  };
  return preparedConnection(config, outputs, { request, plan, context, messages }, (stackName) =>
    id.problem === undefined
      ? undefined
      : `${id.problem}: the X.509 authorizer of stack ${stackName} will refuse client id ${id.clientId} (CONNACK ${formatReasonCode(CONNECT_REFUSALS.NOT_AUTHENTICATED.connack)})`,
  );
}

/**
 * The client id of a certificate connection: `--client_id`, else the certificate's subject CN, which is the
 * only client id this stack's X.509 authorizer admits the certificate as (no device may act as another).
 */
function x509ClientId(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
  certificate: ClientCertificate,
): ClientIdChoice {
  const prefix = clientIdPrefixOf(outputs);
  const clientId = config.clientId ?? certificate.subjectCn;
  if (clientId === undefined) {
    throw new UsageError(
      `the certificate ${certificate.certFile} has no subject CN to use as the client id: pass --client_id`,
    );
  }
  const problem =
    certificate.subjectCn !== undefined && clientId !== certificate.subjectCn
      ? `the client id is not the certificate's subject CN ${certificate.subjectCn}`
      : clientIdProblem(clientId, prefix);
  return { clientId, prefix, ...(problem === undefined ? {} : { problem }) };
}

/** The stack's client id prefix: the outputs' `ClientIdPrefix`, else the default the stack is synthesized with. */
function clientIdPrefixOf(outputs: LoadedOutputs | undefined): string {
  return outputs?.values.clientIdPrefix ?? DEFAULTS.clientIdPrefix;
}

/**
 * The client certificate and the outputs. `--cert`/`--key` are checked before the outputs are read, so a bad key
 * costs no CloudFormation call; `--mtls` reads the outputs first, as the demo files are named after their
 * `ClientIdPrefix` (the default prefix without outputs).
 */
async function readCertificateAndOutputs(
  config: CliConfig,
  deps: PlanDeps,
): Promise<{ certificate: ClientCertificate; outputs: LoadedOutputs | undefined }> {
  if (config.mtls === true) {
    const outputs = await readOutputs(config, deps);
    const prefix = clientIdPrefixOf(outputs);
    const certificate = await readClientCertificate(
      deps.readFile,
      demoCertificateFiles(deps.paths.repoRoot, prefix, outputs),
      { kind: 'demo', clientIdPrefix: prefix },
      deps.clock(),
    );
    return { certificate, outputs };
  }
  const certificate = await readClientCertificate(
    deps.readFile,
    {
      certFile: flagPath(deps.paths, config.certFile as string),
      keyFile: flagPath(deps.paths, config.keyFile as string),
    },
    { kind: 'flags' },
    deps.clock(),
  );
  return { certificate, outputs: await readOutputs(config, deps) };
}

/**
 * `--mtls`: the demo certificate and key of the stack's client id prefix, which the first synth with that prefix
 * creates (`.keys/<prefix>mtls-demo-cert.pem` and `-key.pem`). The prefix comes from an outputs file; one that
 * makes no valid client id could name a file outside `.keys/`, so it is refused before any path is made.
 * @throws ConfigError naming the outputs file and the fix when the prefix makes no valid client id.
 */
function demoCertificateFiles(
  repoRoot: string,
  prefix: string,
  outputs: LoadedOutputs | undefined,
): { certFile: string; keyFile: string } {
  const files = demoDeviceCertificateFiles(prefix);
  const problem = clientIdProblem(files.subjectCn, prefix);
  if (problem !== undefined) {
    throw new ConfigError(
      `the ClientIdPrefix output ${JSON.stringify(prefix)} in ${outputs?.source ?? 'the outputs'} makes no valid client id for the demo certificate (${JSON.stringify(files.subjectCn)}: ${problem}): fix the outputs, or give your own --cert and --key`,
    );
  }
  return {
    certFile: join(repoRoot, files.directory, files.certificate),
    keyFile: join(repoRoot, files.directory, files.privateKey),
  };
}

/**
 * The X.509 endpoint: `--endpoint`, else the connection file's `x509` listener (local-iot), else the
 * X509Endpoint output. The port: `--port`, else the local listener's, else 443 (the port AWS IoT serves
 * MQTT with ALPN `mqtt` on, https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html).
 */
function resolveX509Endpoint(
  config: CliConfig,
  outputs: LoadedOutputs | undefined,
): { endpoint: string; port: number } {
  const connection = outputs?.connection;
  const local = connection?.info.x509;
  if (config.endpoint !== undefined) {
    return { endpoint: config.endpoint, port: config.port ?? local?.port ?? CUSTOM_AUTH_PORT };
  }
  if (connection !== undefined) {
    if (local === undefined) {
      throw new ConfigError(
        `${connection.file} names no X.509 endpoint: the local-iot that wrote it serves no CUSTOM_AUTH_X509 domain configuration. Run \`npx cdk synth\` (the stack gains the domain configuration and the demo certificate), then restart \`npm run local\`; or pass --endpoint`,
      );
    }
    return { endpoint: local.endpoint, port: config.port ?? local.port };
  }
  const value = outputs?.values.x509Endpoint;
  if (outputs === undefined || value === undefined) {
    throw new ConfigError(
      `no X.509 endpoint: ${outputs === undefined ? 'no stack outputs were found' : `${outputs.source} (stack ${outputs.stackName}) has no X509Endpoint output`}. Deploy the stack with its X.509 domain configuration (\`npx cdk deploy --outputs-file ${DEFAULT_OUTPUTS_FILE}\`), or against local-iot start \`npm run local\` and pass --outputs .local-iot/outputs.json; or pass --endpoint <domain name>`,
    );
  }
  const parsed = parseEndpoint(value);
  if (parsed === undefined) {
    throw new ConfigError(
      `the X509Endpoint output '${value}' in ${outputs.source} is not a host name; fix the outputs or pass --endpoint`,
    );
  }
  return { endpoint: parsed.host, port: config.port ?? parsed.port ?? CUSTOM_AUTH_PORT };
}
