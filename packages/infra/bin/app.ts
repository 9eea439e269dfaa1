#!/usr/bin/env node
// The CDK app behind the root cdk.json (`npx cdk synth|deploy` from the repository root). The only place that
// reads CDK context or the environment; everything else gets plain values.
import { App } from 'aws-cdk-lib';
import {
  addCustomAuthorizerStack,
  addGitHubOidcStack,
  findRepoRoot,
  InfraError,
  loadTokenSigningPublicKey,
  parseAppSettings,
  TOKEN_SIGNING_PUBLIC_KEY_FILE_ENV,
} from '../src';

function main(): void {
  const app = new App();
  const context = (key: string): unknown => app.node.tryGetContext(key);
  const settings = parseAppSettings({
    stackName: context('stackName'),
    clientIdPrefix: context('clientIdPrefix'),
    refreshAfterSeconds: context('refreshAfterSeconds'),
    disconnectAfterSeconds: context('disconnectAfterSeconds'),
    tokenKeyName: context('tokenKeyName'),
    iotLogging: context('iotLogging'),
    tokenSigningPublicKeyFile:
      context('tokenSigningPublicKeyFile') ?? process.env[TOKEN_SIGNING_PUBLIC_KEY_FILE_ENV],
  });

  const publicKey = loadTokenSigningPublicKey({
    repoRoot: findRepoRoot(__dirname),
    publicKeyFile: settings.tokenSigningPublicKeyFile,
  });
  for (const file of publicKey.createdFiles) console.error(`Created ${file}`);

  addCustomAuthorizerStack(app, { ...settings, tokenSigningPublicKeyPem: publicKey.pem });

  // The e2e-aws workflow's OIDC deploy role: only in the app when asked for, deployed once per account.
  const githubRepository = context('githubRepository');
  if (githubRepository !== undefined) {
    if (typeof githubRepository !== 'string') {
      throw new InfraError('context `githubRepository` must be a string like owner/name');
    }
    addGitHubOidcStack(app, { repository: githubRepository });
  }
  app.synth();
}

try {
  main();
} catch (error) {
  if (!(error instanceof InfraError)) throw error;
  // A configuration problem: one clear line, no stack trace.
  console.error(`Error: ${error.message}`);
  process.exitCode = 2;
}
