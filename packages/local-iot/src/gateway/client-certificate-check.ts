import { X509Certificate } from 'node:crypto';
import { awsIotCertificateId } from '@iot-custom-auth/protocol';
import type { LocalCaCertificate, LocalCertificate } from '../deployment/iot-certificates';

/** The certificates and CAs a stack registers, as the X.509 listener checks client certificates against. */
export interface CertificateRegistry {
  readonly certificates: readonly LocalCertificate[];
  readonly caCertificates: readonly LocalCaCertificate[];
}

/** Why a client certificate was refused before any authorizer ran (the `tls-refused` log line's `cause`). */
export type ClientCertificateRefusalCause =
  | 'no-client-certificate'
  | 'client-certificate-not-registered'
  | 'client-certificate-inactive'
  | 'client-certificate-expired';

/** A client certificate AWS IoT accepts: what the authorizer event carries of it. */
export interface VerifiedClientCertificate {
  /** The certificate id (lower-case hex SHA-256 of the DER): `protocolData.tls.principalId`. */
  readonly id: string;
  /** PEM of the certificate the client sent: `protocolData.tls.x509CertificatePem`. */
  readonly pem: string;
  /** Its subject, for the log (never its key or PEM). */
  readonly subject: string;
}

export type ClientCertificateCheck =
  | ({ readonly ok: true } & VerifiedClientCertificate)
  | {
      readonly ok: false;
      readonly cause: ClientCertificateRefusalCause;
      readonly reason: string;
      /** The id of the certificate sent, when one was. */
      readonly certificateId?: string;
    };

/**
 * Checks the certificate a client presented as AWS IoT does before custom authentication on a
 * `CUSTOM_AUTH_X509` domain (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html):
 * it must be registered (same DER: same certificate id; "client certificates must be registered with AWS IoT
 * to enable communications", https://docs.aws.amazon.com/iot/latest/developerguide/register-device-cert.html)
 * with status ACTIVE ("AWS IoT verifies that a client certificate is active when it authenticates a
 * connection", https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html)
 * and be inside its validity. A
 * certificate merely issued by a registered CA is not registered: with `AutoRegistrationStatus: ENABLE` AWS IoT
 * registers it as PENDING_ACTIVATION on that first connect and refuses the connect
 * (https://docs.aws.amazon.com/iot/latest/developerguide/auto-register-device-cert.html), so it is refused here
 * too, with a reason naming the CA. Possession of the private key was proven by the TLS handshake.
 */
export function checkClientCertificate(
  registry: CertificateRegistry,
  presented: X509Certificate | undefined,
  now: Date = new Date(),
): ClientCertificateCheck {
  if (presented === undefined) {
    return {
      ok: false,
      cause: 'no-client-certificate',
      reason:
        'the client sent no certificate; this CUSTOM_AUTH_X509 endpoint requires a client certificate registered in the stack (AWS::IoT::Certificate, ACTIVE)',
    };
  }
  const id = awsIotCertificateId(presented);
  const registered = registry.certificates.find((certificate) => certificate.id === id);
  if (registered === undefined) {
    const issuer = registry.caCertificates.find((ca) => issuedBy(presented, ca));
    return {
      ok: false,
      cause: 'client-certificate-not-registered',
      certificateId: id,
      reason:
        `client certificate ${id} (${presented.subject.replace(/\n/g, ', ')}) is not registered in the stack` +
        (issuer === undefined
          ? ': register it (AWS::IoT::Certificate, CertificateMode SNI_ONLY, Status ACTIVE)'
          : issuer.autoRegistration && issuer.status === 'ACTIVE'
            ? `; its CA ${issuer.logicalId} has auto-registration enabled, so AWS IoT registers it as PENDING_ACTIVATION and refuses this first connect: activate it, or register it ACTIVE in the stack`
            : `; its CA ${issuer.logicalId} is registered without auto-registration (or INACTIVE): register the certificate itself ACTIVE in the stack`),
    };
  }
  if (registered.status !== 'ACTIVE') {
    return {
      ok: false,
      cause: 'client-certificate-inactive',
      certificateId: id,
      reason: `client certificate ${id} (${registered.logicalId}) has status ${registered.status}; only an ACTIVE certificate may connect`,
    };
  }
  const validFrom = Date.parse(presented.validFrom);
  const validTo = Date.parse(presented.validTo);
  if (!(now.getTime() >= validFrom && now.getTime() <= validTo)) {
    return {
      ok: false,
      cause: 'client-certificate-expired',
      certificateId: id,
      reason: `client certificate ${id} is valid from ${presented.validFrom} to ${presented.validTo}, not now (${now.toISOString()}): issue a new one`,
    };
  }
  return { ok: true, id, pem: presented.toString(), subject: presented.subject.replace(/\n/g, ', ') };
}

/** Whether `ca` signed `certificate` (name chaining and the signature both). */
function issuedBy(certificate: X509Certificate, ca: LocalCaCertificate): boolean {
  try {
    const parsed = new X509Certificate(ca.pem);
    return certificate.checkIssued(parsed) && certificate.verify(parsed.publicKey);
  } catch {
    return false;
  }
}
