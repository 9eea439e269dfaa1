import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken, signToken, type DiagnoseReport } from '@iot-custom-auth/protocol';
import { rsaKeyPair } from '../../../local-iot/test/fixtures/assembly';
import { useLocalIot } from '../../../local-iot/test/support/local-iot-harness';
import {
  behaviour,
  faultyAssembly,
  INACTIVE_AUTHORIZER,
  NO_PERMISSION_AUTHORIZER,
  SIGNING_KEYS,
} from '../explain/support/faulty-stack';
import { runCli } from '../fixtures/run-cli';

// `npm run diagnose -w client` as a process against local-iot serving the stack of every fault: every check
// passes on a healthy connect, and each fault stops the checks at the check that names it, with exit code 1.
// The IoT, Lambda and CloudWatch Logs calls go to local-iot's AWS API through the connection file.

const served = useLocalIot({ assembly: faultyAssembly });

let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'client-diagnose-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

async function diagnose(
  args: readonly string[],
  json = true,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(
    ['--outputs', served.local.outputsFile, '--explain-wait', '2', ...(json ? ['--json'] : []), ...args],
    {
      cwd,
      script: 'diagnose/cli.ts',
    },
  );
}

async function report(args: readonly string[]): Promise<{ code: number | null; report: DiagnoseReport }> {
  const run = await diagnose(args);
  return { code: run.code, report: JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as DiagnoseReport };
}

/** The checks as `name ✔/✘`. */
const marks = (r: DiagnoseReport): string[] => r.checks.map((c) => `${c.check} ${c.ok ? '✔' : '✘'}`);

it('passes every check on a healthy stack, one ✔ line each, and exits 0', async () => {
  const run = await diagnose(behaviour('open', 'test-healthy-1'), false);
  expect(run.code).toBe(0);
  expect(
    run.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(':')[0]),
  ).toEqual([
    '✔ outputs',
    '✔ dns',
    '✔ tls',
    '✔ authorizer',
    '✔ permission',
    '✔ test-invoke',
    '✔ policy',
    '✔ policy',
    '✔ connect',
  ]);
});

it('passes the WebSocket upgrade and a signed token; topics the policy leaves out are a ✘ that does not stop the connect', async () => {
  const { code, report: result } = await report([
    '--client_id',
    'test-signed-ws-1',
    '--signed',
    '--use_websockets',
    '--token-signing-key',
    signingKeyFile(),
  ]);
  expect(marks(result)).toEqual([
    'outputs ✔',
    'dns ✔',
    'tls ✔',
    'websocket ✔',
    'authorizer ✔',
    'permission ✔',
    'token ✔',
    'test-invoke ✔',
    'policy ✔',
    // The fixture's answer to a token allows iot:Connect only: the device could connect, not publish.
    'policy ✘',
    'connect ✔',
  ]);
  expect(result.checks[9]?.detail).toContain('iot:Publish on devices/test-signed-ws-1');
  expect(code).toBe(1);
});

const FAULTS: readonly { name: string; args: () => string[]; stopsAt: string; detail: RegExp }[] = [
  {
    name: 'a wrong authorizer name',
    args: () => [...behaviour('open'), '--custom_auth_authorizer_name', 'NoSuchAuthorizer'],
    stopsAt: 'authorizer',
    detail: /'NoSuchAuthorizer' does not exist/,
  },
  {
    name: 'an INACTIVE authorizer',
    args: () => [...behaviour('open'), '--custom_auth_authorizer_name', INACTIVE_AUTHORIZER],
    stopsAt: 'authorizer',
    detail: /INACTIVE, not ACTIVE/,
  },
  {
    name: 'no invoke permission',
    args: () => [...behaviour('open'), '--custom_auth_authorizer_name', NO_PERMISSION_AUTHORIZER],
    stopsAt: 'permission',
    detail: /iot.amazonaws.com/,
  },
  {
    name: 'a signature by another key',
    args: () => {
      const token = createToken({ clientId: 'test-bad-signature-1', lifetimeSeconds: 300 });
      return [
        '--client_id',
        'test-bad-signature-1',
        '--signed',
        '--custom_auth_token_value',
        token,
        '--custom_auth_authorizer_signature',
        signToken(token, rsaKeyPair().privateKey),
      ];
    },
    stopsAt: 'token',
    detail: /does not verify/,
  },
  {
    name: 'a Lambda that denies',
    args: () => behaviour('deny'),
    stopsAt: 'test-invoke',
    detail: /isAuthenticated: false/,
  },
  {
    name: 'an invalid Lambda response',
    args: () => behaviour('ttl-too-low'),
    stopsAt: 'test-invoke',
    detail: /refreshAfterInSeconds/,
  },
  {
    name: 'a client id outside the prefix',
    args: () => behaviour('open', 'prod-outside-1'),
    stopsAt: 'policy',
    detail: /iot:Connect on client\/prod-outside-1 is not allowed/,
  },
];

it.each(FAULTS)('stops at the check that names $name, exit 1', async ({ args, stopsAt, detail }) => {
  const { code, report: result } = await report(args());
  expect(code).toBe(1);
  expect(result.ok).toBe(false);
  const last = result.checks.at(-1);
  expect(last).toMatchObject({ check: stopsAt, ok: false, fix: expect.any(String) as string });
  expect(last?.detail).toMatch(detail);
  expect(result.checks.slice(0, -1).every((check) => check.ok)).toBe(true);
});

it('exits 2 with a ✘ outputs line when the outputs file does not exist', async () => {
  const run = await runCli(['--outputs', join(cwd, 'missing.json')], { cwd, script: 'diagnose/cli.ts' });
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/^✘ outputs: cannot read --outputs/);
});

/** The signed authorizer's private key, in a file as `--token-signing-key` reads it. */
function signingKeyFile(): string {
  const file = join(cwd, 'signing-key.pem');
  writeFileSync(file, SIGNING_KEYS.privateKey, { mode: 0o600 });
  return file;
}
