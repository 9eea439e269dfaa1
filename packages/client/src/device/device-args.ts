import { closestFlag, readFlags, type TableFlag } from '../args';
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

/** The device tool's flags, read by the shared `readFlags` (so `--stack_name` works too, as for connect). */
const DEVICE_FLAGS: readonly TableFlag[] = [
  { name: 'outputs', kind: 'string', valueName: 'FILE' },
  { name: 'stack-name', kind: 'string', valueName: 'NAME' },
  { name: 'region', kind: 'string', valueName: 'REGION' },
  { name: 'out', kind: 'string', valueName: 'FILE' },
  { name: 'grace-hours', kind: 'string', valueName: 'N' },
  { name: 'json', kind: 'boolean' },
];

/** Parses the arguments after `--`; `undefined` for `--help`. @throws UsageError */
export function parseDeviceArgs(argv: readonly string[]): DeviceConfig | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return undefined;
  const {
    strings,
    booleans,
    positionals: positional,
  } = readFlags(argv, DEVICE_FLAGS, {
    unknown: (name) => {
      const suggestion = closestFlag(name, DEVICE_FLAGS);
      return new UsageError(
        `unknown option --${name}${suggestion === undefined ? '' : ` (did you mean --${suggestion}?)`}`,
      );
    },
  });
  const outFile = strings.get('out');
  const graceText = strings.get('grace_hours');
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
  if (outFile !== undefined && verb !== 'create') throw new UsageError('--out only goes with create');
  if (graceText !== undefined && verb !== 'rotate') {
    throw new UsageError('--grace-hours only goes with rotate');
  }
  const graceHours = graceText === undefined ? DEFAULT_GRACE_HOURS : Number(graceText);
  if (!Number.isInteger(graceHours) || graceHours < 0 || graceHours > MAX_GRACE_HOURS) {
    throw new UsageError(
      `--grace-hours must be an integer between 0 and ${MAX_GRACE_HOURS}, but '${graceText}' was given`,
    );
  }
  const outputsFile = strings.get('outputs');
  const stackName = strings.get('stack_name');
  const region = strings.get('region');
  return {
    verb,
    ...(deviceId === undefined ? {} : { deviceId }),
    ...(outputsFile === undefined ? {} : { outputsFile }),
    ...(stackName === undefined ? {} : { stackName }),
    ...(region === undefined ? {} : { region }),
    json: booleans.get('json') === true,
    ...(outFile === undefined ? {} : { outFile }),
    graceHours,
  };
}
