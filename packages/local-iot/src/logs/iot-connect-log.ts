import {
  AWS_IOT_LOG_GROUP,
  CONNECT_REFUSALS,
  formatIotLogTimestamp,
  type ConnectRefusalCause,
  type IotConnectLogEntry,
  type IotLogLevel,
} from '@iot-custom-auth/protocol';
import type { LocalLogStore } from './log-store';

/** The log stream local-iot writes AWS IoT's entries to (AWS names its streams itself). */
export const IOT_LOG_STREAM = 'local-iot';

/** What is known of a connection attempt when it is decided (the gateway's `ConnectAttempt` has these). */
export interface ConnectFacts {
  readonly connectionId: string;
  readonly clientId?: string;
  readonly sourceIp?: string;
}

/** The decision's fields the log needs (the pipeline's `ConnectDecision` has these). */
export interface ConnectOutcome {
  readonly allowed: boolean;
  readonly reasonCode: number;
  readonly reason: string;
  readonly signature?: 'verified' | 'failed' | 'not-required' | 'missing';
  readonly lambdaInvoked: boolean;
  readonly session?: { readonly principalId: string };
  /** The refusal's row of `CONNECT_REFUSALS`, when whoever refused it said (the custom-auth pipeline does). */
  readonly cause?: ConnectRefusalCause;
}

/** A TLS connection refused before any MQTT (the gateway's `tls-refused` log entry). */
export interface TlsRefusalFacts {
  readonly connectionId?: string;
  readonly remoteAddress?: string;
  readonly serverName?: string;
  readonly reason: string;
  /** Set when the X.509 listener refused the client certificate (see `ClientCertificateRefusalCause`). */
  readonly clientCertificateRefused?: boolean;
}

/** Settings of an {@link IotConnectLog}. */
export interface IotConnectLogOptions {
  readonly store: LocalLogStore;
  readonly accountId: string;
  /**
   * AWS IoT's `DefaultLogLevel`: `INFO` and `DEBUG` log successful connects too, `ERROR` and `WARN`
   * failures only, `DISABLED` nothing. @default 'INFO'
   */
  readonly level?: IotLogLevel;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * Writes AWS IoT's `AWSIotLogsV2` Connect entries (protocol's `IotConnectLogEntry`) for local-iot's decisions,
 * at the moment they are made, so a client that reads right after its CONNACK finds the record. Where AWS's
 * `details` is terse, local-iot writes the exact reason it decided on (the same text as the gateway's decision
 * log: what it found and what the stack has); `reason` is the cause's code from `CONNECT_REFUSALS`.
 */
export class IotConnectLog {
  private readonly level: IotLogLevel;
  private readonly now: () => Date;

  constructor(private readonly options: IotConnectLogOptions) {
    this.level = options.level ?? 'INFO';
    this.now = options.now ?? (() => new Date());
  }

  /** A decided CONNECT. */
  connect(facts: ConnectFacts, outcome: ConnectOutcome): void {
    if (outcome.allowed) {
      if (this.level !== 'INFO' && this.level !== 'DEBUG') return;
      this.write({
        ...this.base(facts.connectionId, 'INFO', 'Success'),
        ...(facts.clientId !== undefined && { clientId: facts.clientId }),
        ...(outcome.session !== undefined && { principalId: outcome.session.principalId }),
        ...(facts.sourceIp !== undefined && { sourceIp: facts.sourceIp }),
      });
      return;
    }
    this.failure(facts, connectRefusalCause(outcome), outcome.reason);
  }

  /** A TLS connection closed before MQTT: SNI that is not the endpoint, or no ALPN this endpoint speaks. */
  tlsRefused(facts: TlsRefusalFacts): void {
    // A client certificate AWS IoT does not accept fails authentication before any authorizer runs.
    const cause: ConnectRefusalCause = facts.clientCertificateRefused
      ? 'NOT_AUTHENTICATED'
      : /ALPN/.test(facts.reason)
        ? 'CUSTOM_AUTH_NOT_NEGOTIATED'
        : 'SERVER_NAME_MISMATCH';
    this.failure(
      {
        connectionId: facts.connectionId ?? '',
        ...(facts.remoteAddress && { sourceIp: facts.remoteAddress }),
      },
      cause,
      facts.reason,
    );
  }

  private failure(facts: ConnectFacts, cause: ConnectRefusalCause, details: string): void {
    if (this.level === 'DISABLED') return;
    this.write({
      ...this.base(facts.connectionId, 'ERROR', 'Failure'),
      ...(facts.clientId !== undefined && { clientId: facts.clientId }),
      ...(facts.sourceIp !== undefined && { sourceIp: facts.sourceIp }),
      reason: CONNECT_REFUSALS[cause].iotLogReason,
      details,
    });
  }

  private base(
    traceId: string,
    logLevel: IotConnectLogEntry['logLevel'],
    status: IotConnectLogEntry['status'],
  ): Pick<
    IotConnectLogEntry,
    'timestamp' | 'logLevel' | 'traceId' | 'accountId' | 'status' | 'eventType' | 'protocol'
  > {
    return {
      timestamp: formatIotLogTimestamp(this.now()),
      logLevel,
      traceId,
      accountId: this.options.accountId,
      status,
      eventType: 'Connect',
      protocol: 'MQTT',
    };
  }

  private write(entry: IotConnectLogEntry): void {
    this.options.store.put(AWS_IOT_LOG_GROUP, IOT_LOG_STREAM, JSON.stringify(entry), this.now().getTime());
  }
}

/**
 * The row of `CONNECT_REFUSALS` a refused decision is: the cause the custom-auth pipeline gave it where it
 * decided, else (a refusal the gateway made before any authorizer) the one its CONNACK code names.
 */
export function connectRefusalCause(outcome: ConnectOutcome): ConnectRefusalCause {
  if (outcome.cause !== undefined) return outcome.cause;
  const { reasonCode, signature, lambdaInvoked } = outcome;
  if (reasonCode === CONNECT_REFUSALS.CLIENT_ID_TOO_LONG.connack) return 'CLIENT_ID_TOO_LONG';
  if (reasonCode === CONNECT_REFUSALS.UNSUPPORTED_PROTOCOL_VERSION.connack)
    return 'UNSUPPORTED_PROTOCOL_VERSION';
  if (reasonCode === CONNECT_REFUSALS.SERVER_ERROR.connack) return 'SERVER_ERROR';
  if (reasonCode === CONNECT_REFUSALS.NOT_AUTHENTICATED.connack) return 'NOT_AUTHENTICATED';
  if (signature === 'missing') return 'SIGNATURE_MISSING';
  if (signature === 'failed') return 'SIGNATURE_INVALID';
  return lambdaInvoked ? 'CONNECT_NOT_ALLOWED' : 'AUTHORIZER_NOT_FOUND';
}

function sourceIpOf(address: string | undefined): { sourceIp?: string } {
  return address === undefined ? {} : { sourceIp: address };
}

/** The fields of a gateway log entry the recorder reads (the gateway's `GatewayLogEntry` has these). */
export interface GatewayEntryFacts {
  readonly event: string;
  readonly connectionId?: string;
  readonly remoteAddress?: string;
  readonly serverName?: string;
  readonly clientId?: string;
  readonly decision?: string;
  readonly reason?: string;
  readonly reasonCodeNumber?: number;
  readonly lambdaInvoked?: boolean;
  readonly signature?: ConnectOutcome['signature'];
  /** `tls-refused` of the X.509 listener: why the client certificate was refused. */
  readonly cause?: string;
}

/** Connections remembered at once (each is forgotten at its disconnect; this only bounds stray ones). */
const MAX_TRACKED_CONNECTIONS = 10_000;

/**
 * Feeds an {@link IotConnectLog} from the two places a decision appears: the custom-auth pipeline (called
 * with the attempt, so the entry is written before the gateway sends the CONNACK, with the source IP) and the
 * gateway's log for what never reaches the pipeline (TLS refusals, CONNECTs refused before any authorizer).
 * Each connection gets one Connect entry: the policy refreshes that call the pipeline again write none.
 */
export class ConnectLogRecorder {
  private readonly recorded = new Set<string>();
  private readonly addresses = new Map<string, string>();

  constructor(private readonly log: IotConnectLog) {}

  /** The pipeline decided `facts`' CONNECT. */
  decided(facts: ConnectFacts, outcome: ConnectOutcome): void {
    if (this.recorded.has(facts.connectionId)) return;
    this.track(this.recorded, facts.connectionId);
    this.log.connect(facts, outcome);
  }

  /** Every gateway log entry passes through here. */
  gatewayEntry(entry: GatewayEntryFacts): void {
    const id = entry.connectionId;
    switch (entry.event) {
      case 'tls-connection':
        if (id !== undefined && entry.remoteAddress !== undefined) {
          if (this.addresses.size >= MAX_TRACKED_CONNECTIONS) this.forgetOldest(this.addresses);
          this.addresses.set(id, entry.remoteAddress);
        }
        return;
      case 'tls-refused':
        this.log.tlsRefused({
          ...(id !== undefined && { connectionId: id }),
          ...(entry.remoteAddress !== undefined && { remoteAddress: entry.remoteAddress }),
          ...(entry.serverName !== undefined && { serverName: entry.serverName }),
          reason: entry.reason ?? 'TLS refused',
          ...(entry.cause !== undefined && { clientCertificateRefused: true }),
        });
        return;
      case 'connect':
        if (id === undefined || entry.decision !== 'deny' || this.recorded.has(id)) return;
        this.track(this.recorded, id);
        this.log.connect(
          {
            connectionId: id,
            ...(entry.clientId !== undefined && { clientId: entry.clientId }),
            ...sourceIpOf(this.addresses.get(id)),
          },
          {
            allowed: false,
            reasonCode: entry.reasonCodeNumber ?? 0x80,
            reason: entry.reason ?? '',
            lambdaInvoked: entry.lambdaInvoked ?? false,
            ...(entry.signature !== undefined && { signature: entry.signature }),
          },
        );
        return;
      case 'disconnect':
        if (id !== undefined) {
          this.recorded.delete(id);
          this.addresses.delete(id);
        }
        return;
      default:
        return;
    }
  }

  private track(set: Set<string>, id: string): void {
    if (set.size >= MAX_TRACKED_CONNECTIONS) this.forgetOldest(set);
    set.add(id);
  }

  private forgetOldest(collection: Set<string> | Map<string, string>): void {
    const oldest = collection.keys().next();
    if (oldest.done !== true) collection.delete(oldest.value);
  }
}
