import fc from 'fast-check';
import { closestFlag, flagKey, readFlags, type TableFlag } from '../src/args';
import { parseDeviceArgs } from '../src/device/device-args';
import { UsageError } from '../src/errors';

// readFlags: node:util parseArgs under a flag table, with the rules every command of the package shares.

const TABLE: readonly TableFlag[] = [
  { name: 'report', kind: 'string', valueName: 'file' },
  { name: 'stack-name', kind: 'string', valueName: 'name' },
  { name: 'ca_file', kind: 'string', valueName: 'file' },
  { name: 'json', kind: 'boolean' },
  { name: 'allow-over-quota', kind: 'boolean' },
];

const unknown = (name: string): UsageError => new UsageError(`unknown --${name}`);
const positional = (arg: string): UsageError => new UsageError(`unexpected ${arg}`);

function thrown(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('no UsageError');
}

describe('readFlags', () => {
  it('takes positional arguments when the command has them, and booleans then only with =', () => {
    const read = readFlags(['a.json', '--json', 'b.json', '--allow-over-quota=no', '--', '--c.json'], TABLE, {
      unknown,
    });
    expect(read.positionals).toEqual(['a.json', 'b.json', '--c.json']);
    expect([...read.booleans]).toEqual([
      ['json', true],
      ['allow_over_quota', false],
    ]);
  });

  it('refuses a positional argument, a lone -- and a short option when the command has none', () => {
    expect(thrown(() => readFlags(['x'], TABLE, { unknown, positional }))).toBe('unexpected x');
    expect(thrown(() => readFlags(['--'], TABLE, { unknown, positional }))).toBe('unexpected --');
    expect(thrown(() => readFlags(['-abc'], TABLE, { unknown, positional }))).toBe('unexpected -abc');
  });

  it('reads - as a value (stdin) and a value starting with one dash', () => {
    const read = readFlags(['--report', '-', '--ca-file', '-x.pem'], TABLE, { unknown, positional });
    expect([...read.strings]).toEqual([
      ['report', '-'],
      ['ca_file', '-x.pem'],
    ]);
  });

  it('gives the name as typed to the unknown-flag error', () => {
    expect(thrown(() => readFlags(['--stack-nmae=x'], TABLE, { unknown, positional }))).toBe(
      'unknown --stack-nmae',
    );
  });

  it('reads any value given as --name=value under either separator, exactly', () => {
    const strings = TABLE.filter((flag) => flag.kind === 'string');
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...strings), { minLength: 1, selector: (flag) => flag.name }),
        fc.array(fc.string(), { minLength: strings.length, maxLength: strings.length }),
        fc.boolean(),
        (flags, values, hyphens) => {
          const argv = flags.map((flag, i) => {
            const name = hyphens ? flag.name.replace(/_/g, '-') : flagKey(flag.name);
            return `--${name}=${values[i] ?? ''}`;
          });
          const expected = flags.map((flag, i) => [flagKey(flag.name), values[i] ?? ''] as const);
          if (expected.some(([, value]) => value === '')) {
            expect(() => readFlags(argv, TABLE, { unknown, positional })).toThrow(UsageError);
          } else {
            expect([...readFlags(argv, TABLE, { unknown, positional }).strings]).toEqual(expected);
          }
        },
      ),
    );
  });

  it('reads a single-dash argument as one argument, never as a group of short options', () => {
    // parseArgs would expand `-a-b` into -a, --, -b: a terminator in the middle of one argument.
    const read = readFlags(['-a-b', '--report', '-x.json', '- - ', '--json'], TABLE, { unknown });
    expect(read.positionals).toEqual(['-a-b', '- - ']);
    expect([...read.strings]).toEqual([['report', '-x.json']]);
    expect([...read.booleans]).toEqual([['json', true]]);
    expect(thrown(() => readFlags(['-a-b'], TABLE, { unknown, positional }))).toBe('unexpected -a-b');
  });

  it('never throws anything but a UsageError, and keeps every argument that is no flag', () => {
    const arg = fc.oneof(
      fc.string(),
      fc.constantFrom('--json', '--report', '--stack_name', '--', '-', 'true', 'a.json', '--json=maybe'),
      fc.constantFrom('-h', '-ab', '-a-b', '- - ', '-', '-x=1'),
    );
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 8 }), (argv) => {
        for (const options of [{ unknown, positional }, { unknown }]) {
          try {
            const read = readFlags(argv, TABLE, options);
            for (const value of read.positionals) expect(argv).toContain(value);
          } catch (error) {
            expect(error).toBeInstanceOf(UsageError);
          }
        }
      }),
    );
  });
});

describe('closestFlag', () => {
  it('finds a typo of either separator, swapped letters included, and nothing far away', () => {
    expect(closestFlag('stack_nmae', TABLE)).toBe('stack-name');
    expect(closestFlag('jsno', TABLE)).toBe('json');
    expect(closestFlag('frobnicate', TABLE)).toBeUndefined();
  });
});

describe('parseDeviceArgs on readFlags', () => {
  it('accepts --stack_name as --stack-name, as every other command does', () => {
    expect(parseDeviceArgs(['list', '--stack_name', 'S', '--json'])).toMatchObject({
      verb: 'list',
      stackName: 'S',
      json: true,
    });
  });

  it('suggests the flag a typo was meant to be', () => {
    expect(thrown(() => parseDeviceArgs(['list', '--ouputs', 'o.json']))).toBe(
      'unknown option --ouputs (did you mean --outputs?)',
    );
  });

  it('takes a negative --grace-hours as its value, then refuses it with the range', () => {
    expect(thrown(() => parseDeviceArgs(['rotate', '--grace-hours', '-1']))).toBe(
      "--grace-hours must be an integer between 0 and 720, but '-1' was given",
    );
  });
});
