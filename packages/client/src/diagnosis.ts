import {
  AUTHORIZER_INVOKE_TIMEOUT_SECONDS,
  AWS_IOT_TOPIC_LIMITS,
  CLIENT_ID_POLICY_VARIABLE,
  clientIdProblem,
  CUSTOM_AUTH_PORT,
  DEFAULTS,
  describeReasonCode,
  deviceTopic,
  MQTT_ALPN_PROTOCOL,
  MQTT_WEBSOCKET_PATH,
  type ConnectFailureKind,
  type MessagingFailureKind,
  type Transport,
} from '@iot-custom-auth/protocol';
import { mqtt5 } from 'aws-iot-device-sdk-v2';
import { MAX_MESSAGE_COUNT } from './args';
import type { ConnectResult } from './connection';
import {
  exchangeSucceeded,
  subscriptionGranted,
  type ExchangeResult,
  type StepError,
} from './message-exchange';
import type { TlsProbeResult } from './tls-probe';

/** What the client knew about the attempt, for explanations that name the actual values. */
export interface FailureContext {
  readonly endpoint: string;
  readonly port: number;
  readonly transport: Transport;
  readonly authorizerName?: string;
  readonly signed: boolean;
  readonly clientId: string;
  readonly clientIdPrefix: string;
  /** Why this project's policy would refuse the client id, when it would. */
  readonly clientIdProblem?: string;
  /** Where the password came from. */
  readonly passwordSource: 'flag' | 'secret' | 'none';
  /**
   * Signed mode: the client signed the token itself (`signed-here`, so an expired one means this machine's
   * clock is off) or it was given with `--custom_auth_token_value` (made elsewhere).
   */
  readonly tokenOrigin?: 'signed-here' | 'given';
  readonly secretArn?: string;
  readonly caFile?: string;
  /**
   * Custom authentication with an X.509 client certificate (`CUSTOM_AUTH_X509`): the id of the certificate
   * sent. Absent for the other modes.
   */
  readonly clientCertificateId?: string;
  readonly timeoutSeconds: number;
}

/** A failed attempt, explained. */
export interface Diagnosis {
  /** Reported as `error.kind` in `--json`. */
  readonly kind: ConnectFailureKind | MessagingFailureKind;
  /** One line: what happened, e.g. `Connection refused: CONNACK 0x86 Bad user name or password`. */
  readonly headline: string;
  /** Plain-language causes, most likely first. */
  readonly likelyCauses: readonly string[];
}

type Failure = Exclude<ConnectResult, { status: 'connected' }>;

/** Whether a diagnostic TLS handshake (`probeTls`) can say more than the SDK did about this failure. */
export function needsTlsProbe(result: Failure): boolean {
  if (result.status === 'timeout') return true;
  return (
    result.status === 'failed' &&
    ['tls', 'hangup', 'websocket-upgrade', 'other'].includes(result.failure.kind)
  );
}

/**
 * The failure a TLS pre-check (`probeTls` with the SDK's host, SNI, ALPN, CA and client certificate, before
 * the SDK connects) already proves, as the SDK would report it, so that `diagnose` words it at once: after a
 * certificate error s2n withholds its own for 10 to 30 s on purpose (blinding), and the SDK's attempt would
 * end as a timeout. `undefined` when the handshake worked, or when the problem is below TLS or not certain to
 * stop the SDK (no answer in time, a server that ignores ALPN): the SDK's one attempt then reports it.
 */
export function tlsPrecheckFailure(
  probe: TlsProbeResult,
): Extract<Failure, { status: 'failed' }> | undefined {
  const failed = (name: string, message: string) =>
    ({ status: 'failed', failure: { kind: 'tls', name, message } }) as const;
  switch (probe.outcome) {
    case 'untrusted':
      return failed(probe.code, 'the server certificate is not trusted');
    case 'name-mismatch':
      return failed('ERR_TLS_CERT_ALTNAME_INVALID', probe.detail);
    case 'alpn-refused':
      return probe.refused === true
        ? failed('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', probe.detail)
        : undefined;
    case 'tls-error':
      return failed(probe.code, probe.detail);
    default:
      return undefined;
  }
}

/**
 * Whether this client, not the server, ended the handshake: its own check of the server certificate failed,
 * so the server has no record of why (no log to look for).
 */
export function clientRejectedServer(probe: TlsProbeResult | undefined): boolean {
  return probe?.outcome === 'untrusted' || probe?.outcome === 'name-mismatch';
}

/** Explains a refused, failed or timed-out attempt, using the TLS probe's finding when there is one. */
export function diagnose(
  result: Failure,
  probe: TlsProbeResult | undefined,
  context: FailureContext,
): Diagnosis {
  const where = `${context.endpoint}:${context.port}`;
  if (result.status === 'refused') {
    const code = result.connack.reasonCode;
    const said = result.connack.properties.reasonString;
    return {
      kind: 'refused',
      headline: `Connection refused: CONNACK ${describeReasonCode('CONNACK', code)}${said ? ` (server says: ${said})` : ''}`,
      likelyCauses: refusalCauses(code, context),
    };
  }
  const tls = probe === undefined ? undefined : tlsFinding(probe, context);
  if (tls !== undefined)
    return {
      kind: 'tls',
      headline: `TLS handshake with ${where} failed: ${tls.what}`,
      likelyCauses: tls.causes,
    };

  if (result.status === 'timeout' || result.failure.kind === 'connack-timeout') {
    return {
      kind: 'timeout',
      headline: `Timed out: no CONNACK from ${where} within ${context.timeoutSeconds} s`,
      // A CONNACK timeout, or a working TLS handshake, means the network is fine: the authorizer is the likelier culprit.
      likelyCauses: timeoutCauses(context, result.status === 'failed' || probe?.outcome === 'ok'),
    };
  }
  const failure = result.failure;
  const sdk = `${failure.name}`;
  switch (failure.kind) {
    case 'dns':
      return {
        kind: 'dns',
        headline: `Cannot resolve ${context.endpoint} (${sdk})`,
        likelyCauses: [
          `the host name ${context.endpoint} does not exist: check --endpoint or the IotEndpoint output (DescribeEndpoint iot:Data-ATS for the right account and region)`,
          'this machine has no working DNS (offline, VPN or proxy settings)',
        ],
      };
    case 'socket-refused':
      return {
        kind: 'socket-refused',
        headline: `Connection refused by ${where}: nothing accepts connections on that port (${sdk})`,
        likelyCauses: [
          `the port is wrong: custom authentication uses ${CUSTOM_AUTH_PORT}; a local gateway listens where its outputs file says`,
          'the local gateway is not running (start it with `npm run local`)',
        ],
      };
    case 'unreachable':
      return {
        kind: 'unreachable',
        headline: `Cannot reach ${where} (${sdk})`,
        likelyCauses: [
          'a firewall, proxy or missing route blocks outbound connections to this port',
          'the endpoint or port is wrong: check --endpoint and --port',
        ],
      };
    case 'tls':
      return {
        kind: 'tls',
        headline: `TLS handshake with ${where} failed (${sdk})`,
        likelyCauses: genericTlsCauses(context, probe),
      };
    case 'hangup':
      return {
        kind: 'hangup',
        headline: `${where} closed the connection without a CONNACK (${sdk})`,
        likelyCauses: [
          ...(context.clientCertificateId === undefined
            ? []
            : [unacceptedCertificateCause(context.clientCertificateId)]),
          `the endpoint is not serving custom authentication here: AWS IoT closes connections on 8883, or on ${CUSTOM_AUTH_PORT} without ALPN ${MQTT_ALPN_PROTOCOL}, and never invokes the authorizer`,
          'the endpoint is not AWS IoT Core or the local gateway (not an MQTT 5 server)',
          'AWS IoT may not invoke the Lambda: check its lambda:InvokeFunction permission for iot.amazonaws.com',
        ],
      };
    case 'websocket-upgrade':
      return {
        kind: 'websocket-upgrade',
        headline: `${where} refused the WebSocket upgrade on ${MQTT_WEBSOCKET_PATH} (${sdk})`,
        likelyCauses: [
          'the endpoint or port does not serve MQTT over WebSockets (a proxy, or a wrong --endpoint/--port)',
          'drop --use_websockets to connect with direct MQTT over TLS',
        ],
      };
    default:
      return {
        kind: 'other',
        headline: `Connection to ${where} failed: ${failure.message}`,
        likelyCauses: ['run again with --verbosity debug to see the SDK log on stderr'],
      };
  }
}

function refusalCauses(code: number, context: FailureContext): string[] {
  switch (code) {
    case 0x86:
      return credentialCauses(context);
    case 0x87:
      return notAuthorizedCauses(context);
    case 0x85:
      return [
        `AWS IoT does not accept the client id ${context.clientId}: at most 128 bytes, and unique per connection`,
      ];
    case 0x84:
      return ['the endpoint does not speak MQTT 5: it is not AWS IoT Core or the local gateway'];
    case 0x88:
    case 0x89:
    case 0x97:
    case 0x9f:
      return [
        'the service is limiting connections (quota or connect rate for the account or client id): try again later',
      ];
    default:
      return [
        'the server refused for a reason other than authentication; its reason string, if any, is above',
      ];
  }
}

function credentialCauses(context: FailureContext): string[] {
  const unsafe = clientIdProblem(context.clientId, '');
  // protocol's CONNECT_REFUSALS: the Lambda denies an unsafe client id (UNSAFE_CLIENT_ID), so it is a 0x86.
  const unsafeCause =
    unsafe === undefined
      ? []
      : [
          `the authorizer refuses the client id ${context.clientId} (${unsafe}): use --client_id ${context.clientIdPrefix}<letters, digits, _ . : ->`,
        ];
  return [...unsafeCause, ...credentialsRefused(context)];
}

function credentialsRefused(context: FailureContext): string[] {
  if (context.signed) {
    return [
      context.tokenOrigin === 'given'
        ? `the authorizer Lambda refused the token given with --custom_auth_token_value: expired or not yet valid (iat..exp), or issued for another client id than ${context.clientId}`
        : `the authorizer Lambda refused the token: expired (this machine's clock is more than ${DEFAULTS.tokenClockSkewSeconds} s off), or issued for another client id than ${context.clientId}`,
      'the token went to an authorizer that does not expect one: check --custom_auth_authorizer_name',
    ];
  }
  const secret =
    context.secretArn === undefined ? 'the device secret' : `the device secret ${context.secretArn}`;
  const causes = [
    context.passwordSource === 'flag'
      ? `--custom_auth_password (or --custom_auth_username) is not the device's: compare with ${secret}`
      : context.passwordSource === 'secret'
        ? `the authorizer does not accept the password derived from ${secret} for device ${context.clientId}: the device is revoked (npm run device -w client -- list), the master key was rotated less than ${DEFAULTS.secretCacheTtlSeconds} s ago (the Lambda caches it), or the Lambda reads another secret`
        : 'no password was sent: pass --custom_auth_password, or deploy the stack so the client reads it from Secrets Manager',
    'the authorizer Lambda answered isAuthenticated: false; its decision log line says why',
  ];
  if (context.authorizerName !== undefined) {
    causes.push(
      `the authorizer ${context.authorizerName} expects a signed token: use --signed (and its signed authorizer)`,
    );
  }
  return causes;
}

function notAuthorizedCauses(context: FailureContext): string[] {
  const causes: string[] = [];
  if (context.clientIdProblem !== undefined && clientIdProblem(context.clientId, '') === undefined) {
    causes.push(
      `the client id ${context.clientId} is outside this stack's policy (${context.clientIdProblem}): use --client_id ${context.clientIdPrefix}<something>`,
    );
  }
  causes.push(
    `the policy the authorizer returned does not allow iot:Connect on client/${context.clientId} (this stack allows client ids starting with ${context.clientIdPrefix}; check region and account in its ARNs)`,
  );
  causes.push(
    context.authorizerName === undefined
      ? 'no authorizer name was sent and the endpoint has no default authorizer: pass --custom_auth_authorizer_name'
      : `the authorizer ${context.authorizerName} does not exist in this account and region, is INACTIVE, or AWS IoT may not invoke its Lambda (lambda:InvokeFunction for iot.amazonaws.com)`,
  );
  if (context.signed) {
    causes.push(
      'the token signature did not verify: the private key does not match the public key on the authorizer, or the signature was not standard base64 URL-encoded once',
    );
  }
  if (!context.signed) {
    causes.push(
      `the credentials are another device's: a device may only connect with its own id as client id (the user name), here ${context.clientId}`,
      'the authorizer could not read its master secret (decision reason SECRET_UNAVAILABLE or SECRET_INVALID): it refuses with a deny-all policy, never 0x86, since the credentials were not checked',
    );
  }
  causes.push(
    `the Lambda failed, took longer than ${AUTHORIZER_INVOKE_TIMEOUT_SECONDS} s or returned an invalid response: read its CloudWatch logs (or the local gateway's decision log)`,
  );
  return causes;
}

function timeoutCauses(context: FailureContext, reachable: boolean): string[] {
  const causes = [
    `the authorizer is slow: AWS IoT gives its Lambda ${AUTHORIZER_INVOKE_TIMEOUT_SECONDS} s (a cold start of a large bundle, or a slow Secrets Manager call)`,
    `${context.endpoint}:${context.port} is unreachable or drops the traffic silently (firewall, proxy, wrong --port)`,
    `--timeout ${context.timeoutSeconds} is too short for this network`,
  ];
  return reachable ? causes : [causes[1] as string, causes[0] as string, causes[2] as string];
}

function tlsFinding(
  probe: TlsProbeResult,
  context: FailureContext,
): { what: string; causes: string[] } | undefined {
  switch (probe.outcome) {
    case 'untrusted':
      return {
        what: `the server certificate is not trusted (${probe.code})`,
        causes: [
          context.caFile === undefined
            ? 'the server uses a private CA: pass it with --ca_file (for the local gateway, its ca.pem)'
            : `the server certificate is not issued by the CA in ${context.caFile}: pass the right --ca_file`,
          'on AWS, use the -ats data endpoint (IotEndpoint output): its certificate chains to Amazon Root CA 1',
        ],
      };
    case 'name-mismatch':
      return {
        what: probe.detail,
        causes: [
          `the endpoint name (sent as SNI) is not one the server's certificate covers: use the IotEndpoint output, or the host name the local gateway's certificate was made for`,
        ],
      };
    case 'alpn-refused':
      return {
        what: probe.detail,
        causes: [
          `custom authentication over direct MQTT needs port ${CUSTOM_AUTH_PORT} with ALPN ${MQTT_ALPN_PROTOCOL} on the AWS IoT data endpoint (8883 and ALPN x-amzn-mqtt-ca are for X.509 certificates)`,
          'or connect with --use_websockets',
        ],
      };
    default:
      return undefined;
  }
}

function genericTlsCauses(context: FailureContext, probe: TlsProbeResult | undefined): string[] {
  const causes = [
    context.caFile === undefined
      ? 'the server certificate is not trusted by the system store: pass its CA with --ca_file'
      : `the server certificate is not issued by the CA in ${context.caFile}`,
    `the endpoint name (SNI) does not match the certificate: use the IotEndpoint output as --endpoint`,
    context.transport === 'mqtt'
      ? `the server does not accept ALPN ${MQTT_ALPN_PROTOCOL} on port ${context.port}: custom authentication needs ${CUSTOM_AUTH_PORT}`
      : `the port ${context.port} does not serve TLS`,
  ];
  if (probe?.outcome === 'ok') {
    causes.unshift(
      "Node.js's TLS accepts the server, but the SDK's TLS (s2n, system trust store) does not: pass the server's CA with --ca_file",
    );
  } else if (probe?.outcome === 'tls-error') {
    causes.unshift(`the TLS handshake fails: ${probe.detail}`);
  }
  return causes;
}

/**
 * Explains why the messages after CONNACK did not all go through (or, in a round trip, come back), or
 * `undefined` when they did. The first problem in the order of the steps decides the headline.
 */
export function diagnoseExchange(result: ExchangeResult, context: FailureContext): Diagnosis | undefined {
  if (exchangeSucceeded(result)) return undefined;
  const prefix = result.mode === 'roundtrip' ? 'Round trip failed' : 'Publish failed';
  const { topic } = result;
  const subscribe = result.subscribe;
  if (subscribe?.error !== undefined) {
    return stepFailure(prefix, subscribe.error, `the SUBACK for ${topic}`, `subscribe to ${topic}`, context);
  }
  const suback = subscribe?.result;
  const refusedSubscription = suback !== undefined && !subscriptionGranted(subscribe);
  const refusedPublishes = result.publishes.filter(
    (p) => p.result !== undefined && !mqtt5.isSuccessfulPubackReasonCode(p.result.reasonCode),
  );
  if (refusedSubscription || refusedPublishes.length > 0) {
    const parts: string[] = [];
    const causes: string[] = [];
    if (refusedSubscription) {
      const code = suback.reasonCodes.find((c) => !mqtt5.isSuccessfulSubackReasonCode(c)) as number;
      parts.push(
        `SUBACK ${describeReasonCode('SUBACK', code)} for ${topic}${suback.reasonString ? ` (server says: ${suback.reasonString})` : ''}`,
      );
      causes.push(...refusalCausesFor('subscribe', code, topic, context));
    }
    const firstRefused = refusedPublishes[0]?.result;
    if (firstRefused !== undefined) {
      const code = firstRefused.reasonCode;
      const of = result.count > 1 ? ` (${refusedPublishes.length} of ${result.count} messages)` : '';
      parts.push(
        `PUBACK ${describeReasonCode('PUBACK', code)} for ${topic}${of}${firstRefused.reasonString ? ` (server says: ${firstRefused.reasonString})` : ''}`,
      );
      causes.push(...refusalCausesFor('publish', code, topic, context));
    }
    return {
      kind: refusedSubscription ? 'subscribe-refused' : 'publish-refused',
      headline: `${prefix}: ${parts.join('; ')}`,
      likelyCauses: [...new Set(causes)],
    };
  }
  const unanswered = result.publishes.filter((p) => p.error !== undefined);
  const firstError = unanswered[0]?.error;
  if (firstError !== undefined) {
    const which =
      result.count > 1 ? `the PUBACK for ${unanswered.length} of ${result.count} messages` : 'the PUBACK';
    return stepFailure(prefix, firstError, `${which} to ${topic}`, `publish to ${topic}`, context);
  }
  // Every message was accepted on a granted subscription, but not all came back.
  const seconds = result.timeoutMs / 1000;
  const plural = result.expected === 1 ? 'message' : 'messages';
  if (result.receiveError?.kind === 'lost') {
    return {
      kind: 'connection-lost',
      headline: `${prefix}: ${result.received} of ${result.expected} ${plural} came back on ${topic} before the connection was lost: ${result.receiveError.reason}`,
      likelyCauses: lostCauses(),
    };
  }
  const ownTopic = isOwnTopic(topic, context.clientId);
  return {
    kind: 'not-received',
    headline: `${prefix}: ${result.received} of ${result.expected} ${plural} came back on ${topic} within ${seconds} s`,
    likelyCauses: [
      ownTopic
        ? `the policy the authorizer returned does not allow iot:Receive on topic/${topic}; AWS IoT then drops the delivery without any reason code (this project's policy allows it: is the deployed authorizer returning another policy?)`
        : `the policy the authorizer returned does not allow iot:Receive on topic/${topic} (it allows ${ownTopicsText(context.clientId)}); AWS IoT then drops the delivery without any reason code`,
      'the subscription was granted but the broker did not route the message to it (on the local gateway, its log shows every delivery decision)',
      `the round trip takes longer than --timeout ${seconds} s on this network: raise --timeout`,
    ],
  };
}

/** `devices/test-1 and devices/test-1/...`: the topics this project's policy gives a client. */
function ownTopicsText(clientId: string): string {
  const own = deviceTopic(clientId, DEFAULTS.topicRoot);
  return `only ${own} and ${own}/...`;
}

function isOwnTopic(topic: string, clientId: string): boolean {
  const own = deviceTopic(clientId, DEFAULTS.topicRoot);
  return topic === own || topic.startsWith(`${own}/`);
}

function refusalCausesFor(
  step: 'subscribe' | 'publish',
  code: number,
  topic: string,
  context: FailureContext,
): string[] {
  const action = step === 'subscribe' ? 'iot:Subscribe' : 'iot:Publish';
  const resource = step === 'subscribe' ? `topicfilter/${topic}` : `topic/${topic}`;
  switch (code) {
    case 0x87: {
      const own = deviceTopic(context.clientId, DEFAULTS.topicRoot);
      const pattern = `${DEFAULTS.topicRoot}/${CLIENT_ID_POLICY_VARIABLE}`;
      return isOwnTopic(topic, context.clientId)
        ? [
            `the policy the authorizer returned does not allow ${action} on ${resource}, although this project's policy allows a client its own topics: the deployed authorizer returns another policy, or its ARNs name another region or account`,
          ]
        : [
            `the policy returned by the authorizer only allows ${own} and ${own}/... for client id ${context.clientId} (${pattern} and ${pattern}/* for iot:Publish, iot:Receive and iot:Subscribe); ${topic} is outside it: leave --topic out, or use --topic ${own}/<sub-topic>`,
          ];
    }
    case 0x8f:
    case 0x90:
      return [
        `AWS IoT does not accept ${topic} as a topic: at most ${AWS_IOT_TOPIC_LIMITS.maxTopicBytes} bytes and ${AWS_IOT_TOPIC_LIMITS.maxTopicLevels} levels, and topics starting with $ are reserved`,
      ];
    case 0x97:
      return [
        `a quota was exceeded: AWS IoT accepts at most ${MAX_MESSAGE_COUNT} publishes per second on a connection, and limits subscriptions and the account's message rate: lower --count or try again later`,
      ];
    default:
      return [
        `the server refused the ${step} for a reason other than the policy; its reason string, if any, is above`,
      ];
  }
}

function stepFailure(
  prefix: string,
  error: StepError,
  awaited: string,
  action: string,
  context: FailureContext,
): Diagnosis {
  switch (error.kind) {
    case 'timeout':
      return {
        kind: 'message-timeout',
        headline: `${prefix}: no answer (${awaited}) within ${context.timeoutSeconds} s`,
        likelyCauses: [
          'the server or the network stalled after CONNACK: run again, and with --verbosity debug to see the SDK log',
          `--timeout ${context.timeoutSeconds} is too short for this network`,
        ],
      };
    case 'lost':
      return {
        kind: 'connection-lost',
        headline: `${prefix}: the connection was lost while waiting for ${awaited}: ${error.reason}`,
        likelyCauses: lostCauses(),
      };
    default:
      return {
        kind: 'message-error',
        headline: `${prefix}: the client could not ${action}: ${error.message}`,
        likelyCauses: ['run again with --verbosity debug to see the SDK log on stderr'],
      };
  }
}

function lostCauses(): string[] {
  return [
    'the server ended the connection: a DISCONNECT reason code above says why (0x87: the policy was refreshed and now denies; 0xA0: the connection reached disconnectAfterInSeconds; 0x8E: another connection took over the client id)',
    'the network dropped the connection',
  ];
}

/**
 * Why an X.509 domain configuration closes a connection before MQTT: AWS IoT verifies the client certificate
 * first and answers nothing more when it is not registered and ACTIVE
 * (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html, step 1).
 */
export function unacceptedCertificateCause(certificateId: string): string {
  return `AWS IoT did not accept the client certificate ${certificateId}: it must be registered and ACTIVE (AWS::IoT::Certificate with CertificateMode SNI_ONLY, or aws iot register-certificate-without-ca --status ACTIVE); --mtls uses the demo certificate the stack registers`;
}
