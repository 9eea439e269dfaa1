import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Where an AWS API call goes. Everything left out comes from the SDK's standard chain (`AWS_REGION`,
 * profiles, `AWS_ENDPOINT_URL_<SERVICE>`); `endpoint` and `credentials` are only set from a connection file
 * (`connection.json` beside the outputs file), never from a "local" switch in the code.
 */
export interface AwsTarget {
  readonly region?: string;
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/**
 * Bounds every AWS API call the client makes before it connects, so that an unreachable endpoint fails in
 * seconds rather than hanging on the SDK's defaults (no timeouts).
 */
function clientOptions(target: AwsTarget) {
  return {
    ...(target.region === undefined ? {} : { region: target.region }),
    ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
    ...(target.credentials === undefined ? {} : { credentials: { ...target.credentials } }),
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 },
  };
}

/** A CloudFormation client for `target`. */
export function newCloudFormationClient(target: AwsTarget): CloudFormationClient {
  return new CloudFormationClient(clientOptions(target));
}

/** A Secrets Manager client for `target`. */
export function newSecretsManagerClient(target: AwsTarget): SecretsManagerClient {
  return new SecretsManagerClient(clientOptions(target));
}

/** A CloudWatch Logs client for `target` (the records that explain a refusal). */
export function newCloudWatchLogsClient(target: AwsTarget): CloudWatchLogsClient {
  return new CloudWatchLogsClient(clientOptions(target));
}

/** An IoT control-plane client for `target` (DescribeAuthorizer, DescribeEndpoint, TestInvokeAuthorizer). */
export function newIotClient(target: AwsTarget): IoTClient {
  return new IoTClient(clientOptions(target));
}

/** A Lambda client for `target` (GetPolicy). */
export function newLambdaClient(target: AwsTarget): LambdaClient {
  return new LambdaClient(clientOptions(target));
}

/**
 * The account's ATS data endpoint in the target's region (IoT `DescribeEndpoint` with
 * `endpointType: iot:Data-ATS`, the endpoint whose certificate chains to Amazon Root CA 1).
 */
export async function describeAtsEndpoint(target: AwsTarget): Promise<string> {
  const answer = await newIotClient(target).send(
    new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }),
  );
  if (answer.endpointAddress === undefined || answer.endpointAddress === '') {
    throw new Error('DescribeEndpoint returned no endpointAddress');
  }
  return answer.endpointAddress;
}
