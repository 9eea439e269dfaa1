import { STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connectMatrixRows, formatMatrixTable, runConnectMatrix, tamperedToken } from '../src/connect-matrix';
import { prepareMtlsRows } from '../src/mtls-rows';
import {
  REPO_ROOT,
  serveSynthesizedStack,
  type ServedStack,
} from '../../local-iot/test/support/synthesized-stack';

// `npm start`'s matrix as a test: the real client CLI as child processes, against the real Lambda bundle of a
// real synth, asserting from the gateway's own log which transport and ALPN each connection used and whether
// the Lambda ran, and counting the Lambda invocations.

let served: ServedStack;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'connect-matrix-'));
  served = await serveSynthesizedStack();
}, 120_000);

afterAll(async () => {
  await served?.close();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

it('meets every expectation of the connect matrix with the real client', async () => {
  const clientIdPrefix = served.local.runtime.outputs[STACK_OUTPUTS.clientIdPrefix] as string;
  const rows = connectMatrixRows({
    tokenKeyName: served.local.runtime.outputs[STACK_OUTPUTS.tokenKeyName] as string,
    tampered: tamperedToken(REPO_ROOT, clientIdPrefix),
    clientIdPrefix,
    mtls: await prepareMtlsRows(REPO_ROOT, scratch, clientIdPrefix),
  });
  const before = served.local.runtime.invocationCount();
  const results = await runConnectMatrix(rows, {
    clientCommand: [process.execPath, require.resolve('client/dist/cli.js')],
    outputsFile: served.local.outputsFile,
    gatewayLog: served.gatewayLog,
  });
  const failures = results.filter((r) => r.failures.length > 0);
  if (failures.length > 0) throw new Error(`connect matrix failed:\n${formatMatrixTable(results)}`);

  expect(
    results.map((r) => [
      r.row.name,
      r.exitCode,
      r.report?.transport,
      r.decision?.transport,
      r.decision?.alpn,
    ]),
  ).toEqual([
    ['direct, unsigned authorizer', 0, 'mqtt', 'mqtt', 'mqtt'],
    ['WebSockets, unsigned authorizer', 0, 'websockets', 'websockets', undefined],
    ['direct, signed authorizer', 0, 'mqtt', 'mqtt', 'mqtt'],
    ['WebSockets, signed authorizer', 0, 'websockets', 'websockets', undefined],
    // One HTTPS publish: no CONNECT, so no decision line (its https-publish line is checked by the row).
    ['HTTPS publish, signed authorizer', 0, 'https', undefined, undefined],
    ['wrong password', 1, 'mqtt', 'mqtt', 'mqtt'],
    ['client id outside test-*', 1, 'mqtt', 'mqtt', 'mqtt'],
    ["another device's client id with valid credentials", 1, 'mqtt', 'mqtt', 'mqtt'],
    ['tampered signature', 1, 'mqtt', 'mqtt', 'mqtt'],
    ['roundtrip on own topic', 0, 'mqtt', 'mqtt', 'mqtt'],
    ['publish outside the policy', 1, 'mqtt', 'mqtt', 'mqtt'],
    ['mTLS, demo certificate', 0, 'mqtt', 'mqtt', 'mqtt'],
    // Refused in the TLS handshake: no CONNECT, so no decision line.
    ['mTLS, certificate the stack did not register', 1, 'mqtt', undefined, undefined],
    ["mTLS, client id is not the certificate's CN", 1, 'mqtt', 'mqtt', 'mqtt'],
    ['mTLS, no client certificate (raw TLS)', 1, undefined, undefined, undefined],
  ]);
  // The X.509 rows as the gateway saw them: the certificate verified before the authorizer, the Lambda's
  // reason for the client id that is not the CN.
  expect(
    results
      .slice(-4, -1)
      .map((r) => [
        r.report?.authentication,
        r.decision?.authentication,
        r.report?.explanation?.found === true ? r.report.explanation.cause : undefined,
      ]),
  ).toEqual([
    ['CUSTOM_AUTH_X509', 'CUSTOM_AUTH_X509', undefined],
    ['CUSTOM_AUTH_X509', undefined, 'CLIENT_CERTIFICATE_NOT_ACCEPTED'],
    ['CUSTOM_AUTH_X509', 'CUSTOM_AUTH_X509', 'NOT_AUTHENTICATED'],
  ]);
  // The round trips, as the client reports them: SUBACK and PUBACK reason codes, messages back.
  expect(
    results.slice(-6, -4).map((r) => ({
      ok: r.report?.roundtrip?.ok,
      suback: r.report?.roundtrip?.suback?.reasonCodes?.map((c) => c.reasonCode),
      puback: r.report?.roundtrip?.puback?.map((p) => p.reasonCode),
      error: r.report?.error?.kind,
    })),
  ).toEqual([
    { ok: true, suback: [0x01], puback: [0x00], error: undefined },
    { ok: false, suback: [0x87], puback: [0x87], error: 'subscribe-refused' },
  ]);
  // Every row ran the Lambda exactly once, but the tampered signature and the two certificates refused in the
  // TLS handshake (before any authorizer).
  expect(served.local.runtime.invocationCount() - before).toBe(12);
  const upgrades = served.gatewayLog.filter((e) => e.event === 'websocket-upgrade');
  expect(upgrades).toHaveLength(2);
}, 120_000);
