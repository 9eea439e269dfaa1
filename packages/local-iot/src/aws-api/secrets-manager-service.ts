import { randomUUID } from 'node:crypto';
import { findSecret, type LocalDeployment, type LocalSecret } from '../deployment/local-deployment';
import { awsError, parseJsonObject, type LocalAwsService, type Reply, type ServiceRequest } from './aws-wire';

const AWS_CURRENT = 'AWSCURRENT';
const AWS_PREVIOUS = 'AWSPREVIOUS';
const TARGET_PREFIX = 'secretsmanager.';
/** Secrets Manager's limit on a `SecretString`. */
const MAX_SECRET_STRING_BYTES = 65_536;
/** `ClientRequestToken` is 32 to 64 characters. */
const CLIENT_REQUEST_TOKEN = /^[A-Za-z0-9-]{32,64}$/;

/** One version of a secret: its value and the staging labels on it. */
interface SecretVersion {
  readonly versionId: string;
  readonly secretString: string;
  readonly createdDate: Date;
  stages: string[];
}

/**
 * Secrets Manager (awsJson1_1, `POST /` with `X-Amz-Target: secretsmanager.<Operation>`): `GetSecretValue`
 * (by `VersionStage` `AWSCURRENT` or `AWSPREVIOUS`, or by `VersionId`) and `PutSecretValue`, which, as in
 * Secrets Manager, makes the new version `AWSCURRENT` and moves `AWSPREVIOUS` to the version that was current.
 * Versions live in memory for the run: a restart serves the deployment's value again (local-iot's state
 * keeps generated values, not later writes).
 */
export class SecretsManagerService implements LocalAwsService {
  readonly signingName = 'secretsmanager';
  readonly protocol = 'awsJson1_1';
  readonly authFailureStatus = 400;
  /** Versions of each secret, by ARN, newest last. */
  private readonly versions = new Map<string, SecretVersion[]>();

  constructor(private readonly deployment: LocalDeployment) {}

  claims({ target }: { readonly target: string | undefined }): boolean {
    return target?.startsWith(TARGET_PREFIX) === true;
  }

  handle({ target, body }: ServiceRequest): Reply {
    const input = parseJsonObject(body);
    if (target === 'secretsmanager.GetSecretValue')
      return this.withInput(input, (i) => this.getSecretValue(i));
    if (target === 'secretsmanager.PutSecretValue')
      return this.withInput(input, (i) => this.putSecretValue(i));
    return awsError(
      400,
      'UnknownOperationException',
      `local-iot does not implement ${target ?? 'that operation'}`,
    );
  }

  private withInput(
    input: Record<string, unknown> | undefined,
    operation: (input: Record<string, unknown>) => Reply,
  ): Reply {
    if (input === undefined) {
      return awsError(400, 'SerializationException', 'the request body is not a JSON object');
    }
    return operation(input);
  }

  /** The secret `SecretId` names, or the error Secrets Manager answers. */
  private secretOf(secretId: unknown): LocalSecret | Reply {
    if (typeof secretId !== 'string' || secretId.length === 0) {
      return awsError(
        400,
        'ValidationException',
        "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must not be null or empty",
      );
    }
    const secret = findSecret(this.deployment, secretId);
    if (secret === undefined) {
      return awsError(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    return secret;
  }

  /** The versions of `secret`, starting with the deployment's value (`AWSCURRENT`) when it has one. */
  private versionsOf(secret: LocalSecret): SecretVersion[] {
    let versions = this.versions.get(secret.arn);
    if (versions === undefined) {
      versions =
        secret.secretString === undefined
          ? []
          : [
              {
                versionId: secret.versionId,
                secretString: secret.secretString,
                createdDate: secret.createdDate,
                stages: [AWS_CURRENT],
              },
            ];
      this.versions.set(secret.arn, versions);
    }
    return versions;
  }

  private getSecretValue(input: Record<string, unknown>): Reply {
    const { SecretId: secretId, VersionId: versionId, VersionStage: versionStage } = input;
    for (const [field, value] of Object.entries({ VersionId: versionId, VersionStage: versionStage })) {
      if (value !== undefined && typeof value !== 'string') {
        return awsError(400, 'ValidationException', `${field} must be a string`);
      }
    }
    const secret = this.secretOf(secretId);
    if (!isSecret(secret)) return secret;
    const versions = this.versionsOf(secret);
    const stage = (versionStage as string | undefined) ?? (versionId === undefined ? AWS_CURRENT : undefined);
    const version = versions.find(
      (candidate) =>
        (versionId === undefined || candidate.versionId === versionId) &&
        (stage === undefined || candidate.stages.includes(stage)),
    );
    if (version === undefined) {
      const what =
        versionId !== undefined
          ? `VersionId: ${versionId as string}`
          : `staging label: ${stage ?? AWS_CURRENT}`;
      return awsError(
        400,
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for ${what}`,
      );
    }
    return {
      status: 200,
      body: {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        SecretString: version.secretString,
        VersionStages: [...version.stages],
        CreatedDate: version.createdDate.getTime() / 1000,
      },
    };
  }

  private putSecretValue(input: Record<string, unknown>): Reply {
    const { SecretId: secretId, SecretString: secretString, ClientRequestToken: token } = input;
    const secret = this.secretOf(secretId);
    if (!isSecret(secret)) return secret;
    if (input.SecretBinary !== undefined) {
      return awsError(400, 'InvalidParameterException', 'local-iot stores SecretString values only');
    }
    if (typeof secretString !== 'string') {
      return awsError(
        400,
        'InvalidParameterException',
        'You must provide either SecretString or SecretBinary.',
      );
    }
    if (Buffer.byteLength(secretString, 'utf8') > MAX_SECRET_STRING_BYTES) {
      return awsError(
        400,
        'ValidationException',
        `1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_STRING_BYTES}`,
      );
    }
    if (input.VersionStages !== undefined) {
      return awsError(
        400,
        'InvalidParameterException',
        'local-iot does not implement VersionStages on PutSecretValue',
      );
    }
    if (token !== undefined && (typeof token !== 'string' || !CLIENT_REQUEST_TOKEN.test(token))) {
      return awsError(
        400,
        'ValidationException',
        "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64",
      );
    }
    const versions = this.versionsOf(secret);
    const versionId = token ?? randomUUID();
    const existing = versions.find((version) => version.versionId === versionId);
    if (existing !== undefined) {
      // The same token again is a retry: the same value is a no-op, another value a conflict.
      if (existing.secretString !== secretString) {
        return awsError(
          400,
          'ResourceExistsException',
          'You can’t modify an existing version, you can only create a new version.',
        );
      }
      return putReply(secret, existing);
    }
    for (const version of versions) {
      const wasCurrent = version.stages.includes(AWS_CURRENT);
      version.stages = version.stages.filter((stage) => stage !== AWS_CURRENT && stage !== AWS_PREVIOUS);
      if (wasCurrent) version.stages.push(AWS_PREVIOUS);
    }
    const created: SecretVersion = {
      versionId,
      secretString,
      createdDate: new Date(),
      stages: [AWS_CURRENT],
    };
    versions.push(created);
    // Versions without a label are deprecated; Secrets Manager keeps about 100, so must a long local run.
    while (versions.length > 100 && versions[0] !== undefined && versions[0].stages.length === 0)
      versions.shift();
    return putReply(secret, created);
  }
}

function putReply(secret: LocalSecret, version: SecretVersion): Reply {
  return {
    status: 200,
    body: {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      VersionStages: [...version.stages],
    },
  };
}

function isSecret(value: LocalSecret | Reply): value is LocalSecret {
  return 'arn' in value;
}
