import fc from 'fast-check';
import { UsageError } from '../../src/errors';
import {
  parseShard,
  parseStormArgs,
  STORM_DEFAULTS,
  stormClientId,
  stormUsage,
  type StormRunConfig,
} from '../../src/storm/storm-args';

function run(argv: string[]): StormRunConfig {
  const config = parseStormArgs(argv);
  if (config.command !== 'run') throw new Error('expected the run command');
  return config;
}

function usageError(argv: string[]): string {
  try {
    parseStormArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`no UsageError for ${argv.join(' ')}`);
}

describe('parseStormArgs', () => {
  it('has documented defaults', () => {
    const config = run([]);
    expect(config).toMatchObject({
      command: 'run',
      connections: STORM_DEFAULTS.connections,
      ratePerSecond: STORM_DEFAULTS.ratePerSecond,
      concurrency: STORM_DEFAULTS.concurrency,
      holdSeconds: 0,
      publish: 0,
      badCredentials: 0,
      json: false,
      shard: { index: 1, count: 1 },
      allowOverQuota: false,
      accountConnectQuota: 500,
    });
    expect(config.deadlineSeconds).toBeUndefined();
    expect(config.runId).toBeUndefined();
  });

  it('reads every storm flag, with = or a separate value and either separator', () => {
    const config = run([
      '--connections=200',
      '--rate',
      '12.5',
      '--concurrency',
      '7',
      '--hold',
      '1.5',
      '--publish',
      '3',
      '--bad_credentials',
      '0.1',
      '--deadline',
      '90',
      '--report',
      'out.html',
      '--shard',
      '2/4',
      '--run-id',
      'r42',
      '--allow-over-quota',
      '--account_connect_quota',
      '1000',
    ]);
    expect(config).toMatchObject({
      connections: 200,
      ratePerSecond: 12.5,
      concurrency: 7,
      holdSeconds: 1.5,
      publish: 3,
      badCredentials: 0.1,
      deadlineSeconds: 90,
      reportFile: 'out.html',
      shard: { index: 2, count: 4 },
      runId: 'r42',
      allowOverQuota: true,
      accountConnectQuota: 1000,
    });
  });

  it('hands the connect flags to the connect parser unchanged', () => {
    const config = run([
      '--outputs',
      '.local-iot/outputs.json',
      '--signed',
      '--use_websockets',
      'true',
      '--timeout',
      '20',
      '--json',
      '--connections',
      '3',
    ]);
    expect(config.connect).toMatchObject({
      outputsFile: '.local-iot/outputs.json',
      signed: true,
      transport: 'websockets',
      timeoutSeconds: 20,
      json: true,
    });
    expect(config.json).toBe(true);
    expect(config.connections).toBe(3);
  });

  it.each([
    [['--connections', '0'], "--connections must be a whole number from 1 to 1000000, but '0' was given"],
    [['--connections', '1.5'], "--connections must be a whole number from 1 to 1000000, but '1.5' was given"],
    [['--rate', '0'], "--rate must be a number greater than 0 and at most 100000, but '0' was given"],
    [['--rate', '-3'], "--rate must be a number greater than 0 and at most 100000, but '-3' was given"],
    [
      ['--concurrency', 'many'],
      "--concurrency must be a whole number from 1 to 100000, but 'many' was given",
    ],
    [['--hold', '1e3'], "--hold must be a number from 0 to 86400, but '1e3' was given"],
    [['--publish', '101'], "--publish must be a whole number from 0 to 100, but '101' was given"],
    [['--bad-credentials', '1.5'], "--bad-credentials must be a number from 0 to 1, but '1.5' was given"],
    [['--deadline', '0'], "--deadline must be a number greater than 0 and at most 604800, but '0' was given"],
    [
      ['--shard', '0/2'],
      "--shard must be i/n with 1 <= i <= n <= 1000 (shard i of n, e.g. 2/4), but '0/2' was given",
    ],
    [
      ['--shard', '3/2'],
      "--shard must be i/n with 1 <= i <= n <= 1000 (shard i of n, e.g. 2/4), but '3/2' was given",
    ],
    [
      ['--run-id', 'a-b'],
      "--run-id must be 1 to 20 letters or digits (it becomes part of every client id), but 'a-b' was given",
    ],
    [
      ['--connections', '2', '--shard', '1/3'],
      '--shard 1/3 splits 2 connections into more shards than connections: use at most 2 shards or more --connections',
    ],
    [['--hold', '1', '--hold', '2'], '--hold is given more than once; give it once'],
    [
      ['--allow-over-quota', 'maybe'],
      "--allow-over-quota takes true or false (or no value, meaning true), but 'maybe' was given",
    ],
    [['--report'], '--report needs a value: --report <file.html>'],
  ])('refuses %j: %s', (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });

  it.each(['--client_id', '--roundtrip', '--count', '--topic', '--message'])(
    'refuses the connect flag %s with what to use instead',
    (flag) => {
      expect(usageError([flag, 'x'])).toMatch(new RegExp(`^${flag} is not a storm flag: .+`));
    },
  );

  it('suggests the storm flag a typo was meant to be', () => {
    expect(usageError(['--conections', '5'])).toBe('unknown flag --conections (did you mean --connections?)');
  });

  it("leaves an unknown flag to the connect parser's message", () => {
    expect(usageError(['--endpont', 'x'])).toMatch(/^unknown flag --endpont \(did you mean --endpoint\?\)/);
  });

  it('refuses a positional argument', () => {
    expect(usageError(['fast'])).toMatch(/^unexpected argument 'fast'/);
  });

  it('shows help whatever else is on the line', () => {
    expect(run(['--bogus', 'x', '--help']).help).toBe(true);
  });

  it('reads - as a value (stdin) and a boolean literal after a flag, in either spelling', () => {
    const config = run(['--allow_over_quota', 'false', '--use-websockets=no', '--report', '-']);
    expect(config).toMatchObject({ allowOverQuota: false, reportFile: '-' });
    expect(config.connect.transport).toBe('mqtt');
  });

  it('refuses a flag where a value should be, and -- before the flags end', () => {
    expect(usageError(['--rate', '--json'])).toBe(
      '--rate needs a value: --rate <per-second> (for a value that starts with --, write --rate=<value>)',
    );
    expect(usageError(['--', '--rate', '3'])).toMatch(/^unexpected argument '--'/);
  });

  it('reports connect flag errors as the connect command does', () => {
    expect(usageError(['--port', '70000'])).toBe(
      "--port must be an integer between 1 and 65535, but '70000' was given",
    );
  });

  it('accepts a rate and a fraction at their bounds', () => {
    expect(run(['--bad-credentials', '1']).badCredentials).toBe(1);
    expect(run(['--bad-credentials', '0']).badCredentials).toBe(0);
    expect(run(['--publish', '0']).publish).toBe(0);
  });

  it('parses merge with its files, --json and --report', () => {
    expect(parseStormArgs(['merge', 'a.json', '--json', 'b.json', '--report=m.html'])).toEqual({
      command: 'merge',
      help: false,
      files: ['a.json', 'b.json'],
      json: true,
      reportFile: 'm.html',
    });
  });

  it('takes merge files after -- and --json=false, never a file as the value of --json', () => {
    expect(parseStormArgs(['merge', '--json=false', '--', '--odd-name.json'])).toMatchObject({
      files: ['--odd-name.json'],
      json: false,
    });
  });

  it('refuses merge without files, and with run flags', () => {
    expect(usageError(['merge'])).toMatch(/^storm merge needs the shard reports to combine/);
    expect(usageError(['merge', 'a.json', '--rate', '3'])).toMatch(/^--rate is not a flag of storm merge/);
  });

  it('shows help with every storm flag', () => {
    expect(run(['--help']).help).toBe(true);
    const text = stormUsage();
    for (const flag of [
      '--connections',
      '--rate',
      '--concurrency',
      '--hold',
      '--publish',
      '--bad-credentials',
      '--deadline',
      '--report',
      '--shard',
      '--run-id',
      '--allow-over-quota',
      '--outputs',
      '--signed',
      '--use_websockets',
    ]) {
      expect(text).toContain(flag);
    }
    expect(text).not.toContain('--client_id');
  });

  it('never throws anything but a UsageError on any argv', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.constantFrom('--rate', '--shard', '--connections', '--json', 'merge', '--hold'),
          ),
        ),
        (argv) => {
          try {
            parseStormArgs(argv);
          } catch (error) {
            expect(error).toBeInstanceOf(UsageError);
          }
        },
      ),
    );
  });
});

describe('parseShard and stormClientId', () => {
  it('reads i/n', () => {
    expect(parseShard('3/7')).toEqual({ index: 3, count: 7 });
    expect(parseShard(undefined)).toEqual({ index: 1, count: 1 });
  });

  it('makes <prefix>storm-<run id>-<shard>-<n>', () => {
    expect(stormClientId('test-', 'r42', 2, 17)).toBe('test-storm-r42-2-17');
  });

  it('refuses a client id longer than 128 bytes', () => {
    expect(() => stormClientId('p'.repeat(120), 'r42', 1, 1)).toThrow(UsageError);
  });
});
