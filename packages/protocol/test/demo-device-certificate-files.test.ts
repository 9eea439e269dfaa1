import * as path from 'node:path';
import fc from 'fast-check';
import { clientIdProblem, DEFAULTS, demoDeviceCertificateFiles, TOKEN_SIGNING_KEY_FILES } from '../src';

// The demo certificate's files are named after its subject CN, so that each client id prefix has its own pair
// in .keys/ (infra creates it, the client's --mtls and the connect matrix read it by the same names).

describe('demoDeviceCertificateFiles', () => {
  it("names the default prefix's pair .keys/test-mtls-demo-cert.pem and -key.pem, beside the token keys", () => {
    expect(demoDeviceCertificateFiles(DEFAULTS.clientIdPrefix)).toEqual({
      directory: TOKEN_SIGNING_KEY_FILES.directory,
      subjectCn: 'test-mtls-demo',
      certificate: 'test-mtls-demo-cert.pem',
      privateKey: 'test-mtls-demo-key.pem',
    });
    expect(demoDeviceCertificateFiles('dev-')).toMatchObject({
      subjectCn: 'dev-mtls-demo',
      certificate: 'dev-mtls-demo-cert.pem',
      privateKey: 'dev-mtls-demo-key.pem',
    });
  });

  it('gives every valid prefix its own two plain file names inside the directory, carrying its CN', () => {
    const prefix = fc.stringMatching(/^[A-Za-z0-9_.:-]{0,40}$/);
    fc.assert(
      fc.property(prefix, prefix, (a, b) => {
        const files = demoDeviceCertificateFiles(a);
        expect(clientIdProblem(files.subjectCn, a)).toBeUndefined();
        for (const name of [files.certificate, files.privateKey]) {
          // A plain name: joined to .keys/ it stays there (no separator, never "." or "..").
          expect(path.basename(name)).toBe(name);
          expect(path.dirname(path.join(files.directory, name))).toBe(files.directory);
          expect(name.startsWith(files.subjectCn)).toBe(true);
        }
        expect(files.certificate).not.toBe(files.privateKey);
        // Names never collide across prefixes, nor with the token-signing keys.
        if (a !== b) expect(demoDeviceCertificateFiles(b).certificate).not.toBe(files.certificate);
        expect([TOKEN_SIGNING_KEY_FILES.privateKey, TOKEN_SIGNING_KEY_FILES.publicKey]).not.toContain(
          files.privateKey,
        );
      }),
      { numRuns: 300 },
    );
  });
});
