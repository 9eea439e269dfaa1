/**
 * The Lambda entry point (`handler`), wired at cold start: configuration from the environment (a
 * `ConfigError` here fails the init loudly), one Secrets Manager client and one master secret cache reused by
 * every invocation of this execution environment.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { IoTCustomAuthorizerHandler } from 'aws-lambda';
import { regionOfArn } from '@iot-custom-auth/protocol';
import { createHandler } from './authorizer';
import { loadConfig } from './config';
import { MasterSecretCache } from './master-secret-cache';

const config = loadConfig(process.env);

// A secret ARN names its region, and GetSecretValue with an ARN only works in that region, so it wins over
// the function's own region. A plain secret name leaves the SDK's default (`AWS_REGION`).
const region = regionOfArn(config.deviceSecretArn);
// The endpoint, credentials and retries come from the SDK's standard sources (AWS_ENDPOINT_URL_SECRETS_MANAGER
// and the execution role), so local-iot can point it at its local API without a code path of its own.
const client = new SecretsManagerClient(region === undefined ? {} : { region });

/** AWS IoT invokes this: see `createHandler` for the rules. */
export const handler = createHandler({
  config,
  masterSecret: new MasterSecretCache({
    client,
    secretId: config.deviceSecretArn,
    ttlSeconds: config.secretCacheTtlSeconds,
  }),
}) satisfies IoTCustomAuthorizerHandler;
