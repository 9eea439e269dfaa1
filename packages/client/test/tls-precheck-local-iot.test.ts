import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientReport } from '@iot-custom-auth/protocol';
import { useLocalIot } from '../../local-iot/test/support/local-iot-harness';
import { createTestCertificates } from './fixtures/certificates';
import { runCli } from './fixtures/run-cli';

// Against local-iot with its outputs (so the client could search the logs): a --ca_file that did not issue
// the gateway's certificate is reported from the TLS pre-check, with no log search (the gateway has no record
// of a certificate the client refused), while the right CA from connection.json still connects.

const served = useLocalIot();

let cwd: string;
beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'client-tls-precheck-local-'));
  writeFileSync(join(cwd, 'other-ca.pem'), (await createTestCertificates()).caCert);
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

it("reports a --ca_file that is not local-iot's CA at once, without looking for logs", async () => {
  const run = await runCli(
    [
      '--outputs',
      served.local.outputsFile,
      '--ca_file',
      'other-ca.pem',
      '--client_id',
      'test-wrong-ca',
      '--json',
    ],
    { cwd },
  );

  expect(run.code).toBe(1);
  const report = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as ClientReport & {
    error: { kind: string; message: string };
  };
  expect(report.error.kind).toBe('tls');
  expect(report.error.message).toMatch(/failed: the server certificate is not trusted \([A-Z_]+\)$/);
  // A log search would have added an explanation (found or not) after up to --explain-wait (15 s).
  expect(report.explanation ?? undefined).toBeUndefined();
});

it("connects with the CA from local-iot's connection.json (the pre-check passes)", async () => {
  const run = await runCli(['--outputs', served.local.outputsFile, '--client_id', 'test-right-ca'], { cwd });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('Connected: CONNACK 0x00 Success');
});
