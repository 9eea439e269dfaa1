import type { CompiledPolicies, ConnectRefusalCause, Transport } from '@iot-custom-auth/protocol';

/**
 * The boundary between the gateway (TLS, ALPN, WebSockets, MQTT framing) and the custom-auth pipeline
 * (authorizer choice, signature check, Lambda invocation, response validation, iot:Connect evaluation).
 */

/** How the device reached the gateway: protocol's `Transport`, the client's too. */
export type { Transport };

/** Everything the gateway knows about a connection attempt when the MQTT CONNECT arrives. */
export interface ConnectAttempt {
  /** Unique per connection (UUID); becomes `connectionMetadata.id` in the Lambda event. */
  readonly connectionId: string;
  readonly transport: Transport;
  /** Negotiated ALPN protocol, if any. */
  readonly alpn?: string;
  /** TLS SNI host name sent by the client, if any. */
  readonly serverName?: string;
  /** MQTT client id exactly as sent; `undefined` when the CONNECT had an empty client id. */
  readonly clientId?: string;
  /** MQTT CONNECT username as sent (with its query string), if any. */
  readonly username?: string;
  /** MQTT CONNECT password bytes, if any. */
  readonly password?: Buffer;
  /** WebSockets only: HTTP upgrade request headers (lower-case names) and raw query string (with `?`). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly queryString?: string;
  /** The device's IP address as the socket reports it (`aws:SourceIp` in policy conditions). */
  readonly sourceIp?: string;
  /** `iot:ConnectAttributes` of the CONNECT (`PersistentConnect`, `LastWill`). */
  readonly connectAttributes?: readonly string[];
  /**
   * Set on the X.509 listener (the stack's `CUSTOM_AUTH_X509` domain configuration): the client certificate
   * the TLS handshake presented and the listener verified as registered and ACTIVE. The event then carries it
   * in `protocolData.tls` and the domain's default authorizer decides.
   */
  readonly clientCertificate?: ClientCertificateInfo;
}

/** A verified client certificate, as the authorizer event carries it. */
export interface ClientCertificateInfo {
  /** The AWS IoT certificate id: lower-case hex SHA-256 of the DER (`protocolData.tls.principalId`). */
  readonly id: string;
  /** The certificate as PEM (`protocolData.tls.x509CertificatePem`). */
  readonly pem: string;
}

/** What the device was granted: kept by the gateway for the lifetime of the connection. */
export interface AuthorizedSession {
  readonly authorizerName: string;
  readonly principalId: string;
  /**
   * The returned policy documents, compiled once at authorization (and again at each refresh): the broker
   * evaluates every PUBLISH, SUBSCRIBE filter and delivery against them without re-parsing.
   */
  readonly policies: CompiledPolicies;
  readonly refreshAfterInSeconds: number;
  readonly disconnectAfterInSeconds: number;
}

/** The decision on a connection attempt, with everything the structured log line needs. */
export interface ConnectDecision {
  readonly allowed: boolean;
  /** MQTT 5 CONNACK reason code: 0x00 when allowed, 0x86 / 0x87 per the spec's [choice] otherwise. */
  readonly reasonCode: number;
  /** The exact reason in plain words, e.g. "principalId 'a-b' does not match ^[a-zA-Z0-9]{1,128}$". */
  readonly reason: string;
  readonly authorizerName?: string;
  /** 'verified' | 'failed' | 'not-required' (signing disabled) | 'missing'. */
  readonly signature: 'verified' | 'failed' | 'not-required' | 'missing';
  /** Whether and how long the Lambda ran; absent when it was not invoked. */
  readonly lambdaDurationMs?: number;
  readonly lambdaInvoked: boolean;
  /** Present when allowed. */
  readonly session?: AuthorizedSession;
  /**
   * Present when refused: the row of protocol's `CONNECT_REFUSALS` this refusal is, set where it was decided
   * (the AWS IoT log's `reason`, the client's explanation), so nothing has to read it back out of `reason`.
   */
  readonly cause?: ConnectRefusalCause;
}

/**
 * Decides connection attempts; implemented by the custom-auth pipeline, used by the gateway. The gateway
 * also calls `authorize` again with the very same attempt (same connection id, so the same Lambda event)
 * each time the session's `refreshAfterInSeconds` passes, as AWS IoT refreshes the cached policy: an allow
 * replaces the session's policy, anything else ends the connection.
 */
export interface ConnectAuthorizer {
  authorize(attempt: ConnectAttempt): Promise<ConnectDecision>;
}
