import { resolve } from 'node:path';
import {
  clientIdProblem,
  DEFAULTS,
  deviceTopic,
  type StormErrorReport,
  type StormReport,
} from '@iot-custom-auth/protocol';
import type { Connector } from '../connection';
import { tlsPrecheckFailure } from '../diagnosis';
import { prepareConnection, tlsProbeRequest, type PlanDeps, type PreparedConnection } from '../connect-plan';
import { AwsCredentialSource } from '../credentials';
import { ClientError, ConfigError, RuntimeError, UsageError } from '../errors';
import type { OutputsReader } from '../outputs';
import type { InvocationPaths } from '../paths';
import type { ReadTextFile } from '../read-config-file';
import type { TlsProbe } from '../tls-probe';
import {
  parseStormArgs,
  STORM_DEFAULTS,
  stormClientId,
  stormUsage,
  type StormMergeConfig,
  type StormRunConfig,
} from './storm-args';
import {
  CachingCredentialSource,
  CachingOutputsReader,
  cachingReadFile,
  cachingSecretsManager,
  type SecretsManagerFactory,
} from './storm-caches';
import { renderHtmlReport } from './storm-html';
import { mergeReports, parseStormReport } from './storm-merge';
import { arrivalSeconds, planShard, type PlannedConnection } from './storm-plan';
import { isLoopbackHost, quotaProblems } from './storm-quotas';
import { runStorm, type PreparedStormConnection } from './storm-runner';
import { buildReport } from './storm-summary';
import { ProgressCounts, ProgressLine, summaryLines } from './storm-text';

/**
 * `npm run storm -w client`: prepare (outputs, credentials, CA: the connect command's `prepareConnection`,
 * read once through caches), check the plan, run the shard, print the progress and the summary, write the
 * report. `storm merge` combines shard reports. Returns the exit code; only `storm-cli.ts` exits.
 */

/** 0 as expected; 1 not (refusals, errors, cut short); 2 usage or configuration; 130 interrupted (Ctrl-C). */
export type StormExitCode = 0 | 1 | 2 | 130;

/** Everything the storm touches outside itself. */
export interface StormDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal: the progress line is redrawn in place there. */
  readonly stderrIsTty: boolean;
  readonly outputs: OutputsReader;
  /** Secrets Manager, for the master secret the device passwords are derived from. */
  readonly secretsManager: SecretsManagerFactory;
  /** Reads the CA file, the token-signing key and the reports to merge. */
  readonly readFile: ReadTextFile;
  readonly writeFile: (path: string, text: string) => Promise<void>;
  readonly connector: Connector;
  /**
   * One Node.js handshake before the storm, as `connect` makes: a TLS or certificate mistake stops the storm at
   * once, instead of failing every connection after s2n's blinding delay.
   */
  readonly tlsProbe: TlsProbe;
  /** Milliseconds since the epoch (fractions allowed). */
  readonly clock: () => number;
  readonly randomId: () => string;
  readonly paths: InvocationPaths;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  readonly interrupt: AbortSignal;
  /** Plain progress lines (not a terminal) this often. @default 5000 */
  readonly progressEveryMs?: number;
}

/** Text printed with `--bad-credentials` and a token of the user's: the storm cannot forge one of theirs. */
const OWN_TOKEN_WITH_BAD_CREDENTIALS =
  '--bad-credentials needs tokens the storm signs itself (--signed with the token-signing key): it cannot make a wrong token out of --custom_auth_token_value';

export async function stormMain(argv: readonly string[], deps: StormDeps): Promise<StormExitCode> {
  const json = argv.some((arg) => arg === '--json' || arg === '--json=true');
  try {
    const config = parseStormArgs(argv);
    if (config.help) {
      deps.stdout(stormUsage());
      return 0;
    }
    return config.command === 'merge' ? await merge(config, deps) : await storm(config, deps);
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    const kind =
      error instanceof UsageError ? 'usage' : error instanceof RuntimeError ? 'runtime' : 'configuration';
    if (json) {
      const report: StormErrorReport = { ok: false, error: { kind, message: error.message } };
      deps.stdout(`${JSON.stringify(report)}\n`);
    }
    deps.stderr(`Error: ${error.message}\n${kind === 'usage' ? 'Run with --help for usage.\n' : ''}`);
    return kind === 'runtime' ? 1 : 2;
  }
}

async function storm(config: StormRunConfig, deps: StormDeps): Promise<StormExitCode> {
  const outputs = new CachingOutputsReader(deps.outputs);
  const readFile = cachingReadFile(deps.readFile);
  const credentials = new AwsCredentialSource({
    readFile,
    secretsManager: cachingSecretsManager(deps.secretsManager),
  });
  const planDeps: PlanDeps = {
    outputs,
    credentials: new CachingCredentialSource(credentials),
    readFile,
    clock: deps.clock,
    randomId: deps.randomId,
    paths: deps.paths,
  };
  // One preparation before the storm: a configuration problem stops it here, with exit code 2, instead of
  // failing every connection. Without --client_id the connect plan's id is the prefix plus randomId().
  const first = await prepareConnection(config.connect, { ...planDeps, randomId: () => '' });
  if (config.badCredentials > 0 && config.connect.tokenValue !== undefined) {
    throw new UsageError(OWN_TOKEN_WITH_BAD_CREDENTIALS);
  }
  const prefix = first.context.clientIdPrefix;
  const runId =
    config.runId ??
    deps
      .randomId()
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 8);
  const planned = planShard({
    connections: config.connections,
    ratePerSecond: config.ratePerSecond,
    badCredentials: config.badCredentials,
    shard: config.shard,
    clientIdOf: (n) => stormClientId(prefix, runId, config.shard.index, n),
  });
  const { endpoint, port, transport } = first.request;
  const aws = outputs.last?.connection === undefined && !isLoopbackHost(endpoint);
  if (aws) checkQuotas(config, deps);
  const deadlineSeconds =
    config.deadlineSeconds ??
    Math.ceil(
      arrivalSeconds(config.connections, config.ratePerSecond, config.shard) +
        config.holdSeconds +
        STORM_DEFAULTS.deadlineMarginSeconds,
    );
  const idProblem = planned[0] === undefined ? undefined : clientIdProblem(planned[0].clientId, prefix);
  if (idProblem !== undefined && outputs.last !== undefined) {
    deps.stderr(
      `Warning: ${idProblem}: the stack's authorizer will refuse the storm's client ids (CONNACK 0x87)\n`,
    );
  }
  await checkTls(first, deps.tlsProbe);
  deps.stderr(
    `Storm ${runId} shard ${config.shard.index}/${config.shard.count}: ${planned.length} connections to ${endpoint}:${port}, deadline ${deadlineSeconds} s\n`,
  );

  const abort = new AbortController();
  const onInterrupt = (): void => abort.abort('interrupted');
  if (deps.interrupt.aborted) onInterrupt();
  deps.interrupt.addEventListener('abort', onInterrupt, { once: true });
  const deadline = setTimeout(() => abort.abort('deadline'), deadlineSeconds * 1000);
  const counts = new ProgressCounts(planned.length, deps.clock());
  const progress = new ProgressLine(counts, {
    write: deps.stderr,
    tty: deps.stderrIsTty,
    clock: deps.clock,
    redrawEveryMs: 250,
    plainEveryMs: deps.progressEveryMs ?? 5000,
  });
  progress.start();
  let result;
  try {
    result = await runStorm(
      {
        connections: planned,
        concurrency: config.concurrency,
        holdMs: config.holdSeconds * 1000,
        publish: config.publish,
        timeoutMs: config.connect.timeoutSeconds * 1000,
        signal: abort.signal,
        onRecord: (record) => counts.add(record),
        onOpenChange: (open) => (counts.open = open),
      },
      {
        connector: deps.connector,
        clock: deps.clock,
        prepare: (connection) => prepareStormConnection(config, planDeps, connection),
      },
    );
  } finally {
    clearTimeout(deadline);
    deps.interrupt.removeEventListener('abort', onInterrupt);
    progress.stop();
  }
  const report = buildReport(
    {
      runId,
      shards: { count: config.shard.count, included: [config.shard.index] },
      target: {
        endpoint,
        port,
        transport,
        signed: first.plan.signed,
        authorizer: first.plan.authorizerName ?? null,
        aws,
      },
      plan: {
        connections: config.connections,
        ratePerSecond: config.ratePerSecond,
        concurrency: config.concurrency,
        holdSeconds: config.holdSeconds,
        publishPerConnection: config.publish,
        badCredentialsFraction: config.badCredentials,
        deadlineSeconds,
        timeoutSeconds: config.connect.timeoutSeconds,
      },
      stoppedBy: result.stoppedBy,
    },
    result.records,
  );
  await output(report, config, deps);
  if (result.stoppedBy === 'interrupted') return 130;
  return report.ok ? 0 : 1;
}

/** The request of one storm connection: the connect plan for its client id, with wrong credentials if it is a bad one. */
/** How long the TLS check before a storm may take (on loopback it answers at once). */
const TLS_CHECK_TIMEOUT_MS = 5_000;

/** @throws RuntimeError naming the TLS problem, before any storm connection is made. */
async function checkTls(first: PreparedConnection, probe: TlsProbe): Promise<void> {
  const { request } = first;
  const failure = tlsPrecheckFailure(await probe(tlsProbeRequest(first, TLS_CHECK_TIMEOUT_MS)));
  if (failure === undefined) return;
  throw new RuntimeError(
    `the TLS handshake with ${request.endpoint}:${request.port} failed before the storm started (${failure.failure.name}: ${failure.failure.message}), so no storm connection was made: check --ca_file and --endpoint (npm run connect -w client with the same flags says more)`,
  );
}

async function prepareStormConnection(
  config: StormRunConfig,
  planDeps: PlanDeps,
  connection: PlannedConnection,
): Promise<PreparedStormConnection> {
  const prepared = await prepareConnection({ ...config.connect, clientId: connection.clientId }, planDeps);
  const topic = deviceTopic(connection.clientId, DEFAULTS.topicRoot);
  if (!connection.badCredentials) return { request: prepared.request, topic };
  return { request: await withWrongCredentials(config, planDeps, connection, prepared), topic };
}

/**
 * Wrong credentials that the authorizer itself must refuse (CONNACK 0x86, the Lambda invoked): for the
 * unsigned authorizer a password that is not the device's; for the signed one a correctly signed token bound
 * to another client id (a bad signature would be refused before the Lambda, with 0x87).
 */
async function withWrongCredentials(
  config: StormRunConfig,
  planDeps: PlanDeps,
  connection: PlannedConnection,
  prepared: PreparedConnection,
): Promise<PreparedConnection['request']> {
  const { request } = prepared;
  if (prepared.plan.signed) {
    const other = await prepareConnection(
      { ...config.connect, clientId: `${connection.clientId}-other` },
      planDeps,
    );
    return { ...request, auth: other.request.auth };
  }
  const password = `${request.auth.password ?? ''}-storm-wrong-${connection.n}`;
  return { ...request, auth: { ...request.auth, password } };
}

/** Refuses a plan over AWS IoT Core's connect quotas, unless `--allow-over-quota`. */
function checkQuotas(config: StormRunConfig, deps: StormDeps): void {
  const problems = quotaProblems({
    ratePerSecond: config.ratePerSecond,
    accountConnectQuota: config.accountConnectQuota,
    publishPerConnection: config.publish,
  });
  if (problems.length === 0) return;
  const text = problems.join('; ');
  if (!config.allowOverQuota) {
    throw new UsageError(
      `${text}: lower --rate, pass --account-connect-quota with your account's raised quota, or --allow-over-quota to storm anyway`,
    );
  }
  deps.stderr(`Warning: ${text}; running anyway (--allow-over-quota): expect throttled connects\n`);
}

async function merge(config: StormMergeConfig, deps: StormDeps): Promise<StormExitCode> {
  const reports: { file: string; report: StormReport }[] = [];
  for (const file of config.files) {
    const path = resolve(deps.paths.invocationDir, file);
    let text: string;
    try {
      text = await deps.readFile(path);
    } catch (error) {
      throw new ConfigError(
        `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Pass the files storm --json wrote`,
      );
    }
    reports.push({ file: path, report: parseStormReport(text, path) });
  }
  const merged = mergeReports(reports);
  await output(merged, config, deps);
  return merged.ok ? 0 : 1;
}

/** The summary (stdout, or stderr under --json), the JSON object, and the HTML page. */
async function output(
  report: StormReport,
  config: { readonly json: boolean; readonly reportFile?: string },
  deps: StormDeps,
): Promise<void> {
  // The page first: if it cannot be written, the one JSON object on stdout is the error, not the report.
  if (config.reportFile !== undefined) {
    const path = resolve(deps.paths.invocationDir, config.reportFile);
    try {
      await deps.writeFile(path, renderHtmlReport(report));
    } catch (error) {
      throw new ConfigError(
        `cannot write --report ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; name a file in a directory you can write to`,
      );
    }
    deps.stderr(`Report: ${path}\n`);
  }
  const summary = `${summaryLines(report).join('\n')}\n`;
  if (config.json) {
    deps.stderr(summary);
    deps.stdout(`${JSON.stringify(report)}\n`);
  } else {
    deps.stdout(summary);
  }
}
