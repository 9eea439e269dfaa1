import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  TOKEN_SIGNING_KEY_FILES,
  createToken,
  formatReasonCode,
  MQTT_REASON_CODES as RC,
  signToken,
  type ClientReport,
  type Transport,
  wrapText,
} from '@iot-custom-auth/protocol';
import type { ConnectLogEntry, GatewayLogEntry } from 'local-iot';
import {
  certificateNote,
  clientCertificateFailures,
  mtlsMatrixRows,
  refusedCertificateDetail,
  type ClientCertificateExpectation,
  type MtlsRowInputs,
} from './mtls-rows';
import { httpsMatrixRow } from './https-row';

/** What one row of the connect matrix expects. */
export interface MatrixExpectation {
  /** Exit code of the client: 0 connected and disconnected, 1 refused. */
  readonly exitCode: 0 | 1;
  /** MQTT 5 CONNACK reason code; absent: no CONNACK, the connection was refused in the TLS handshake. */
  readonly reasonCode?: number;
  /**
   * The transport the gateway must have seen (`mqtt` = TLS with ALPN mqtt; `websockets` = upgrade on /mqtt;
   * `https` = one HTTPS publish, no MQTT connection).
   */
  readonly transport: Transport | 'https';
  /** Whether the authorizer Lambda must have run for this connection. */
  readonly lambdaInvoked: boolean;
  /** How the client must report it authenticated (`--json` `authentication`), when it matters. */
  readonly authentication?: 'CUSTOM_AUTH_X509';
  /** mTLS rows: what the gateway's log must show of the client certificate. */
  readonly clientCertificate?: ClientCertificateExpectation;
  /**
   * For a refused row: the cause the client must explain the refusal with, read from the logs (a key of
   * protocol's `CONNECT_REFUSALS`, in the report's `explanation.cause`).
   */
  readonly explainedCause?: string;
  /** For a `--roundtrip` row: whether the round trip succeeds, and the SUBACK and PUBACK reason codes. */
  readonly roundtrip?: {
    readonly ok: boolean;
    readonly subackReasonCode: number;
    readonly pubackReasonCode: number;
  };
}

/** One client run: its arguments (after `--outputs`) and what must happen. */
export interface MatrixRow {
  readonly name: string;
  readonly clientId: string;
  readonly args: readonly string[];
  readonly expect: MatrixExpectation;
  /** A row that is not a client run (e.g. a raw TLS handshake) checks its own expectations. */
  readonly run?: (row: MatrixRow, options: RunMatrixOptions) => Promise<MatrixResult>;
}

/** A signed token whose signature has been altered after signing (standard base64, still well-formed). */
export interface TamperedToken {
  readonly token: string;
  readonly signature: string;
}

/**
 * A token signed with the stack's real key (`.keys/` under `repoRoot`) whose signature then has one byte
 * changed: AWS IoT must refuse it without invoking the Lambda.
 */
export function tamperedToken(repoRoot: string, clientIdPrefix: string): TamperedToken {
  const keyFile = path.join(repoRoot, TOKEN_SIGNING_KEY_FILES.directory, TOKEN_SIGNING_KEY_FILES.privateKey);
  // A client id under the stack's prefix, so the only thing wrong with it is the signature.
  const token = createToken({ clientId: `${clientIdPrefix}tampered`, lifetimeSeconds: 300 });
  const signature = Buffer.from(signToken(token, readFileSync(keyFile, 'utf8')), 'base64');
  signature[0] = (signature[0] ?? 0) ^ 0xff;
  return { token, signature: signature.toString('base64') };
}

/** What {@link connectMatrixRows} builds the rows from. */
export interface ConnectMatrixRowsOptions {
  /** The signed authorizer's token key name (the `TokenKeyName` output). */
  readonly tokenKeyName: string;
  /** The tampered-signature row's token ({@link tamperedToken}). */
  readonly tampered: TamperedToken;
  /** The stack's client id prefix (the `ClientIdPrefix` output): every admitted row's client id starts with it. */
  readonly clientIdPrefix: string;
  /** The X.509 rows' certificates (`prepareMtlsRows`); without them the matrix has no mTLS rows. */
  readonly mtls?: MtlsRowInputs;
}

/**
 * The matrix `npm start` runs and the end-to-end test asserts: both transports with both authorizers
 * allowed, then the refusals a developer most often meets.
 */
export function connectMatrixRows(options: ConnectMatrixRowsOptions): MatrixRow[] {
  const { tokenKeyName, tampered, clientIdPrefix, mtls } = options;
  const id = (label: string, prefix = clientIdPrefix): string =>
    `${prefix}${label}-${randomUUID().slice(0, 8)}`;
  // Any prefix but the stack's: the connect policy allows client/<prefix>* only.
  const outsidePrefix = clientIdPrefix === 'prod-' ? 'other-' : 'prod-';
  const allowed = (transport: Transport): MatrixExpectation => ({
    exitCode: 0,
    reasonCode: RC.success,
    transport,
    lambdaInvoked: true,
  });
  const build = (name: string, clientId: string, args: string[], expect: MatrixExpectation): MatrixRow => ({
    name,
    clientId,
    args: ['--client_id', clientId, ...args],
    expect,
  });
  return [
    build('direct, unsigned authorizer', id('direct-unsigned'), [], allowed('mqtt')),
    build(
      'WebSockets, unsigned authorizer',
      id('ws-unsigned'),
      ['--use_websockets', 'true'],
      allowed('websockets'),
    ),
    build('direct, signed authorizer', id('direct-signed'), ['--signed'], allowed('mqtt')),
    build(
      'WebSockets, signed authorizer',
      id('ws-signed'),
      ['--signed', '--use_websockets', 'true'],
      allowed('websockets'),
    ),
    httpsMatrixRow(id('https-signed')),
    build('wrong password', id('wrong-password'), ['--custom_auth_password', 'not-the-password'], {
      exitCode: 1,
      reasonCode: RC.badUserNameOrPassword,
      transport: 'mqtt',
      lambdaInvoked: true,
      explainedCause: 'NOT_AUTHENTICATED',
    }),
    // A device's own valid credentials (user name = its device id) with a client id outside <prefix>*: the
    // Lambda authenticates the device, its policy allows only client/<deviceId>, AWS IoT refuses 0x87.
    build(
      `client id outside ${clientIdPrefix}*`,
      id('outside', outsidePrefix),
      ['--custom_auth_username', id('outside-device')],
      {
        exitCode: 1,
        reasonCode: RC.notAuthorized,
        transport: 'mqtt',
        lambdaInvoked: true,
        explainedCause: 'CONNECT_NOT_ALLOWED',
      },
    ),
    // The take-over attempt of issue 12: valid credentials of one device, another device's client id.
    build(
      "another device's client id with valid credentials",
      id('victim'),
      ['--custom_auth_username', id('attacker')],
      {
        exitCode: 1,
        reasonCode: RC.notAuthorized,
        transport: 'mqtt',
        lambdaInvoked: true,
        explainedCause: 'CONNECT_NOT_ALLOWED',
      },
    ),
    build(
      'tampered signature',
      id('tampered'),
      [
        '--signed',
        '--custom_auth_token_key_name',
        tokenKeyName,
        '--custom_auth_token_value',
        tampered.token,
        '--custom_auth_authorizer_signature',
        tampered.signature,
      ],
      {
        exitCode: 1,
        reasonCode: RC.notAuthorized,
        transport: 'mqtt',
        lambdaInvoked: false,
        explainedCause: 'SIGNATURE_INVALID',
      },
    ),
    build('roundtrip on own topic', id('roundtrip'), ['--roundtrip'], {
      ...allowed('mqtt'),
      roundtrip: { ok: true, subackReasonCode: RC.grantedQos1, pubackReasonCode: RC.success },
    }),
    build(
      'publish outside the policy',
      id('outside-topic'),
      ['--roundtrip', '--topic', 'devices/someone-else'],
      {
        ...allowed('mqtt'),
        exitCode: 1,
        roundtrip: { ok: false, subackReasonCode: RC.notAuthorized, pubackReasonCode: RC.notAuthorized },
      },
    ),
    ...(mtls === undefined ? [] : mtlsMatrixRows(mtls)),
  ];
}

/** What happened in one row, and whether it matched. */
export interface MatrixResult {
  readonly row: MatrixRow;
  readonly exitCode: number | null;
  /** The client's `--json` report, when it printed one. */
  readonly report?: ClientReport;
  /** The gateway's decision line for the row's client id. */
  readonly decision?: ConnectLogEntry;
  readonly durationMs: number;
  /** Each expectation that did not hold, in words; empty when the row passed. */
  readonly failures: readonly string[];
  /** What the gateway logged, for a row with no connect decision line (the HTTPS row's `https-publish`). */
  readonly detail?: string;
}

/** How to run the matrix. */
export interface RunMatrixOptions {
  /** Command that runs the client, e.g. `[process.execPath, '.../client/dist/cli.js']`. */
  readonly clientCommand: readonly [string, ...string[]];
  /** The outputs file local-iot wrote. */
  readonly outputsFile: string;
  /** The gateway's log so far (the matrix reads the decision lines from it). */
  readonly gatewayLog: readonly GatewayLogEntry[];
  /** Client runs at a time. @default 2 */
  readonly concurrency?: number;
  /** Environment of the client processes. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs every row with the real client as a child process and checks each expectation. */
export async function runConnectMatrix(
  rows: readonly MatrixRow[],
  options: RunMatrixOptions,
): Promise<MatrixResult[]> {
  const results: MatrixResult[] = new Array<MatrixResult>(rows.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length) {
      const index = next++;
      const row = rows[index] as MatrixRow;
      results[index] = row.run === undefined ? await runRow(row, options) : await row.run(row, options);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
  return results;
}

async function runRow(row: MatrixRow, options: RunMatrixOptions): Promise<MatrixResult> {
  const started = Date.now();
  const { exitCode, stdout, stderr } = await runClient(row.args, options);
  const durationMs = Date.now() - started;
  const report = parseReport(stdout);
  const decision = options.gatewayLog.find(
    (entry): entry is ConnectLogEntry => entry.event === 'connect' && entry.clientId === row.clientId,
  );
  const failures: string[] = [];
  const { expect } = row;
  if (exitCode !== expect.exitCode) {
    failures.push(
      `client exited ${exitCode}, expected ${expect.exitCode}${stderr ? `: ${lastLine(stderr)}` : ''}`,
    );
  }
  if (report === undefined) failures.push('client printed no JSON report');
  else if (report.connack?.reasonCode !== expect.reasonCode) {
    failures.push(`CONNACK ${hex(report.connack?.reasonCode)}, expected ${hex(expect.reasonCode)}`);
  }
  if (report !== undefined && report.transport !== expect.transport) {
    failures.push(`client reports transport ${String(report.transport)}, expected ${expect.transport}`);
  }
  if (report !== undefined && expect.roundtrip !== undefined) {
    failures.push(...roundtripFailures(report, expect.roundtrip));
  }
  if (report !== undefined && expect.explainedCause !== undefined) {
    const explanation = report.explanation;
    if (explanation?.found !== true) {
      failures.push(
        `the client explained no reason${explanation === undefined ? '' : ` (${explanation.why})`}, expected ${expect.explainedCause}`,
      );
    } else if (explanation.cause !== expect.explainedCause) {
      failures.push(
        `the client explained ${explanation.cause} (${explanation.reason}), expected ${expect.explainedCause}`,
      );
    }
  }
  failures.push(...clientCertificateFailures(row, report, decision, options.gatewayLog));
  if (expect.reasonCode === undefined) {
    // Refused in the TLS handshake: no CONNECT reached the gateway's decision.
    if (decision !== undefined) {
      failures.push(`the gateway decided ${decision.reasonCode} (${decision.reason}), expected no CONNECT`);
    }
  } else if (decision === undefined) {
    failures.push(`the gateway logged no connect decision for client id ${row.clientId}`);
  } else {
    if (decision.transport !== expect.transport) {
      failures.push(`gateway saw transport ${decision.transport}, expected ${expect.transport}`);
    }
    if (expect.transport === 'mqtt' && decision.alpn !== 'mqtt') {
      failures.push(`gateway saw ALPN ${String(decision.alpn)}, expected mqtt`);
    }
    if (decision.lambdaInvoked !== expect.lambdaInvoked) {
      failures.push(`Lambda ${decision.lambdaInvoked ? 'was' : 'was not'} invoked, expected the opposite`);
    }
    if (decision.reasonCodeNumber !== expect.reasonCode) {
      failures.push(
        `gateway decided ${decision.reasonCode} (${decision.reason}), expected ${hex(expect.reasonCode)}`,
      );
    }
  }
  // A certificate refused in the TLS handshake leaves no decision line: the detail is the gateway's refusal.
  const refusal = decision === undefined ? refusedCertificateDetail(row, options.gatewayLog) : undefined;
  return {
    row,
    exitCode,
    durationMs,
    failures,
    ...(report !== undefined && { report }),
    ...(decision !== undefined && { decision }),
    ...(refusal !== undefined && { detail: refusal }),
  };
}

function roundtripFailures(
  report: ClientReport,
  expected: NonNullable<MatrixExpectation['roundtrip']>,
): string[] {
  const roundtrip = report.roundtrip;
  if (roundtrip === undefined || roundtrip === null) return ['client reports no round trip'];
  const failures: string[] = [];
  if (roundtrip.ok !== expected.ok) {
    failures.push(
      `round trip ${roundtrip.ok === true ? 'succeeded' : 'failed'}${report.error?.message ? ` (${report.error.message})` : ''}, expected it to ${expected.ok ? 'succeed' : 'fail'}`,
    );
  }
  const suback = roundtrip.suback?.reasonCodes?.[0]?.reasonCode;
  if (suback !== expected.subackReasonCode) {
    failures.push(`SUBACK ${hex(suback)}, expected ${hex(expected.subackReasonCode)}`);
  }
  const puback = roundtrip.puback?.[0]?.reasonCode ?? undefined;
  if (puback !== expected.pubackReasonCode) {
    failures.push(`PUBACK ${hex(puback)}, expected ${hex(expected.pubackReasonCode)}`);
  }
  return failures;
}

/** Runs the client once with the matrix's outputs file and `--json`, then `args`. */
export function runClient(
  args: readonly string[],
  options: RunMatrixOptions,
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const [command, ...baseArgs] = options.clientCommand;
  return run(
    command,
    [...baseArgs, '--outputs', options.outputsFile, '--json', ...args],
    options.env ?? process.env,
  );
}

function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { env, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ exitCode: code, stdout, stderr });
      },
    );
  });
}

/** The client's `--json` report: the last line of stdout that is a JSON object. */
export function parseReport(stdout: string): ClientReport | undefined {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line) as ClientReport;
  } catch {
    return undefined;
  }
}

/** `SUBACK 0x01 PUBACK 0x00 12 ms`, or `-` for a row without a round trip. */
function roundtripCell(report: ClientReport | undefined): string {
  const roundtrip = report?.roundtrip;
  if (roundtrip === undefined || roundtrip === null) return '-';
  const suback = roundtrip.suback?.reasonCodes?.[0]?.reasonCode;
  const puback = roundtrip.puback?.[0]?.reasonCode ?? undefined;
  const time = typeof roundtrip.roundTripMs === 'number' ? ` ${roundtrip.roundTripMs} ms` : '';
  return `SUBACK ${hex(suback)} PUBACK ${hex(puback)}${time}`;
}

const hex = (code: number | undefined): string => (code === undefined ? 'none' : formatReasonCode(code));
const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

/** A refused row's reason as the client explained it from the logs, or why it could not. */
function explainedLine(explanation: NonNullable<ClientReport['explanation']>): string {
  return explanation.found ? `reason: ${explanation.reason}` : `no reason found: ${explanation.why}`;
}

/** The widest line `formatMatrixTable` prints: a 100-column terminal or CI log shows it unwrapped. */
export const MATRIX_TABLE_WIDTH = 100;
/** Where a row's detail, explanation and failure lines start. */
const DETAIL_INDENT = '      ';

/**
 * The matrix as a table for people, at most `MATRIX_TABLE_WIDTH` columns: one line per row with the
 * outcome (case, expected and actual CONNACK and exit code, time; a long case name wraps within its column),
 * then the row's details (what the gateway saw, the Lambda, the round trip), the reason the client found for
 * a refusal and each expectation that did not hold, wrapped under it.
 */
export function formatMatrixTable(results: readonly MatrixResult[]): string {
  const header = ['', 'case', 'expected', 'CONNACK', 'time'];
  const rows = results.map((r) => {
    const connack = r.report?.connack?.reasonCode ?? undefined;
    return [
      r.failures.length === 0 ? 'PASS' : 'FAIL',
      r.row.name,
      `${hex(r.row.expect.reasonCode)} exit ${r.row.expect.exitCode}`,
      connack === undefined ? '-' : `${hex(connack)} exit ${r.exitCode}`,
      `${r.durationMs} ms`,
    ];
  });
  const CASE = 1;
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? '').length)));
  const separators = 2 * (header.length - 1);
  const others = widths.reduce((sum, width, i) => (i === CASE ? sum : sum + width), 0);
  widths[CASE] = Math.min(widths[CASE] ?? 0, MATRIX_TABLE_WIDTH - others - separators);
  const format = (row: readonly string[]): string[] => {
    const names = wrapText(row[CASE] ?? '', widths[CASE] ?? 0);
    return names.map((name, line) =>
      row
        .map((cell, i) => (i === CASE ? name : line === 0 ? cell : '').padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  };
  const indented = (text: string): string[] =>
    wrapText(text, MATRIX_TABLE_WIDTH - DETAIL_INDENT.length).map((line) => `${DETAIL_INDENT}${line}`);
  const lines = [...format(header), ...format(widths.map((w) => '-'.repeat(w)))];
  for (const [i, row] of rows.entries()) {
    const result = results[i] as MatrixResult;
    lines.push(...format(row), ...indented(detailLine(result)));
    const explanation = result.report?.explanation;
    if (explanation !== undefined) lines.push(...indented(explainedLine(explanation)));
    for (const failure of result.failures) lines.push(...indented(failure));
  }
  return lines.join('\n');
}

/** What the gateway's decision line says about a row (transport, ALPN, the Lambda) and its round trip. */
function detailLine(result: MatrixResult): string {
  if (result.detail !== undefined) return result.detail;
  const decision = result.decision;
  const gateway =
    decision === undefined
      ? 'gateway: no decision line'
      : `gateway: ${decision.transport}${decision.alpn ? ` (ALPN ${decision.alpn})` : ''}, Lambda ${
          decision.lambdaInvoked
            ? `invoked${decision.lambdaDurationMs === undefined ? '' : ` ${Math.round(decision.lambdaDurationMs)} ms`}`
            : 'not invoked'
        }${certificateNote(decision)}`;
  const roundtrip = roundtripCell(result.report);
  return roundtrip === '-' ? gateway : `${gateway}; round trip: ${roundtrip}`;
}
