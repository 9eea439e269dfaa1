#!/usr/bin/env node
// `npm start`: the project's main job, offline. Synthesizes the stack, serves it with local-iot, runs the
// connect matrix with the real client, prints a table and exits 0 only when every expectation held.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { LOCAL_IOT_FILES, STACK_OUTPUTS, findWorkspaceRoot } from '@iot-custom-auth/protocol';
import {
  LocalIotError,
  createPrivateWriteStream,
  ensurePrivateDirectory,
  startLocalIot,
  type GatewayLogEntry,
} from 'local-iot';
import { connectMatrixRows, formatMatrixTable, runConnectMatrix, tamperedToken } from './connect-matrix';
import { ConnectMatrixError } from './errors';

async function main(): Promise<number> {
  const started = Date.now();
  const repoRoot = findWorkspaceRoot(__dirname);
  if (repoRoot === undefined)
    throw new ConnectMatrixError('run npm start from a checkout of this repository');
  const cdkOut = path.join(repoRoot, 'cdk.out');
  const stateDir = path.join(repoRoot, LOCAL_IOT_FILES.directory);

  step('Synthesizing the stack (npx cdk synth)');
  await synth(repoRoot, cdkOut);
  step(`Synthesized in ${seconds(started)}`);

  // The logs sit beside the device secrets and are as private: a 0700 directory, 0600 files, whatever the umask.
  ensurePrivateDirectory(stateDir);
  const gatewayLog: GatewayLogEntry[] = [];
  const gatewayLogFile = createPrivateWriteStream(path.join(stateDir, 'gateway.log'));
  const functionLogFile = createPrivateWriteStream(path.join(stateDir, 'lambda.log'));
  const local = await startLocalIot({
    cdkOut,
    stateDir,
    port: 0,
    log: (entry) => {
      gatewayLog.push(entry);
      gatewayLogFile.write(`${JSON.stringify(entry)}\n`);
    },
    functionLog: (line) => functionLogFile.write(`${line}\n`),
  });
  try {
    step(`local-iot serving ${local.runtime.deployment.stackName} on ${local.gateway.addresses.join(', ')}`);
    const stackOutputs = local.runtime.outputs;
    const tokenKeyName = stackOutputs[STACK_OUTPUTS.tokenKeyName];
    if (tokenKeyName === undefined)
      throw new ConnectMatrixError(`the stack has no ${STACK_OUTPUTS.tokenKeyName} output`);
    const rows = connectMatrixRows(tokenKeyName, tamperedToken(repoRoot));
    const clientCli = require.resolve('client/dist/cli.js');
    const results = await runConnectMatrix(rows, {
      clientCommand: [process.execPath, clientCli],
      outputsFile: local.outputsFile,
      gatewayLog,
    });
    process.stdout.write(`\n${formatMatrixTable(results)}\n\n`);
    const failed = results.filter((r) => r.failures.length > 0).length;
    const invocations = local.runtime.invocationCount();
    process.stdout.write(
      `${results.length - failed}/${results.length} rows passed, Lambda invoked ${invocations} times, total ${seconds(started)}\n`,
    );
    if (failed > 0) {
      process.stdout.write(
        `Logs: ${path.join(stateDir, 'gateway.log')} and ${path.join(stateDir, 'lambda.log')}\n`,
      );
    }
    return failed === 0 ? 0 : 1;
  } finally {
    await local.close();
    gatewayLogFile.end();
    functionLogFile.end();
  }
}

function synth(repoRoot: string, cdkOut: string): Promise<void> {
  const cdk = path.join(repoRoot, 'node_modules', '.bin', 'cdk');
  return new Promise((resolve, reject) => {
    execFile(cdk, ['synth', '--quiet', '--output', cdkOut], { cwd: repoRoot }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new ConnectMatrixError(`npx cdk synth failed:\n${stderr.trim()}`));
    });
  });
}

function step(message: string): void {
  process.stdout.write(`» ${message}\n`);
}

const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** The harness's own errors and local-iot's (e.g. a malformed `cdk.out`) are known: one line, exit 2. */
const isKnownError = (error: unknown): error is Error =>
  error instanceof ConnectMatrixError || error instanceof LocalIotError;

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `npm start: ${isKnownError(error) ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = isKnownError(error) ? 2 : 1;
  },
);
