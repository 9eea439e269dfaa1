import { randomUUID } from 'node:crypto';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { parseMasterSecret, serializeMasterSecret, type MasterSecret } from '@iot-custom-auth/protocol';
import { awsCallError, ConfigError } from '../errors';

/** The master secret as read: its value and the version it came from. */
export interface StoredMasterSecret {
  readonly secret: MasterSecret;
  /** The `VersionId` of `AWSCURRENT` that was read. */
  readonly versionId?: string;
}

/**
 * Reads and writes the stack's master secret (the `DeviceSecretArn` output) through the AWS SDK's Secrets
 * Manager client: `GetSecretValue` of `AWSCURRENT`, and `PutSecretValue`, which makes the new value
 * `AWSCURRENT` (the old one becomes `AWSPREVIOUS`, kept for a manual roll-back). Neither a key nor a password
 * ever appears in an error message.
 */
export class MasterSecretStore {
  constructor(
    private readonly client: Pick<SecretsManagerClient, 'send'>,
    private readonly secretArn: string,
  ) {}

  async read(): Promise<StoredMasterSecret> {
    const what = `reading the master secret ${this.secretArn} from Secrets Manager`;
    let output;
    try {
      output = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretArn }));
    } catch (error) {
      throw awsCallError(
        what,
        error,
        'Use credentials allowed secretsmanager:GetSecretValue on it and the region of the stack, or pass --custom_auth_password',
      );
    }
    const parsed = parseMasterSecret(output.SecretString);
    if (!parsed.ok) {
      throw new ConfigError(
        `${what}: ${parsed.problem}; redeploy the stack, or put a value of the shape the authorizer-lambda README describes`,
      );
    }
    return {
      secret: parsed.secret,
      ...(output.VersionId === undefined ? {} : { versionId: output.VersionId }),
    };
  }

  /** Stores `secret` as the new `AWSCURRENT` version; returns its `VersionId`. */
  async write(secret: MasterSecret): Promise<string | undefined> {
    try {
      const output = await this.client.send(
        new PutSecretValueCommand({
          SecretId: this.secretArn,
          SecretString: serializeMasterSecret(secret),
          // Idempotent if the SDK retries the same request; a new version otherwise.
          ClientRequestToken: randomUUID(),
        }),
      );
      return output.VersionId;
    } catch (error) {
      throw awsCallError(
        `writing the master secret ${this.secretArn} to Secrets Manager`,
        error,
        'Use credentials allowed secretsmanager:PutSecretValue (and GetSecretValue) on it and the region of the stack',
      );
    }
  }
}
