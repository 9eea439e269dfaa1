import { findSecret, type LocalDeployment } from '../deployment/local-deployment';
import { awsError, parseJsonObject, type LocalAwsService, type Reply, type ServiceRequest } from './aws-wire';

const AWS_CURRENT = 'AWSCURRENT';
const TARGET_PREFIX = 'secretsmanager.';

/** Secrets Manager (awsJson1_1, `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue`). */
export class SecretsManagerService implements LocalAwsService {
  readonly signingName = 'secretsmanager';
  readonly protocol = 'awsJson1_1';
  readonly authFailureStatus = 400;

  constructor(private readonly deployment: LocalDeployment) {}

  claims({ target }: { readonly target: string | undefined }): boolean {
    return target?.startsWith(TARGET_PREFIX) === true;
  }

  handle({ target, body }: ServiceRequest): Reply {
    if (target !== 'secretsmanager.GetSecretValue') {
      return awsError(
        400,
        'UnknownOperationException',
        `local-iot does not implement ${target ?? 'that operation'}`,
      );
    }
    return this.getSecretValue(body);
  }

  private getSecretValue(body: string): Reply {
    const input = parseJsonObject(body);
    if (input === undefined) {
      return awsError(400, 'SerializationException', 'the request body is not a JSON object');
    }
    const { SecretId: secretId, VersionId: versionId, VersionStage: versionStage } = input;
    for (const [field, value] of Object.entries({ VersionId: versionId, VersionStage: versionStage })) {
      if (value !== undefined && typeof value !== 'string') {
        return awsError(400, 'ValidationException', `${field} must be a string`);
      }
    }
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
    const notFound = (what: string): Reply =>
      awsError(
        400,
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for ${what}`,
      );
    if (versionStage !== undefined && versionStage !== AWS_CURRENT)
      return notFound(`staging label: ${versionStage as string}`);
    if (versionId !== undefined && versionId !== secret.versionId)
      return notFound(`VersionId: ${versionId as string}`);
    if (secret.secretString === undefined) return notFound(`staging label: ${AWS_CURRENT}`);
    return {
      status: 200,
      body: {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: secret.versionId,
        SecretString: secret.secretString,
        VersionStages: [AWS_CURRENT],
        CreatedDate: secret.createdDate.getTime() / 1000,
      },
    };
  }
}
