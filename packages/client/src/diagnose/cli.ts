#!/usr/bin/env node
import { lookup } from 'node:dns/promises';
import { defaultDeps } from '../cli';
import { newIotClient, newLambdaClient } from '../aws-clients';
import { probeWebSocketUpgrade } from './websocket-probe';
import { runDiagnose, type DiagnoseDeps } from './run-diagnose';

/** `connect`'s real dependencies, plus DNS, the WebSocket probe and the IoT and Lambda clients. */
export function diagnoseDeps(): DiagnoseDeps {
  return {
    ...defaultDeps(),
    websocketProbe: probeWebSocketUpgrade,
    lookupHost: async (host) => (await lookup(host, { all: true })).map((entry) => entry.address),
    aws: (target) => ({ iot: newIotClient(target), lambda: newLambdaClient(target) }),
  };
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  void runDiagnose(process.argv.slice(2), diagnoseDeps()).then(
    (code) => {
      // As `connect`: aws-crt keeps the event loop alive after close, so exit once the output is flushed.
      process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
    },
    (error: unknown) => {
      process.stderr.write(
        `Unexpected error (please report it): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
