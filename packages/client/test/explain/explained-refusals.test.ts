import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createToken,
  signToken,
  type ClientReport,
  type ConnectRefusalCause,
} from '@iot-custom-auth/protocol';
import { rsaKeyPair } from '../../../local-iot/test/fixtures/assembly';
import { useLocalIot } from '../../../local-iot/test/support/local-iot-harness';
import { runCli } from '../fixtures/run-cli';
import {
  behaviour,
  faultyAssembly,
  INACTIVE_AUTHORIZER,
  NO_PERMISSION_AUTHORIZER,
} from './support/faulty-stack';

// End to end on loopback: the real client CLI, refused by local-iot serving a stack with every fault, must
// explain each refusal with its exact reason in its text and in --json, read through the CloudWatch Logs
// API (FilterLogEvents on AWSIotLogsV2 and the authorizer's log group) with the connection file's
// endpoint and credentials, as on AWS.

const served = useLocalIot({ assembly: faultyAssembly });

let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'client-explained-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** Runs the client twice (text, then --json) and returns both outputs. */
async function refused(args: readonly string[]): Promise<{ text: string; report: ClientReport }> {
  const common = ['--outputs', served.local.outputsFile, '--explain-wait', '5', ...args];
  const [text, json] = await Promise.all([runCli(common, { cwd }), runCli([...common, '--json'], { cwd })]);
  expect(text.code).toBe(1);
  expect(json.code).toBe(1);
  const line = json.stdout.trim().split('\n').at(-1) ?? '';
  return { text: text.stderr, report: JSON.parse(line) as ClientReport };
}

interface Case {
  readonly name: string;
  readonly args: () => string[];
  readonly cause: ConnectRefusalCause;
  /** Words of the exact reason the client must print. */
  readonly reason: RegExp;
}

const CASES: readonly Case[] = [
  {
    name: 'wrong authorizer name',
    args: () => [...behaviour('open'), '--custom_auth_authorizer_name', 'NoSuchAuthorizer'],
    cause: 'AUTHORIZER_NOT_FOUND',
    reason: /NoSuchAuthorizer/,
  },
  {
    name: 'inactive authorizer',
    args: () => [...behaviour('open'), '--custom_auth_authorizer_name', INACTIVE_AUTHORIZER],
    cause: 'AUTHORIZER_INACTIVE',
    reason: /INACTIVE/,
  },
  {
    name: 'no invoke permission',
    args: () => [...behaviour('open'), '--custom_auth_authorizer_name', NO_PERMISSION_AUTHORIZER],
    cause: 'PERMISSION_MISSING',
    reason: /permission/i,
  },
  {
    name: 'bad signature',
    args: () => {
      const token = createToken({ clientId: 'test-bad-signature', lifetimeSeconds: 300 });
      const signature = signToken(token, rsaKeyPair().privateKey);
      return [
        '--client_id',
        'test-bad-signature',
        '--signed',
        '--custom_auth_token_value',
        token,
        '--custom_auth_authorizer_signature',
        signature,
      ];
    },
    cause: 'SIGNATURE_INVALID',
    reason: /signature/i,
  },
  {
    name: 'wrong password (the Lambda denies)',
    args: () => behaviour('deny'),
    cause: 'NOT_AUTHENTICATED',
    reason: /isAuthenticated/,
  },
  {
    name: 'client id outside the prefix',
    args: () => behaviour('open', 'prod-outside-1'),
    cause: 'CONNECT_NOT_ALLOWED',
    reason: /iot:Connect|prod-outside-1/,
  },
  {
    name: 'invalid Lambda response',
    args: () => behaviour('ttl-too-low'),
    cause: 'INVALID_RESPONSE',
    reason: /refreshAfterInSeconds/,
  },
  {
    name: 'Lambda timeout',
    args: () => behaviour('hang'),
    cause: 'LAMBDA_TIMEOUT',
    reason: /time/i,
  },
];

it.each(CASES)('explains a refusal for $name from the logs', async ({ args, cause, reason }) => {
  const { text, report } = await refused(args());
  expect(report.explanation).toMatchObject({ found: true, cause });
  const explanation = report.explanation as Extract<ClientReport['explanation'], { found: true }>;
  expect(explanation.reason).toMatch(reason);
  expect(explanation.record?.logGroupName).toEqual(expect.any(String));
  // The text output leads with the same reason and fix, not the generic list.
  expect(text).toContain(`Reason: ${explanation.reason}`);
  expect(text).toContain(`Fix: ${explanation.fix}`);
  expect(text).not.toContain('Likely causes:');
});
