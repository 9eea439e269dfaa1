import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCustomAuthUsername } from '@iot-custom-auth/protocol';
import { startLocalIot, type LocalIot } from '../../src/local-iot';
import { describeChanges } from '../../src/watch/deployment-changes';
import { StackWatcher, type StackWatcherEvents } from '../../src/watch/stack-watcher';
import { demoStackNames, removeDir, tempDir, writeDemoAssembly } from '../fixtures/assembly';
import { TestClient } from '../support/mqtt-test-client';
import { withTimeout } from '../support/wait';

// Watch mode end to end: a real fs.watch on a "Lambda source" directory, a synth command that builds the
// bundle from it (copies it into the assembly's asset, as esbuild would), and a running local-iot whose
// decisions follow the edit without a restart. Driven by the file events and the watcher's own events only.

const STACK = 'WatchedStack';
const { unsignedAuthorizer, authorizerFunction } = demoStackNames(STACK);

/** An authorizer whose decision is the constant `decision`: the "source" the test edits. */
function authorizerSource(decision: boolean): string {
  return `'use strict';
const DECISION = ${decision};
exports.handler = async (event, context) => {
  const [, partition, , region, account] = context.invokedFunctionArn.split(':');
  return {
    isAuthenticated: DECISION,
    principalId: 'watched',
    disconnectAfterInSeconds: 3600,
    refreshAfterInSeconds: 3600,
    policyDocuments: [JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:' + partition + ':iot:' + region + ':' + account + ':client/test-*' }],
    })],
  };
};
`;
}

/** "Synthesizes": builds the bundle from src/ into the asset the template points at, or fails if told to. */
const SYNTH_SCRIPT = `
const fs = require('node:fs');
if (fs.existsSync('src/FAIL')) { console.error('synth failed: ' + fs.readFileSync('src/FAIL', 'utf8')); process.exit(1); }
fs.cpSync('src/index.js', 'cdk.out/asset.authorizer/index.js');
`;

let root: string;
let local: LocalIot;
let watcher: StackWatcher;
const clients: TestClient[] = [];

beforeAll(async () => {
  root = tempDir('watch');
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src', 'index.js'), authorizerSource(true));
  writeFileSync(join(root, 'synth.js'), SYNTH_SCRIPT);
  const cdkOut = writeDemoAssembly(root, STACK, { bundle: join(root, 'src') });
  local = await startLocalIot({
    cdkOut,
    stateDir: join(root, 'state'),
    port: 0,
    isolation: 'thread',
    log: () => undefined,
    functionLog: () => undefined,
  });
  watcher = new StackWatcher({
    directories: [join(root, 'src')],
    synth: { command: process.execPath, args: ['synth.js'], cwd: root },
    redeploy: () => local.redeploy(),
    debounceMs: 50,
  });
});

afterEach(() => {
  for (const client of clients.splice(0)) client.end();
});

afterAll(async () => {
  await watcher?.close();
  await local?.close();
  removeDir(root);
});

async function connackCode(clientId: string): Promise<{ client: TestClient; reasonCode: number }> {
  const { connection } = local;
  const opened = await TestClient.open(`mqtts://${connection.endpoint}:${connection.port}`, {
    clientId,
    ca: readFileSync(connection.caFile),
    servername: connection.endpoint,
    ALPNProtocols: ['mqtt'],
    username: buildCustomAuthUsername({ user: 'device', authorizerName: unsignedAuthorizer }),
    password: 'any',
  });
  clients.push(opened.client);
  return opened;
}

/** Resolves with the next `event` the watcher emits. */
function next<E extends keyof StackWatcherEvents>(event: E): Promise<StackWatcherEvents[E]> {
  return withTimeout(
    once(watcher, event) as Promise<StackWatcherEvents[E]>,
    `the watcher's ${event} event`,
    60_000,
  );
}

it('an edit to the Lambda source swaps the deployment: new connects get the new decision, a connected client keeps its session', async () => {
  const connected = await connackCode('test-before');
  expect(connected.reasonCode).toBe(0);
  const { port, awsEndpointUrl } = local.connection;

  const swapped = next('swapped');
  writeFileSync(join(root, 'src', 'index.js'), authorizerSource(false));
  const [swap] = await swapped;

  expect(swap.changes.functions).toEqual([`${authorizerFunction} (code)`]);
  expect(describeChanges(swap.changes)).toBe(`functions: ${authorizerFunction} (code)`);
  expect((await connackCode('test-after')).reasonCode).toBe(0x86);
  expect(connected.client.mqtt.connected).toBe(true);
  expect(local.gateway.connectedClients).toBe(1);
  expect(local.gateway.port).toBe(port);
  expect(local.connection.awsEndpointUrl).toBe(awsEndpointUrl);

  const swappedBack = next('swapped');
  writeFileSync(join(root, 'src', 'index.js'), authorizerSource(true));
  await swappedBack;
  expect((await connackCode('test-again')).reasonCode).toBe(0);
}, 90_000);

it('a failed synth reports its output and the current deployment keeps serving', async () => {
  const failed = next('failed');
  writeFileSync(join(root, 'src', 'FAIL'), 'a type error in the stack');
  const [failure] = await failed;
  expect(failure.stage).toBe('synth');
  expect(failure.message).toContain('synth failed: a type error in the stack');
  expect(failure.message).toContain('exited with code 1');
  expect((await connackCode('test-still')).reasonCode).toBe(0);
}, 90_000);
