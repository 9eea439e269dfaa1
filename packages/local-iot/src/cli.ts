#!/usr/bin/env node
// `npm run local` / `local-iot`: serve cdk.out until interrupted. The only place mapping errors to exit codes:
// 0 stopped by a signal, 2 usage or configuration error (cdk.out missing, port busy, synth failed...), 1 anything else.
import { findWorkspaceRoot } from '@iot-custom-auth/protocol';
import { USAGE, UsageError, parseLocalIotArgs, type LocalIotCliConfig } from './cli-args';
import { LocalIotError } from './errors';
import { scaledClock } from './gateway/gateway-clock';
import { startLocalIot, type LocalIot } from './local-iot';
import { flushStandardStreams } from './logs/turn-batched-writer';
import { describeSwap } from './watch/deployment-changes';
import { X509_PORT_FLAG } from './gateway/x509-listener';
import { STACK_SOURCE_DIRECTORIES, StackWatcher } from './watch/stack-watcher';
import { cdkSynthCommand, runSynth, type SynthCommand } from './watch/synth-command';
import * as path from 'node:path';

const PROTOCOL_SOURCES = path.join('packages', 'protocol', 'src');

/**
 * Writes to standard error now, after the log lines queued this turn (the gateway and the functions batch
 * theirs per event-loop turn), so what the CLI says never overtakes them.
 */
function writeStderr(text: string): void {
  flushStandardStreams();
  process.stderr.write(text);
}

const say = (line: string): void => writeStderr(`local-iot: ${line}\n`);

async function main(): Promise<number> {
  const config = parseLocalIotArgs(process.argv.slice(2));
  if (config.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const synth = config.synth ? synthCommandFor(config) : undefined;
  if (synth !== undefined) {
    say(`synthesizing: ${[synth.command, ...synth.args].join(' ')}`);
    const result = await runSynth(synth).result;
    if (!result.ok) throw new LocalIotError(`the synth failed, nothing is served:\n${result.output}`);
  }
  const local = await startLocalIot({
    cdkOut: config.cdkOut,
    port: config.port,
    x509Port: config.x509Port,
    ...(config.x509EndpointHost !== undefined && { x509EndpointHost: config.x509EndpointHost }),
    endpointHost: config.endpointHost,
    stateDir: config.stateDir,
    concurrencyLimit: config.lambdaConcurrency,
    ...(config.stackName !== undefined && { stackName: config.stackName }),
    ...(config.timeScale !== 1 && { clock: scaledClock(config.timeScale) }),
  }).catch((error: unknown) => {
    throw portInUse(error, config) ?? error;
  });
  printBanner(local, config);
  const watcher = config.watch && synth !== undefined ? watchSources(local, synth) : undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await watcher?.close();
  await local.close();
  return 0;
}

/** `npx --no -- cdk synth --quiet` in the repository root, writing `--cdk-out`, with the `-c` context. */
function synthCommandFor(config: LocalIotCliConfig): SynthCommand {
  const root = findWorkspaceRoot(process.cwd());
  if (root === undefined)
    throw new UsageError(
      `--synth and --watch run cdk synth in this repository, but ${process.cwd()} is not inside it: run from the checkout (npm run local)`,
    );
  return cdkSynthCommand(root, config.context, path.resolve(config.cdkOut));
}

/** Re-synthesizes on each change to the stack or Lambda sources and swaps the deployment; one line each. */
function watchSources(local: LocalIot, synth: SynthCommand): StackWatcher {
  const watcher = new StackWatcher({
    directories: STACK_SOURCE_DIRECTORIES.map((directory) => path.join(synth.cwd, directory)),
    synth,
    redeploy: () => local.redeploy(),
    relativeTo: synth.cwd,
    // The infra app and the Lambda bundle import protocol from its dist: rebuild it first when it changed.
    beforeSynth: (files) =>
      files.some((file) => file.startsWith(PROTOCOL_SOURCES))
        ? { command: 'npx', args: ['--no', '--', 'tsc', '-b', 'packages/protocol'], cwd: synth.cwd }
        : undefined,
  });
  watcher.on('synthesizing', (files) => say(`${files.join(', ')} changed: synthesizing`));
  watcher.on('swapped', (swap) => {
    for (const line of describeSwap(swap, local.connectionFile)) say(line);
  });
  watcher.on('failed', ({ stage, message }) =>
    say(
      `${stage === 'synth' ? 'the synth failed' : 'the new cdk.out cannot be served'}, still serving the previous deployment:\n${message}`,
    ),
  );
  say(`watching ${STACK_SOURCE_DIRECTORIES.join(', ')} (Ctrl+C stops)`);
  return watcher;
}

/** A port is taken (the gateway's or the X.509 listener's): say by what, most likely, and the command avoiding it. */
function portInUse(error: unknown, config: LocalIotCliConfig): LocalIotError | undefined {
  const cause = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
  if (cause?.code !== 'EADDRINUSE') return undefined;
  // The listener's own message names the flag that sets its port.
  const x509 = (error as Error).message.includes(X509_PORT_FLAG);
  const [flag, port] = x509 ? [X509_PORT_FLAG, config.x509Port] : ['--port', config.port];
  return new LocalIotError(
    `${x509 ? 'X.509 listener ' : ''}port ${port} is already in use (another \`npm run local\`?): stop that process, or serve on another port: npm run local -- ${flag} ${port + 1} (or ${flag} 0 for any free one)`,
  );
}

/** The file of each local CloudWatch Logs group, relative to the logs directory. */
function logFileNames(local: LocalIot): string[] {
  return local.logs
    .groupNames()
    .map((group) => path.relative(local.logsDirectory, local.logs.filePath(group) ?? group));
}

function printBanner(local: LocalIot, config: LocalIotCliConfig): void {
  const { connection } = local;
  const { deployment } = local.runtime;
  // Banner on stderr: stdout carries the structured log, one JSON line per event.
  writeStderr(
    [
      `local-iot is serving stack ${deployment.stackName}`,
      `  gateway        ${local.gateway.addresses.join(', ')}  (endpoint ${connection.endpoint}:${connection.port}: ALPN mqtt, or WebSockets on /mqtt)`,
      ...(connection.x509 && local.gateway.x509
        ? [
            `  X.509 endpoint ${local.gateway.x509.addresses.join(', ')}  (endpoint ${connection.x509.endpoint}:${connection.x509.port}: domain configuration ${connection.x509.domainConfigurationName}, CUSTOM_AUTH_X509, client certificate required)`,
          ]
        : []),
      `  CA certificate ${connection.caFile}`,
      `  local AWS API  ${connection.awsEndpointUrl}  (Secrets Manager, IoT, CloudWatch Logs, Lambda; region ${connection.region})`,
      `  log files      ${local.logsDirectory}  (${logFileNames(local).join(', ')}: what FilterLogEvents serves)`,
      `  outputs        ${local.outputsFile}`,
      `  connection     ${local.connectionFile}`,
      `  authorizers    ${deployment.authorizers.map((a) => `${a.name} (${a.signingDisabled ? 'unsigned' : 'signed'}, ${a.status})`).join(', ')}`,
      ...(config.timeScale !== 1 ? [`  session clock  ${config.timeScale}x real time (--time-scale)`] : []),
      ...local.notices.map((notice) => `  not served     ${notice}`),
      '',
      `Connect:  npm run connect -w client -- --outputs ${local.outputsFile}`,
      'Stop:     Ctrl+C',
      '',
    ].join('\n'),
  );
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      writeStderr(`local-iot: ${error.message}\nRun local-iot --help (npm run local -- --help) for usage.\n`);
      process.exitCode = 2;
    } else if (error instanceof LocalIotError) {
      writeStderr(`local-iot: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      writeStderr(
        `local-iot: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
