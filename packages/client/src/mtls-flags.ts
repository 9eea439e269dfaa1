import { DEFAULTS, demoDeviceCertificateFiles } from '@iot-custom-auth/protocol';
import type { CliConfig } from './args';
import { UsageError } from './errors';

/**
 * The flags of custom authentication with an X.509 client certificate (`CUSTOM_AUTH_X509`): `--cert` and
 * `--key` (the upstream sample's names for "Direct MQTT via mTLS"), or `--mtls` for the demo certificate.
 * Kept apart from `args.ts` so that the flag table stays one list and these rules stay together.
 */

/** Whether the command line asks for a client certificate (`--cert`, `--key` or `--mtls`). */
export function usesClientCertificate(config: Pick<CliConfig, 'certFile' | 'keyFile' | 'mtls'>): boolean {
  return config.mtls === true || config.certFile !== undefined || config.keyFile !== undefined;
}

/**
 * The demo files as a pattern: flags are checked before the outputs say the stack's client id prefix, so the
 * files are named for the default prefix and the rule that names the others.
 */
const DEMO_FILES = (() => {
  const files = demoDeviceCertificateFiles(DEFAULTS.clientIdPrefix);
  const pattern = demoDeviceCertificateFiles('<ClientIdPrefix>');
  return `${files.directory}/${pattern.certificate} and ${files.directory}/${pattern.privateKey}; ${files.directory}/${files.certificate} and ${files.directory}/${files.privateKey} by default`;
})();

/**
 * The usage rules of a client-certificate connection, checked before anything is read. The X.509 domain
 * configuration authenticates with `CUSTOM_AUTH_X509` on `SECURE_MQTT` (MQTT over TLS) and invokes its own
 * default authorizer, whose signing is disabled
 * (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html): WebSockets, a signed token
 * and another authorizer have no place on it. A user name and password may still be sent: AWS IoT passes them
 * to the authorizer in `protocolData.mqtt`, as for every custom-authentication connection.
 * @throws UsageError naming the conflicting flags and the fix.
 */
export function checkMtlsFlags(config: CliConfig): void {
  if (!usesClientCertificate(config)) return;
  if (config.mtls === true && (config.certFile !== undefined || config.keyFile !== undefined)) {
    throw new UsageError(
      `--mtls connects with the demo certificate (${DEMO_FILES}): leave it out when you give your own --cert and --key`,
    );
  }
  if (config.mtls !== true) {
    if (config.keyFile === undefined) {
      throw new UsageError(
        '--cert needs --key: give the private key of the certificate with --key <file> (or use --mtls for the demo certificate)',
      );
    }
    if (config.certFile === undefined) {
      throw new UsageError(
        '--key needs --cert: give the device certificate with --cert <file> (or use --mtls for the demo certificate)',
      );
    }
  }
  const flags = config.mtls === true ? '--mtls' : '--cert/--key';
  if (config.transport === 'websockets') {
    throw new UsageError(
      `--use_websockets cannot be used with ${flags}: the X.509 domain configuration authenticates client certificates (CUSTOM_AUTH_X509) on direct MQTT over TLS (SECURE_MQTT) only; leave out --use_websockets`,
    );
  }
  if (config.signed) {
    throw new UsageError(
      `--signed cannot be used with ${flags}: with a client certificate the X.509 domain configuration's own authorizer decides (signing disabled, no token); leave out --signed`,
    );
  }
  const token = [
    ['--custom_auth_token_key_name', config.tokenKeyName],
    ['--token-signing-key', config.tokenSigningKeyFile],
    [config.secretOrigins?.tokenValue ?? '--custom_auth_token_value', config.tokenValue],
    [config.secretOrigins?.signature ?? '--custom_auth_authorizer_signature', config.signature],
  ].find(([, value]) => value !== undefined);
  if (token !== undefined) {
    throw new UsageError(
      `${token[0]} cannot be used with ${flags}: the X.509 authorizer has signing disabled and takes no token; leave it out (a user name and password may still be sent)`,
    );
  }
  if (config.authorizerName !== undefined) {
    throw new UsageError(
      `--custom_auth_authorizer_name cannot be used with ${flags}: the X.509 domain configuration invokes its own default authorizer (the X509AuthorizerName output) and this stack allows no override; leave it out`,
    );
  }
}
