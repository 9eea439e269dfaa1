import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { awsIotCertificateId } from '../src';

// The id must be what `openssl x509 -fingerprint -sha256` prints (AWS IoT's certificate ids are that digest,
// in lower case without colons): checked against openssl itself, not against a second copy of the rule.
it('is the lower-case hex SHA-256 fingerprint openssl prints for the certificate', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certificate-id-'));
  try {
    const certFile = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=test-certificate-id',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        certFile,
      ],
      { stdio: 'pipe' },
    );
    const printed = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', certFile], {
      encoding: 'utf8',
    });
    const expected = (/=([0-9A-F:]+)/.exec(printed)?.[1] ?? '').replaceAll(':', '').toLowerCase();
    const id = awsIotCertificateId(new X509Certificate(readFileSync(certFile)));
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
