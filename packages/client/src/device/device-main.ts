import { join, resolve } from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  clientIdProblem,
  DEFAULT_OUTPUTS_FILE,
  DEFAULTS,
  deriveDevicePassword,
  generateMasterKey,
  type MasterSecret,
} from '@iot-custom-auth/protocol';
import type { AwsTarget } from '../aws-clients';
import { secretsTarget } from '../connect-plan';
import { ConfigError, UsageError } from '../errors';
import type { LoadedOutputs, OutputsReader } from '../outputs';
import type { InvocationPaths } from '../paths';
import { DEVICE_USAGE, parseDeviceArgs, type DeviceConfig } from './device-args';
import { MasterSecretStore } from './master-secret-store';

/** What the device tool needs from the world; tests pass fakes. */
export interface DeviceDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly outputs: OutputsReader;
  readonly secretsManager: (target: AwsTarget) => Pick<SecretsManagerClient, 'send'>;
  /** Creates `path` with mode 0600 holding `text`; fails if it exists. */
  readonly writePrivateFile: (path: string, text: string) => Promise<void>;
  readonly now: () => Date;
  readonly paths: InvocationPaths;
}

/** The credentials `create` hands out: what a device needs to connect through the unsigned authorizer. */
export interface ProvisionedDevice {
  readonly deviceId: string;
  readonly username: string;
  readonly password: string;
  /** The only client id the device's policy allows: its id. */
  readonly clientId: string;
  readonly stack: string;
  readonly authorizerName?: string;
}

/** Where the stack's master secret is, and what the outputs say about it. */
interface Target {
  readonly outputs: LoadedOutputs;
  readonly store: MasterSecretStore;
  readonly prefix: string;
}

/**
 * `npm run device -w client -- <verb>`: provisioning against the stack's master secret (AWS, or local-iot
 * through the connection file beside `--outputs`). A password is only ever written to stdout (or the
 * `--out` file), never to stderr or an error message.
 */
export async function deviceMain(argv: readonly string[], deps: DeviceDeps): Promise<void> {
  const config = parseDeviceArgs(argv);
  if (config === undefined) {
    deps.stdout(DEVICE_USAGE);
    return;
  }
  const target = await resolveTarget(config, deps);
  switch (config.verb) {
    case 'create':
      return create(config, target, deps);
    case 'revoke':
      return setRevoked(config, target, deps, true);
    case 'restore':
      return setRevoked(config, target, deps, false);
    case 'list':
      return list(config, target, deps);
    case 'rotate':
      return rotate(config, target, deps);
  }
}

async function resolveTarget(config: DeviceConfig, deps: DeviceDeps): Promise<Target> {
  const outputs = await deps.outputs.read({
    ...(config.outputsFile === undefined
      ? {}
      : { file: resolve(deps.paths.invocationDir, config.outputsFile) }),
    defaultFile: join(deps.paths.repoRoot, DEFAULT_OUTPUTS_FILE),
    ...(config.stackName === undefined ? {} : { stackName: config.stackName }),
    ...(config.region === undefined ? {} : { region: config.region }),
    required: true,
  });
  const secretArn = outputs?.values.deviceSecretArn;
  if (outputs === undefined || secretArn === undefined) {
    throw new ConfigError(
      `${outputs === undefined ? 'no stack outputs were found' : `${outputs.source} has no DeviceSecretArn output`}: deploy the stack, or pass --outputs .local-iot/outputs.json for local-iot`,
    );
  }
  const prefix = outputs.values.clientIdPrefix ?? DEFAULTS.clientIdPrefix;
  const store = new MasterSecretStore(deps.secretsManager(secretsTarget(config, outputs)), secretArn);
  return { outputs, store, prefix };
}

/** The device id must be a client id the stack's policy can allow: safe characters, under the prefix. */
function checkDeviceId(deviceId: string, prefix: string): void {
  const problem = clientIdProblem(deviceId, prefix);
  if (problem !== undefined) {
    throw new UsageError(
      `device id '${deviceId}': ${problem}; a device id is its client id, so use letters, digits, _ . : - after '${prefix}'`,
    );
  }
}

async function create(config: DeviceConfig, target: Target, deps: DeviceDeps): Promise<void> {
  const deviceId = config.deviceId as string;
  checkDeviceId(deviceId, target.prefix);
  const { secret } = await target.store.read();
  const revokedAt = secret.revokedDevices.get(deviceId);
  if (revokedAt !== undefined) {
    throw new ConfigError(
      `device ${deviceId} is revoked (since ${revokedAt}): its credentials would be refused; run \`npm run device -w client -- restore ${deviceId}\` first`,
    );
  }
  const authorizerName = target.outputs.values.unsignedAuthorizerName;
  const device: ProvisionedDevice = {
    deviceId,
    username: deviceId,
    password: deriveDevicePassword(secret.masterKey, deviceId),
    clientId: deviceId,
    stack: target.outputs.stackName,
    ...(authorizerName === undefined ? {} : { authorizerName }),
  };
  if (config.outFile !== undefined) {
    const file = resolve(deps.paths.invocationDir, config.outFile);
    await deps.writePrivateFile(file, `${JSON.stringify(device, null, 2)}\n`);
    const note = { wrote: file, mode: '0600', deviceId, clientId: deviceId };
    deps.stdout(
      config.json
        ? `${JSON.stringify(note)}\n`
        : `Wrote the credentials of device ${deviceId} to ${file} (mode 0600).\n`,
    );
    return;
  }
  if (config.json) {
    deps.stdout(`${JSON.stringify(device)}\n`);
    return;
  }
  deps.stdout(
    [
      `Device ${deviceId} (stack ${device.stack}${authorizerName === undefined ? '' : `, authorizer ${authorizerName}`}):`,
      `  user name: ${device.username}`,
      `  password:  ${device.password}`,
      `  client id: ${device.clientId} (the only one this device may connect with)`,
      'Store the password on the device now; the same command prints it again while the master key is unchanged.',
      '',
    ].join('\n'),
  );
}

async function setRevoked(
  config: DeviceConfig,
  target: Target,
  deps: DeviceDeps,
  revoke: boolean,
): Promise<void> {
  const deviceId = config.deviceId as string;
  checkDeviceId(deviceId, target.prefix);
  const { secret } = await target.store.read();
  const since = secret.revokedDevices.get(deviceId);
  const report = (changed: boolean, text: string): void => {
    deps.stdout(
      config.json
        ? `${JSON.stringify({ deviceId, revoked: revoke, changed, ...(since === undefined ? {} : { revokedSince: since }) })}\n`
        : `${text}\n`,
    );
  };
  if (revoke && since !== undefined)
    return report(false, `Device ${deviceId} is already revoked (since ${since}).`);
  if (!revoke && since === undefined) return report(false, `Device ${deviceId} is not revoked.`);
  const revokedDevices = new Map(secret.revokedDevices);
  if (revoke) revokedDevices.set(deviceId, deps.now().toISOString());
  else revokedDevices.delete(deviceId);
  await target.store.write({ ...secret, revokedDevices });
  report(
    true,
    revoke
      ? `Revoked device ${deviceId}: new connections are refused (0x86) once the authorizer's secret cache expires (SECRET_CACHE_TTL_SECONDS, 300 s by default); open connections are re-authorized at their next refresh (refreshAfterInSeconds).`
      : `Restored device ${deviceId}: it may connect again once the authorizer's secret cache expires.`,
  );
}

async function list(config: DeviceConfig, target: Target, deps: DeviceDeps): Promise<void> {
  const { secret } = await target.store.read();
  const revoked = [...secret.revokedDevices].map(([deviceId, revokedAt]) => ({ deviceId, revokedAt }));
  if (config.json) {
    deps.stdout(`${JSON.stringify({ revoked, ...graceOf(secret) })}\n`);
    return;
  }
  const lines = [
    `Revoked devices of stack ${target.outputs.stackName}: ${revoked.length === 0 ? 'none' : revoked.length}`,
    ...revoked.map((entry) => `  ${entry.deviceId}  (since ${entry.revokedAt})`),
    `Every other device id starting with '${target.prefix}' has a password derived from the master key: there is no list of all devices to show.`,
  ];
  const grace = graceOf(secret).previousKeyValidUntil;
  if (grace !== undefined) lines.push(`A previous master key is accepted until ${grace}.`);
  deps.stdout(`${lines.join('\n')}\n`);
}

function graceOf(secret: MasterSecret): { previousKeyValidUntil?: string } {
  return secret.previous === undefined
    ? {}
    : { previousKeyValidUntil: secret.previous.validUntil.toISOString() };
}

async function rotate(config: DeviceConfig, target: Target, deps: DeviceDeps): Promise<void> {
  const { secret } = await target.store.read();
  const now = deps.now();
  const validUntil = new Date(now.getTime() + config.graceHours * 3600_000);
  const droppedGrace = secret.previous !== undefined && secret.previous.validUntil > now;
  const rotated: MasterSecret = {
    masterKey: generateMasterKey(),
    revokedDevices: secret.revokedDevices,
    ...(config.graceHours === 0 ? {} : { previous: { masterKey: secret.masterKey, validUntil } }),
  };
  await target.store.write(rotated);
  if (droppedGrace) {
    deps.stderr(
      'Warning: the key before the previous one was still in its grace period; it is no longer accepted.\n',
    );
  }
  deps.stdout(
    config.json
      ? `${JSON.stringify({ rotated: true, ...(config.graceHours === 0 ? {} : { previousKeyValidUntil: validUntil.toISOString() }) })}\n`
      : `${
          config.graceHours === 0
            ? 'Rotated the master key: only passwords derived from the new key are accepted (after the secret cache TTL).'
            : `Rotated the master key: passwords of the previous key are accepted until ${validUntil.toISOString()}.`
        } Re-provision each device with \`npm run device -w client -- create <deviceId>\`.\n`,
  );
}
