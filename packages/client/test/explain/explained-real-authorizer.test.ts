import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STACK_OUTPUTS, type ClientReport } from '@iot-custom-auth/protocol';
import { useLocalIot } from '../../../local-iot/test/support/local-iot-harness';
import { runCli } from '../fixtures/run-cli';

// End to end on loopback with the project's real synth and Lambda bundle: the refusals only the real
// authorizer or the gateway's TLS make, explained from the CloudWatch Logs API as the client reads it on AWS.

const served = useLocalIot();

let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'client-explained-real-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

type Found = Extract<ClientReport['explanation'], { found: true }>;

/**
 * Runs the client twice at once, in text and with --json, and returns the text run's stderr and the report.
 * A refusal during TLS leaves an AWSIotLogsV2 entry with no client id, which each run finds by time alone: with
 * two runs at once either may read the other's entry (its details differ: the TLS check before the connect
 * sends no SNI, the connect sends the IP), so for those only the cause and the fix must agree (`sameRecord`).
 */
async function refused(
  args: readonly string[],
  { sameRecord = true }: { readonly sameRecord?: boolean } = {},
): Promise<{ text: string; explanation: Found }> {
  const common = ['--outputs', served.local.outputsFile, '--explain-wait', '5', ...args];
  const [text, json] = await Promise.all([runCli(common, { cwd }), runCli([...common, '--json'], { cwd })]);
  expect([text.code, json.code]).toEqual([1, 1]);
  const report = JSON.parse(json.stdout.trim().split('\n').at(-1) ?? '') as ClientReport;
  expect(report.explanation).toMatchObject({ found: true });
  const explanation = report.explanation as Found;
  if (sameRecord) expect(text.stderr).toContain(`Reason: ${explanation.reason}`);
  else expect(text.stderr).toContain(`Reason: AWS IoT refused the connection (${explanation.cause})`);
  expect(text.stderr).toContain(`Fix: ${explanation.fix}`);
  return { text: text.stderr, explanation };
}

it("explains a wrong password with the real Lambda's decision line from its log group", async () => {
  const { explanation } = await refused([
    '--client_id',
    'test-wrong-password-1',
    '--custom_auth_password',
    'not-it',
  ]);
  expect(explanation).toMatchObject({
    cause: 'NOT_AUTHENTICATED',
    record: { logGroupName: served.output(STACK_OUTPUTS.authorizerLogGroupName) },
  });
  expect(explanation.reason).toMatch(/^the authorizer Lambda denied the connection/);
});

it('explains an unsafe client id as the Lambda refusing it (0x86)', async () => {
  const { explanation, text } = await refused(['--client_id', 'test-a+b']);
  expect(text).toContain('CONNACK 0x86');
  expect(explanation).toMatchObject({ cause: 'NOT_AUTHENTICATED' });
  expect(explanation.reason).toContain('test-a+b is unsafe');
});

it('explains a connection to an IP address as the SNI not matching the endpoint', async () => {
  const { explanation } = await refused(['--endpoint', '127.0.0.1', '--timeout', '3'], {
    sameRecord: false,
  });
  expect(explanation).toMatchObject({
    cause: 'SERVER_NAME_MISMATCH',
    record: { logGroupName: 'AWSIotLogsV2' },
  });
});
