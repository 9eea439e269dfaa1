import { UsageError } from '../errors';

/** What `npm run device -w client -- <verb>` does. */
export type DeviceVerb = 'create' | 'revoke' | 'restore' | 'list' | 'rotate';

/** The parsed command line of the device tool. */
export interface DeviceConfig {
  readonly verb: DeviceVerb;
  /** `create`, `revoke`, `restore`: the device. */
  readonly deviceId?: string;
  /** `--outputs FILE` (cdk-outputs.json or .local-iot/outputs.json). */
  readonly outputsFile?: string;
  readonly stackName?: string;
  readonly region?: string;
  /** `--json`: one JSON object on stdout. */
  readonly json: boolean;
  /** `create --out FILE`: write the credentials there (mode 0600) instead of printing them. */
  readonly outFile?: string;
  /** `rotate --grace-hours N`: how long the previous master key stays valid. */
  readonly graceHours: number;
}

/** `rotate` keeps the previous key valid for a day unless told otherwise. */
export const DEFAULT_GRACE_HOURS = 24;
/** At most 30 days: a grace period is for a rollout, not a second permanent key. */
const MAX_GRACE_HOURS = 720;

export const DEVICE_USAGE = `Usage: npm run device -w client -- <verb> [device id] [options]

Verbs:
  create <deviceId>   print the device's credentials (user name = client id = device id, its own password);
                      "show" is the same: passwords are derived from the master secret, nothing is stored
  revoke <deviceId>   refuse the device from now on (within the authorizer's secret cache TTL)
  restore <deviceId>  undo a revoke
  list                the revoked devices (there is no list of all devices: every id under the
                      client id prefix has a derived password)
  rotate              new master key; the previous one stays valid for --grace-hours (default 24)

Options:
  --outputs FILE      stack outputs (cdk-outputs.json, or .local-iot/outputs.json for local-iot)
  --stack-name NAME   read the outputs of this stack (CloudFormation when there is no outputs file)
  --region REGION     AWS region of the stack
  --json              print one JSON object
  --out FILE          create: write the credentials as JSON to FILE (mode 0600) instead of printing them
  --grace-hours N     rotate: hours the previous master key stays valid (0 to 720)
  --help              this text
`;

const VERBS: Readonly<Record<string, DeviceVerb>> = {
  create: 'create',
  show: 'create',
  revoke: 'revoke',
  restore: 'restore',
  unrevoke: 'restore',
  list: 'list',
  rotate: 'rotate',
};

/** Parses the arguments after `--`; `undefined` for `--help`. @throws UsageError */
export function parseDeviceArgs(argv: readonly string[]): DeviceConfig | undefined {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return undefined;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const name = arg.slice(2);
    if (name === 'json') {
      flags.json = true;
      continue;
    }
    if (!['outputs', 'stack-name', 'region', 'out', 'grace-hours'].includes(name)) {
      throw new UsageError(`unknown option ${arg}`);
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${arg} needs a value`);
    flags[name] = value;
    i += 1;
  }
  const [verbName, deviceId, ...extra] = positional;
  if (verbName === undefined) throw new UsageError('name a verb: create, revoke, restore, list or rotate');
  const verb = VERBS[verbName];
  if (verb === undefined) {
    throw new UsageError(`unknown verb '${verbName}': use create, show, revoke, restore, list or rotate`);
  }
  const needsDevice = verb === 'create' || verb === 'revoke' || verb === 'restore';
  if (needsDevice && deviceId === undefined) throw new UsageError(`${verbName} needs a device id`);
  if ((!needsDevice && deviceId !== undefined) || extra.length > 0) {
    throw new UsageError(`unexpected argument '${needsDevice ? extra[0] : deviceId}'`);
  }
  if (flags.out !== undefined && verb !== 'create') throw new UsageError('--out only goes with create');
  if (flags['grace-hours'] !== undefined && verb !== 'rotate') {
    throw new UsageError('--grace-hours only goes with rotate');
  }
  const graceHours = flags['grace-hours'] === undefined ? DEFAULT_GRACE_HOURS : Number(flags['grace-hours']);
  if (!Number.isInteger(graceHours) || graceHours < 0 || graceHours > MAX_GRACE_HOURS) {
    throw new UsageError(
      `--grace-hours must be an integer between 0 and ${MAX_GRACE_HOURS}, but '${String(flags['grace-hours'])}' was given`,
    );
  }
  const text = (name: string): string | undefined => {
    const value = flags[name];
    return typeof value === 'string' ? value : undefined;
  };
  const outputsFile = text('outputs');
  const stackName = text('stack-name');
  const region = text('region');
  const outFile = text('out');
  return {
    verb,
    ...(deviceId === undefined ? {} : { deviceId }),
    ...(outputsFile === undefined ? {} : { outputsFile }),
    ...(stackName === undefined ? {} : { stackName }),
    ...(region === undefined ? {} : { region }),
    json: flags.json === true,
    ...(outFile === undefined ? {} : { outFile }),
    graceHours,
  };
}
