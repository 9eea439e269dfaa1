import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  findWorkspaceRoot,
  parseDeviceCredentials,
  STACK_OUTPUTS,
  type DeviceCredentials,
} from '@iot-custom-auth/protocol';
import type { GatewayLogEntry } from '../../src/gateway/gateway-log';
import { startLocalIot, type LocalIot, type LocalIotOptions } from '../../src/local-iot';

/** The repository root: synth runs there, with the real cdk.json, infra app and .keys/. */
export const REPO_ROOT = findWorkspaceRoot(__dirname) as string;

/** A real `npx cdk synth` of the project's stack into a temporary cloud assembly, with optional `-c` context. */
export function synthToTempDir(context: Readonly<Record<string, string>> = {}): Promise<string> {
  const out = mkdtempSync(path.join(tmpdir(), 'local-iot-cdk-out-'));
  const contextArgs = Object.entries(context).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  return new Promise((resolve, reject) => {
    execFile(
      path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'),
      ['synth', '--quiet', '--output', out, ...contextArgs],
      { cwd: REPO_ROOT, timeout: 120_000 },
      (error, _stdout, stderr) => (error ? reject(new Error(`cdk synth failed: ${stderr}`)) : resolve(out)),
    );
  });
}

/** local-iot serving a real synth, with its logs captured in memory. */
export interface ServedStack {
  readonly local: LocalIot;
  readonly gatewayLog: GatewayLogEntry[];
  readonly functionLog: string[];
  close(): Promise<void>;
}

/**
 * Synthesizes the stack and serves it on an ephemeral port with its own state directory; `options` adds to
 * (or overrides) what `startLocalIot` gets, e.g. a clock.
 */
export async function serveSynthesizedStack(
  options: Partial<Omit<LocalIotOptions, 'cdkOut' | 'stateDir' | 'log' | 'functionLog'>> = {},
  context: Readonly<Record<string, string>> = {},
): Promise<ServedStack> {
  const cdkOut = await synthToTempDir(context);
  const stateDir = mkdtempSync(path.join(tmpdir(), 'local-iot-state-'));
  const gatewayLog: GatewayLogEntry[] = [];
  const functionLog: string[] = [];
  const local = await startLocalIot({
    cdkOut,
    stateDir,
    port: 0,
    log: (entry) => gatewayLog.push(entry),
    functionLog: (line) => functionLog.push(line),
    ...options,
  });
  return {
    local,
    gatewayLog,
    functionLog,
    close: async () => {
      await local.close();
      rmSync(cdkOut, { recursive: true, force: true });
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The device credentials, fetched as the client fetches them: the real SDK through the endpoint override. */
export async function fetchDeviceCredentials(local: LocalIot): Promise<DeviceCredentials> {
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
    const credentials = parseDeviceCredentials(secret.SecretString);
    if (!credentials) throw new Error('the device secret is not {"username","password"}');
    return credentials;
  } finally {
    secrets.destroy();
  }
}
