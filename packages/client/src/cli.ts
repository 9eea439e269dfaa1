#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeAtsEndpoint, newCloudWatchLogsClient } from './aws-clients';
import { SdkConnector } from './connection';
import { AwsCredentialSource } from './credentials';
import { reportFailure } from './errors';
import { CloudWatchRefusalExplainer } from './explain/refusal-explainer';
import { main, type MainDeps } from './main';
import { StackOutputsReader } from './outputs';
import { resolveInvocationPaths } from './paths';
import { probeTls } from './tls-probe';

/** 0 connected and disconnected cleanly; 1 refused, failed or timed out; 2 usage or configuration error. */
export type ExitCode = 0 | 1 | 2;

/**
 * Runs `main()` and maps its outcome to an exit code: the only place that does. Known errors print one line
 * on stderr (a connection failure has been reported by `main()` already); anything else is a bug and prints
 * its stack.
 */
export async function run(argv: readonly string[], deps: MainDeps): Promise<ExitCode> {
  try {
    await main(argv, deps);
    return 0;
  } catch (error) {
    return reportFailure(error, deps.stderr);
  }
}

/** The real dependencies: files, AWS SDK clients, the MQTT SDK, the process's streams and clock. */
export function defaultDeps(): MainDeps {
  const readText = (path: string): Promise<string> => readFile(path, 'utf8');
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    outputs: new StackOutputsReader({ readFile: readText }),
    credentials: new AwsCredentialSource({ readFile: readText }),
    connector: new SdkConnector(),
    tlsProbe: probeTls,
    explainer: new CloudWatchRefusalExplainer({
      newLogsClient: newCloudWatchLogsClient,
      clock: Date.now,
      sleep: (ms) => sleep(ms),
    }),
    readFile: readText,
    describeEndpoint: describeAtsEndpoint,
    clock: Date.now,
    randomId: randomUUID,
    paths: resolveInvocationPaths(process.cwd(), process.env, ownPackageName()),
  };
}

/** This package's npm name (`client`), to recognise `npm run ... -w client` (see `resolveInvocationPaths`). */
function ownPackageName(): string {
  try {
    const manifest: unknown = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
    const name = (manifest as { name?: unknown }).name;
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

/**
 * Exits once stdout and stderr have drained. Exiting explicitly is deliberate: aws-crt releases a closed MQTT 5
 * client's native event handlers only when the JavaScript object is garbage-collected, so the event loop can
 * stay alive for many seconds after `close()` (awslabs/aws-crt-nodejs#600).
 */
function exitAfterFlush(code: ExitCode): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

if (require.main === module) {
  // The AWS SDK's documented opt-out of its "upgrade Node.js" notice, which would otherwise take eight lines
  // of every run's stderr on Node.js 20 (still supported here); a value the user set is kept.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  void run(process.argv.slice(2), defaultDeps()).then(exitAfterFlush);
}
