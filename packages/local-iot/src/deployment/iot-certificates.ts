import { X509Certificate } from 'node:crypto';
import { awsIotCertificateId } from '@iot-custom-auth/protocol';
import { DeploymentError } from '../errors';
import type { CfnResource, IntrinsicResolver } from './intrinsics';

/**
 * What local-iot serves of a stack's X.509 side: the device certificates (`AWS::IoT::Certificate`) and CA
 * certificates (`AWS::IoT::CACertificate`) it registers, and its `CUSTOM_AUTH_X509` domain configuration
 * (`AWS::IoT::DomainConfiguration`), which local-iot serves as a second TLS listener.
 *
 * Facts, from the AWS pages:
 * - A certificate's id is the SHA-256 fingerprint of its DER encoding, lower-case hex; `Ref` of an
 *   `AWS::IoT::Certificate` returns it
 *   (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iot-certificate.html).
 * - `CertificateMode: SNI_ONLY` registers a device certificate without its CA; such a device must send SNI
 *   (https://docs.aws.amazon.com/iot/latest/developerguide/register-device-cert.html).
 * - `CUSTOM_AUTH_X509` authenticates the client certificate, then invokes the domain's authorizer with the
 *   certificate in `protocolData.tls` (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html);
 *   the endpoint must be a domain configuration's and SNI is required.
 */

/** A device certificate the stack registers (`AWS::IoT::Certificate`). */
export interface LocalCertificate {
  readonly logicalId: string;
  /** The certificate id: lower-case hex SHA-256 of the DER. */
  readonly id: string;
  readonly pem: string;
  /** `ACTIVE`, `INACTIVE`, `REVOKED`, `PENDING_TRANSFER` or `PENDING_ACTIVATION`: only ACTIVE connects. */
  readonly status: string;
  /** `DEFAULT` (its CA is registered too) or `SNI_ONLY`. @default 'DEFAULT' */
  readonly mode: string;
}

/** A CA certificate the stack registers (`AWS::IoT::CACertificate`). */
export interface LocalCaCertificate {
  readonly logicalId: string;
  readonly id: string;
  readonly pem: string;
  /** `ACTIVE` or `INACTIVE`. */
  readonly status: string;
  /** `AutoRegistrationStatus` is `ENABLE` (just-in-time registration of the certificates it issued). */
  readonly autoRegistration: boolean;
}

/** The stack's `CUSTOM_AUTH_X509` domain configuration, as local-iot serves it. */
export interface LocalX509Domain {
  readonly logicalId: string;
  /** `DomainConfigurationName` (its `Ref`). */
  readonly name: string;
  /** `arn:aws:iot:<region>:000000000000:domainconfiguration/<name>` */
  readonly arn: string;
  /** `SECURE_MQTT` or `DEFAULT` (the ones local-iot serves). */
  readonly applicationProtocol: string;
  /**
   * The host name devices reach it by locally (SNI and server certificate): the gateway's own by default, as
   * a second name would have to resolve to 127.0.0.1 on every machine (`x509.localhost` does not where
   * /etc/hosts lists only `localhost`, and the AWS CRT client resolves and sends SNI with one name).
   */
  readonly endpointHost: string;
  /** `AuthorizerConfig.DefaultAuthorizerName`: the authorizer every connection to it gets. */
  readonly defaultAuthorizerName: string;
  /**
   * `AuthorizerConfig.AllowAuthorizerOverride`: whether an `x-amz-customauthorizer-name` in the connection
   * picks another authorizer. When false the name is ignored and the default runs ([choice]: AWS documents
   * only that the authorizer "can be overridden" when true). @default false
   */
  readonly allowAuthorizerOverride: boolean;
}

/** The X.509 side of a stack, with what local-iot cannot serve of it in words. */
export interface LocalX509Side {
  readonly certificates: readonly LocalCertificate[];
  readonly caCertificates: readonly LocalCaCertificate[];
  readonly x509Domain?: LocalX509Domain;
  /** One sentence per resource local-iot leaves out, for the start-up output; empty when it serves all. */
  readonly notices: readonly string[];
}

/** The authentication type local-iot serves on the X.509 listener. */
export const CUSTOM_AUTH_X509 = 'CUSTOM_AUTH_X509';

/** Parses the PEM at `path` of a template; a DeploymentError naming the property otherwise. */
export function parseCertificatePem(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new DeploymentError(
      `${path} is not a PEM X.509 certificate (${(error as Error).message}): give the certificate's PEM text`,
      { cause: error },
    );
  }
}

/** Authentication types whose domain configurations local-iot serves: the gateway's, or the X.509 listener's. */
const CUSTOM_AUTH_TYPES = new Set(['CUSTOM_AUTH', CUSTOM_AUTH_X509, 'DEFAULT']);

/** Application protocols the X.509 listener speaks: MQTT over TLS (`DEFAULT` lets port and ALPN decide). */
const SERVED_APPLICATION_PROTOCOLS = new Set(['SECURE_MQTT', 'DEFAULT']);

/** Reads the certificates, CA certificates and the `CUSTOM_AUTH_X509` domain configuration of a stack. */
export function readX509Side(
  resources: readonly [string, CfnResource][],
  resolver: IntrinsicResolver,
  x509EndpointHost: string,
): LocalX509Side {
  const notices: string[] = [];
  const certificates: LocalCertificate[] = [];
  const caCertificates: LocalCaCertificate[] = [];
  const optionalString = (logicalId: string, property: string): string | undefined => {
    const value = resolver.resolveProperty(logicalId, property);
    return value === undefined
      ? undefined
      : resolver.resolveString(value, `Resources.${logicalId}.Properties.${property}`);
  };
  for (const [logicalId, resource] of resources) {
    const at = `Resources.${logicalId}.Properties`;
    if (resource.Type === 'AWS::IoT::Certificate') {
      const pem = optionalString(logicalId, 'CertificatePem');
      if (pem === undefined) {
        notices.push(
          `${logicalId}: an AWS::IoT::Certificate made from a CertificateSigningRequest is issued by AWS IoT, ` +
            'so local-iot has no certificate to accept for it: give CertificatePem to connect with it locally',
        );
        continue;
      }
      const parsed = parseCertificatePem(pem, `${at}.CertificatePem`);
      certificates.push({
        logicalId,
        id: awsIotCertificateId(parsed),
        pem,
        status: optionalString(logicalId, 'Status') ?? 'INACTIVE',
        mode: optionalString(logicalId, 'CertificateMode') ?? 'DEFAULT',
      });
    } else if (resource.Type === 'AWS::IoT::CACertificate') {
      const pem = optionalString(logicalId, 'CACertificatePem');
      if (pem === undefined) throw new DeploymentError(`${at}.CACertificatePem is required`);
      caCertificates.push({
        logicalId,
        id: awsIotCertificateId(parseCertificatePem(pem, `${at}.CACertificatePem`)),
        pem,
        status: optionalString(logicalId, 'Status') ?? 'INACTIVE',
        autoRegistration: optionalString(logicalId, 'AutoRegistrationStatus') === 'ENABLE',
      });
    }
  }

  const domains: LocalX509Domain[] = [];
  for (const [logicalId, resource] of resources) {
    if (resource.Type !== 'AWS::IoT::DomainConfiguration') continue;
    const authentication = optionalString(logicalId, 'AuthenticationType') ?? 'DEFAULT';
    const name = String(resolver.ref(logicalId, `Resources.${logicalId}`));
    if (!CUSTOM_AUTH_TYPES.has(authentication)) {
      notices.push(
        `${logicalId}: domain configuration '${name}' has AuthenticationType ${authentication}; local-iot serves ` +
          `custom authentication only (CUSTOM_AUTH, ${CUSTOM_AUTH_X509} or DEFAULT), so it is not served`,
      );
      continue;
    }
    if (authentication !== CUSTOM_AUTH_X509) continue;
    const protocol = optionalString(logicalId, 'ApplicationProtocol') ?? 'DEFAULT';
    if (optionalString(logicalId, 'DomainConfigurationStatus') === 'DISABLED') {
      notices.push(
        `${logicalId}: domain configuration '${name}' is DISABLED, so AWS IoT refuses every connection to it; local-iot does not serve it`,
      );
      continue;
    }
    if (!SERVED_APPLICATION_PROTOCOLS.has(protocol)) {
      notices.push(
        `${logicalId}: domain configuration '${name}' (${CUSTOM_AUTH_X509}) has ApplicationProtocol ${protocol}; ` +
          'local-iot serves CUSTOM_AUTH_X509 for MQTT over TLS only (SECURE_MQTT or DEFAULT), so it is not served',
      );
      continue;
    }
    const defaultAuthorizerName = optionalString(logicalId, 'AuthorizerConfig.DefaultAuthorizerName');
    if (defaultAuthorizerName === undefined) {
      notices.push(
        `${logicalId}: domain configuration '${name}' (${CUSTOM_AUTH_X509}) has no AuthorizerConfig.DefaultAuthorizerName, ` +
          'so no authorizer could decide its connections; local-iot does not serve it',
      );
      continue;
    }
    if (
      resolver.resolveProperty(logicalId, 'ClientCertificateConfig.ClientCertificateCallbackArn') !==
      undefined
    ) {
      notices.push(
        `${logicalId}: domain configuration '${name}' has a ClientCertificateConfig callback Lambda; local-iot does not run it, ` +
          'so client certificates are checked against the registered ones only',
      );
    }
    const override = resolver.resolveProperty(logicalId, 'AuthorizerConfig.AllowAuthorizerOverride');
    domains.push({
      logicalId,
      name,
      arn: String(resolver.getAtt(logicalId, 'Arn', `Resources.${logicalId}`)),
      applicationProtocol: protocol,
      endpointHost: x509EndpointHost.toLowerCase(),
      defaultAuthorizerName,
      allowAuthorizerOverride: override === true || override === 'true',
    });
  }
  const [x509Domain, ...others] = domains;
  for (const other of others) {
    notices.push(
      `${other.logicalId}: local-iot serves one ${CUSTOM_AUTH_X509} domain configuration ('${x509Domain?.name ?? ''}'), ` +
        `so '${other.name}' is not served`,
    );
  }
  return { certificates, caCertificates, ...(x509Domain !== undefined && { x509Domain }), notices };
}
