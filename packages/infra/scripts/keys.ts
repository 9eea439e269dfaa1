// `npm run keys`: creates the token-signing key pair in <repo>/.keys/ when missing (cdk synth does the same).
import { ensureTokenSigningKeyPair, findRepoRoot, InfraError } from '../src';

try {
  const pair = ensureTokenSigningKeyPair(findRepoRoot(__dirname));
  for (const file of [pair.privateKeyFile, pair.publicKeyFile]) {
    console.log(`${pair.createdFiles.includes(file) ? 'Created' : 'Kept'} ${file}`);
  }
} catch (error) {
  if (!(error instanceof InfraError)) throw error;
  console.error(`Error: ${error.message}`);
  process.exitCode = 2;
}
