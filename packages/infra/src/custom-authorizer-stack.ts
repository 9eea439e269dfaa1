import { ArnFormat, Aws, CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  AWS_IOT_LOG_GROUP,
  buildConnectPolicy,
  IOT_LOGGING_NOT_MANAGED,
  STACK_OUTPUTS,
  type StackOutputKey,
} from '@iot-custom-auth/protocol';
import { InfraError } from './errors';
import { IotCustomAuthorizer } from './iot-custom-authorizer';
import { IotDataEndpoint } from './iot-data-endpoint';
import { IotX509Domain, type X509CustomDomain } from './iot-x509-domain';
import { physicalName } from './physical-name';

/** Name of the signed authorizer's public key in `TokenSigningPublicKeys`. */
export const TOKEN_SIGNING_PUBLIC_KEY_NAME = 'TokenSigningKey';

/** AWS IoT's longest policy name. */
const POLICY_NAME_MAX_LENGTH = 128;

/** Properties of a {@link CustomAuthorizerStack}. */
export interface CustomAuthorizerStackProps extends StackProps {
  /** The RSA public key (PEM, at least 2048 bits) the signed authorizer verifies token signatures with. */
  readonly tokenSigningPublicKeyPem: string;
  /** @default DEFAULTS.clientIdPrefix ('test-') */
  readonly clientIdPrefix?: string;
  /** @default DEFAULTS.topicRoot ('devices') */
  readonly topicRoot?: string;
  /** @default DEFAULTS.tokenKeyName ('token') */
  readonly tokenKeyName?: string;
  /** @default DEFAULTS.refreshAfterSeconds (300) */
  readonly refreshAfterSeconds?: number;
  /** @default DEFAULTS.disconnectAfterSeconds (86400) */
  readonly disconnectAfterSeconds?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Turns AWS IoT logging on at this level (`AWS::IoT::Logging`, **account-wide**: one per account and region,
   * it replaces any logging level set before), writing to the `AWSIotLogsV2` log group through a role that may
   * only write there. @default undefined: the stack leaves AWS IoT logging as it is
   */
  readonly iotLogLevel?: IotLoggingLevel;
  /**
   * Custom authentication with X.509 client certificates (`CUSTOM_AUTH_X509`): an {@link IotX509Domain} with
   * the outputs `X509Endpoint`, `X509DomainConfigurationName`, `X509AuthorizerName` and, for the demo
   * certificate, `DemoCertificateId`. @default undefined: no X.509 domain (the app adds one unless `-c x509=false`)
   */
  readonly x509?: CustomAuthorizerStackX509Props;
}

/** The X.509 part of a {@link CustomAuthorizerStack}. */
export interface CustomAuthorizerStackX509Props {
  /** A device certificate (PEM) to register (`SNI_ONLY`, `ACTIVE`). @default - none */
  readonly deviceCertificatePem?: string;
  /**
   * `deviceCertificatePem` is the demo certificate of `.keys/`: its id becomes the `DemoCertificateId` output.
   * @default false
   */
  readonly deviceCertificateIsDemo?: boolean;
  /** A CA certificate (PEM) to register (`SNI_ONLY`, `ACTIVE`, auto-registration on). @default - none */
  readonly caCertificatePem?: string;
  /** @default - an AWS-managed domain */
  readonly customDomain?: X509CustomDomain;
  /** @default - unique per stack creation, see {@link IotX509Domain} */
  readonly domainConfigurationName?: string;
  /** @default - pinning off (see `IotCustomAuthorizerProps.x509TrustedCertificateFingerprints`) */
  readonly trustedCertificateFingerprints?: readonly string[];
}

/** The AWS IoT log levels the stack can turn on (`DISABLED` is what removing the setting is for). */
export const IOT_LOGGING_LEVELS = ['ERROR', 'WARN', 'INFO', 'DEBUG'] as const;
export type IotLoggingLevel = (typeof IOT_LOGGING_LEVELS)[number];

/**
 * Everything a device needs to connect to AWS IoT Core through a custom authorizer: the authorizers, their
 * Lambda and the device credentials ({@link IotCustomAuthorizer}), the `test-*` connect policy, and stack
 * outputs (named by the protocol's `STACK_OUTPUTS`) with everything the client reads: endpoint, region,
 * authorizer names, token key name, secret ARN, policy name and client id prefix.
 */
export class CustomAuthorizerStack extends Stack {
  public readonly authorizer: IotCustomAuthorizer;
  /** The `test-*` connect policy: the same document the authorizer returns for `iot:Connect`. */
  public readonly connectPolicy: iot.CfnPolicy;
  /** Name of {@link connectPolicy}. */
  public readonly connectPolicyName: string;
  public readonly dataEndpoint: IotDataEndpoint;
  /** AWS IoT logging, when `iotLogLevel` turned it on. */
  public readonly iotLogging?: iot.CfnLogging;
  /** The X.509 domain, when `x509` was given. */
  public readonly x509Domain?: IotX509Domain;

  constructor(scope: Construct, id: string, props: CustomAuthorizerStackProps) {
    super(scope, id, {
      ...props,
      description:
        props.description ??
        'AWS IoT Core custom authentication: unsigned and signed authorizers, their Lambda, device credentials and the test-* connect policy',
    });

    this.authorizer = new IotCustomAuthorizer(this, 'CustomAuthorizer', {
      tokenSigningPublicKeys: { [TOKEN_SIGNING_PUBLIC_KEY_NAME]: props.tokenSigningPublicKeyPem },
      clientIdPrefix: props.clientIdPrefix,
      topicRoot: props.topicRoot,
      tokenKeyName: props.tokenKeyName,
      refreshAfterSeconds: props.refreshAfterSeconds,
      disconnectAfterSeconds: props.disconnectAfterSeconds,
      logRetention: props.logRetention,
      x509TrustedCertificateFingerprints: props.x509?.trustedCertificateFingerprints,
    });

    this.connectPolicyName = physicalName(this, 'ConnectPolicy', {
      maxLength: POLICY_NAME_MAX_LENGTH,
      allowedChars: '\\w+=,.@-',
    });
    this.connectPolicy = new iot.CfnPolicy(this, 'ConnectPolicy', {
      policyName: this.connectPolicyName,
      policyDocument: buildConnectPolicy({
        partition: Aws.PARTITION,
        region: Aws.REGION,
        account: Aws.ACCOUNT_ID,
        clientIdPrefix: this.authorizer.clientIdPrefix,
      }),
    });

    this.dataEndpoint = new IotDataEndpoint(this, 'DataEndpoint', { logRetention: props.logRetention });
    if (props.iotLogLevel !== undefined) this.iotLogging = this.enableIotLogging(props.iotLogLevel);
    // After the data endpoint: both custom resources run in the stack's one AwsCustomResource provider, whose
    // role is the data endpoint's explicit one (see IotX509Domain).
    if (props.x509 !== undefined) this.x509Domain = this.addX509Domain(props.x509);

    const outputs: { readonly [K in StackOutputKey]?: { value: string; description: string } } = {
      endpoint: {
        value: this.dataEndpoint.address,
        description: 'AWS IoT Core ATS data endpoint devices connect to (port 443, ALPN mqtt or WebSockets)',
      },
      region: { value: Aws.REGION, description: 'Region of the endpoint and the device master secret' },
      unsignedAuthorizerName: {
        value: this.authorizer.unsignedAuthorizerName,
        description: 'Authorizer for MQTT user name and password (signing disabled)',
      },
      signedAuthorizerName: {
        value: this.authorizer.signedAuthorizerName,
        description: 'Authorizer for tokens signed with the token-signing private key',
      },
      tokenKeyName: {
        value: this.authorizer.tokenKeyName,
        description: 'Name of the query parameter or header carrying the token for the signed authorizer',
      },
      deviceSecretArn: {
        value: this.authorizer.deviceSecret.secretArn,
        description:
          'Secrets Manager master secret every device password derives from, with the revoked devices',
      },
      connectPolicyName: {
        value: this.connectPolicyName,
        description: 'IoT policy allowing iot:Connect for client ids with the prefix',
      },
      clientIdPrefix: {
        value: this.authorizer.clientIdPrefix,
        description: 'Client ids must start with this to connect',
      },
      authorizerFunctionName: {
        value: this.authorizer.function.functionName,
        description: 'The authorizer Lambda (its resource policy must let iot.amazonaws.com invoke it)',
      },
      authorizerLogGroupName: {
        value: this.authorizer.logGroup.logGroupName,
        description: "CloudWatch Logs group with the authorizer Lambda's decision lines",
      },
      iotLogLevel: {
        value: props.iotLogLevel ?? IOT_LOGGING_NOT_MANAGED,
        description: `AWS IoT logging level this stack sets (account-wide; entries in ${AWS_IOT_LOG_GROUP}), or ${IOT_LOGGING_NOT_MANAGED}`,
      },
      ...(this.x509Domain && this.x509Outputs(this.x509Domain, props.x509?.deviceCertificateIsDemo === true)),
    };
    for (const key of Object.keys(outputs) as StackOutputKey[]) {
      const output = outputs[key];
      if (output !== undefined)
        new CfnOutput(this, STACK_OUTPUTS[key], { key: STACK_OUTPUTS[key], ...output });
    }
  }

  private addX509Domain(x509: CustomAuthorizerStackX509Props): IotX509Domain {
    if (x509.deviceCertificateIsDemo === true && x509.deviceCertificatePem === undefined) {
      throw new InfraError(
        '`x509.deviceCertificateIsDemo` is true, but no `x509.deviceCertificatePem` was provided: pass the demo certificate',
      );
    }
    return new IotX509Domain(this, 'X509Domain', {
      authorizerFunction: this.authorizer.function,
      deviceCertificatePem: x509.deviceCertificatePem,
      caCertificatePem: x509.caCertificatePem,
      customDomain: x509.customDomain,
      domainConfigurationName: x509.domainConfigurationName,
    });
  }

  private x509Outputs(
    domain: IotX509Domain,
    demo: boolean,
  ): { [K in StackOutputKey]?: { value: string; description: string } } {
    const certificateId = domain.deviceCertificateId;
    return {
      x509Endpoint: {
        value: domain.endpoint,
        description:
          'Domain name of the CUSTOM_AUTH_X509 domain configuration: connect with a registered client certificate, SNI = this name, port 443 (ALPN mqtt)',
      },
      x509DomainConfigurationName: {
        value: domain.domainConfigurationName,
        description: 'The X.509 domain configuration (retained and disabled when the stack is deleted)',
      },
      x509AuthorizerName: {
        value: domain.authorizerName,
        description: "The X.509 domain configuration's default authorizer (same Lambda, signing disabled)",
      },
      ...(demo &&
        certificateId !== undefined && {
          demoCertificateId: {
            value: certificateId,
            description: 'AWS IoT id of the demo device certificate in .keys/ (registered SNI_ONLY, ACTIVE)',
          },
        }),
    };
  }

  /**
   * Account-wide AWS IoT logging at `level`, through a role AWS IoT assumes that may only create and write
   * the `AWSIotLogsV2` log group (AWS's managed `AWSIoTLogging` policy would allow every log group).
   */
  private enableIotLogging(level: IotLoggingLevel): iot.CfnLogging {
    if (!(IOT_LOGGING_LEVELS as readonly string[]).includes(level)) {
      throw new InfraError(
        `\`iotLogLevel\` must be one of ${IOT_LOGGING_LEVELS.join(', ')}, but ${JSON.stringify(level)} was provided`,
      );
    }
    const logGroupArn = Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: AWS_IOT_LOG_GROUP,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const role = new iam.Role(this, 'IotLoggingRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `Lets AWS IoT write its logs to ${AWS_IOT_LOG_GROUP} (stack ${Stack.of(this).stackName})`,
      inlinePolicies: {
        IotLogging: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'WriteAwsIotLogs',
              actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
              resources: [logGroupArn, `${logGroupArn}:*`],
            }),
          ],
        }),
      },
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:${AWS_IOT_LOG_GROUP}:*]`,
      reason: `AWS IoT names its log streams itself, so writes to ${AWS_IOT_LOG_GROUP} need the group's streams wildcard; no other log group is reachable.`,
    });
    return new iot.CfnLogging(this, 'IotLogging', {
      accountId: Aws.ACCOUNT_ID,
      defaultLogLevel: level,
      roleArn: role.roleArn,
    });
  }
}
