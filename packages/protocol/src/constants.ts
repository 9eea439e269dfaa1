/**
 * Names and limits fixed by AWS IoT Core custom authentication.
 * Every other package imports these instead of re-typing the strings.
 */

/** Query parameter (MQTT username) and HTTP header / query name that selects the authorizer. */
export const AUTHORIZER_NAME_PARAM = 'x-amz-customauthorizer-name';
/** Query parameter (MQTT username) and HTTP header / query name carrying the token signature. */
export const AUTHORIZER_SIGNATURE_PARAM = 'x-amz-customauthorizer-signature';

/** AWS IoT's limits on what a custom authorizer Lambda may return. */
export const AUTHORIZER_RESPONSE_LIMITS = {
  /** `principalId` must match this pattern. */
  principalIdPattern: /^[a-zA-Z0-9]{1,128}$/,
  maxPolicyDocuments: 10,
  maxPolicyDocumentChars: 2048,
  minTtlSeconds: 300,
  maxTtlSeconds: 86_400,
} as const;

/** AWS IoT gives the authorizer Lambda this long to answer before refusing the connection. */
export const AUTHORIZER_INVOKE_TIMEOUT_SECONDS = 5;

/** AWS IoT's limit on the MQTT client identifier, in bytes. */
export const MAX_CLIENT_ID_BYTES = 128;

/** AWS IoT's limit on `TokenKeyName`. */
export const TOKEN_KEY_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,128}$/;

/** The ALPN protocol name that routes a TLS connection on 443 to custom-authenticated MQTT. */
export const MQTT_ALPN_PROTOCOL = 'mqtt';
/** Path of the MQTT over WebSockets endpoint. */
export const MQTT_WEBSOCKET_PATH = '/mqtt';
/** Port for custom authentication, direct MQTT (ALPN `mqtt`) and WebSockets alike. */
export const CUSTOM_AUTH_PORT = 443;

/**
 * How a device reaches the endpoint: MQTT directly over TLS (ALPN `mqtt`), or MQTT over WebSockets (an HTTP
 * upgrade on `MQTT_WEBSOCKET_PATH`).
 */
export type Transport = 'mqtt' | 'websockets';

/** This project's defaults, shared by the stack, the Lambda and the client. */
export const DEFAULTS = {
  clientIdPrefix: 'test-',
  tokenKeyName: 'token',
  /** Topics a device may use live under `<topicRoot>/<clientId>`. */
  topicRoot: 'devices',
  refreshAfterSeconds: 300,
  disconnectAfterSeconds: 86_400,
  /** A signed token may live at most this long (`exp - iat`). */
  tokenMaxLifetimeSeconds: 3600,
  /** Tolerated difference between the signer's clock and the Lambda's. */
  tokenClockSkewSeconds: 60,
  /** How long the Lambda keeps the master secret (keys and revocations) from Secrets Manager. */
  secretCacheTtlSeconds: 300,
} as const;

/**
 * Environment variables the authorizer Lambda reads at cold start. The CDK stack sets them; local-iot passes
 * them through from the synthesized template.
 */
export const AUTHORIZER_ENV = {
  /** ARN of the Secrets Manager master secret the device passwords derive from (JSON, see `DEVICE_SECRET_FIELDS`). */
  deviceSecretArn: 'DEVICE_SECRET_ARN',
  clientIdPrefix: 'CLIENT_ID_PREFIX',
  topicRoot: 'TOPIC_ROOT',
  refreshAfterSeconds: 'REFRESH_AFTER_SECONDS',
  disconnectAfterSeconds: 'DISCONNECT_AFTER_SECONDS',
  secretCacheTtlSeconds: 'SECRET_CACHE_TTL_SECONDS',
  tokenMaxLifetimeSeconds: 'TOKEN_MAX_LIFETIME_SECONDS',
  tokenClockSkewSeconds: 'TOKEN_CLOCK_SKEW_SECONDS',
  /**
   * X.509 mode (CUSTOM_AUTH_X509): comma-separated SHA-256 fingerprints (hex) of the certificates the authorizer
   * admits beyond AWS IoT's own check; unset = every certificate AWS IoT verified (see authorizer-lambda README).
   */
  x509TrustedCertificateFingerprints: 'X509_TRUSTED_CERTIFICATE_FINGERPRINTS',
} as const;

/**
 * Keys of the JSON object stored in the master secret (`DeviceSecretArn`), from which every device password
 * is derived; see `parseMasterSecret`.
 */
export const DEVICE_SECRET_FIELDS = {
  masterKey: 'masterKey',
  revokedDevices: 'revokedDevices',
  previousMasterKey: 'previousMasterKey',
  previousMasterKeyValidUntil: 'previousMasterKeyValidUntil',
} as const;

/**
 * Where the token-signing key pair lives, relative to the repository root (git-ignored). `npm run keys`
 * creates it; the stack reads the public key, the client signs with the private key.
 */
export const TOKEN_SIGNING_KEY_FILES = {
  directory: '.keys',
  privateKey: 'token-signing-private.pem',
  publicKey: 'token-signing-public.pem',
} as const;

/** The demo device's client id is the client id prefix followed by this (`test-mtls-demo` by default). */
export const DEMO_DEVICE_CLIENT_ID_SUFFIX = 'mtls-demo';

/** Where one client id prefix's demo device certificate lives; see {@link demoDeviceCertificateFiles}. */
export interface DemoDeviceCertificateFiles {
  /** `.keys`, relative to the repository root. */
  readonly directory: string;
  /** `<clientIdPrefix>mtls-demo`: the certificate's subject CN, the MQTT client id the X.509 authorizer admits. */
  readonly subjectCn: string;
  /** `<subjectCn>-cert.pem`: the certificate the stack registers (not secret). */
  readonly certificate: string;
  /** `<subjectCn>-key.pem`: its private key (PKCS#8, mode 0600); never leaves the machine. */
  readonly privateKey: string;
}

/**
 * The demo device certificate of custom authentication with X.509 client certificates for the stack's client
 * id prefix, relative to the repository root (git-ignored, like the token-signing keys). The first synth with
 * that prefix creates it (private key mode 0600); the stack registers the certificate (`AWS::IoT::Certificate`,
 * `SNI_ONLY`); the client connects with it (`--mtls`, or `--cert`/`--key`). Its subject CN is the MQTT client
 * id the X.509 authorizer admits it as, and the file names carry that CN, so stacks synthesized with different
 * prefixes (`-c clientIdPrefix=dev-`) each find their own pair side by side in `.keys/`.
 *
 * The names are only safe file names for a prefix that makes a valid client id (A-Z a-z 0-9 _ . : -, see
 * `clientIdProblem`): callers check the prefix before they touch the files.
 */
export function demoDeviceCertificateFiles(clientIdPrefix: string): DemoDeviceCertificateFiles {
  const subjectCn = `${clientIdPrefix}${DEMO_DEVICE_CLIENT_ID_SUFFIX}`;
  return {
    directory: '.keys',
    subjectCn,
    certificate: `${subjectCn}-cert.pem`,
    privateKey: `${subjectCn}-key.pem`,
  };
}

/** "The topic in a publish or subscribe request can have no more than 7 forward slashes". */
const MAX_TOPIC_SLASHES = 7;

/** AWS IoT Core's limits on topics, subscriptions and messages (AWS IoT Core endpoints and quotas). */
export const AWS_IOT_TOPIC_LIMITS = {
  /** "The topic passed to the message broker when publishing a message cannot exceed 256 bytes of UTF-8". */
  maxTopicBytes: 256,
  /** "The topic in a publish or subscribe request can have no more than 7 forward slashes". */
  maxTopicSlashes: MAX_TOPIC_SLASHES,
  /** The depth those slashes allow: 8 levels. */
  maxTopicLevels: MAX_TOPIC_SLASHES + 1,
  /** Topic filters in one SUBSCRIBE. */
  maxFiltersPerSubscribe: 8,
  /** Subscriptions one connection may hold. */
  maxSubscriptionsPerConnection: 50,
  /** A PUBLISH payload is at most 128 KB. */
  maxPayloadBytes: 128 * 1024,
} as const;

/**
 * AWS IoT Core's message-broker quotas on retained messages and on what the broker sends one connection, from
 * "AWS IoT Core endpoints and quotas", message broker and protocol limits
 * (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits). What a refused retained
 * PUBLISH gets is in the developer guide's MQTT page
 * (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain): "When an account has stored
 * the maximum number of retained messages, AWS IoT Core returns a throttled response to messages published
 * with RETAIN set and payloads greater than 0 bytes"; a retained message is at most a PUBLISH payload
 * (`AWS_IOT_TOPIC_LIMITS.maxPayloadBytes`).
 */
export const AWS_IOT_MESSAGE_BROKER_QUOTAS = {
  /** "Maximum number of retained messages per account" (adjustable). */
  maxRetainedMessagesPerAccount: 500_000,
  /** "Retained message publish requests per second per account". */
  retainedPublishesPerSecondPerAccount: 500,
  /** "Retained message publish requests per second per topic". */
  retainedPublishesPerSecondPerTopic: 1,
  /**
   * "Maximum outbound unacknowledged messages": QoS 1 messages in flight to one client; no new one is sent
   * to it until it acknowledges.
   */
  maxOutboundUnacknowledgedMessages: 100,
  /** "Throughput per connection": data past it "is delayed in processing". */
  throughputBytesPerSecondPerConnection: 512 * 1024,
} as const;
