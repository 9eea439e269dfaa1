import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  buildCustomAuthUsername,
  createToken,
  signToken,
  STACK_OUTPUTS,
  TOKEN_SIGNING_KEY_FILES,
  type ClientReport,
} from '@iot-custom-auth/protocol';
import { connect, type MqttClient } from 'mqtt';
import type { HttpsPublishLogEntry } from '../../local-iot/src/gateway/gateway-log';
import {
  REPO_ROOT,
  serveSynthesizedStack,
  tokenSigningPrivateKey,
  type ServedStack,
} from '../../local-iot/test/support/synthesized-stack';
import { runCli, type CliRun } from './fixtures/run-cli';

// The real client with --https (src/cli.ts through tsx, a process of its own) against local-iot serving the
// real synth and the real Lambda bundle: one POST /topics/devices/<client id>?qos=1 through the signed
// authorizer reaches an MQTT subscriber (`mqtt` from npm, same stack, same device); a publish outside the
// device's own topics is refused 403 and the client explains why; a user name or password (the unsigned
// authorizer) is refused before anything is sent, because HTTPS carries neither.

let served: ServedStack;
let scratch: string;
const subscribers: MqttClient[] = [];

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'client-https-e2e-'));
  served = await serveSynthesizedStack();
}, 180_000);

afterEach(() => {
  for (const client of subscribers.splice(0)) client.end(true);
});

afterAll(async () => {
  await served?.close();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

function publish(args: readonly string[]): Promise<CliRun> {
  // The key the synthesized signed authorizer trusts (the scratch directory has no .keys/ of its own).
  const key = path.join(REPO_ROOT, TOKEN_SIGNING_KEY_FILES.directory, TOKEN_SIGNING_KEY_FILES.privateKey);
  const signing = args.includes('--custom_auth_username') ? [] : ['--signed', '--token-signing-key', key];
  return runCli(['--outputs', served.local.outputsFile, '--json', '--timeout', '20', ...signing, ...args], {
    cwd: scratch,
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

/** The gateway's `https-publish` lines for `topic`. */
function httpsLines(topic: string): HttpsPublishLogEntry[] {
  return served.gatewayLog.filter(
    (e): e is HttpsPublishLogEntry => e.event === 'https-publish' && e.topic === topic,
  );
}

/** An MQTT subscriber on `topic` as device `clientId` through the signed authorizer; resolves once subscribed. */
async function subscriber(clientId: string, topic: string): Promise<{ next: Promise<string> }> {
  const outputs = served.local.runtime.outputs;
  const { connection } = served.local;
  const token = createToken({ clientId, lifetimeSeconds: 300 });
  const client = connect(`mqtts://${connection.endpoint}:${connection.port}`, {
    clientId,
    ca: readFileSync(connection.caFile),
    servername: connection.endpoint,
    ALPNProtocols: ['mqtt'],
    protocolVersion: 5,
    reconnectPeriod: 0,
    username: buildCustomAuthUsername({
      authorizerName: outputs[STACK_OUTPUTS.signedAuthorizerName],
      tokenKeyName: outputs[STACK_OUTPUTS.tokenKeyName],
      token,
      signature: signToken(token, tokenSigningPrivateKey()),
    }),
  });
  subscribers.push(client);
  const next = new Promise<string>((resolve) =>
    client.once('message', (_t, payload) => resolve(payload.toString())),
  );
  await new Promise<void>((resolve, reject) => {
    client.once('error', reject);
    client.once('connect', () =>
      client.subscribe(topic, { qos: 1 }, (error, granted) =>
        error || granted?.[0]?.qos !== 1
          ? reject(error ?? new Error(`SUBACK ${granted?.[0]?.qos}`))
          : resolve(),
      ),
    );
  });
  return { next };
}

describe('connect --https against local-iot', () => {
  it("publishes once through the signed authorizer to the device's topic, delivered to an MQTT subscriber", async () => {
    const clientId = 'test-https-ok';
    const topic = `devices/${clientId}`;
    const { next } = await subscriber(clientId, topic);
    const run = await publish(['--client_id', clientId, '--https', '--message', 'over https']);
    expect(run.code).toBe(0);
    expect(reportOf(run)).toMatchObject({
      ok: true,
      transport: 'https',
      signed: true,
      clientId,
      https: { topic, status: 200, message: 'OK', traceId: expect.any(String) as unknown },
    });
    expect(await next).toBe('over https');
    expect(httpsLines(topic)).toMatchObject([{ status: 200, decision: 'allow', lambdaInvoked: true }]);
  });

  it('is refused 403 outside the policy, with the HTTP status and the likely causes', async () => {
    const clientId = 'test-https-outside';
    const run = await publish(['--client_id', clientId, '--https', '--topic', 'devices/someone-else']);
    expect(run.code).toBe(1);
    const report = reportOf(run);
    expect(report).toMatchObject({
      ok: false,
      transport: 'https',
      https: { topic: 'devices/someone-else', status: 403, message: 'Forbidden' },
      error: { kind: 'https' },
    });
    expect(report.likelyCauses).toContain(
      `the policy the authorizer returned does not allow iot:Publish on topic 'devices/someone-else': the stack allows a device only its own topic, devices/${clientId}`,
    );
    expect(httpsLines('devices/someone-else')).toMatchObject([
      { status: 403, decision: 'deny', reason: expect.stringMatching(/iot:Publish/) as unknown },
    ]);
  });

  it('refuses a user name and password (the unsigned authorizer) before sending anything', async () => {
    const before = served.gatewayLog.length;
    const run = await publish([
      '--client_id',
      'test-https-unsigned',
      '--https',
      '--custom_auth_username',
      'test-https-unsigned',
    ]);
    expect(run.code).toBe(2);
    expect(reportOf(run)).toEqual({
      ok: false,
      error: {
        kind: 'usage',
        message:
          '--https carries no user name or password (HTTPS has none, so the unsigned authorizer cannot authenticate it): it uses the signed authorizer with a token; drop --custom_auth_username and --custom_auth_password',
      },
    });
    expect(served.gatewayLog.slice(before).filter((e) => e.event === 'https-publish')).toEqual([]);
  });
});
