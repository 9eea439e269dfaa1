import { buildCustomAuthUsername, describeReasonCode, type DiagnoseReport } from '@iot-custom-auth/protocol';
import { DEFAULT_EXPLAIN_WAIT_SECONDS, parseArgs, type CliConfig } from '../args';
import { usesClientCertificate } from '../mtls-flags';
import type { AwsTarget } from '../aws-clients';
import type { ExitCode } from '../cli';
import type { Connector } from '../connection';
import { prepareConnection, type PlanDeps, type PreparedConnection } from '../connect-plan';
import { diagnose } from '../diagnosis';
import { ConfigError, RuntimeError, UsageError } from '../errors';
import type { RefusalExplainer } from '../explain/refusal-explainer';
import type { TlsProbe } from '../tls-probe';
import {
  checkAuthorizer,
  checkInvokePermission,
  checkPolicies,
  checkTestInvoke,
  checkToken,
  type AwsChecksClients,
} from './authorizer-checks';
import { checkLines, checkReport, stopsAfter, type CheckResult } from './check-result';
import { checkDns, checkTls, checkWebSocket, type HostLookup } from './network-checks';
import type { WebSocketProbe } from './websocket-probe';

/** Everything `diagnose` touches outside itself: `connect`'s dependencies plus the probes and AWS clients. */
export interface DiagnoseDeps extends PlanDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly connector: Connector;
  readonly tlsProbe: TlsProbe;
  readonly websocketProbe: WebSocketProbe;
  readonly lookupHost: HostLookup;
  readonly aws: (target: AwsTarget) => AwsChecksClients;
  readonly explainer?: RefusalExplainer;
}

/** Each network probe may take this share of `--timeout`. */
const PROBE_SHARE = 0.5;

/**
 * `npm run diagnose -w client`: the same flags, outputs and credentials as `connect`, then one check after
 * the other, in the order a connect meets them, each printed as one ✔/✘ line with the fix, stopping at the
 * first hard failure: outputs, DNS, TLS (SNI, ALPN mqtt; WebSocket upgrade), the authorizer
 * (DescribeAuthorizer), its Lambda's invoke permission (GetPolicy), the token (signed mode),
 * TestInvokeAuthorizer with the device's credentials, the returned policies, and a real connect. Exit codes
 * as `connect`: 0 every check passed, 1 one failed, 2 usage or configuration error.
 */
export async function runDiagnose(argv: readonly string[], deps: DiagnoseDeps): Promise<ExitCode> {
  let config: CliConfig;
  try {
    config = parseArgs(argv);
    if (usesClientCertificate(config)) {
      throw new UsageError(
        "diagnose checks custom authentication on the data endpoint, not a client certificate on the X.509 domain configuration's: run npm run connect -w client -- --mtls (or --cert/--key), which explains a refusal from the logs",
      );
    }
  } catch (error) {
    // A secret file that cannot be read or is too open is a configuration error, found while parsing.
    if (!(error instanceof UsageError || error instanceof ConfigError)) throw error;
    const kind = error instanceof UsageError ? 'usage' : 'configuration';
    if (argv.some((arg) => arg === '--json' || arg.startsWith('--json='))) {
      deps.stdout(
        `${JSON.stringify({ ok: false, checks: [], error: { kind, message: error.message } } satisfies DiagnoseReport)}\n`,
      );
    }
    deps.stderr(`Error: ${error.message}\n${kind === 'usage' ? 'Run with --help for usage.\n' : ''}`);
    return 2;
  }
  if (config.help) {
    deps.stdout(
      'Usage: npm run diagnose -w client -- [the connect flags]\nChecks, in order: outputs, dns, tls, websocket, authorizer, permission, token, test-invoke, policy, connect.\nRun npm run connect -w client -- --help for the flags.\n',
    );
    return 0;
  }
  const results: CheckResult[] = [];
  const report = (result: CheckResult): boolean => {
    results.push(result);
    if (!config.json) deps[result.ok ? 'stdout' : 'stderr'](`${checkLines(result).join('\n')}\n`);
    return stopsAfter(result);
  };
  const finish = (extra: Omit<DiagnoseReport, 'ok' | 'checks'> = {}, code?: ExitCode): ExitCode => {
    const ok = results.every((result) => result.ok);
    if (config.json)
      deps.stdout(
        `${JSON.stringify({ ok, checks: results.map(checkReport), ...extra } satisfies DiagnoseReport)}\n`,
      );
    return code ?? (ok ? 0 : 1);
  };

  let prepared: PreparedConnection;
  try {
    prepared = await prepareConnection(config, deps);
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof UsageError || error instanceof RuntimeError))
      throw error;
    report({
      check: 'outputs',
      ok: false,
      detail: error.message,
      fix: 'see the message: the same settings as npm run connect -w client',
    });
    return finish({}, error instanceof RuntimeError ? 1 : 2);
  }
  const { request, plan, context } = prepared;
  report({
    check: 'outputs',
    ok: true,
    detail: `${plan.outputsSource ?? 'no stack outputs (flags only)'}; endpoint ${request.endpoint}:${request.port}, authorizer ${plan.authorizerName ?? '(default)'}, client id ${request.clientId}; ${plan.credentials}`,
  });

  const probeMs = config.timeoutSeconds * 1000 * PROBE_SHARE;
  if (report(await checkDns(deps.lookupHost, request.endpoint))) return finish();
  if (report(await checkTls(deps.tlsProbe, request, probeMs))) return finish();
  if (
    request.transport === 'websockets' &&
    report(await checkWebSocket(deps.websocketProbe, request, probeMs))
  ) {
    return finish();
  }

  const clients = deps.aws(prepared.aws);
  const values = prepared.outputs?.values;
  const knownNames = [values?.unsignedAuthorizerName, values?.signedAuthorizerName].filter(
    (n) => n !== undefined,
  );
  const tokenKeyName =
    request.auth.tokenKeyName === undefined ? undefined : decodeURIComponent(request.auth.tokenKeyName);
  const described = await checkAuthorizer(clients, plan.authorizerName, {
    signed: plan.signed,
    ...(tokenKeyName === undefined ? {} : { tokenKeyName }),
    ...(prepared.aws.region === undefined ? {} : { region: prepared.aws.region }),
    knownNames,
  });
  if (report(described.result) || described.authorizer === undefined) return finish();
  const authorizer = described.authorizer;
  if (report(await checkInvokePermission(clients, authorizer))) return finish();
  if (
    plan.signed &&
    report(checkToken(request, authorizer, new Date(deps.clock()), context.tokenOrigin !== 'given'))
  ) {
    return finish();
  }
  const username =
    request.auth.username === undefined && authorizer.signingDisabled
      ? undefined
      : buildCustomAuthUsername({ user: request.auth.username ?? '', authorizerName: authorizer.name });
  const invoked = await checkTestInvoke(clients, authorizer, request, username);
  if (report(invoked.result) || invoked.response === undefined) return finish();
  for (const result of checkPolicies(
    invoked.response,
    authorizer,
    request.clientId,
    context.clientIdPrefix,
  )) {
    if (report(result)) return finish();
  }
  return connectCheck(config, deps, prepared, report, finish);
}

/** The last check: a real connect with the same request as `connect`, explained from the logs when refused. */
async function connectCheck(
  config: CliConfig,
  deps: DiagnoseDeps,
  prepared: PreparedConnection,
  report: (result: CheckResult) => boolean,
  finish: (extra?: Omit<DiagnoseReport, 'ok' | 'checks'>) => ExitCode,
): Promise<ExitCode> {
  const { request, context } = prepared;
  const timeoutMs = config.timeoutSeconds * 1000;
  const started = deps.clock();
  const result = await deps.connector.connect({ ...request, timeoutMs });
  if (result.status === 'connected') {
    const disconnect = await result.connection.disconnect(timeoutMs);
    report({
      check: 'connect',
      ok: disconnect.clean,
      detail: `CONNACK ${describeReasonCode('CONNACK', result.connack.reasonCode)} over ${request.transport === 'mqtt' ? 'direct MQTT/TLS' : 'WebSockets'}${disconnect.clean ? ', disconnected cleanly' : `, but the disconnect was not clean: ${disconnect.reason}`}`,
    });
    return finish();
  }
  const diagnosis = diagnose(result, undefined, context);
  const explanation =
    deps.explainer === undefined || prepared.logGroups.length === 0
      ? undefined
      : await deps.explainer.explain({
          target: prepared.aws,
          groups: prepared.logGroups,
          context,
          attemptStartedMs: started,
          waitMs: (config.explainWaitSeconds ?? DEFAULT_EXPLAIN_WAIT_SECONDS) * 1000,
          beforeConnack: result.status !== 'refused',
        });
  report({
    check: 'connect',
    ok: false,
    detail: explanation?.found === true ? `${diagnosis.headline}: ${explanation.reason}` : diagnosis.headline,
    fix:
      explanation?.found === true
        ? explanation.fix
        : `${diagnosis.likelyCauses[0] ?? 'see npm run connect -w client'}${explanation === undefined ? '' : ` (no record explains it: ${explanation.why})`}`,
  });
  return finish(explanation === undefined ? {} : { explanation });
}
