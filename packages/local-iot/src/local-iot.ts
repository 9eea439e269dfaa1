import * as path from 'node:path';
import { LOCAL_IOT_FILES, type LocalConnectionInfo } from '@iot-custom-auth/protocol';
import { GATEWAY_DEFAULTS, startGateway, type Gateway } from './gateway/gateway';
import type { GatewayClock } from './gateway/gateway-clock';
import { stdoutLogSink, type GatewayLogSink } from './gateway/gateway-log';
import type { LogSink } from './lambda/lambda-runner';
import { ensureLocalCa } from './gateway/local-ca';
import type { Isolation } from './lambda/lambda-runner';
import { createLocalRuntime, type LocalRuntime } from './local-runtime';
import { outputsFileContent } from './deployment/local-deployment';
import { MessageBroker } from './broker/message-broker';
import type { MessageHandler } from './gateway/message-handler';
import { ensurePrivateDirectory, writePrivateFile } from './private-state-files';

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

/** A running local-iot: gateway, local AWS API, Lambda workers, and the files a client reads. */
export interface LocalIot {
  readonly runtime: LocalRuntime;
  readonly gateway: Gateway;
  /** `.local-iot/outputs.json`: same shape as `cdk deploy --outputs-file`. */
  readonly outputsFile: string;
  /** `.local-iot/connection.json`: see `LocalConnectionInfo`. */
  readonly connectionFile: string;
  readonly connection: LocalConnectionInfo;
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
  const ca = await ensureLocalCa(stateDir, [endpointHost]);
  const runtime = await createLocalRuntime({
    cdkOut: options.cdkOut,
    stateDir,
    endpointHost,
    ...(options.stackName !== undefined && { stackName: options.stackName }),
    ...(options.awsApiPort !== undefined && { awsApiPort: options.awsApiPort }),
    ...(options.functionLog !== undefined && { log: options.functionLog }),
    ...(options.authorizerTimeoutMs !== undefined && { authorizerTimeoutMs: options.authorizerTimeoutMs }),
    ...(options.isolation !== undefined && { isolation: options.isolation }),
    ...(options.concurrencyLimit !== undefined && { concurrencyLimit: options.concurrencyLimit }),
  });
  const log = options.log ?? stdoutLogSink;
  const { deployment } = runtime;
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
      authorizer: runtime.authorizer,
      messageHandler,
      tls: ca,
      endpointHost,
      port: options.port ?? GATEWAY_DEFAULTS.port,
      log,
      ...(options.clock !== undefined && { clock: options.clock }),
    });
  } catch (error) {
    await runtime.close();
    throw error;
  }

  const connection: LocalConnectionInfo = {
    endpoint: endpointHost,
    port: gateway.port,
    caFile: ca.caFile,
    awsEndpointUrl: runtime.awsApi.url,
    region: runtime.deployment.region,
    credentials: runtime.awsApi.credentials,
  };
  const outputsFile = path.join(stateDir, LOCAL_IOT_FILES.outputs);
  const connectionFile = path.join(stateDir, LOCAL_IOT_FILES.connection);
  const closeAll = () => gateway.close().then(() => runtime.close());
  try {
    writePrivateFile(outputsFile, `${JSON.stringify(outputsFileContent(runtime.deployment), null, 2)}\n`);
    // Carries the secret access key the local AWS API verifies signatures with: mode 0600 like the rest.
    writePrivateFile(connectionFile, `${JSON.stringify(connection, null, 2)}\n`);
  } catch (error) {
    await closeAll();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    runtime,
    gateway,
    outputsFile,
    connectionFile,
    connection,
    close: () => (closing ??= closeAll()),
  };
}
