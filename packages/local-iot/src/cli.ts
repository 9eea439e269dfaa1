#!/usr/bin/env node
// `npm run local` / `local-iot`: serve cdk.out until interrupted. The only place mapping errors to exit codes:
// 0 stopped by a signal, 2 usage or configuration error (cdk.out missing, port busy...), 1 anything else.
import { USAGE, UsageError, parseLocalIotArgs } from './cli-args';
import { LocalIotError } from './errors';
import { startLocalIot } from './local-iot';

async function main(): Promise<number> {
  const config = parseLocalIotArgs(process.argv.slice(2));
  if (config.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const local = await startLocalIot({
    cdkOut: config.cdkOut,
    port: config.port,
    endpointHost: config.endpointHost,
    stateDir: config.stateDir,
    concurrencyLimit: config.lambdaConcurrency,
    ...(config.stackName !== undefined && { stackName: config.stackName }),
  });
  const { connection } = local;
  // Banner on stderr: stdout carries the structured log, one JSON line per event.
  process.stderr.write(
    [
      `local-iot is serving stack ${local.runtime.deployment.stackName}`,
      `  gateway        ${local.gateway.addresses.join(', ')}  (endpoint ${connection.endpoint}:${connection.port}: ALPN mqtt, or WebSockets on /mqtt)`,
      `  CA certificate ${connection.caFile}`,
      `  local AWS API  ${connection.awsEndpointUrl}  (Secrets Manager, IoT; region ${connection.region})`,
      `  outputs        ${local.outputsFile}`,
      `  connection     ${local.connectionFile}`,
      `  authorizers    ${local.runtime.deployment.authorizers.map((a) => `${a.name} (${a.signingDisabled ? 'unsigned' : 'signed'}, ${a.status})`).join(', ')}`,
      '',
      `Connect:  npm run connect -w client -- --outputs ${local.outputsFile}`,
      'Stop:     Ctrl+C',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await local.close();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`local-iot: ${error.message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (error instanceof LocalIotError) {
      process.stderr.write(`local-iot: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(
        `local-iot: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
