import fc from 'fast-check';
import type { ClientReport } from '@iot-custom-auth/protocol';
import type { ConnectLogEntry } from 'local-iot';
import {
  connectMatrixRows,
  formatMatrixTable,
  MATRIX_TABLE_WIDTH,
  type MatrixResult,
  type MatrixRow,
} from '../src/connect-matrix';

// The `npm start` table as printed: every line within 100 columns, and nothing the wide table showed lost.

/** A row's result as runConnectMatrix builds it, from the parts the table reads. */
function result(
  row: MatrixRow,
  parts: {
    connack?: number;
    roundtrip?: { suback: number; puback: number; ms: number };
    explanation?: ClientReport['explanation'];
    decision?: Partial<ConnectLogEntry>;
    failures?: string[];
    durationMs?: number;
  } = {},
): MatrixResult {
  const report = {
    ...(parts.connack === undefined ? {} : { connack: { reasonCode: parts.connack } }),
    ...(parts.roundtrip === undefined
      ? {}
      : {
          roundtrip: {
            suback: { reasonCodes: [{ reasonCode: parts.roundtrip.suback }] },
            puback: [{ reasonCode: parts.roundtrip.puback }],
            roundTripMs: parts.roundtrip.ms,
          },
        }),
    ...(parts.explanation === undefined ? {} : { explanation: parts.explanation }),
  } as unknown as ClientReport;
  return {
    row,
    exitCode: row.expect.exitCode,
    report,
    ...(parts.decision === undefined ? {} : { decision: parts.decision as ConnectLogEntry }),
    durationMs: parts.durationMs ?? 1234,
    failures: parts.failures ?? [],
  };
}

const ROWS = connectMatrixRows({
  tokenKeyName: 'deviceToken',
  tampered: { token: 'token', signature: 'signature' },
  clientIdPrefix: 'test-',
});

/** Every row of today's matrix, with the widest values each column takes. */
function fullMatrix(): MatrixResult[] {
  return ROWS.map((row, i) =>
    result(row, {
      connack: row.expect.reasonCode,
      ...(row.expect.roundtrip === undefined
        ? {}
        : { roundtrip: { suback: row.expect.roundtrip.subackReasonCode, puback: 0x87, ms: 12_345 } }),
      decision: {
        // The HTTPS row has no CONNECT decision of its own; the table shows what a transport's would.
        transport: row.expect.transport === 'https' ? 'mqtt' : row.expect.transport,
        ...(row.expect.transport === 'mqtt' ? { alpn: 'mqtt' } : {}),
        lambdaInvoked: row.expect.lambdaInvoked,
        lambdaDurationMs: 1234.4,
      },
      ...(row.expect.explainedCause === undefined
        ? {}
        : {
            explanation: {
              found: true,
              reason: `${row.expect.explainedCause}: the authorizer's decision log line for this client id says why, with the fix`,
            } as unknown as ClientReport['explanation'],
          }),
      ...(i === 0
        ? {
            failures: [
              'expected CONNACK 0x00 exit 0, got CONNACK 0x86 exit 1: the gateway logged NOT_AUTHENTICATED for this client id with a long detail',
            ],
          }
        : {}),
      durationMs: 123_456,
    }),
  );
}

const lines = (table: string): string[] => table.split('\n');

describe('formatMatrixTable', () => {
  it(`fits ${MATRIX_TABLE_WIDTH} columns with every row of the matrix`, () => {
    const table = formatMatrixTable(fullMatrix());
    for (const line of lines(table)) expect(line.length).toBeLessThanOrEqual(MATRIX_TABLE_WIDTH);
    expect(lines(table)[0]).toMatch(/^ {4} {2}case +expected +CONNACK +time$/);
  });

  it('keeps what the wide table showed: outcome, case, codes, gateway, Lambda, round trip, time', () => {
    const roundtripRow = ROWS.find((row) => row.expect.roundtrip?.ok === true) as MatrixRow;
    const table = formatMatrixTable([
      result(roundtripRow, {
        connack: 0,
        roundtrip: { suback: 1, puback: 0, ms: 12 },
        decision: { transport: 'mqtt', alpn: 'mqtt', lambdaInvoked: true, lambdaDurationMs: 41.6 },
        durationMs: 870,
      }),
    ]);
    expect(lines(table).slice(2)).toEqual([
      expect.stringMatching(
        new RegExp(`^PASS  ${roundtripRow.name} +0x00 exit 0 +0x00 exit 0 +870 ms$`),
      ) as unknown as string,
      '      gateway: mqtt (ALPN mqtt), Lambda invoked 42 ms; round trip: SUBACK 0x01 PUBACK 0x00 12 ms',
    ]);
  });

  it('says when the gateway logged no decision and the Lambda was not invoked', () => {
    const [first, second] = ROWS as [MatrixRow, MatrixRow];
    const table = formatMatrixTable([
      result(first),
      result(second, { connack: 0x87, decision: { transport: 'websockets', lambdaInvoked: false } }),
    ]);
    expect(lines(table)).toContain('      gateway: no decision line');
    expect(lines(table)).toContain('      gateway: websockets, Lambda not invoked');
    expect(lines(table)[2]).toMatch(/^PASS {2}\S.* +- +1234 ms$/);
  });

  it('wraps any case name, explanation or failure within the width, losing no word', () => {
    const words = fc.array(fc.stringMatching(/^[a-z0-9'*-]{1,30}$/), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(words, words, words, (name, reason, failure) => {
        const base = ROWS[0] as MatrixRow;
        const table = formatMatrixTable([
          result(
            { ...base, name: name.join(' ') },
            {
              connack: 0x86,
              explanation: {
                found: true,
                reason: reason.join(' '),
              } as unknown as ClientReport['explanation'],
              failures: [failure.join(' ')],
            },
          ),
        ]);
        for (const line of lines(table)) expect(line.length).toBeLessThanOrEqual(MATRIX_TABLE_WIDTH);
        const printed = table.split(/\s+/);
        for (const word of [...name, ...reason, ...failure]) expect(printed).toContain(word);
      }),
    );
  });
});
