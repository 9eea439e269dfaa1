#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { newSecretsManagerClient } from '../aws-clients';
import { defaultDeps } from '../cli';
import { stormMain, type StormDeps, type StormExitCode } from './storm-main';

/**
 * The `npm run storm -w client` entry: real files, SDK connector, streams and signals. The first SIGINT or
 * SIGTERM stops the storm and closes every connection (then exit 130); a second one exits at once.
 */
export function stormDeps(interrupt: AbortSignal): StormDeps {
  const base = defaultDeps();
  return {
    stdout: base.stdout,
    stderr: base.stderr,
    stderrIsTty: process.stderr.isTTY === true,
    outputs: base.outputs,
    secretsManager: newSecretsManagerClient,
    readFile: (path) => readFile(path, 'utf8'),
    writeFile: (path, text) => writeFile(path, text, 'utf8'),
    connector: base.connector,
    tlsProbe: base.tlsProbe,
    // Epoch milliseconds with sub-millisecond resolution, for connect latencies on loopback.
    clock: () => performance.timeOrigin + performance.now(),
    randomId: randomUUID,
    paths: base.paths,
    interrupt,
  };
}

/** Exits once stdout and stderr have drained (aws-crt keeps the event loop alive: see cli.ts). */
function exitAfterFlush(code: StormExitCode): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) {
      process.stderr.write(`\n${signal} again: exiting without waiting for the clean-up\n`);
      process.exit(130);
    }
    process.stderr.write(
      `\n${signal}: stopping the storm and closing every connection (again to exit at once)\n`,
    );
    interrupt.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  stormMain(process.argv.slice(2), stormDeps(interrupt.signal)).then(exitAfterFlush, (error: unknown) => {
    process.stderr.write(
      `Unexpected error (please report it): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    exitAfterFlush(1);
  });
}
