import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { AppSettings } from './app-settings';
import { CustomAuthorizerStack, type CustomAuthorizerStackX509Props } from './custom-authorizer-stack';

/** What {@link addCustomAuthorizerStack} needs: the app settings plus the key and certificates themselves. */
export interface CustomAuthorizerAppProps extends Omit<AppSettings, 'tokenSigningPublicKeyFile' | 'x509'> {
  /** The signed authorizer's RSA public key (PEM). */
  readonly tokenSigningPublicKeyPem: string;
  /** The X.509 domain (see `loadX509StackProps`). @default undefined: none */
  readonly x509?: CustomAuthorizerStackX509Props;
}

/**
 * Adds the stack to `app` (construct id = stack name) and registers cdk-nag's AwsSolutions checks, so every
 * synth (`cdk synth`, `cdk deploy`, tests) fails on an unacknowledged finding.
 */
export function addCustomAuthorizerStack(app: App, props: CustomAuthorizerAppProps): CustomAuthorizerStack {
  const stack = new CustomAuthorizerStack(app, props.stackName, {
    tokenSigningPublicKeyPem: props.tokenSigningPublicKeyPem,
    clientIdPrefix: props.clientIdPrefix,
    tokenKeyName: props.tokenKeyName,
    refreshAfterSeconds: props.refreshAfterSeconds,
    disconnectAfterSeconds: props.disconnectAfterSeconds,
    iotLogLevel: props.iotLogging,
    x509: props.x509,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
