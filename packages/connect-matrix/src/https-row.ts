import type { HttpsPublishLogEntry } from 'local-iot';
import {
  parseReport,
  runClient,
  type MatrixResult,
  type MatrixRow,
  type RunMatrixOptions,
} from './connect-matrix';

/**
 * The HTTPS row of the connect matrix: the real client publishes once over HTTPS (`--https`, the signed
 * authorizer) to the device's own topic, as AWS IoT takes it on port 443
 * (https://docs.aws.amazon.com/iot/latest/developerguide/http.html). There is no CONNACK: the row expects the
 * client's `--json` report to say transport `https` and HTTP status 200, and the gateway's `https-publish`
 * line for that topic to show the Lambda invoked and the publish allowed.
 */
export function httpsMatrixRow(clientId: string): MatrixRow {
  return {
    name: 'HTTPS publish, signed authorizer',
    clientId,
    args: ['--client_id', clientId, '--https'],
    expect: { exitCode: 0, transport: 'https', lambdaInvoked: true },
    run: runHttpsRow,
  };
}

async function runHttpsRow(row: MatrixRow, options: RunMatrixOptions): Promise<MatrixResult> {
  const started = Date.now();
  const { exitCode, stdout, stderr } = await runClient(row.args, options);
  const durationMs = Date.now() - started;
  const report = parseReport(stdout);
  const topic = `devices/${row.clientId}`;
  const line = options.gatewayLog.find(
    (entry): entry is HttpsPublishLogEntry => entry.event === 'https-publish' && entry.topic === topic,
  );
  const failures: string[] = [];
  if (exitCode !== row.expect.exitCode) {
    failures.push(
      `client exited ${exitCode}, expected ${row.expect.exitCode}: ${stderr.trim().split('\n').at(-1) ?? ''}`,
    );
  }
  if (report === undefined) failures.push('client printed no JSON report');
  else {
    if (report.transport !== 'https')
      failures.push(`client reports transport ${String(report.transport)}, expected https`);
    if (report.https?.status !== 200) {
      failures.push(
        `client reports HTTP ${String(report.https?.status)} (${report.https?.message ?? 'no answer'}), expected 200`,
      );
    }
  }
  if (line === undefined) failures.push(`the gateway logged no https-publish line for ${topic}`);
  else {
    if (line.status !== 200) failures.push(`the gateway answered ${line.status}: ${line.reason}`);
    if (line.lambdaInvoked !== row.expect.lambdaInvoked) {
      failures.push(
        `Lambda ${line.lambdaInvoked === true ? 'was' : 'was not'} invoked, expected the opposite`,
      );
    }
  }
  const detail =
    line === undefined
      ? 'gateway: no https-publish line'
      : `gateway: https-publish ${line.status} on ${topic}, Lambda ${line.lambdaInvoked === true ? `invoked${line.lambdaDurationMs === undefined ? '' : ` ${Math.round(line.lambdaDurationMs)} ms`}` : 'not invoked'}`;
  return { row, exitCode, durationMs, failures, detail, ...(report !== undefined && { report }) };
}
