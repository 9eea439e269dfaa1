import { lookup } from 'node:dns/promises';
import * as path from 'node:path';
import {
  AWS_IOT_LOG_GROUP,
  LOCAL_IOT_FILES,
  type LocalConnectionInfo,
  type LocalX509EndpointInfo,
} from '@iot-custom-auth/protocol';
import { GATEWAY_DEFAULTS, startGateway, type Gateway } from './gateway/gateway';
import type { GatewayClock } from './gateway/gateway-clock';
import { stdoutLogSink, type GatewayLogSink } from './gateway/gateway-log';
import type { LogSink } from './lambda/lambda-runner';
import { ensureLocalCa } from './gateway/local-ca';
import type { Isolation } from './lambda/lambda-runner';
import { createLocalRuntime, type LocalRuntime } from './local-runtime';
import { outputsFileContent, type LocalDeployment } from './deployment/local-deployment';
import { LoopbackListener } from './aws-api/loopback-listener';
import {
  diffDeployments,
  fingerprintCode,
  type DeploymentChanges,
  type FingerprintedDeployment,
} from './watch/deployment-changes';
import { SwappableRuntime } from './watch/swappable-runtime';
import { MessageBroker } from './broker/message-broker';
import type { MessageHandler } from './gateway/message-handler';
import { ensurePrivateDirectory, writePrivateFile } from './private-state-files';
import { LocalLogStore } from './logs/log-store';
import { ConnectLogRecorder, IotConnectLog } from './logs/iot-connect-log';
import type { ConnectAuthorizer } from './auth/connect-types';
import { DeploymentError } from './errors';

/** How to run local-iot. */
export interface LocalIotOptions {
  /** The cloud assembly (`npx cdk synth` output). */
  readonly cdkOut: string;
  /** @default the only stack in the assembly */
  readonly stackName?: string;
  /**
   * Where the CA, generated secrets, outputs.json and connection.json live; made mode 0700, every file in it
   * 0600, whatever the umask. @default '.local-iot'
   */
  readonly stateDir?: string;
  /** TLS port of the gateway; 0 picks a free one. @default 8443 */
  readonly port?: number;
  /** Host name devices connect to (TLS SNI and certificate). @default 'localhost' */
  readonly endpointHost?: string;
  /**
   * TLS port of the X.509 listener, which serves the stack's `CUSTOM_AUTH_X509` domain configuration when it
   * has one; 0 picks a free one. @default 0
   */
  readonly x509Port?: number;
  /**
   * Host name of the X.509 listener (SNI, certificate, the `X509Endpoint` output). It must resolve to this
   * machine; the port, not the name, tells the two listeners apart. @default endpointHost
   */
  readonly x509EndpointHost?: string;
  /** Port of the local AWS API on 127.0.0.1. @default 0 (a free one) */
  readonly awsApiPort?: number;
  /** Gateway decisions and connection events. @default one JSON line each on stdout */
  readonly log?: GatewayLogSink;
  /** The Lambda functions' own console output. @default standard error */
  readonly functionLog?: LogSink;
  /** Clock of the MQTT timers; tests scale it. @default the system clock */
  readonly clock?: GatewayClock;
  /** AWS IoT's limit on the authorizer Lambda; tests shorten it. @default 5000 */
  readonly authorizerTimeoutMs?: number;
  /** How the Lambda execution environments run. @default 'process' (one OS process per environment) */
  readonly isolation?: Isolation;
  /**
   * Execution environments per function when its `ReservedConcurrentExecutions` is not set.
   * @default DEFAULT_CONCURRENCY_LIMIT
   */
  readonly concurrencyLimit?: number;
  /**
   * What happens to PUBLISH / SUBSCRIBE after CONNECT.
   * @default a `MessageBroker` enforcing the authorizer's policies in the deployment's region and account
   */
  readonly messageHandler?: MessageHandler;
}

/** Where the local CloudWatch Logs groups are written, one file each, inside the state directory. */
export const LOCAL_IOT_LOGS_DIRECTORY = 'logs';

/** A deployment replaced by `redeploy`. */
export interface DeploymentSwap {
  readonly previous: LocalDeployment;
  readonly current: LocalDeployment;
  /** What differs, per kind of resource (see `describeChanges` for the one-line form). */
  readonly changes: DeploymentChanges;
  /** What of the new deployment local-iot does not serve (see `LocalIot.notices`). */
  readonly notices: readonly string[];
  /**
   * The X.509 listener this redeploy started, for a `CUSTOM_AUTH_X509` domain configuration the previous
   * deployment did not have (`connection` and `connection.json` have it too).
   */
  readonly x509Started?: LocalX509EndpointInfo;
}

/** A running local-iot: gateway, local AWS API, Lambda workers, and the files a client reads. */
export interface LocalIot {
  /** The deployment being served now (another one after each `redeploy`). */
  readonly runtime: LocalRuntime;
  readonly gateway: Gateway;
  /** `.local-iot/outputs.json`: same shape as `cdk deploy --outputs-file`. */
  readonly outputsFile: string;
  /** `.local-iot/connection.json`: see `LocalConnectionInfo`. */
  readonly connectionFile: string;
  /** What `connection.json` holds now (its `x509` appears when a redeploy adds the domain configuration). */
  readonly connection: LocalConnectionInfo;
  /**
   * Local CloudWatch Logs, served by the local AWS API (`FilterLogEvents`): each function's log group and
   * AWS IoT's `AWSIotLogsV2`, also written to `.local-iot/logs/<group>.log` (0600).
   */
  readonly logs: LocalLogStore;
  /** `.local-iot/logs/`. */
  readonly logsDirectory: string;
  /**
   * What of the stack local-iot does not serve, one sentence each (e.g. a domain configuration of an
   * authentication type it does not emulate), for the start-up output.
   */
  readonly notices: readonly string[];
  /**
   * Loads `cdkOut` again and serves it in place of the current deployment, as a `cdk deploy` updates the
   * stack under connected devices: same gateway port, CA, local AWS API URL and credentials, outputs.json
   * rewritten (and connection.json when a `CUSTOM_AUTH_X509` domain configuration is added, whose listener
   * starts then, or renamed); connected clients keep their session until its next policy
   * refresh, which the new deployment decides, as does every new connect. The replaced deployment finishes
   * the decisions it started, then its functions stop.
   * @throws DeploymentError when the new assembly cannot be served; the current deployment stays.
   */
  redeploy(): Promise<DeploymentSwap>;
  close(): Promise<void>;
}

/**
 * Serves the synthesized stack on this machine: loads `cdk.out`, starts the local AWS API and the Lambda
 * workers, the TLS gateway with a certificate from the local CA, and writes `outputs.json` and
 * `connection.json` so `npm run connect -w client -- --outputs .local-iot/outputs.json` needs no other flag.
 * The state directory is made 0700 and every file written in it 0600, whatever the umask.
 */
export async function startLocalIot(options: LocalIotOptions): Promise<LocalIot> {
  const stateDir = path.resolve(options.stateDir ?? LOCAL_IOT_FILES.directory);
  const endpointHost = options.endpointHost ?? GATEWAY_DEFAULTS.endpointHost;
  ensurePrivateDirectory(stateDir);
  // The X.509 listener's name is in the certificate whether or not the stack has one, so that a redeploy
  // adding the domain configuration later, or a restart, keeps the CA clients already trust.
  const x509EndpointHost = options.x509EndpointHost ?? endpointHost;
  const ca = await ensureLocalCa(stateDir, [endpointHost, x509EndpointHost]);
  // Bound here, not by the runtime, so that every deployment `redeploy` serves keeps the same URL.
  const listener = await LoopbackListener.bind({
    ...(options.awsApiPort !== undefined && { port: options.awsApiPort }),
  });
  // Local CloudWatch Logs, shared by every deployment a redeploy serves, mirrored to .local-iot/logs/.
  const logs = new LocalLogStore({ directory: path.join(stateDir, LOCAL_IOT_LOGS_DIRECTORY) });
  const settings = {
    cdkOut: options.cdkOut,
    stateDir,
    endpointHost,
    x509EndpointHost,
    listener,
    logs,
    ...(options.stackName !== undefined && { stackName: options.stackName }),
    ...(options.functionLog !== undefined && { log: options.functionLog }),
    ...(options.authorizerTimeoutMs !== undefined && { authorizerTimeoutMs: options.authorizerTimeoutMs }),
    ...(options.isolation !== undefined && { isolation: options.isolation }),
    ...(options.concurrencyLimit !== undefined && { concurrencyLimit: options.concurrencyLimit }),
  };
  let first: LocalRuntime;
  try {
    first = await createLocalRuntime(settings);
  } catch (error) {
    await listener.close();
    throw error;
  }
  const runtimes = new SwappableRuntime(first);
  let served: FingerprintedDeployment = {
    deployment: first.deployment,
    code: fingerprintCode(first.deployment),
  };
  const closeRuntimes = () =>
    runtimes
      .close()
      .then(() => listener.close())
      .then(() => logs.close());
  const { deployment } = first;
  const iotLog = new IotConnectLog({ store: logs, accountId: deployment.accountId });
  logs.createLogGroup(AWS_IOT_LOG_GROUP);
  const recorder = new ConnectLogRecorder(iotLog);
  const userLog = options.log ?? stdoutLogSink;
  const log: GatewayLogSink = (entry) => {
    recorder.gatewayEntry(entry);
    userLog(entry);
  };
  // AWS IoT writes its Connect entry when it decides, so the record exists before the CONNACK is sent.
  const connectAuthorizer: ConnectAuthorizer = {
    authorize: async (attempt) => {
      const decision = await runtimes.authorize(attempt);
      recorder.decided(attempt, decision);
      return decision;
    },
  };
  const messageHandler =
    options.messageHandler ??
    new MessageBroker({
      arnContext: {
        partition: deployment.partition,
        region: deployment.region,
        account: deployment.accountId,
      },
      log,
      ...(options.clock !== undefined && { clock: options.clock }),
    });
  let gateway: Gateway;
  try {
    gateway = await startGateway({
      authorizer: connectAuthorizer,
      messageHandler,
      ...(messageHandler instanceof MessageBroker && {
        httpsPublish: { authorizer: runtimes, target: messageHandler },
      }),
      tls: ca,
      endpointHost,
      port: options.port ?? GATEWAY_DEFAULTS.port,
      log,
      ...(options.clock !== undefined && { clock: options.clock }),
      ...(deployment.x509Domain !== undefined && {
        x509: {
          endpointHost: deployment.x509Domain.endpointHost,
          port: options.x509Port ?? 0,
          // The deployment served now: a redeploy's certificates apply from the next connection on.
          registry: () => runtimes.current.deployment,
        },
      }),
    });
  } catch (error) {
    await closeRuntimes();
    throw error;
  }

  // What a local client needs; its `x509` follows the domain configuration a redeploy serves.
  const connectionFor = (current: LocalDeployment): LocalConnectionInfo => ({
    endpoint: endpointHost,
    port: gateway.port,
    caFile: ca.caFile,
    awsEndpointUrl: first.awsApi.url,
    region: deployment.region,
    credentials: first.awsApi.credentials,
    ...(gateway.x509 !== undefined &&
      current.x509Domain !== undefined && {
        x509: {
          endpoint: gateway.x509.endpointHost,
          port: gateway.x509.port,
          domainConfigurationName: current.x509Domain.name,
        },
      }),
  });
  let connection = connectionFor(deployment);
  const outputsFile = path.join(stateDir, LOCAL_IOT_FILES.outputs);
  const connectionFile = path.join(stateDir, LOCAL_IOT_FILES.connection);
  const writeOutputs = (current: LocalDeployment) =>
    writePrivateFile(outputsFile, `${JSON.stringify(outputsFileContent(current), null, 2)}\n`);
  // Carries the secret access key the local AWS API verifies signatures with: mode 0600 like the rest.
  const writeConnection = () => writePrivateFile(connectionFile, `${JSON.stringify(connection, null, 2)}\n`);
  const closeAll = () => gateway.close().then(closeRuntimes);
  try {
    writeOutputs(deployment);
    writeConnection();
  } catch (error) {
    await closeAll();
    throw error;
  }

  // One redeploy at a time: a second waits for the first, then loads what cdk.out holds by then.
  let redeploying: Promise<unknown> = Promise.resolve();
  const redeploy = async (): Promise<DeploymentSwap> => {
    const next = await createLocalRuntime({ ...settings, awsCredentials: connection.credentials });
    const notices = [...next.deployment.notices];
    // A CUSTOM_AUTH_X509 domain configuration the redeploy adds gets its listener now, as `cdk deploy` makes
    // the new domain's endpoint reachable. Bound before the swap, so that a port that cannot be bound leaves
    // the current deployment served; no connection can finish its handshake before the swap just after.
    const newX509Domain = gateway.x509 === undefined ? next.deployment.x509Domain : undefined;
    if (newX509Domain !== undefined) {
      try {
        await gateway.serveX509({
          endpointHost: newX509Domain.endpointHost,
          port: options.x509Port ?? 0,
          registry: () => runtimes.current.deployment,
        });
      } catch (error) {
        await next.close();
        throw new DeploymentError(
          `cannot serve the new domain configuration '${newX509Domain.name}' (CUSTOM_AUTH_X509): ${(error as Error).message}; the current deployment stays`,
          { cause: error },
        );
      }
    }
    const nextServed = { deployment: next.deployment, code: fingerprintCode(next.deployment) };
    const changes = diffDeployments(served, nextServed);
    const previous = served.deployment;
    runtimes.swap(next);
    served = nextServed;
    writeOutputs(next.deployment);
    if (newX509Domain !== undefined && x509EndpointHost !== endpointHost) {
      notices.push(...(await hostResolutionNotice(x509EndpointHost)));
    }
    const nextConnection = connectionFor(next.deployment);
    if (JSON.stringify(nextConnection) !== JSON.stringify(connection)) {
      connection = nextConnection;
      writeConnection();
    }
    return {
      previous,
      current: next.deployment,
      changes,
      notices,
      ...(newX509Domain !== undefined && connection.x509 !== undefined && { x509Started: connection.x509 }),
    };
  };
  let closing: Promise<void> | undefined;
  return {
    get runtime() {
      return runtimes.current;
    },
    gateway,
    outputsFile,
    connectionFile,
    get connection() {
      return connection;
    },
    logs,
    logsDirectory: path.join(stateDir, LOCAL_IOT_LOGS_DIRECTORY),
    notices: [
      ...deployment.notices,
      ...(gateway.x509 !== undefined && x509EndpointHost !== endpointHost
        ? await hostResolutionNotice(x509EndpointHost)
        : []),
    ],
    redeploy: () => {
      const swapped = redeploying.then(redeploy, redeploy);
      redeploying = swapped.catch(() => undefined);
      return swapped;
    },
    close: () => (closing ??= redeploying.then(closeAll)),
  };
}

/**
 * Why clients cannot reach the X.509 listener by its own name, when that name does not resolve to this
 * machine: the AWS CRT client resolves and sends SNI with one name, so it would fail with a DNS error.
 */
async function hostResolutionNotice(host: string): Promise<string[]> {
  const fix = `add it to /etc/hosts or leave --x509-endpoint-host out (the endpoint host is used)`;
  try {
    const addresses = await lookup(host, { all: true });
    if (addresses.some(({ address }) => address === '127.0.0.1' || address === '::1')) return [];
    return [
      `the X.509 endpoint host '${host}' resolves to ${addresses.map((a) => a.address).join(', ')}, not to this machine's loopback: ${fix}`,
    ];
  } catch (error) {
    return [
      `the X.509 endpoint host '${host}' does not resolve (${(error as NodeJS.ErrnoException).code ?? String(error)}), so clients cannot reach it by name: ${fix}`,
    ];
  }
}
