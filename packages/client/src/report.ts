import {
  describeReasonCode,
  reasonCodeName,
  type ClientReport,
  type ClientReportError,
  type ClientReportExplanation,
  type ClientReportExchange,
  type Transport,
} from '@iot-custom-auth/protocol';
import { mqtt5 } from 'aws-iot-device-sdk-v2';
import type { ConnackSummary, DisconnectResult, NegotiatedSettings } from './connection';
import type { Diagnosis } from './diagnosis';
import {
  exchangeSucceeded,
  subscriptionGranted,
  type ExchangeResult,
  type MessagingMode,
  type PublishStep,
  type StepError,
} from './message-exchange';

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
  /**
   * `CUSTOM_AUTH_X509`: custom authentication with an X.509 client certificate (mTLS) on the X.509 domain
   * configuration's endpoint. Absent: custom authentication (`CUSTOM_AUTH`) on the data endpoint.
   */
  readonly authentication?: 'CUSTOM_AUTH_X509';
  /** With `CUSTOM_AUTH_X509`: the certificate sent (never its key). */
  readonly clientCertificate?: {
    readonly file: string;
    /** The AWS IoT certificate id: hex SHA-256 of the DER. */
    readonly id: string;
    readonly subjectCn?: string;
    readonly validTo: string;
  };
  /** Where the stack outputs came from, if they were used. */
  readonly outputsSource?: string;
}

/** The result of a run, as `--json` prints it. */
export interface RunReport {
  readonly plan: ConnectionPlan;
  readonly connack?: ConnackSummary;
  readonly settings?: NegotiatedSettings;
  readonly disconnect?: DisconnectResult;
  /** Set when messages were asked for (`--roundtrip`, `--count`, `--topic`, `--message`). */
  readonly messaging?: MessagingMode;
  /** What happened to them; absent when the connection failed first. */
  readonly exchange?: ExchangeResult;
  /** Why the run failed: the connection, or the messages. */
  readonly diagnosis?: Diagnosis;
  /** After a refused or failed connect: what the logs say about it. */
  readonly explanation?: ClientReportExplanation;
  readonly durationMs: number;
}

/** `Connecting to host:443 over direct MQTT/TLS (ALPN mqtt) with authorizer X (unsigned), client id test-1`. */
export function connectingLines(plan: ConnectionPlan): string[] {
  const x509 = plan.authentication === 'CUSTOM_AUTH_X509';
  const transport = x509
    ? `MQTT over mTLS (client certificate, ALPN ${plan.alpn ?? 'none'})`
    : plan.transport === 'mqtt'
      ? `direct MQTT/TLS (ALPN ${plan.alpn ?? 'none'})`
      : 'MQTT over WebSockets';
  const authorizer =
    plan.authorizerName === undefined
      ? "the endpoint's default authorizer"
      : `authorizer ${plan.authorizerName}`;
  const mode = x509 ? 'CUSTOM_AUTH_X509' : plan.signed ? 'signed' : 'unsigned';
  const lines = [
    `Connecting to ${plan.endpoint}:${plan.port} over ${transport} with ${authorizer} (${mode}), client id ${plan.clientId}`,
    `  credentials: ${plan.credentials}`,
  ];
  if (plan.outputsSource !== undefined) lines.push(`  stack outputs: ${plan.outputsSource}`);
  return lines;
}

/** `Connected: CONNACK 0x00 Success` and the negotiated settings. */
export function connectedLines(connack: ConnackSummary, settings: NegotiatedSettings): string[] {
  const yesNo = (value: boolean): string => (value ? 'yes' : 'no');
  const lines = [
    `Connected: CONNACK ${describeReasonCode('CONNACK', connack.reasonCode)}`,
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

/**
 * The headline, then the exact reason and its fix when the logs gave one (with the record it comes from);
 * otherwise why no record was found and one `Likely causes:` line per cause.
 */
export function failureLines(diagnosis: Diagnosis, explanation?: ClientReportExplanation): string[] {
  const generic = ['Likely causes:', ...diagnosis.likelyCauses.map((cause) => `  - ${cause}`)];
  if (explanation === undefined) return [diagnosis.headline, ...generic];
  if (!explanation.found)
    return [diagnosis.headline, `No record explains it: ${explanation.why}`, ...generic];
  const record = explanation.record;
  return [
    diagnosis.headline,
    `Reason: ${explanation.reason}`,
    `Fix: ${explanation.fix}`,
    ...(record === undefined
      ? []
      : [`  (from ${record.logGroupName} at ${new Date(record.timestamp).toISOString()})`]),
  ];
}

/**
 * One line per step of the messages after CONNACK, with the reason codes: the SUBACK (round trip), the
 * PUBACKs, and how many messages came back and how fast.
 */
export function exchangeLines(result: ExchangeResult): string[] {
  const { topic } = result;
  const seconds = result.timeoutMs / 1000;
  const lines: string[] = [];
  const subscribe = result.subscribe;
  if (subscribe !== undefined) {
    const codes = subscribe.result?.reasonCodes.map((code) => `SUBACK ${describeReasonCode('SUBACK', code)}`);
    const said = subscribe.result?.reasonString ? ` (server says: ${subscribe.result.reasonString})` : '';
    lines.push(
      `Subscription to ${topic} (QoS 1): ${codes === undefined ? stepErrorText(subscribe.error, 'SUBACK', seconds) : `${codes.join(', ')}${said}`}`,
    );
  }
  if (result.publishes.length > 0) {
    const groups = new Map<string, number>();
    for (const publish of result.publishes) {
      const text = pubackText(publish, seconds);
      groups.set(text, (groups.get(text) ?? 0) + 1);
    }
    const outcomes =
      groups.size === 1
        ? [...groups.keys()]
        : [...groups].map(([text, n]) => `${text} (${n} of ${result.publishes.length})`);
    lines.push(
      `Sent ${plural(result.publishes.length, 'message')} to ${topic} (QoS 1): ${outcomes.join(', ')}`,
    );
  }
  if (result.mode === 'roundtrip' && subscribe?.result !== undefined) {
    if (!subscriptionGranted(subscribe)) {
      lines.push('No message can come back: the subscription was refused');
    } else if (result.expected === 0) {
      lines.push('No message can come back: none was accepted');
    } else if (result.received === result.expected && result.roundTripMs !== undefined) {
      const times = result.publishes.map((p) => p.roundTripMs).filter((ms): ms is number => ms !== undefined);
      const each = times.length > 1 ? ` (each ${Math.min(...times)} to ${Math.max(...times)} ms)` : '';
      lines.push(
        `Received ${result.received} of ${plural(result.expected, 'message')} back on ${topic}: round trip ${result.roundTripMs} ms${each}`,
      );
    } else {
      const why =
        result.receiveError?.kind === 'lost' ? 'before the connection was lost' : `within ${seconds} s`;
      lines.push(
        `Received ${result.received} of ${plural(result.expected, 'message')} back on ${topic} ${why}`,
      );
    }
  }
  return lines;
}

function pubackText(publish: PublishStep, seconds: number): string {
  return publish.result === undefined
    ? stepErrorText(publish.error, 'PUBACK', seconds)
    : `PUBACK ${describeReasonCode('PUBACK', publish.result.reasonCode)}${publish.result.reasonString ? ` (server says: ${publish.result.reasonString})` : ''}`;
}

function stepErrorText(error: StepError | undefined, packet: string, seconds: number): string {
  switch (error?.kind) {
    case 'lost':
      return `no ${packet}, the connection was lost`;
    case 'error':
      return `not sent (${error.message})`;
    default:
      return `no ${packet} within ${seconds} s`;
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `Disconnected cleanly`, or why not. */
export function disconnectLines(result: DisconnectResult): string[] {
  return result.clean ? ['Disconnected cleanly'] : [`Disconnect was not clean: ${result.reason}`];
}

/** The `--json` object for a run that reached the endpoint (connected or not). */
export function jsonReport(report: RunReport): ClientReport {
  const { plan, connack, diagnosis, disconnect } = report;
  const ok =
    connack !== undefined &&
    mqtt5.isSuccessfulConnectReasonCode(connack.reasonCode) &&
    disconnect?.clean === true &&
    diagnosis === undefined;
  const error: ClientReportError | undefined =
    diagnosis !== undefined
      ? { kind: diagnosis.kind, message: diagnosis.headline }
      : disconnect !== undefined && !disconnect.clean
        ? { kind: 'disconnect', message: disconnect.reason }
        : undefined;
  const exchange = report.exchange === undefined ? null : jsonExchange(report.exchange);
  // Keys in the order they are printed.
  return {
    ok,
    endpoint: plan.endpoint,
    port: plan.port,
    transport: plan.transport,
    alpn: plan.alpn ?? null,
    authentication: plan.authentication ?? 'CUSTOM_AUTH',
    ...(plan.clientCertificate === undefined
      ? {}
      : {
          clientCertificate: {
            id: plan.clientCertificate.id,
            subjectCn: plan.clientCertificate.subjectCn ?? null,
          },
        }),
    authorizer: plan.authorizerName ?? null,
    signed: plan.signed,
    clientId: plan.clientId,
    connack:
      connack === undefined
        ? null
        : {
            reasonCode: connack.reasonCode,
            reasonName: reasonCodeName('CONNACK', connack.reasonCode),
            sessionPresent: connack.sessionPresent,
            ...connack.properties,
          },
    ...(report.settings === undefined ? {} : { negotiatedSettings: report.settings }),
    ...(report.messaging === 'roundtrip' ? { roundtrip: exchange } : {}),
    ...(report.messaging === 'publish' ? { publish: exchange } : {}),
    ...(disconnect === undefined ? {} : { disconnect: disconnect.clean ? 'clean' : disconnect.reason }),
    ...(error === undefined ? {} : { error }),
    ...(diagnosis === undefined ? {} : { likelyCauses: diagnosis.likelyCauses }),
    ...(report.explanation === undefined ? {} : { explanation: report.explanation }),
    ...(plan.outputsSource === undefined ? {} : { outputs: plan.outputsSource }),
    durationMs: report.durationMs,
  };
}

/**
 * The `roundtrip` (or `publish`) object of `--json`: the topic, the SUBACK reason code per filter, each
 * message's PUBACK reason code and round-trip time, how many came back, and the whole round trip's time.
 * A step that got no answer has `null` codes and an `error` saying why.
 */
export function jsonExchange(result: ExchangeResult): ClientReportExchange {
  const seconds = result.timeoutMs / 1000;
  const roundtrip = result.mode === 'roundtrip';
  const subscribe = result.subscribe;
  return {
    ok: exchangeSucceeded(result),
    topic: result.topic,
    qos: 1,
    count: result.count,
    ...(!roundtrip
      ? {}
      : {
          suback:
            subscribe?.result === undefined
              ? { reasonCodes: null, error: stepErrorText(subscribe?.error, 'SUBACK', seconds) }
              : {
                  reasonCodes: subscribe.result.reasonCodes.map((reasonCode) => ({
                    topicFilter: subscribe.topicFilter,
                    reasonCode,
                    reasonName: reasonCodeName('SUBACK', reasonCode),
                  })),
                  ...(subscribe.result.reasonString === undefined
                    ? {}
                    : { reasonString: subscribe.result.reasonString }),
                },
        }),
    puback: result.publishes.map((publish) =>
      publish.result === undefined
        ? {
            seq: publish.seq,
            reasonCode: null,
            reasonName: null,
            error: stepErrorText(publish.error, 'PUBACK', seconds),
          }
        : {
            seq: publish.seq,
            reasonCode: publish.result.reasonCode,
            reasonName: reasonCodeName('PUBACK', publish.result.reasonCode),
            ...(publish.result.reasonString === undefined
              ? {}
              : { reasonString: publish.result.reasonString }),
            ...(publish.roundTripMs === undefined ? {} : { roundTripMs: publish.roundTripMs }),
          },
    ),
    ...(!roundtrip
      ? {}
      : { expected: result.expected, received: result.received, roundTripMs: result.roundTripMs ?? null }),
  };
}

/** The `--json` object for a run that stopped before connecting (usage or configuration error). */
export function jsonErrorReport(kind: 'usage' | 'configuration' | 'runtime', message: string): ClientReport {
  return { ok: false, error: { kind, message } };
}
