/**
 * X.509 mode: custom authentication with an X.509 client certificate (a `CUSTOM_AUTH_X509` domain
 * configuration). AWS IoT has already verified the certificate in the TLS handshake (registered, ACTIVE, and
 * the client proved it holds the key) before it invokes the Lambda with the certificate in the event:
 * https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html
 *
 * This module only decides; `authorizer.ts` builds the response (`principalId` = the certificate id, as that
 * page requires) and logs the decision. Parsing is `node:crypto`'s `X509Certificate`: no runtime dependency,
 * so the bundle and the cold start stay as they are.
 */
import { X509Certificate } from 'node:crypto';
import {
  AUTHORIZER_ENV,
  awsIotCertificateId,
  clientIdProblem,
  isStandardBase64,
} from '@iot-custom-auth/protocol';
import type { DecisionReason } from './decision-reason';
import { own } from './own-property';

/**
 * The longest PEM AWS IoT registers: `certificatePem` is at most 65,536 characters
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCertificateWithoutCA.html). Anything
 * longer cannot be a registered certificate and is refused before any parsing.
 */
export const MAX_CERTIFICATE_PEM_LENGTH = 65_536;

/**
 * An AWS IoT certificate id: 64 hex digits (`certificateId`: "Fixed length of 64",
 * https://docs.aws.amazon.com/iot/latest/apireference/API_Certificate.html), the SHA-256 of the certificate's
 * DER (observed, not written in the reference: see the README).
 * AWS writes it in lower case; upper case is accepted too (the API's pattern allows it) and compared as the
 * same number, and the response returns it exactly as sent.
 */
const CERTIFICATE_ID_PATTERN = /^[0-9a-fA-F]{64}$/;

/**
 * Exactly one PEM certificate block and nothing else but surrounding whitespace. The body's character class
 * has no `-`, so a second `-----BEGIN` can never be swallowed into the first block; the input is bounded by
 * `MAX_CERTIFICATE_PEM_LENGTH` and the pattern has no nested quantifiers, so matching is linear.
 */
const SINGLE_PEM_CERTIFICATE =
  /^\s*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----\s*$/;
const PEM_BEGIN_MARKER = '-----BEGIN CERTIFICATE-----';

/** Reasons `decideX509` denies with. */
export type X509DenyReason = Extract<
  DecisionReason,
  | 'X509_CERTIFICATE_MALFORMED'
  | 'X509_CERTIFICATE_NOT_YET_VALID'
  | 'X509_CERTIFICATE_EXPIRED'
  | 'X509_SUBJECT_CN_INVALID'
  | 'X509_CLIENT_ID_MISSING'
  | 'X509_CLIENT_ID_MISMATCH'
  | 'X509_CERTIFICATE_NOT_TRUSTED'
  | 'X509_PRINCIPAL_ID_INVALID'
  | 'X509_PRINCIPAL_ID_MISMATCH'
>;

/** What the decision needs besides the event. */
export interface X509DecisionInput {
  /** `protocolData.tls` of the event (untrusted). */
  readonly tls: unknown;
  /** `protocolData.mqtt.clientId`, already checked to be a safe client id; `undefined` when none was sent. */
  readonly clientId: string | undefined;
  readonly now: Date;
  /** Tolerated difference between the Lambda's clock and the certificate's validity, as for tokens. */
  readonly clockSkewSeconds: number;
  readonly clientIdPrefix: string;
  /** Lower-case hex SHA-256 fingerprints the certificate must be one of; `undefined` = no pinning. */
  readonly trustedFingerprints: ReadonlySet<string> | undefined;
}

/** What is known about the certificate, for the decision log (filled in as the checks pass). */
export interface X509Facts {
  /** The event's certificate id, once it is 64 hex digits. */
  certificateId?: string;
  /** The subject CN, once it is a safe client id (safe characters, at most 128 bytes). */
  subjectCn?: string;
  /** The CN, once it is also under the prefix: the device the certificate names. */
  deviceId?: string;
}

export type X509Decision =
  | { readonly ok: true; readonly certificateId: string; readonly deviceId: string }
  | { readonly ok: false; readonly reason: X509DenyReason; readonly detail: string };

/**
 * Whether the event is an X.509 one: `protocolData.tls` carries an own `x509CertificatePem`. AWS IoT sends it
 * only on a `CUSTOM_AUTH_X509` domain. A present but non-string value still selects this mode (and is denied
 * as malformed), so a broken certificate field can never fall through to the password or token checks.
 */
export function isX509Event(protocolData: unknown): boolean {
  const tls = own(protocolData, 'tls');
  return own(tls, 'x509CertificatePem') !== undefined;
}

/**
 * Decides an X.509 connection. The checks, in order (the first that fails is the reason):
 * 1. `tls.principalId` is 64 hex digits (`X509_PRINCIPAL_ID_INVALID`);
 * 2. `tls.x509CertificatePem` is exactly one PEM certificate that parses, with no trailing bytes
 *    (`X509_CERTIFICATE_MALFORMED`);
 * 3. the principal id is the SHA-256 of that certificate's DER, which is what AWS IoT's certificate id is
 *    (`X509_PRINCIPAL_ID_MISMATCH`: the event is not AWS's, fail closed);
 * 4. now is within notBefore..notAfter, with the clock skew (`X509_CERTIFICATE_NOT_YET_VALID`, `_EXPIRED`);
 * 5. the subject has exactly one CN, a safe client id under the prefix (`X509_SUBJECT_CN_INVALID`);
 * 6. the MQTT client id was sent (`X509_CLIENT_ID_MISSING`) and equals the CN (`X509_CLIENT_ID_MISMATCH`);
 * 7. with pinning on, the certificate's fingerprint is listed (`X509_CERTIFICATE_NOT_TRUSTED`).
 *
 * Never throws: anything the parser rejects is `X509_CERTIFICATE_MALFORMED`.
 */
export function decideX509(input: X509DecisionInput, facts: X509Facts): X509Decision {
  const principalId = own(input.tls, 'principalId');
  if (typeof principalId !== 'string' || !CERTIFICATE_ID_PATTERN.test(principalId)) {
    return deny(
      'X509_PRINCIPAL_ID_INVALID',
      'protocolData.tls.principalId must be the certificate id AWS IoT sends (64 hex digits)',
    );
  }
  facts.certificateId = principalId;

  const parsed = parseSinglePemCertificate(own(input.tls, 'x509CertificatePem'));
  if (!parsed.ok) return deny('X509_CERTIFICATE_MALFORMED', parsed.detail);
  const { certificate } = parsed;

  const fingerprint = awsIotCertificateId(certificate);
  if (fingerprint !== principalId.toLowerCase()) {
    return deny(
      'X509_PRINCIPAL_ID_MISMATCH',
      "protocolData.tls.principalId is not the SHA-256 of the certificate's DER (its AWS IoT certificate id)",
    );
  }

  const validity = validityProblem(certificate, input.now, input.clockSkewSeconds);
  if (validity !== undefined) return validity;

  const commonName = subjectCommonName(certificate);
  if (!commonName.ok) return deny('X509_SUBJECT_CN_INVALID', commonName.detail);
  const cn = commonName.value;
  const unsafe = clientIdProblem(cn, '');
  if (unsafe !== undefined) {
    return deny(
      'X509_SUBJECT_CN_INVALID',
      `the subject CN is not a safe client id: ${unsafe.replace('client id ', '')}`,
    );
  }
  facts.subjectCn = cn;
  if (!cn.startsWith(input.clientIdPrefix)) {
    return deny('X509_SUBJECT_CN_INVALID', `the subject CN must start with '${input.clientIdPrefix}'`);
  }
  facts.deviceId = cn;

  if (input.clientId === undefined) {
    return deny(
      'X509_CLIENT_ID_MISSING',
      'the device sent no MQTT client id: connect with the client id = the subject CN',
    );
  }
  if (input.clientId !== cn) {
    return deny('X509_CLIENT_ID_MISMATCH', "the MQTT client id is not the certificate's subject CN");
  }

  if (input.trustedFingerprints !== undefined && !input.trustedFingerprints.has(fingerprint)) {
    return deny(
      'X509_CERTIFICATE_NOT_TRUSTED',
      `the certificate's SHA-256 fingerprint is not in ${AUTHORIZER_ENV.x509TrustedCertificateFingerprints}`,
    );
  }
  return { ok: true, certificateId: principalId, deviceId: cn };
}

type Parsed<T> = { readonly ok: true } & T;
type Failed = { readonly ok: false; readonly detail: string };

/** Parses exactly one PEM certificate; the detail says what is wrong with anything else (never echoes it). */
export function parseSinglePemCertificate(
  pem: unknown,
): Parsed<{ readonly certificate: X509Certificate }> | Failed {
  if (typeof pem !== 'string') {
    return { ok: false, detail: 'protocolData.tls.x509CertificatePem is not a string' };
  }
  if (pem.length > MAX_CERTIFICATE_PEM_LENGTH) {
    return {
      ok: false,
      detail: `protocolData.tls.x509CertificatePem is longer than ${MAX_CERTIFICATE_PEM_LENGTH} characters`,
    };
  }
  const blocks = pem.split(PEM_BEGIN_MARKER).length - 1;
  if (blocks !== 1) {
    return {
      ok: false,
      detail: `protocolData.tls.x509CertificatePem holds ${blocks} PEM certificates; exactly one is expected`,
    };
  }
  const match = SINGLE_PEM_CERTIFICATE.exec(pem);
  const body = match?.[1]?.replace(/\s+/g, '') ?? '';
  if (!isStandardBase64(body)) {
    return {
      ok: false,
      detail:
        'protocolData.tls.x509CertificatePem is not one -----BEGIN/END CERTIFICATE----- block of base64',
    };
  }
  const der = Buffer.from(body, 'base64');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch {
    return {
      ok: false,
      detail: 'protocolData.tls.x509CertificatePem does not parse as an X.509 certificate',
    };
  }
  // The parser reads one DER structure and ignores what follows it: bytes after it mean the PEM is not the
  // certificate AWS IoT's id was computed from.
  if (certificate.raw.length !== der.length) {
    return { ok: false, detail: 'protocolData.tls.x509CertificatePem has bytes after the certificate' };
  }
  return { ok: true, certificate };
}

function validityProblem(
  certificate: X509Certificate,
  now: Date,
  clockSkewSeconds: number,
): Extract<X509Decision, { ok: false }> | undefined {
  // Node 20 gives the validity as OpenSSL's text ("Jan  1 00:00:00 2027 GMT"), which Date.parse reads.
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) {
    return deny('X509_CERTIFICATE_MALFORMED', 'the certificate validity dates do not parse');
  }
  const skewMs = clockSkewSeconds * 1000;
  if (now.getTime() + skewMs < notBefore) {
    return deny(
      'X509_CERTIFICATE_NOT_YET_VALID',
      `the certificate is valid from ${new Date(notBefore).toISOString()}`,
    );
  }
  // notAfter is the last valid instant (RFC 5280 §4.1.2.5): valid through it.
  if (now.getTime() - skewMs > notAfter) {
    return deny('X509_CERTIFICATE_EXPIRED', `the certificate expired at ${new Date(notAfter).toISOString()}`);
  }
  return undefined;
}

/**
 * The subject's one CN. Read from `toLegacyObject()`, which Node builds from the name's entries (a CN that
 * appears twice is an array there), never by splitting the printed subject: another attribute's value could
 * contain a line that reads like `CN=...`.
 */
function subjectCommonName(certificate: X509Certificate): Parsed<{ readonly value: string }> | Failed {
  let cn: unknown;
  try {
    cn = own(certificate.toLegacyObject().subject, 'CN');
  } catch {
    return { ok: false, detail: 'the certificate subject does not parse' };
  }
  if (cn === undefined) return { ok: false, detail: 'the certificate subject has no CN' };
  if (Array.isArray(cn)) {
    return { ok: false, detail: `the certificate subject has ${cn.length} CNs; exactly one is expected` };
  }
  if (typeof cn !== 'string') return { ok: false, detail: 'the certificate subject CN is not a string' };
  return { ok: true, value: cn };
}

function deny(reason: X509DenyReason, detail: string): Extract<X509Decision, { ok: false }> {
  return { ok: false, reason, detail };
}
