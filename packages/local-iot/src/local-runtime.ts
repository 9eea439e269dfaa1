import { CustomAuthPipeline } from './auth/custom-auth-pipeline';
import { LambdaRunner, type LogSink } from './lambda/lambda-runner';
import type { Isolation } from './lambda/execution-environment';
import type { LocalAwsCredentials } from '@iot-custom-auth/protocol';
import { LocalAwsApi } from './aws-api/local-aws-api';
import { generateLocalAwsCredentials } from './aws-api/local-aws-credentials';
import { LoopbackListener } from './aws-api/loopback-listener';
import { LocalLogStore } from './logs/log-store';
import {
  type LoadLocalDeploymentOptions,
  type LocalDeployment,
  loadLocalDeployment,
} from './deployment/local-deployment';

/** Settings of the runtime half of local-iot. */
export interface LocalRuntimeSettings {
  /** Port of the local AWS API on 127.0.0.1. @default 0 (ephemeral) */
  readonly awsApiPort?: number;
  /**
   * The access key pair the local AWS API accepts signatures by and the functions are given.
   * @default a new random pair (`generateLocalAwsCredentials`) for this runtime
   */
  readonly awsCredentials?: LocalAwsCredentials;
  /** Receives the functions' console output. @default standard error */
  readonly log?: LogSink;
  /** Where the functions' execution environments run. @default 'process' (one OS process each) */
  readonly isolation?: Isolation;
  /**
   * Execution environments per function that reserves no concurrency (`ReservedConcurrentExecutions`);
   * beyond them a connect is refused as throttled. @default DEFAULT_CONCURRENCY_LIMIT (10)
   */
  readonly concurrencyLimit?: number;
  /** AWS IoT's limit on the authorizer Lambda (tests shorten it). @default 5000 */
  readonly authorizerTimeoutMs?: number;
  /** Where the bundles' external modules (`@aws-sdk/*`) are found. @default the repository's node_modules */
  readonly runtimeModulePaths?: readonly string[];
  /**
   * A bound listener to serve the local AWS API on, in place of one of its own. Whoever bound it closes it:
   * `close` only releases it, so the next deployment can serve the same URL (watch mode). When its current
   * server is replaced and the runtime fails to build, the previous server is put back.
   */
  readonly listener?: LoopbackListener;
  /**
   * The local CloudWatch Logs the functions' lines go to (each in its log group) and the local AWS API serves;
   * the caller closes a store it passes. @default a new in-memory store, closed with the runtime
   */
  readonly logs?: LocalLogStore;
}

/** Load `cdk.out`, or serve an already built deployment. */
export type LocalRuntimeOptions = (LoadLocalDeploymentOptions | { readonly deployment: LocalDeployment }) &
  LocalRuntimeSettings;

/** The running runtime half: what the gateway and the CLI use. */
export interface LocalRuntime {
  readonly deployment: LocalDeployment;
  /** Decides connection attempts (the gateway's `ConnectAuthorizer`); also serves TestInvokeAuthorizer. */
  readonly authorizer: CustomAuthPipeline;
  /** Runs the functions: their execution environments, throttles and invocation telemetry. */
  readonly runner: LambdaRunner;
  /**
   * The local AWS API: `url` is what `AWS_ENDPOINT_URL` / the SDK `endpoint` option should be; every request
   * must be SigV4-signed with `credentials`.
   */
  readonly awsApi: {
    readonly url: string;
    readonly port: number;
    readonly credentials: LocalAwsCredentials;
    close(): Promise<void>;
  };
  /** The stack outputs with local values. */
  readonly outputs: Readonly<Record<string, string>>;
  /** Local CloudWatch Logs: the functions' log groups (and AWS IoT's, written by the gateway's owner). */
  readonly logs: LocalLogStore;
  /** How many times a function ran (all functions without a name). */
  invocationCount(functionName?: string): number;
  /** Ends the functions' execution environments and closes the AWS API. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts the runtime half of local-iot: loads the deployment, starts the local AWS API on 127.0.0.1, the
 * Lambda runner (whose functions reach that API through `AWS_ENDPOINT_URL*`) and the custom-auth pipeline.
 * @throws DeploymentError when `cdk.out` cannot be served (names the problem and the fix).
 */
export async function createLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const deployment = 'deployment' in options ? options.deployment : loadLocalDeployment(options);
  // The API's TestInvokeAuthorizer needs the pipeline, the pipeline the runner, the runner the API's URL.
  // Binding the listener first yields the URL without any API, so each part is then built complete, in
  // dependency order, and the API is constructed last with the pipeline it serves (nothing is set later).
  if (options.listener !== undefined) return buildOnSharedListener(deployment, options.listener, options);
  const listener = await LoopbackListener.bind({
    ...(options.awsApiPort !== undefined && { port: options.awsApiPort }),
  });
  // A runner that refuses its settings must not leave the port bound.
  try {
    return buildRuntime(deployment, listener, options);
  } catch (error) {
    await listener.close();
    throw error;
  }
}

/**
 * Builds the runtime on a listener someone else owns: takes it over from whoever serves it (synchronously,
 * so no request falls between the two servers), gives it back when the build fails, and on `close` only
 * releases it (if still ours) instead of closing the port.
 */
function buildOnSharedListener(
  deployment: LocalDeployment,
  listener: LoopbackListener,
  options: LocalRuntimeSettings,
): LocalRuntime {
  const previous = listener.release();
  let runtime: LocalRuntime;
  try {
    runtime = buildRuntime(deployment, listener, options, { closesListener: false });
  } catch (error) {
    listener.release();
    if (previous !== undefined) listener.serve(previous);
    throw error;
  }
  return runtime;
}

/** Builds the runner, the pipeline and the API on a bound `listener`, in that order. */
function buildRuntime(
  deployment: LocalDeployment,
  listener: LoopbackListener,
  options: LocalRuntimeSettings,
  { closesListener }: { readonly closesListener: boolean } = { closesListener: true },
): LocalRuntime {
  // One pair for the functions and the API's callers alike, as an IAM user's and a role's keys both work.
  const awsCredentials = options.awsCredentials ?? generateLocalAwsCredentials();
  const logs = options.logs ?? new LocalLogStore();
  // Lambda's log groups exist from deployment on (the stack creates them), so a query finds them empty.
  for (const fn of deployment.functions) logs.createLogGroup(fn.logGroupName);
  const runner = new LambdaRunner({
    functions: deployment.functions,
    region: deployment.region,
    awsEndpointUrl: listener.url,
    awsCredentials,
    ...(options.isolation !== undefined && { isolation: options.isolation }),
    ...(options.concurrencyLimit !== undefined && { concurrencyLimit: options.concurrencyLimit }),
    ...(options.runtimeModulePaths !== undefined && { runtimeModulePaths: options.runtimeModulePaths }),
    ...(options.log !== undefined && { log: options.log }),
    functionLog: (fn, logStreamName, line) => logs.put(fn.logGroupName, logStreamName, line),
  });
  const authorizer = new CustomAuthPipeline({
    deployment,
    runner,
    ...(options.authorizerTimeoutMs !== undefined && { authorizerTimeoutMs: options.authorizerTimeoutMs }),
  });
  const awsApi = new LocalAwsApi({
    deployment,
    listener,
    testInvoker: authorizer,
    credentials: awsCredentials,
    logs,
  });
  // A shared listener served by this API's handler until another runtime takes it over.
  const servedHandler = closesListener ? undefined : listener.release();
  if (servedHandler !== undefined) listener.serve(servedHandler);
  const closeApi = async (): Promise<void> => {
    if (closesListener) return awsApi.close();
    const current = listener.release();
    // Taken over by a newer runtime already: put its server back, the port stays with it.
    if (current !== undefined && current !== servedHandler) listener.serve(current);
  };
  let closing: Promise<void> | undefined;
  return {
    deployment,
    authorizer,
    runner,
    awsApi: {
      url: awsApi.url,
      port: awsApi.port,
      credentials: awsApi.credentials,
      close: closeApi,
    },
    outputs: deployment.outputs,
    logs,
    invocationCount: (functionName?: string) => authorizer.invocationCount(functionName),
    // A store the caller passed in outlives this runtime (a redeploy keeps the log groups).
    close: () =>
      (closing ??= Promise.all([runner.close(), closeApi()]).then(() =>
        options.logs === undefined ? logs.close() : undefined,
      )),
  };
}
