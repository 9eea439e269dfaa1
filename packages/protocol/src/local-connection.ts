/**
 * What local-iot writes next to its outputs file for a client on this machine: the things a deployed stack's
 * outputs cannot carry (a port other than 443, a private CA, the loopback AWS API). The client reads it when
 * it is present beside the outputs file; against AWS there is no such file.
 */
export const LOCAL_IOT_FILES = {
  /** State directory of local-iot, relative to the repository root (git-ignored). */
  directory: '.local-iot',
  /** Same shape as `cdk deploy --outputs-file`, with local values. */
  outputs: 'outputs.json',
  /** {@link LocalConnectionInfo}. */
  connection: 'connection.json',
} as const;

/** Contents of `.local-iot/connection.json`. */
export interface LocalConnectionInfo {
  /** Host name the gateway's certificate and SNI check are for (also the `IotEndpoint` output). */
  readonly endpoint: string;
  /** TLS port of the gateway (direct MQTT with ALPN `mqtt`, and WebSockets on `/mqtt`). */
  readonly port: number;
  /** Absolute path of the local CA certificate (PEM) to trust. */
  readonly caFile: string;
  /** The local AWS API, for the SDK's standard endpoint override (`endpoint` / `AWS_ENDPOINT_URL`). */
  readonly awsEndpointUrl: string;
  readonly region: string;
  /**
   * The credentials to sign requests to the local AWS API with (SigV4, as the AWS SDKs sign): it refuses a
   * request without a valid signature by them, as AWS refuses one without valid credentials. Generated at
   * random each time local-iot starts and given to the Lambda functions too; they grant nothing anywhere
   * else. This file is therefore private (mode 0600 in a 0700 directory).
   */
  readonly credentials: LocalAwsCredentials;
  /**
   * The local stand-in for the stack's `CUSTOM_AUTH_X509` domain configuration, when the stack has one: a TLS
   * listener that requests a client certificate and verifies it against the certificates and CAs the stack
   * registers, then invokes the domain's default authorizer. Connect to `port` with SNI = `endpoint` (the
   * `X509Endpoint` output's local value), trusting `caFile` as for the main port.
   */
  readonly x509?: LocalX509EndpointInfo;
}

/** {@link LocalConnectionInfo.x509}. */
export interface LocalX509EndpointInfo {
  /** Host name the listener's certificate is for and SNI must carry. */
  readonly endpoint: string;
  readonly port: number;
  /** The domain configuration's name. */
  readonly domainConfigurationName: string;
}

/** An access key pair of the local AWS API (see {@link LocalConnectionInfo.credentials}). */
export interface LocalAwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * Reads `connection.json`; returns the problem in words when it is not what local-iot writes.
 */
export function parseLocalConnectionInfo(text: string): LocalConnectionInfo | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'is not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'is not a JSON object';
  const v = value as Record<string, unknown>;
  for (const key of ['endpoint', 'caFile', 'awsEndpointUrl', 'region'] as const) {
    if (typeof v[key] !== 'string' || v[key] === '') return `has no string "${key}"`;
  }
  if (!Number.isInteger(v.port) || (v.port as number) < 1 || (v.port as number) > 65535) {
    return 'has no valid "port" (1..65535)';
  }
  const credentials = v.credentials as Record<string, unknown> | undefined;
  if (
    typeof credentials !== 'object' ||
    credentials === null ||
    typeof credentials.accessKeyId !== 'string' ||
    typeof credentials.secretAccessKey !== 'string'
  ) {
    return 'has no "credentials" with accessKeyId and secretAccessKey';
  }
  if (v.x509 !== undefined) {
    const x509 = v.x509 as Record<string, unknown> | null;
    if (
      typeof x509 !== 'object' ||
      x509 === null ||
      typeof x509.endpoint !== 'string' ||
      x509.endpoint === '' ||
      typeof x509.domainConfigurationName !== 'string' ||
      !Number.isInteger(x509.port) ||
      (x509.port as number) < 1 ||
      (x509.port as number) > 65535
    ) {
      return 'has an "x509" that is not { endpoint, port (1..65535), domainConfigurationName }';
    }
  }
  return value as LocalConnectionInfo;
}
