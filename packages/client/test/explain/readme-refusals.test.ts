import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONNECT_REFUSALS, formatReasonCode } from '@iot-custom-auth/protocol';

// The README's refusal table is protocol's CONNECT_REFUSALS written out: this fails when either changes alone.

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

/** The rows of the table under `### Every refusal, one table`, without its header. */
function readmeRows(): string[] {
  const start = README.indexOf('### Every refusal, one table');
  const section = README.slice(start, README.indexOf('\n## ', start));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.trim());
}

function expectedRows(): string[] {
  return Object.entries(CONNECT_REFUSALS).map(([cause, row]) => {
    const connack = row.connack === undefined ? 'none (TLS closed)' : formatReasonCode(row.connack);
    return `| \`${cause}\` | ${connack} | \`${row.iotLogReason}\` | ${row.lambdaInvoked ? 'yes' : 'no'} | ${row.fix} |`;
  });
}

it("lists every refusal of protocol's table with its CONNACK code, AWS IoT log reason and fix", () => {
  expect(readmeRows()).toEqual(expectedRows());
});

it('names in the troubleshooting table the CONNACK code the refusal table gives an unsafe client id', () => {
  const code = formatReasonCode(CONNECT_REFUSALS.NOT_AUTHENTICATED.connack);
  const row = README.split('\n').find((line) => line.startsWith(`| CONNACK ${code} `));
  expect(row).toContain('unsafe client id');
  const other = README.split('\n').filter(
    (line) => line.startsWith('| CONNACK ') && !line.startsWith(`| CONNACK ${code} `),
  );
  expect(other.filter((line) => line.includes('unsafe client id'))).toEqual([]);
});
