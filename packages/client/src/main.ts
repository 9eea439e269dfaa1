import { type ClientReport } from '@iot-custom-auth/protocol';
import { DEFAULT_EXPLAIN_WAIT_SECONDS, parseArgs, usage, type CliConfig } from './args';
import type { Connector } from './connection';
import { prepareConnection, tlsProbeRequest, type PlanDeps } from './connect-plan';
import {
  clientRejectedServer,
  diagnose,
  diagnoseExchange,
  needsTlsProbe,
  tlsPrecheckFailure,
  type Diagnosis,
} from './diagnosis';
import { ClientError, ConnectionFailedError, RuntimeError, UsageError } from './errors';
import type { RefusalExplainer } from './explain/refusal-explainer';
import { publishOnceOverHttps } from './https-publish';
import { exchangeMessages } from './message-exchange';
import {
  connectedLines,
  connectingLines,
  disconnectLines,
  exchangeLines,
  failureLines,
  jsonErrorReport,
  jsonReport,
} from './report';
import type { TlsProbe } from './tls-probe';

/** Everything `main()` touches outside itself, so that tests run it with fakes. */
export interface MainDeps extends PlanDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly connector: Connector;
  readonly tlsProbe: TlsProbe;
  /** Reads the records that explain a refused or failed connect; without one, only the generic causes are given. */
  readonly explainer?: RefusalExplainer;
}

/** The share of `--timeout` for the TLS pre-check before the SDK connects, at most 2 s. */
const PROBE_SHARE = 0.2;
const MAX_PROBE_MS = 2_000;

/**
 * The connect command: parse flags, fill the gaps from the stack outputs and Secrets Manager (or a signed
 * token), connect once, report, disconnect. Resolves when the device connected and disconnected cleanly;
 * otherwise throws a `ClientError` (`UsageError`, `ConfigError`, `RuntimeError`, or `ConnectionFailedError`
 * after printing the report) that `cli.ts` turns into the exit code.
 */
export async function main(argv: readonly string[], deps: MainDeps): Promise<void> {
  let config: CliConfig;
  try {
    config = parseArgs(argv);
  } catch (error) {
    // A secret file that cannot be read or is too open is a configuration error, found while parsing.
    if (error instanceof ClientError && argv.some((arg) => arg === '--json' || arg.startsWith('--json='))) {
      printJson(
        deps,
        jsonErrorReport(error instanceof UsageError ? 'usage' : 'configuration', error.message),
      );
    }
    throw error;
  }
  if (config.help) {
    deps.stdout(usage());
    return;
  }
  try {
    await (config.https === true ? publishOnceOverHttps(config, deps) : connectOnce(config, deps));
  } catch (error) {
    if (config.json && error instanceof ClientError && !(error instanceof ConnectionFailedError)) {
      const kind =
        error instanceof UsageError ? 'usage' : error instanceof RuntimeError ? 'runtime' : 'configuration';
      printJson(deps, jsonErrorReport(kind, error.message));
    }
    throw error;
  }
}

/**
 * Whether the attempt got far enough for AWS IoT (or local-iot) to log it: not when the name did not resolve
 * or nothing answered on the port.
 */
function reachedTheServer(diagnosis: Diagnosis): boolean {
  return !['dns', 'socket-refused', 'unreachable'].includes(diagnosis.kind);
}

/** `--json` prints exactly one object, on one line. */
function printJson(deps: MainDeps, report: ClientReport): void {
  deps.stdout(`${JSON.stringify(report)}\n`);
}

async function connectOnce(config: CliConfig, deps: MainDeps): Promise<void> {
  const prepared = await prepareConnection(config, deps);
  const { request, plan, context, messages } = prepared;
  const print = (lines: readonly string[], to: 'stdout' | 'stderr' = 'stdout'): void => {
    if (!config.json && lines.length > 0) deps[to](`${lines.join('\n')}\n`);
  };
  for (const warning of prepared.warnings) deps.stderr(`Warning: ${warning}\n`);
  print(connectingLines(plan));

  const timeoutMs = config.timeoutSeconds * 1000;
  const probeMs = Math.min(MAX_PROBE_MS, timeoutMs * PROBE_SHARE);
  const started = deps.clock();
  // One Node.js handshake with the SDK's host, SNI, ALPN, CA and client certificate before the SDK connects: a
  // TLS or certificate error is then reported at once, never after s2n's blinding delay as a timeout.
  const precheck = await deps.tlsProbe(tlsProbeRequest(prepared, probeMs));
  const result =
    tlsPrecheckFailure(precheck) ??
    (await deps.connector.connect({ ...request, timeoutMs: timeoutMs - probeMs }));

  if (result.status === 'connected') {
    print(connectedLines(result.connack, result.settings));
    const exchange =
      messages === undefined
        ? undefined
        : await exchangeMessages(result.connection, { ...messages, timeoutMs }, deps.clock);
    const problem = exchange === undefined ? undefined : diagnoseExchange(exchange, context);
    if (exchange !== undefined) print(exchangeLines(exchange));
    if (problem !== undefined) print(failureLines(problem), 'stderr');
    const disconnect = await result.connection.disconnect(timeoutMs);
    print(disconnectLines(disconnect), disconnect.clean ? 'stdout' : 'stderr');
    const report = {
      plan,
      connack: result.connack,
      settings: result.settings,
      ...(messages === undefined ? {} : { messaging: messages.mode }),
      ...(exchange === undefined ? {} : { exchange }),
      ...(problem === undefined ? {} : { diagnosis: problem }),
      disconnect,
      durationMs: deps.clock() - started,
    };
    if (config.json) printJson(deps, jsonReport(report));
    if (problem !== undefined) throw new ConnectionFailedError(problem.headline);
    if (!disconnect.clean) throw new ConnectionFailedError(`disconnect was not clean: ${disconnect.reason}`);
    return;
  }

  // The pre-check's finding explains what the SDK's error does not say (s2n reports "negotiation failed").
  const probe = needsTlsProbe(result) ? precheck : undefined;
  const diagnosis = diagnose(result, probe, context);
  const explanation =
    // Without stack outputs (the upstream sample's flags) no AWS API is called, so there are no logs to read;
    // a server certificate this client refused left no record on the server.
    deps.explainer === undefined ||
    prepared.logGroups.length === 0 ||
    !reachedTheServer(diagnosis) ||
    clientRejectedServer(probe)
      ? undefined
      : await deps.explainer.explain({
          target: prepared.aws,
          groups: prepared.logGroups,
          context,
          attemptStartedMs: started,
          waitMs: (config.explainWaitSeconds ?? DEFAULT_EXPLAIN_WAIT_SECONDS) * 1000,
          beforeConnack: result.status !== 'refused',
        });
  print(failureLines(diagnosis, explanation), 'stderr');
  if (config.json) {
    const report = {
      plan,
      ...(result.status === 'refused' ? { connack: result.connack } : {}),
      ...(messages === undefined ? {} : { messaging: messages.mode }),
      diagnosis,
      ...(explanation === undefined ? {} : { explanation }),
      durationMs: deps.clock() - started,
    };
    printJson(deps, jsonReport(report));
  }
  throw new ConnectionFailedError(diagnosis.headline);
}
