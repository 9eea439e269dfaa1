import type { Transport } from './constants';

/**
 * The JSON object the connect client prints with `--json`: one line on stdout, for CI and for the connect
 * matrix. The client builds it; programs that run the client read it.
 */
export interface ClientReport {
  /** True only when the connection was accepted, every message went through and the disconnect was clean. */
  readonly ok: boolean;
  // The fields up to `durationMs` are present when the client reached the point of connecting; a usage,
  // configuration or runtime error before that leaves only `ok: false` and `error`.
  readonly endpoint?: string;
  readonly port?: number;
  /** `https`: one publish over HTTPS (`--https`), no MQTT connection. */
  readonly transport?: Transport | 'https';
  /** The ALPN protocol offered (`mqtt` for direct MQTT), `null` for WebSockets. */
  readonly alpn?: string | null;
  /**
   * How the device authenticated: `CUSTOM_AUTH` (user name, password or token on the data endpoint) or
   * `CUSTOM_AUTH_X509` (an X.509 client certificate, mTLS, on the X.509 domain configuration's endpoint).
   */
  readonly authentication?: 'CUSTOM_AUTH' | 'CUSTOM_AUTH_X509';
  /** With `CUSTOM_AUTH_X509`: the certificate id (hex SHA-256 of the DER) and subject CN; never the key. */
  readonly clientCertificate?: { readonly id: string; readonly subjectCn: string | null };
  /** `null`: the endpoint's default authorizer. */
  readonly authorizer?: string | null;
  readonly signed?: boolean;
  readonly clientId?: string;
  /** `null` when no CONNACK arrived. */
  readonly connack?: ClientReportConnack | null;
  /** After a CONNACK: the connection's settings as the SDK computed them. */
  readonly negotiatedSettings?: ClientReportNegotiatedSettings;
  /** With `--roundtrip`; `null` when the connection failed first. */
  readonly roundtrip?: ClientReportExchange | null;
  /** With `--count`, `--topic` or `--message` but no `--roundtrip`; `null` when the connection failed first. */
  readonly publish?: ClientReportExchange | null;
  /** With `--https`: the request's topic and AWS IoT's answer (HTTP status, its JSON `message` and `traceId`). */
  readonly https?: ClientReportHttps;
  /** `clean`, or why the disconnect was not. */
  readonly disconnect?: string;
  /** Why the run failed, when it did. */
  readonly error?: ClientReportError;
  /** With `error` from a failed connection or exchange: plain-language causes, most likely first. */
  readonly likelyCauses?: readonly string[];
  /**
   * After a refused or failed connect: the exact reason and its fix, read from CloudWatch Logs (the
   * authorizer's log group and `AWSIotLogsV2`), or why no record was found. Absent when the connect succeeded.
   */
  readonly explanation?: ClientReportExplanation;
  /** Where the stack outputs came from, when they were used. */
  readonly outputs?: string;
  readonly durationMs?: number;
}

/**
 * Why a connect was refused, as the records of that attempt tell it (`found: true`), or why no record told it
 * (`found: false`: logging off, no permission to read the logs, or too early), with what was searched.
 */
export type ClientReportExplanation =
  | {
      readonly found: true;
      /** A stable name for the cause, such as `authorizer-not-found` or `bad-password`. */
      readonly cause: string;
      /** The exact reason in words, with the values from the record. */
      readonly reason: string;
      /** What to do about it. */
      readonly fix: string;
      /**
       * The record the reason comes from; absent when the reason is that there is none where there must be
       * one (`lambda-not-invoked`: the authorizer's log group has no decision line for the client id).
       */
      readonly record?: ClientReportLogRecord;
      readonly searched: readonly ClientReportLogSearch[];
    }
  | {
      readonly found: false;
      /** Why no record explained the refusal, and what to do about that. */
      readonly why: string;
      readonly searched: readonly ClientReportLogSearch[];
    };

/** A CloudWatch Logs event, as `FilterLogEvents` returned it. */
export interface ClientReportLogRecord {
  readonly logGroupName: string;
  readonly timestamp: number;
  readonly message: string;
}

/** One log group the client searched, and what came of it. */
export interface ClientReportLogSearch {
  readonly logGroupName: string;
  /** `read` (with the number of records for the client id), `absent`, `access-denied` or `failed`. */
  readonly status: 'read' | 'absent' | 'access-denied' | 'failed';
  readonly records?: number;
  readonly message?: string;
}

/** CONNACK properties the server may send (MQTT 5 §3.2.2.3), named as aws-crt names them. */
export interface ConnackProperties {
  readonly sessionExpiryInterval?: number;
  readonly receiveMaximum?: number;
  readonly maximumQos?: number;
  readonly retainAvailable?: boolean;
  readonly maximumPacketSize?: number;
  readonly assignedClientIdentifier?: string;
  readonly topicAliasMaximum?: number;
  readonly reasonString?: string;
  readonly wildcardSubscriptionsAvailable?: boolean;
  readonly subscriptionIdentifiersAvailable?: boolean;
  readonly sharedSubscriptionsAvailable?: boolean;
  readonly serverKeepAlive?: number;
  readonly responseInformation?: string;
  readonly serverReference?: string;
  readonly userProperties?: readonly { readonly name: string; readonly value: string }[];
}

/** The CONNACK: its reason code and name, and the properties the server sent. */
export interface ClientReportConnack extends ConnackProperties {
  readonly reasonCode: number;
  /** The CONNACK name of `reasonCode`, such as `Not authorized`. */
  readonly reasonName: string;
  readonly sessionPresent: boolean;
}

/** The connection's settings after CONNACK, as aws-crt computes them (`mqtt5.NegotiatedSettings`). */
export interface ClientReportNegotiatedSettings {
  readonly maximumQos: number;
  readonly sessionExpiryInterval: number;
  readonly receiveMaximumFromServer: number;
  readonly maximumPacketSizeToServer: number;
  readonly topicAliasMaximumToServer: number;
  readonly topicAliasMaximumToClient: number;
  readonly serverKeepAlive: number;
  readonly retainAvailable: boolean;
  readonly wildcardSubscriptionsAvailable: boolean;
  readonly subscriptionIdentifiersAvailable: boolean;
  readonly sharedSubscriptionsAvailable: boolean;
  readonly rejoinedSession: boolean;
  readonly clientId: string;
}

/**
 * The messages after CONNACK (`roundtrip` or `publish`): the SUBACK (round trip only), each message's PUBACK
 * and, in a round trip, how many came back and how fast. A step that got no answer has `null` codes and an
 * `error` saying why.
 */
export interface ClientReportExchange {
  readonly ok: boolean;
  readonly topic: string;
  readonly qos: 1;
  readonly count: number;
  /** Round trip only. */
  readonly suback?: {
    /** One per topic filter; `null` when no SUBACK arrived. */
    readonly reasonCodes: readonly ClientReportSubackCode[] | null;
    readonly reasonString?: string;
    readonly error?: string;
  };
  readonly puback: readonly ClientReportPuback[];
  /** Round trip only: messages that must come back (accepted on a granted subscription). */
  readonly expected?: number;
  /** Round trip only: of those, the ones that came back. */
  readonly received?: number;
  /** Round trip only: first PUBLISH to last arrival, `null` unless every expected message came back. */
  readonly roundTripMs?: number | null;
}

/** The SUBACK's answer for one topic filter. */
export interface ClientReportSubackCode {
  readonly topicFilter: string;
  readonly reasonCode: number;
  /** The SUBACK name of `reasonCode`, such as `Granted QoS 1`. */
  readonly reasonName: string;
}

/** One message's PUBACK; `reasonCode` and `reasonName` are `null` (with `error`) when none arrived. */
export interface ClientReportPuback {
  readonly seq: number;
  readonly reasonCode: number | null;
  /** The PUBACK name of `reasonCode`, such as `Not authorized`. */
  readonly reasonName: string | null;
  readonly reasonString?: string;
  readonly error?: string;
  /** Round trip only: publish to arrival of this message. */
  readonly roundTripMs?: number;
}

/** Why a run failed: the category and the one-line explanation the client printed. */
/** AWS IoT's answer to an HTTPS publish (`POST /topics/<topic>?qos=1`); `status` 0 when none came. */
export interface ClientReportHttps {
  readonly topic: string;
  readonly status: number;
  readonly message?: string;
  readonly traceId?: string;
}

export interface ClientReportError {
  readonly kind: ClientReportErrorKind;
  readonly message: string;
}

/**
 * `error.kind`: how a connection attempt or the messages after it failed, an unclean disconnect (`disconnect`),
 * or an error before connecting (`usage`, `configuration`, `runtime`).
 */
export type ClientReportErrorKind =
  | ConnectFailureKind
  | MessagingFailureKind
  | 'disconnect'
  | 'usage'
  | 'configuration'
  | 'runtime'
  /** `--https`: the request was refused (an HTTP status other than 200) or got no answer. */
  | 'https';

/**
 * How a connection attempt failed: refused with a CONNACK reason code, TLS, DNS, nothing listening, no route,
 * no CONNACK in time, closed without CONNACK, WebSocket upgrade refused, or anything else.
 */
export type ConnectFailureKind =
  | 'refused'
  | 'tls'
  | 'dns'
  | 'socket-refused'
  | 'unreachable'
  | 'timeout'
  | 'hangup'
  | 'websocket-upgrade'
  | 'other';

/**
 * How the messages after CONNACK failed: a refused SUBSCRIBE or PUBLISH, messages that did not come back, no
 * answer within `--timeout`, the server closing the connection, or an SDK error.
 */
export type MessagingFailureKind =
  | 'subscribe-refused'
  | 'publish-refused'
  | 'not-received'
  | 'message-timeout'
  | 'connection-lost'
  | 'message-error';

/**
 * The JSON object `npm run diagnose -w client -- --json` prints: each check in the order it ran, up to the
 * first hard failure, and the explanation of a refused connect when the last check was one.
 */
export interface DiagnoseReport {
  /** True when every check passed. */
  readonly ok: boolean;
  readonly checks: readonly DiagnoseCheckReport[];
  /** Why the final connect was refused, from the logs (see {@link ClientReport.explanation}). */
  readonly explanation?: ClientReportExplanation;
  /** A usage or configuration error before the checks could run. */
  readonly error?: ClientReportError;
}

/** One check of `diagnose`: `ok` true (✔) or false (✘, with the fix). */
export interface DiagnoseCheckReport {
  /** `outputs`, `dns`, `tls`, `websocket`, `authorizer`, `permission`, `token`, `test-invoke`, `policy`, `connect`. */
  readonly check: string;
  readonly ok: boolean;
  /** What was found, in words. */
  readonly detail: string;
  readonly fix?: string;
}
