/**
 * local-iot serving a cloud assembly for a test: an ephemeral port, a temporary state directory, the gateway
 * log recorded and the functions' output kept in memory, and everything removed on `close`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  parseMasterSecret,
  STACK_OUTPUTS,
  type MasterSecret,
  type LocalConnectionInfo,
} from '@iot-custom-auth/protocol';
import type { GatewayLogEntry } from '../../src/gateway/gateway-log';
import { startLocalIot, type LocalIot, type LocalIotOptions } from '../../src/local-iot';
import { RecordedLog } from './recorded-log';
import { signedIotCall } from './sigv4-signing';

/**
 * Gives the cloud assembly to serve: writes one into `scratch` (the served stack's own temporary directory,
 * removed on close) or returns one that lives elsewhere, e.g. a synth shared by the run.
 */
export type AssemblySource = (scratch: string) => string | Promise<string>;

/** What a test may add to (or override in) `startLocalIot`'s options, e.g. a clock or the endpoint host. */
export type ServeOptions = Partial<Omit<LocalIotOptions, 'cdkOut' | 'stateDir' | 'log' | 'functionLog'>>;

/** local-iot serving a cloud assembly, with its logs captured in memory. */
export interface ServedStack {
  readonly local: LocalIot;
  /** The gateway's log, to wait on as it is written. */
  readonly log: RecordedLog;
  /** The same entries as `log.entries`. */
  readonly gatewayLog: readonly GatewayLogEntry[];
  /** The functions' console output, one line each. */
  readonly functionLog: readonly string[];
  /** Stops local-iot and removes its temporary directory. */
  close(): Promise<void>;
}

/** Serves `assembly` on an ephemeral port with its own state directory. */
export async function serveStack(assembly: AssemblySource, options: ServeOptions = {}): Promise<ServedStack> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'local-iot-served-'));
  const removeScratch = (): void => rmSync(scratch, { recursive: true, force: true });
  const log = new RecordedLog();
  const functionLog: string[] = [];
  let local: LocalIot;
  try {
    local = await startLocalIot({
      cdkOut: await assembly(scratch),
      stateDir: path.join(scratch, 'state'),
      port: 0,
      log: log.sink,
      functionLog: (line) => functionLog.push(line),
      ...options,
    });
  } catch (error) {
    removeScratch();
    throw error;
  }
  return {
    local,
    log,
    gatewayLog: log.entries,
    functionLog,
    close: async () => {
      try {
        await local.close();
      } finally {
        removeScratch();
      }
    },
  };
}

/** The master secret, fetched as the client fetches it: the real SDK through the endpoint override. */
export async function fetchMasterSecret(local: LocalIot): Promise<MasterSecret> {
  const { connection } = local;
  const secrets = new SecretsManagerClient({
    region: connection.region,
    endpoint: connection.awsEndpointUrl,
    credentials: connection.credentials,
  });
  try {
    const secret = await secrets.send(
      new GetSecretValueCommand({ SecretId: local.runtime.outputs[STACK_OUTPUTS.deviceSecretArn] }),
    );
    const parsed = parseMasterSecret(secret.SecretString);
    if (!parsed.ok) throw new Error(`the master secret is unusable: ${parsed.problem}`);
    return parsed.secret;
  } finally {
    secrets.destroy();
  }
}

/** What `testInvokeAuthorizer` sends as the MQTT context. */
export interface TestInvokeMqttContext {
  readonly username: string;
  readonly password: string;
  readonly clientId: string;
}

/**
 * Calls TestInvokeAuthorizer on the local AWS API `connection.json` names, as the AWS CLI would: signed with
 * its credentials, the password in base64.
 */
export function testInvokeAuthorizer(
  connection: LocalConnectionInfo,
  authorizerName: string,
  { username, password, clientId }: TestInvokeMqttContext,
): Promise<Response> {
  return signedIotCall(
    connection,
    'POST',
    `${connection.awsEndpointUrl}/authorizer/${encodeURIComponent(authorizerName)}/test`,
    { mqttContext: { username, password: Buffer.from(password).toString('base64'), clientId } },
  );
}
