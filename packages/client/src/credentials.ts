import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  createToken,
  deriveDevicePassword,
  ProtocolError,
  signToken,
  TOKEN_SIGNING_KEY_FILES,
  type DeviceCredentials,
} from '@iot-custom-auth/protocol';
import { newSecretsManagerClient, type AwsTarget } from './aws-clients';
import { MasterSecretStore } from './device/master-secret-store';
import { ConfigError } from './errors';
import { readConfigFile, type ReadTextFile } from './read-config-file';

/** A token for the signed authorizer and its signature (standard base64, not yet URL-encoded). */
export interface SignedToken {
  readonly token: string;
  readonly signature: string;
}

/** What a signed token is made from. */
export interface SignedTokenRequest {
  /** The client id the token is bound to. */
  readonly clientId: string;
  /** Absolute path of the PEM private key. */
  readonly keyFile: string;
  readonly now: Date;
  readonly lifetimeSeconds: number;
}

/** Which device, which master secret to derive its password from, and where Secrets Manager is. */
export interface DeviceCredentialsRequest {
  /** ARN (or name) of the master secret: the DeviceSecretArn output. */
  readonly secretArn: string;
  readonly target: AwsTarget;
  /** The device (the user name, and the only client id its policy allows). */
  readonly deviceId: string;
}

/** Where device credentials come from; `main()` gets a fake in tests. */
export interface CredentialSource {
  /** The device's user name (its id) and its password, derived from the master secret `secretArn`. */
  deviceCredentials(request: DeviceCredentialsRequest): Promise<DeviceCredentials>;
  /** A fresh token bound to the client id, signed with the private key in `keyFile`. */
  signedToken(request: SignedTokenRequest): Promise<SignedToken>;
}

/** Dependencies of `AwsCredentialSource`. */
export interface AwsCredentialSourceOptions {
  /** Reads the token-signing key. */
  readonly readFile: ReadTextFile;
  /** Creates the Secrets Manager client. @default newSecretsManagerClient */
  readonly secretsManager?: (target: AwsTarget) => Pick<SecretsManagerClient, 'send'>;
}

/**
 * Device passwords derived from the master secret in Secrets Manager (through the SDK's standard
 * configuration, so `AWS_ENDPOINT_URL_SECRETS_MANAGER` points it at a local stand-in), signed tokens from a
 * PEM key on disk. Neither the secret value nor the key ever appears in an error message.
 */
export class AwsCredentialSource implements CredentialSource {
  private readonly readFile: AwsCredentialSourceOptions['readFile'];
  private readonly secretsManager: NonNullable<AwsCredentialSourceOptions['secretsManager']>;

  constructor(options: AwsCredentialSourceOptions) {
    this.readFile = options.readFile;
    this.secretsManager = options.secretsManager ?? newSecretsManagerClient;
  }

  async deviceCredentials(request: DeviceCredentialsRequest): Promise<DeviceCredentials> {
    const store = new MasterSecretStore(this.secretsManager(request.target), request.secretArn);
    const { secret } = await store.read();
    return { username: request.deviceId, password: deriveDevicePassword(secret.masterKey, request.deviceId) };
  }

  async signedToken(request: SignedTokenRequest): Promise<SignedToken> {
    const pem = await readConfigFile(
      this.readFile,
      request.keyFile,
      (error) =>
        `cannot read the token-signing private key ${request.keyFile}: ${error.code ?? error.message}. ` +
        `The first \`npx cdk synth\` creates ${TOKEN_SIGNING_KEY_FILES.directory}/${TOKEN_SIGNING_KEY_FILES.privateKey} at the repository root; or pass --token-signing-key FILE`,
    );
    const token = createToken({
      clientId: request.clientId,
      lifetimeSeconds: request.lifetimeSeconds,
      now: request.now,
    });
    try {
      return { token, signature: signToken(token, pem) };
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      throw new ConfigError(`the token-signing key ${request.keyFile}: ${error.message}`, { cause: error });
    }
  }
}
