import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  DEFAULTS,
  demoDeviceCertificateFiles,
  STACK_OUTPUTS,
  type ClientReport,
} from '@iot-custom-auth/protocol';
import { createDeviceCertificate } from './support/device-certificates';
import type {
  ConnectLogEntry,
  TlsConnectionLogEntry,
  TlsRefusedLogEntry,
} from '../../local-iot/src/gateway/gateway-log';
import {
  REPO_ROOT,
  serveSynthesizedStack,
  type ServedStack,
} from '../../local-iot/test/support/synthesized-stack';
import { runCli, type CliRun } from './fixtures/run-cli';

// The real client (src/cli.ts through tsx, a process of its own) with --cert/--key and --mtls against local-iot
// serving the real synth (its CUSTOM_AUTH_X509 domain configuration, the demo certificate it registers and the
// real Lambda bundle), on loopback: admitted with the demo certificate; refused with a certificate the stack
// did not register (in the TLS handshake, before any authorizer), and with a client id that is not the
// certificate's CN (by the Lambda, whose reason the client explains). The gateway's log shows the transport
// and the verified certificate; the Lambda's decision line shows it saw the certificate.

let served: ServedStack;
let scratch: string;
let demoCertFile: string;
let demoKeyFile: string;
let demoId: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'client-mtls-e2e-'));
  served = await serveSynthesizedStack();
  // The demo pair of the served stack's prefix (the default one here): .keys/test-mtls-demo-cert.pem, -key.pem.
  const demoFiles = demoDeviceCertificateFiles(
    served.local.runtime.outputs[STACK_OUTPUTS.clientIdPrefix] ?? DEFAULTS.clientIdPrefix,
  );
  demoCertFile = path.join(REPO_ROOT, demoFiles.directory, demoFiles.certificate);
  demoKeyFile = path.join(REPO_ROOT, demoFiles.directory, demoFiles.privateKey);
  demoId = createHash('sha256')
    .update(new X509Certificate(readFileSync(demoCertFile, 'utf8')).raw)
    .digest('hex');
}, 180_000);

afterAll(async () => {
  await served?.close();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

function connect(args: readonly string[], cwd = scratch): Promise<CliRun> {
  return runCli(['--outputs', served.local.outputsFile, '--json', '--timeout', '20', ...args], {
    cwd,
    killAfterMs: 60_000,
  });
}

function reportOf(run: CliRun): ClientReport {
  try {
    return JSON.parse(run.stdout) as ClientReport;
  } catch {
    throw new Error(`the client printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

function decisionFor(clientId: string): ConnectLogEntry | undefined {
  return served.gatewayLog.find(
    (e): e is ConnectLogEntry => e.event === 'connect' && e.clientId === clientId,
  );
}

/** The Lambda's decision lines (the `message` of its JSON log records) that `match`. */
function lambdaDecisions(match: (line: Record<string, unknown>) => boolean): Record<string, unknown>[] {
  return served.functionLog
    .map((line) => /^\[[^\]]+\] (\{.*\})$/.exec(line)?.[1])
    .filter((json): json is string => json !== undefined)
    .map((json) => (JSON.parse(json) as { message?: unknown }).message)
    .filter((message): message is Record<string, unknown> => typeof message === 'object' && message !== null)
    .filter((message) => typeof message.decision === 'string' && match(message));
}

it('admits the demo certificate with --cert/--key: mTLS, client id = subject CN, the certificate verified and seen by the Lambda', async () => {
  const run = await connect(['--cert', demoCertFile, '--key', demoKeyFile, '--roundtrip']);
  const report = reportOf(run);
  expect({ code: run.code, error: report.error }).toEqual({ code: 0, error: undefined });
  const clientId = report.clientId as string;
  expect(report).toMatchObject({
    ok: true,
    transport: 'mqtt',
    alpn: 'mqtt',
    authentication: 'CUSTOM_AUTH_X509',
    clientCertificate: { id: demoId, subjectCn: clientId },
    connack: { reasonCode: 0 },
    roundtrip: { ok: true },
  });
  expect(run.stdout + run.stderr).not.toContain('PRIVATE KEY');
  expect(decisionFor(clientId)).toMatchObject({
    transport: 'mqtt',
    alpn: 'mqtt',
    authentication: 'CUSTOM_AUTH_X509',
    clientCertificateId: demoId,
    lambdaInvoked: true,
    decision: 'allow',
  });
  expect(
    served.gatewayLog.find(
      (e): e is TlsConnectionLogEntry => e.event === 'tls-connection' && e.clientCertificateId === demoId,
    ),
  ).toMatchObject({ authentication: 'CUSTOM_AUTH_X509', alpn: 'mqtt', serverName: report.endpoint });
  expect(lambdaDecisions((line) => line.clientId === clientId)).toContainEqual(
    expect.objectContaining({ decision: 'ALLOW', mode: 'x509', certificateId: demoId, subjectCn: clientId }),
  );
}, 120_000);

it('--mtls alone finds the demo certificate in .keys/ and the X.509 endpoint in the outputs', async () => {
  const run = await connect(['--mtls'], REPO_ROOT);
  expect(run.code).toBe(0);
  expect(reportOf(run)).toMatchObject({
    ok: true,
    authentication: 'CUSTOM_AUTH_X509',
    clientCertificate: { id: demoId },
  });
}, 120_000);

it('refuses a certificate the stack did not register in the TLS handshake, before any authorizer', async () => {
  const own = await createDeviceCertificate({ commonName: 'test-unregistered' });
  writeFileSync(path.join(scratch, 'own-cert.pem'), own.certPem);
  writeFileSync(path.join(scratch, 'own-key.pem'), own.keyPem, { mode: 0o600 });
  const ownId = createHash('sha256').update(new X509Certificate(own.certPem).raw).digest('hex');
  const run = await connect(['--cert', 'own-cert.pem', '--key', 'own-key.pem']);
  const report = reportOf(run);
  expect(run.code).toBe(1);
  expect(report).toMatchObject({
    ok: false,
    connack: null,
    authentication: 'CUSTOM_AUTH_X509',
    clientCertificate: { id: ownId },
  });
  // The client says why: the gateway's record of the refusal, and the registration that fixes it.
  expect(report.explanation).toMatchObject({ found: true, cause: 'CLIENT_CERTIFICATE_NOT_ACCEPTED' });
  expect(report.explanation?.found === true && report.explanation.fix).toMatch(
    /^AWS IoT did not accept the client certificate [0-9a-f]{64}: it must be registered and ACTIVE/,
  );
  expect(report.likelyCauses?.[0]).toContain(`did not accept the client certificate ${ownId}`);
  expect(decisionFor('test-unregistered')).toBeUndefined();
  expect(
    served.gatewayLog.find(
      (e): e is TlsRefusedLogEntry => e.event === 'tls-refused' && e.clientCertificateId === ownId,
    ),
  ).toMatchObject({ cause: 'client-certificate-not-registered' });
  expect(lambdaDecisions((line) => line.certificateId === ownId)).toEqual([]);
}, 120_000);

it("refuses a client id that is not the certificate's CN with the Lambda's reason, and explains it", async () => {
  const run = await connect(['--mtls', '--client_id', 'test-not-the-cn'], REPO_ROOT);
  const report = reportOf(run);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain("Warning: the client id is not the certificate's subject CN");
  expect(report).toMatchObject({
    ok: false,
    connack: { reasonCode: 0x86 },
    authentication: 'CUSTOM_AUTH_X509',
    explanation: { found: true, cause: 'NOT_AUTHENTICATED' },
  });
  expect(report.explanation?.found === true && report.explanation.reason).toContain(
    'X509_CLIENT_ID_MISMATCH',
  );
  expect(decisionFor('test-not-the-cn')).toMatchObject({
    authentication: 'CUSTOM_AUTH_X509',
    clientCertificateId: demoId,
    lambdaInvoked: true,
    decision: 'deny',
    reasonCodeNumber: 0x86,
  });
  // The decision line names the certificate (never its PEM); a client id that failed the check is left out.
  expect(lambdaDecisions((line) => line.reason === 'X509_CLIENT_ID_MISMATCH')).toEqual([
    expect.objectContaining({ decision: 'DENY', mode: 'x509', certificateId: demoId }),
  ]);
}, 120_000);
