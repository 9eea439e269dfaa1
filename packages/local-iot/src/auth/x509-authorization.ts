import type { LocalDeployment } from '../deployment/local-deployment';
import type { ConnectAttempt } from './connect-types';

/**
 * What custom authentication does differently on the `CUSTOM_AUTH_X509` domain configuration
 * (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html): the domain's default
 * authorizer decides (another only when `AllowAuthorizerOverride` is true), the event's `protocolData.tls`
 * carries the client certificate and its id, and an allowing response must name the certificate id as its
 * `principalId`.
 */

/** Which authorizer decides an X.509 connection, or why none can. */
export type X509AuthorizerChoice =
  { readonly ok: true; readonly authorizerName: string } | { readonly ok: false; readonly reason: string };

/**
 * The authorizer of an attempt on the X.509 listener: the domain's default, or the one the connection names
 * when the domain allows the override. [choice] With `AllowAuthorizerOverride` false a named authorizer is
 * ignored, not refused: AWS documents only that the domain's authorizer "can be overridden" when it is true.
 */
export function chooseX509Authorizer(
  deployment: LocalDeployment,
  named: string | undefined,
): X509AuthorizerChoice {
  const domain = deployment.x509Domain;
  if (domain === undefined) {
    return {
      ok: false,
      reason: `stack ${deployment.stackName} no longer has a CUSTOM_AUTH_X509 domain configuration (it was redeployed without it): connect to the stack's endpoint with the custom authorizer, or redeploy the stack with the domain configuration, which this port then serves again`,
    };
  }
  const authorizerName =
    domain.allowAuthorizerOverride && named !== undefined ? named : domain.defaultAuthorizerName;
  return { ok: true, authorizerName };
}

/** `protocolData.tls` of an attempt: the SNI, and on the X.509 listener the certificate and its id. */
export function tlsProtocolData(attempt: ConnectAttempt): Record<string, string> | undefined {
  const { clientCertificate, serverName } = attempt;
  if (clientCertificate === undefined) return serverName === undefined ? undefined : { serverName };
  return {
    ...(serverName !== undefined && { serverName }),
    x509CertificatePem: clientCertificate.pem,
    principalId: clientCertificate.id,
  };
}

/**
 * Why an allowing response to an X.509 attempt is invalid: the response's `principalId` "must be the same as
 * the value of principalId in the event", which is the certificate id
 * (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html, step 2);
 * `undefined` when it is, or when the attempt carries no certificate.
 */
export function x509PrincipalProblem(attempt: ConnectAttempt, principalId: string): string | undefined {
  const id = attempt.clientCertificate?.id;
  if (id === undefined || principalId === id) return undefined;
  return `invalid authorizer response: principalId '${principalId}' is not the client certificate's id ${id}, which CUSTOM_AUTH_X509 requires`;
}
