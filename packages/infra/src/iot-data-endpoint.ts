import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** The `DescribeEndpoint` endpoint type devices connect to: the Amazon Trust Services data endpoint. */
export const IOT_DATA_ATS_ENDPOINT_TYPE = 'iot:Data-ATS';

/** Properties of an {@link IotDataEndpoint}. */
export interface IotDataEndpointProps {
  /**
   * How long the custom resource's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The account's AWS IoT Core ATS data endpoint (`xxxxxxxx-ats.iot.<region>.amazonaws.com`). CloudFormation has
 * no attribute for it, so a custom resource calls IoT `DescribeEndpoint` with the SDK that the Lambda runtime
 * already includes (nothing is installed at deploy time).
 */
export class IotDataEndpoint extends Construct {
  /** The endpoint's host name, resolved at deploy time. */
  public readonly address: string;

  constructor(scope: Construct, id: string, props: IotDataEndpointProps = {}) {
    super(scope, id);

    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    // An explicit role instead of the default one with AWSLambdaBasicExecutionRole: the provider may describe
    // the endpoint and write its own logs, nothing else.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Reads the AWS IoT Core data endpoint for the stack outputs',
      inlinePolicies: {
        DescribeEndpointPolicy: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'DescribeIotEndpoint',
              actions: ['iot:DescribeEndpoint'],
              resources: ['*'],
            }),
            new iam.PolicyStatement({
              sid: 'WriteOwnLogs',
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              resources: [logGroup.logGroupArn],
            }),
          ],
        }),
      },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'iot:DescribeEndpoint has no resource-level permissions (the IAM service authorization reference lists no resource type for it), so AWS requires Resource "*"; the statement allows that one read-only action only.',
    });

    const describeEndpoint: cr.AwsSdkCall = {
      service: '@aws-sdk/client-iot',
      action: 'DescribeEndpointCommand',
      parameters: { endpointType: IOT_DATA_ATS_ENDPOINT_TYPE },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('endpointAddress'),
    };
    const resource = new cr.AwsCustomResource(this, 'Resource', {
      onCreate: describeEndpoint,
      onUpdate: describeEndpoint,
      role,
      logGroup,
      installLatestAwsSdk: false,
      timeout: Duration.minutes(1),
    });
    this.address = resource.getResponseField('endpointAddress');
  }
}
