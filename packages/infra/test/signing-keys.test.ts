import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TOKEN_SIGNING_KEY_FILES } from '@iot-custom-auth/protocol';
import { ensureTokenSigningKeyPair, loadTokenSigningPublicKey, tokenSigningKeyPaths } from '../src';
import { expectInfraError, REPO_ROOT, rsaPublicKeyPem } from './helpers';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(tmpdir(), 'signing-keys-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const mode = (file: string): number => fs.statSync(file).mode & 0o777;

describe('tokenSigningKeyPaths', () => {
  it('names the files as the protocol does, under the repository root', () => {
    expect(tokenSigningKeyPaths('/repo')).toEqual({
      directory: path.join('/repo', TOKEN_SIGNING_KEY_FILES.directory),
      privateKeyFile: path.join('/repo', '.keys', 'token-signing-private.pem'),
      publicKeyFile: path.join('/repo', '.keys', 'token-signing-public.pem'),
    });
  });
});

describe('ensureTokenSigningKeyPair', () => {
  it('creates a matching 2048-bit RSA pair, the private key readable by its owner only', () => {
    const pair = ensureTokenSigningKeyPair(root);
    const { privateKeyFile, publicKeyFile, directory } = tokenSigningKeyPaths(root);
    expect(pair).toEqual({
      directory,
      privateKeyFile,
      publicKeyFile,
      createdFiles: [privateKeyFile, publicKeyFile],
    });

    const privatePem = fs.readFileSync(privateKeyFile, 'utf8');
    const publicPem = fs.readFileSync(publicKeyFile, 'utf8');
    expect(privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    expect(publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    const privateKey = createPrivateKey(privatePem);
    expect(privateKey.asymmetricKeyType).toBe('rsa');
    expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    // What the client signs, the signed authorizer's public key verifies (RSA SHA-256, PKCS#1 v1.5).
    const token = Buffer.from('{"clientId":"test-1"}');
    expect(verify('sha256', token, createPublicKey(publicPem), sign('sha256', token, privateKey))).toBe(true);

    if (process.platform !== 'win32') {
      expect(mode(privateKeyFile)).toBe(0o600);
      expect(mode(publicKeyFile)).toBe(0o644);
      expect(mode(directory)).toBe(0o700);
    }
    // No temporary file is left behind.
    expect(fs.readdirSync(directory).sort()).toEqual([
      TOKEN_SIGNING_KEY_FILES.privateKey,
      TOKEN_SIGNING_KEY_FILES.publicKey,
    ]);
  });

  it('keeps an existing pair untouched', () => {
    ensureTokenSigningKeyPair(root);
    const { privateKeyFile, publicKeyFile } = tokenSigningKeyPaths(root);
    const before = [fs.readFileSync(privateKeyFile, 'utf8'), fs.readFileSync(publicKeyFile, 'utf8')];
    expect(ensureTokenSigningKeyPair(root).createdFiles).toEqual([]);
    expect([fs.readFileSync(privateKeyFile, 'utf8'), fs.readFileSync(publicKeyFile, 'utf8')]).toEqual(before);
  });

  it('writes the public key of an existing private key', () => {
    const { privateKeyFile, publicKeyFile, directory } = tokenSigningKeyPaths(root);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    fs.mkdirSync(directory);
    fs.writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    expect(ensureTokenSigningKeyPair(root).createdFiles).toEqual([publicKeyFile]);
    expect(fs.readFileSync(publicKeyFile, 'utf8')).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
  });

  it('refuses to replace a public key whose private key is missing', () => {
    const { privateKeyFile, publicKeyFile, directory } = tokenSigningKeyPaths(root);
    fs.mkdirSync(directory);
    fs.writeFileSync(publicKeyFile, rsaPublicKeyPem());
    expectInfraError(
      () => ensureTokenSigningKeyPair(root),
      `found ${publicKeyFile} but not ${privateKeyFile}: restore the private key, or delete the public key so that a new pair is generated (then redeploy, since the signed authorizer trusts the old public key)`,
    );
    expect(fs.existsSync(privateKeyFile)).toBe(false);
  });

  it('refuses a pair that does not belong together', () => {
    ensureTokenSigningKeyPair(root);
    const { privateKeyFile, publicKeyFile } = tokenSigningKeyPaths(root);
    fs.writeFileSync(publicKeyFile, rsaPublicKeyPem());
    expectInfraError(
      () => ensureTokenSigningKeyPair(root),
      `${publicKeyFile} is not the public key of ${privateKeyFile}: delete both files to generate a new pair (then redeploy), or restore the matching file`,
    );
  });

  it('refuses a private key file that is not an RSA private key', () => {
    const { privateKeyFile, directory } = tokenSigningKeyPaths(root);
    fs.mkdirSync(directory);
    for (const content of [
      'garbage',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    ]) {
      fs.writeFileSync(privateKeyFile, content);
      expectInfraError(
        () => ensureTokenSigningKeyPair(root),
        `${privateKeyFile} is not an RSA private key in PEM format: delete it and its public key to generate a new pair`,
      );
    }
  });

  it('creates exactly one pair when several processes race for it', async () => {
    const script = `const { ensureTokenSigningKeyPair } = require(${JSON.stringify(path.join(REPO_ROOT, 'packages/infra/src/signing-keys.ts'))});
      const pair = ensureTokenSigningKeyPair(process.argv[1]);
      process.stdout.write(JSON.stringify(pair.createdFiles));`;
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const run = (): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve, reject) => {
        const child = spawn(tsx, ['-e', script, root], { cwd: REPO_ROOT });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const results = await Promise.all([run(), run(), run(), run()]);
    for (const result of results) expect(result).toMatchObject({ code: 0, stderr: '' });
    const created = results.flatMap((result) => JSON.parse(result.stdout) as string[]);
    const { privateKeyFile, publicKeyFile, directory } = tokenSigningKeyPaths(root);
    expect(created.filter((file) => file === privateKeyFile)).toHaveLength(1);
    expect(created.filter((file) => file === publicKeyFile)).toHaveLength(1);
    expect(fs.readdirSync(directory).sort()).toEqual([
      TOKEN_SIGNING_KEY_FILES.privateKey,
      TOKEN_SIGNING_KEY_FILES.publicKey,
    ]);
    expect(ensureTokenSigningKeyPair(root).createdFiles).toEqual([]);
  });
});

describe('loadTokenSigningPublicKey', () => {
  it('uses .keys/ by default, generating the pair when it is missing', () => {
    const { privateKeyFile, publicKeyFile } = tokenSigningKeyPaths(root);
    const loaded = loadTokenSigningPublicKey({ repoRoot: root });
    expect(loaded).toEqual({
      pem: fs.readFileSync(publicKeyFile, 'utf8'),
      file: publicKeyFile,
      createdFiles: [privateKeyFile, publicKeyFile],
    });
    expect(loadTokenSigningPublicKey({ repoRoot: root }).createdFiles).toEqual([]);
  });

  it("reads the user's own key, relative to the working directory, and leaves .keys/ alone", () => {
    const pem = rsaPublicKeyPem(4096);
    fs.writeFileSync(path.join(root, 'mine.pem'), pem);
    expect(loadTokenSigningPublicKey({ repoRoot: root, publicKeyFile: 'mine.pem', cwd: root })).toEqual({
      pem,
      file: path.join(root, 'mine.pem'),
      createdFiles: [],
    });
    expect(fs.existsSync(tokenSigningKeyPaths(root).directory)).toBe(false);
  });

  it('says which file is missing and how to fix it', () => {
    const file = path.join(root, 'missing.pem');
    expectInfraError(
      () => loadTokenSigningPublicKey({ repoRoot: root, publicKeyFile: file }),
      `cannot read the token-signing public key file ${file} (ENOENT): point tokenSigningPublicKeyFile at a PEM RSA public key, or leave it unset to use .keys/token-signing-public.pem`,
    );
  });

  it('refuses a private key or a weak key', () => {
    const privateFile = path.join(root, 'private.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    fs.writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expectInfraError(
      () => loadTokenSigningPublicKey({ repoRoot: root, publicKeyFile: privateFile }),
      `the token-signing public key file ${privateFile} must be an RSA public key, but a private key was provided: pass the public key (for example .keys/token-signing-public.pem) and keep the private key out of the stack`,
    );
    const weakFile = path.join(root, 'weak.pem');
    fs.writeFileSync(weakFile, rsaPublicKeyPem(1024));
    expectInfraError(
      () => loadTokenSigningPublicKey({ repoRoot: root, publicKeyFile: weakFile }),
      `the token-signing public key file ${weakFile} must be an RSA public key of at least 2048 bits, but a 1024-bit key was provided`,
    );
  });
});
