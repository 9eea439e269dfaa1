import { randomBytes } from 'node:crypto';
import type { LocalAwsCredentials } from '@iot-custom-auth/protocol';

/** RFC 4648 base32: upper-case letters and digits, like AWS access key ids. */
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * A fresh random access key pair for the local AWS API, shaped like AWS's (a 20-character upper-case key id,
 * a 40-character secret) so tools that check the shape accept it. The key id starts with `LOCAL`, never
 * AWS's `AKIA`/`ASIA`: it cannot be mistaken for (or flagged by secret scanners as) a real AWS key. The
 * secret has 240 random bits.
 */
export function generateLocalAwsCredentials(): LocalAwsCredentials {
  const idSuffix = Array.from(randomBytes(15), (byte) => BASE32[byte % BASE32.length]).join('');
  return {
    accessKeyId: `LOCAL${idSuffix}`,
    secretAccessKey: randomBytes(30).toString('base64'),
  };
}
