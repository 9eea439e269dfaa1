#!/usr/bin/env node
// The CDK app behind the root cdk.json (`npx cdk synth|deploy` from the repository root). The only place that
// reads CDK context or the environment; everything else gets plain values.
import { App } from 'aws-cdk-lib';
import { DEFAULTS } from '@iot-custom-auth/protocol';
import {
  addCustomAuthorizerStack,
  addGitHubOidcStack,
  findRepoRoot,
  InfraError,
  loadTokenSigningPublicKey,
  loadX509StackProps,
  parseAppSettings,
  TOKEN_SIGNING_PUBLIC_KEY_FILE_ENV,
} from '../src';

async function main(): Promise<void> {
  const app = new App();
  const context = (key: string): unknown => app.node.tryGetContext(key);
  const settings = parseAppSettings({
    stackName: context('stackName'),
    clientIdPrefix: context('clientIdPrefix'),
    refreshAfterSeconds: context('refreshAfterSeconds'),
    disconnectAfterSeconds: context('disconnectAfterSeconds'),
    tokenKeyName: context('tokenKeyName'),
    iotLogging: context('iotLogging'),
    x509: context('x509'),
    x509DomainName: context('x509DomainName'),
    x509ServerCertificateArn: context('x509ServerCertificateArn'),
    x509ValidationCertificateArn: context('x509ValidationCertificateArn'),
    x509CertificateFile: context('x509CertificateFile'),
    x509CaCertificateFile: context('x509CaCertificateFile'),
    x509TrustedCertificateFingerprints: context('x509TrustedCertificateFingerprints'),
    tokenSigningPublicKeyFile:
      context('tokenSigningPublicKeyFile') ?? process.env[TOKEN_SIGNING_PUBLIC_KEY_FILE_ENV],
  });

  const repoRoot = findRepoRoot(__dirname);
  const publicKey = loadTokenSigningPublicKey({
    repoRoot,
    publicKeyFile: settings.tokenSigningPublicKeyFile,
  });
  for (const file of publicKey.createdFiles) console.error(`Created ${file}`);
  // The demo device certificate (or the user's own certificate / CA) for the CUSTOM_AUTH_X509 domain.
  const x509 =
    settings.x509 === false
      ? undefined
      : await loadX509StackProps(settings.x509, {
          repoRoot,
          clientIdPrefix: settings.clientIdPrefix ?? DEFAULTS.clientIdPrefix,
        });
  for (const file of x509?.createdFiles ?? []) console.error(`Created ${file}`);

  addCustomAuthorizerStack(app, {
    ...settings,
    tokenSigningPublicKeyPem: publicKey.pem,
    x509: x509?.props,
  });

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

main().catch((error: unknown) => {
  if (!(error instanceof InfraError)) throw error;
  // A configuration problem: one clear line, no stack trace.
  console.error(`Error: ${error.message}`);
  process.exitCode = 2;
});
