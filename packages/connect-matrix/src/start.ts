#!/usr/bin/env node
// `npm start`: the project's main job, offline. Synthesizes the stack, serves it with local-iot, runs the
// connect matrix with the real client, prints a table and exits 0 only when every expectation held.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, LOCAL_IOT_FILES, STACK_OUTPUTS, findWorkspaceRoot } from '@iot-custom-auth/protocol';
import {
  LocalIotError,
  createPrivateWriteStream,
  ensurePrivateDirectory,
  startLocalIot,
  type GatewayLogEntry,
} from 'local-iot';
import { connectMatrixRows, formatMatrixTable, runConnectMatrix, tamperedToken } from './connect-matrix';
import { ConnectMatrixError } from './errors';
import { prepareMtlsRows } from './mtls-rows';

const USAGE = `Usage: npm start [-- -c KEY=VALUE ...]

Synthesizes the stack (npx cdk synth, with each -c KEY=VALUE as CDK context), serves it with local-iot on free
ports, runs the connect matrix with the real client and prints a table; exits 0 only when every row held.
Each run has its own state directory (.local-iot/runs/<id>: CA, secrets, cdk.out, logs), removed when every
row passed and kept (its path printed) when one failed, so a running \`npm run local\` is never disturbed.

Options:
  -c, --context KEY=VALUE  CDK context for the synth, as cdk synth -c (repeatable), e.g. -c clientIdPrefix=dev-
  -h, --help               show this help`;

/** `npm start` arguments: `-c` context pairs, or help. */
function parseStartArgs(argv: readonly string[]): { readonly help: boolean; readonly context: string[] } {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true, context: [] };
  let values: { context?: string[] };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { context: { type: 'string', short: 'c', multiple: true } },
    }));
  } catch (error) {
    throw new ConnectMatrixError(
      `${(error as Error).message}; npm start takes only -c KEY=VALUE (npm start -- --help)`,
    );
  }
  const context = values.context ?? [];
  for (const pair of context) {
    if (!/^[^=\s]+=/.test(pair))
      throw new ConnectMatrixError(
        `-c takes KEY=VALUE (as cdk synth -c), e.g. -c clientIdPrefix=dev-, but '${pair}' was given`,
      );
  }
  return { help: false, context };
}

async function main(): Promise<number> {
  const args = parseStartArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const started = Date.now();
  const repoRoot = findWorkspaceRoot(__dirname);
  if (repoRoot === undefined)
    throw new ConnectMatrixError('run npm start from a checkout of this repository');
  // A state directory of this run's own: `npm run local`'s .local-iot/connection.json is never rewritten.
  const runsDir = path.join(repoRoot, LOCAL_IOT_FILES.directory, 'runs');
  ensurePrivateDirectory(path.dirname(runsDir));
  ensurePrivateDirectory(runsDir);
  const stateDir = mkdtempSync(path.join(runsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-`));
  ensurePrivateDirectory(stateDir);
  const cdkOut = path.join(stateDir, 'cdk.out');

  const removeState = (): void => rmSync(stateDir, { recursive: true, force: true });
  try {
    step(`Synthesizing the stack (npx cdk synth${args.context.map((pair) => ` -c ${pair}`).join('')})`);
    await synth(repoRoot, cdkOut, args.context);
    step(`Synthesized in ${seconds(started)}`);
  } catch (error) {
    removeState();
    throw error;
  }
  const code = await serveAndRun(repoRoot, stateDir, cdkOut, started);
  // A failed row's logs stay for reading; a run that passed leaves nothing behind.
  if (code === 0) removeState();
  return code;
}

async function serveAndRun(
  repoRoot: string,
  stateDir: string,
  cdkOut: string,
  started: number,
): Promise<number> {
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
    // The X.509 rows' certificate of this run's own lives in its state directory, removed with it.
    const clientIdPrefix = stackOutputs[STACK_OUTPUTS.clientIdPrefix] ?? DEFAULTS.clientIdPrefix;
    const rows = connectMatrixRows({
      tokenKeyName,
      tampered: tamperedToken(repoRoot, clientIdPrefix),
      clientIdPrefix,
      mtls: await prepareMtlsRows(repoRoot, stateDir, clientIdPrefix),
    });
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
        `Logs: ${path.join(stateDir, 'gateway.log')} and ${path.join(stateDir, 'lambda.log')} (this run's state, kept)\n`,
      );
    }
    return failed === 0 ? 0 : 1;
  } finally {
    await local.close();
    gatewayLogFile.end();
    functionLogFile.end();
  }
}

function synth(repoRoot: string, cdkOut: string, context: readonly string[]): Promise<void> {
  const cdk = path.join(repoRoot, 'node_modules', '.bin', 'cdk');
  const args = ['synth', '--quiet', '--output', cdkOut, ...context.flatMap((pair) => ['-c', pair])];
  return new Promise((resolve, reject) => {
    execFile(cdk, args, { cwd: repoRoot }, (error, _stdout, stderr) => {
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
