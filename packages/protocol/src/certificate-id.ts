import { createHash, type X509Certificate } from 'node:crypto';

/**
 * The AWS IoT certificate id of a certificate: the lower-case hex SHA-256 of its DER encoding (64 characters,
 * https://docs.aws.amazon.com/iot/latest/apireference/API_Certificate.html). AWS does not state the rule; it is
 * what AWS IoT returns and what it sends a `CUSTOM_AUTH_X509` authorizer as `protocolData.tls.principalId`.
 * The stack, the Lambda, local-iot and the client all name certificates by it, so it is defined once here.
 */
export function awsIotCertificateId(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('hex');
}
