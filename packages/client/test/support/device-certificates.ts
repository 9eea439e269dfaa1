import {
  generateSelfSignedDeviceCertificate,
  type GenerateDeviceCertificateOptions,
} from '../../../infra/src/demo-device-certificate';

/** A certificate and its PKCS#8 key as PEM, in the client's own field names (`--cert`, `--key`). */
export interface DeviceCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A self-signed device certificate made as infra makes the demo one, for subjects, validity or keys it does not. */
export async function createDeviceCertificate(
  options: GenerateDeviceCertificateOptions,
): Promise<DeviceCertificate> {
  const generated = await generateSelfSignedDeviceCertificate(options);
  return { certPem: generated.certificatePem, keyPem: generated.privateKeyPem };
}
