import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOKEN_SIGNING_KEY_FILES } from '@iot-custom-auth/protocol';
import { InfraError } from './errors';
import { writeFileIfAbsent } from './key-files';
import { validateTokenSigningPublicKey } from './prop-validation';

/** Size of the RSA key pair `npm run keys` generates. */
export const GENERATED_TOKEN_SIGNING_KEY_BITS = 2048;

/** Where the token-signing key pair lives under a repository root. */
export interface TokenSigningKeyPaths {
  /** `<repoRoot>/.keys` */
  readonly directory: string;
  /** `<repoRoot>/.keys/token-signing-private.pem`: the client signs tokens with it; it never leaves the machine. */
  readonly privateKeyFile: string;
  /** `<repoRoot>/.keys/token-signing-public.pem`: the signed authorizer verifies signatures with it. */
  readonly publicKeyFile: string;
}

/** What {@link ensureTokenSigningKeyPair} found or made. */
export interface TokenSigningKeyPair extends TokenSigningKeyPaths {
  /** The files this call wrote (empty when the pair already existed). */
  readonly createdFiles: readonly string[];
}

/** The key pair's paths under `repoRoot`, named by the protocol so the client finds the same files. */
export function tokenSigningKeyPaths(repoRoot: string): TokenSigningKeyPaths {
  const directory = path.join(repoRoot, TOKEN_SIGNING_KEY_FILES.directory);
  return {
    directory,
    privateKeyFile: path.join(directory, TOKEN_SIGNING_KEY_FILES.privateKey),
    publicKeyFile: path.join(directory, TOKEN_SIGNING_KEY_FILES.publicKey),
  };
}

/**
 * Makes sure `<repoRoot>/.keys/` holds a matching RSA key pair for signing tokens, creating what is missing:
 * - neither file: generates a 2048-bit pair (private key PKCS#8 PEM, mode 0600; public key SPKI PEM);
 * - only the private key: writes its public key;
 * - both: checks that they belong together.
 *
 * Safe to run concurrently (tests and `cdk synth` may race): each file is written to a temporary name and
 * hard-linked into place, which fails instead of overwriting, so a reader never sees a half-written key and
 * an existing key is never replaced.
 * @throws InfraError when only the public key exists, a file is not a readable key, or the two do not match.
 */
export function ensureTokenSigningKeyPair(repoRoot: string): TokenSigningKeyPair {
  const paths = tokenSigningKeyPaths(repoRoot);
  fs.mkdirSync(paths.directory, { recursive: true, mode: 0o700 });
  const createdFiles: string[] = [];

  let privateKey = readPrivateKey(paths.privateKeyFile);
  if (privateKey === undefined) {
    if (fs.existsSync(paths.publicKeyFile)) {
      throw new InfraError(
        `found ${paths.publicKeyFile} but not ${paths.privateKeyFile}: restore the private key, or delete the public key so that a new pair is generated (then redeploy, since the signed authorizer trusts the old public key)`,
      );
    }
    const pair = generateKeyPairSync('rsa', { modulusLength: GENERATED_TOKEN_SIGNING_KEY_BITS });
    const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    if (writeFileIfAbsent(paths.privateKeyFile, pem, 0o600)) createdFiles.push(paths.privateKeyFile);
    // Another process may have won the race: use whatever key is in place now.
    privateKey = readPrivateKey(paths.privateKeyFile) ?? pair.privateKey;
  }

  const expectedPublicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  if (writeFileIfAbsent(paths.publicKeyFile, expectedPublicPem, 0o644)) {
    createdFiles.push(paths.publicKeyFile);
  } else {
    const publicPem = validateTokenSigningPublicKey(
      `the token-signing public key ${paths.publicKeyFile}`,
      fs.readFileSync(paths.publicKeyFile, 'utf8'),
    );
    if (publicPem !== expectedPublicPem) {
      throw new InfraError(
        `${paths.publicKeyFile} is not the public key of ${paths.privateKeyFile}: delete both files to generate a new pair (then redeploy), or restore the matching file`,
      );
    }
  }
  return { ...paths, createdFiles };
}

/** Where the app takes the signed authorizer's public key from. */
export interface TokenSigningPublicKeySource {
  /** The repository root, whose `.keys/` is used (and created) when `publicKeyFile` is not given. */
  readonly repoRoot: string;
  /**
   * The user's own public key (PEM). Relative paths are resolved against `cwd`.
   * @default - `<repoRoot>/.keys/token-signing-public.pem`, generated with its private key when missing
   */
  readonly publicKeyFile?: string;
  /** @default process.cwd() */
  readonly cwd?: string;
}

/** The public key the signed authorizer will trust. */
export interface TokenSigningPublicKey {
  /** The key in canonical SPKI PEM form. */
  readonly pem: string;
  /** The file it was read from (absolute). */
  readonly file: string;
  /** Key files generated to provide it (empty when the key already existed or is the user's own). */
  readonly createdFiles: readonly string[];
}

/**
 * Reads the public key for the signed authorizer: the user's own file when given, otherwise the one in
 * `.keys/`, generating the pair first when it is missing (so a fresh clone synthesizes without a manual step).
 * @throws InfraError when the file is missing or is not an RSA public key of at least 2048 bits.
 */
export function loadTokenSigningPublicKey(source: TokenSigningPublicKeySource): TokenSigningPublicKey {
  if (source.publicKeyFile === undefined) {
    const pair = ensureTokenSigningKeyPair(source.repoRoot);
    const pem = fs.readFileSync(pair.publicKeyFile, 'utf8');
    return { pem, file: pair.publicKeyFile, createdFiles: pair.createdFiles };
  }
  const file = path.resolve(source.cwd ?? process.cwd(), source.publicKeyFile);
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new InfraError(
      `cannot read the token-signing public key file ${file} (${(error as NodeJS.ErrnoException).code ?? 'unknown error'}): point tokenSigningPublicKeyFile at a PEM RSA public key, or leave it unset to use ${TOKEN_SIGNING_KEY_FILES.directory}/${TOKEN_SIGNING_KEY_FILES.publicKey}`,
      { cause: error },
    );
  }
  const pem = validateTokenSigningPublicKey(`the token-signing public key file ${file}`, content);
  return { pem, file, createdFiles: [] };
}

/** The private key in `file`, or `undefined` when the file does not exist. */
function readPrivateKey(file: string): KeyObject | undefined {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InfraError(`cannot read the token-signing private key ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${String(key.asymmetricKeyType)} key`);
    return key;
  } catch (error) {
    throw new InfraError(
      `${file} is not an RSA private key in PEM format: delete it and its public key to generate a new pair`,
      { cause: error },
    );
  }
}
