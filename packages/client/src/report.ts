import type { Transport } from './args';
import type { ConnackSummary, DisconnectResult, NegotiatedSettings } from './connection';
import { hexCode, reasonName, type Diagnosis } from './diagnosis';

/** What the client is about to do, with nothing secret in it. */
export interface ConnectionPlan {
  readonly endpoint: string;
  readonly port: number;
  readonly transport: Transport;
  /** ALPN offered: `mqtt` for direct MQTT, none for WebSockets. */
  readonly alpn?: string;
  /** `undefined`: the endpoint's default authorizer. */
  readonly authorizerName?: string;
  readonly signed: boolean;
  readonly clientId: string;
  /** How the client authenticates, with every secret redacted (lengths only). */
  readonly credentials: string;
  /** Where the stack outputs came from, if they were used. */
  readonly outputsSource?: string;
}

/** The result of a run, as `--json` prints it. */
export interface RunReport {
  readonly plan: ConnectionPlan;
  readonly connack?: ConnackSummary;
  readonly settings?: NegotiatedSettings;
  readonly disconnect?: DisconnectResult;
  readonly diagnosis?: Diagnosis;
  readonly durationMs: number;
}

/** `Connecting to host:443 over direct MQTT/TLS (ALPN mqtt) with authorizer X (unsigned), client id test-1`. */
export function connectingLines(plan: ConnectionPlan): string[] {
  const transport =
    plan.transport === 'mqtt' ? `direct MQTT/TLS (ALPN ${plan.alpn ?? 'none'})` : 'MQTT over WebSockets';
  const authorizer =
    plan.authorizerName === undefined
      ? "the endpoint's default authorizer"
      : `authorizer ${plan.authorizerName}`;
  const lines = [
    `Connecting to ${plan.endpoint}:${plan.port} over ${transport} with ${authorizer} (${plan.signed ? 'signed' : 'unsigned'}), client id ${plan.clientId}`,
    `  credentials: ${plan.credentials}`,
  ];
  if (plan.outputsSource !== undefined) lines.push(`  stack outputs: ${plan.outputsSource}`);
  return lines;
}

/** `Connected: CONNACK 0x00 Success` and the negotiated settings. */
export function connectedLines(connack: ConnackSummary, settings: NegotiatedSettings): string[] {
  const yesNo = (value: boolean): string => (value ? 'yes' : 'no');
  const lines = [
    `Connected: CONNACK ${hexCode(connack.reasonCode)} ${reasonName(connack.reasonCode)}`,
    `  session present: ${yesNo(connack.sessionPresent)}, client id: ${settings.clientId}`,
    `  maximum QoS: ${settings.maximumQos}, retain: ${yesNo(settings.retainAvailable)}, wildcard subscriptions: ${yesNo(settings.wildcardSubscriptionsAvailable)}, shared subscriptions: ${yesNo(settings.sharedSubscriptionsAvailable)}, subscription identifiers: ${yesNo(settings.subscriptionIdentifiersAvailable)}`,
    `  keep alive: ${settings.serverKeepAlive} s, session expiry: ${settings.sessionExpiryInterval} s, receive maximum: ${settings.receiveMaximumFromServer}, maximum packet size: ${settings.maximumPacketSizeToServer} bytes, topic alias maximum: ${settings.topicAliasMaximumToServer}`,
  ];
  const { reasonString, assignedClientIdentifier, responseInformation, serverReference, userProperties } =
    connack.properties;
  if (assignedClientIdentifier !== undefined) lines.push(`  assigned client id: ${assignedClientIdentifier}`);
  if (reasonString !== undefined) lines.push(`  reason string: ${reasonString}`);
  if (responseInformation !== undefined) lines.push(`  response information: ${responseInformation}`);
  if (serverReference !== undefined) lines.push(`  server reference: ${serverReference}`);
  for (const { name, value } of userProperties ?? []) lines.push(`  user property: ${name}=${value}`);
  return lines;
}

/** The headline and one `Likely causes:` line per cause. */
export function failureLines(diagnosis: Diagnosis): string[] {
  return [diagnosis.headline, 'Likely causes:', ...diagnosis.likelyCauses.map((cause) => `  - ${cause}`)];
}

/** `Disconnected cleanly`, or why not. */
export function disconnectLines(result: DisconnectResult): string[] {
  return result.clean ? ['Disconnected cleanly'] : [`Disconnect was not clean: ${result.reason}`];
}

/** The `--json` object for a run that reached the endpoint (connected or not). */
export function jsonReport(report: RunReport): Record<string, unknown> {
  const { plan, connack, diagnosis, disconnect } = report;
  const ok = connack?.reasonCode === 0 && disconnect?.clean === true && diagnosis === undefined;
  const result: Record<string, unknown> = {
    ok,
    endpoint: plan.endpoint,
    port: plan.port,
    transport: plan.transport,
    alpn: plan.alpn ?? null,
    authorizer: plan.authorizerName ?? null,
    signed: plan.signed,
    clientId: plan.clientId,
    connack:
      connack === undefined
        ? null
        : {
            reasonCode: connack.reasonCode,
            reasonName: reasonName(connack.reasonCode),
            sessionPresent: connack.sessionPresent,
            ...connack.properties,
          },
  };
  if (report.settings !== undefined) result.negotiatedSettings = report.settings;
  if (disconnect !== undefined) {
    result.disconnect = disconnect.clean ? 'clean' : disconnect.reason;
  }
  if (diagnosis !== undefined) {
    result.error = { kind: diagnosis.kind, message: diagnosis.headline };
    result.likelyCauses = diagnosis.likelyCauses;
  } else if (disconnect !== undefined && !disconnect.clean) {
    result.error = { kind: 'disconnect', message: disconnect.reason };
  }
  if (plan.outputsSource !== undefined) result.outputs = plan.outputsSource;
  result.durationMs = report.durationMs;
  return result;
}

/** The `--json` object for a run that stopped before connecting (usage or configuration error). */
export function jsonErrorReport(
  kind: 'usage' | 'configuration' | 'runtime',
  message: string,
): Record<string, unknown> {
  return { ok: false, error: { kind, message } };
}
