import { X509Certificate } from 'node:crypto';
import { Aws, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import { InfraError } from './errors';
import { physicalName } from './physical-name';
import { validateAuthorizerName, validatePattern } from './prop-validation';

/** AWS IoT's rule for a domain configuration name (`CreateDomainConfiguration`). */
export const DOMAIN_CONFIGURATION_NAME_PATTERN = /^[\w.-]{1,128}$/;

/** An ACM certificate ARN, as the `AWS::IoT::DomainConfiguration` schema accepts it. */
export const ACM_CERTIFICATE_ARN_PATTERN =
  /^arn:aws(-cn|-us-gov|-iso-b|-iso)?:acm:[a-z]{2}-(gov-|iso-|isob-)?[a-z]{4,9}-\d:\d{12}:certificate\/[a-zA-Z0-9/-]+$/;

/** A fully qualified DNS name (labels of letters, digits and inner hyphens, at most 253 characters). */
const DNS_NAME_PATTERN = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/;

/** Length of `-<8 hex>`, the suffix that makes the default domain configuration name unique per stack. */
const UNIQUE_SUFFIX_LENGTH = 9;

/** The authentication type and application protocol of the domain configuration. */
export const X509_DOMAIN_SETTINGS = {
  serviceType: 'DATA',
  /** Custom authentication with the client's X.509 certificate: AWS IoT verifies it, then calls the authorizer. */
  authenticationType: 'CUSTOM_AUTH_X509',
  /** MQTT over TLS; `CUSTOM_AUTH_X509` allows `SECURE_MQTT` and `HTTPS` (custom-auth-509cert). */
  applicationProtocol: 'SECURE_MQTT',
} as const;

/** A customer-managed domain for the X.509 endpoint (the default is an AWS-managed one). */
export interface X509CustomDomain {
  /** The fully qualified domain name devices connect to (and send as SNI), e.g. `iot.example.com`. */
  readonly domainName: string;
  /**
   * ARN of the ACM certificate AWS IoT presents for `domainName` (`ServerCertificateArns`: exactly one).
   */
  readonly serverCertificateArn: string;
  /**
   * ARN of a publicly signed ACM certificate that proves you own `domainName`, needed when the server
   * certificate is not signed by a public CA (`ValidationCertificateArn`).
   * @default - none
   */
  readonly validationCertificateArn?: string;
}

/** Properties of an {@link IotX509Domain}. */
export interface IotX509DomainProps {
  /** The authorizer Lambda (the same one the other authorizers invoke, `IotCustomAuthorizer.function`). */
  readonly authorizerFunction: lambda.IFunction;

  /**
   * Name of the X.509 authorizer (`SigningDisabled: true`).
   * @default - `<stack name>-<construct path>-X509Authorizer`, stable across deployments
   */
  readonly authorizerName?: string;

  /**
   * Name of the domain configuration, 1 to 128 characters of `A-Z a-z 0-9 _ . -`.
   * @default - `<stack name>-<construct path>-<first 8 hex digits of the stack id>`: new for every creation of
   *   the stack, because a destroyed stack leaves its AWS-managed configuration behind for 7 days (see
   *   {@link domainConfiguration}) and a name can be used once per account and region
   */
  readonly domainConfigurationName?: string;

  /**
   * A domain of your own with its ACM server certificate.
   * @default - an AWS-managed domain, whose name AWS IoT assigns (read at deploy time)
   */
  readonly customDomain?: X509CustomDomain;

  /**
   * A device certificate (PEM) to register with `CertificateMode: SNI_ONLY` and `Status: ACTIVE`: AWS IoT
   * accepts it on this domain without its CA being registered.
   * @default - none: register certificates yourself (or through {@link caCertificatePem})
   */
  readonly deviceCertificatePem?: string;

  /**
   * A CA certificate (PEM) to register with `CertificateMode: SNI_ONLY`, `Status: ACTIVE` and
   * `AutoRegistrationStatus: ENABLE`: a device certificate it issued is registered (and, by AWS IoT's
   * auto-registration, left `PENDING_ACTIVATION`) on the device's first connection.
   * @default - none
   */
  readonly caCertificatePem?: string;
}

/**
 * AWS IoT Core custom authentication with X.509 client certificates (`CUSTOM_AUTH_X509`,
 * https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html): a domain configuration
 * whose devices authenticate with a client certificate AWS IoT has registered, after which AWS IoT invokes the
 * default authorizer with the certificate in the event (`protocolData.tls.x509CertificatePem`,
 * `principalId` = the certificate id). Consists of
 * - a third authorizer on the given Lambda (`SigningDisabled: true`, `ACTIVE`) with its own invoke permission
 *   (`SourceArn` = that authorizer, `SourceAccount`);
 * - the `AWS::IoT::DomainConfiguration` (`DATA`, `CUSTOM_AUTH_X509`, `SECURE_MQTT`, that authorizer as the
 *   default with no override), on an AWS-managed domain unless {@link IotX509DomainProps.customDomain} is given;
 * - on an AWS-managed domain, an `AwsCustomResource` reading its domain name (`DescribeDomainConfiguration`;
 *   CloudFormation has no attribute for it) and disabling it when the stack is deleted, and one detaching its
 *   authorizer then;
 * - the optional device and CA certificate registrations.
 *
 * The custom resources run in the stack's `AwsCustomResource` provider (a CDK singleton per stack) and add
 * policies to its role allowing `iot:DescribeDomainConfiguration` and `iot:UpdateDomainConfiguration` on this
 * domain configuration's ARN only. Create an `IotDataEndpoint` (or another `AwsCustomResource` with an explicit
 * role) first, as `CustomAuthorizerStack` does; otherwise CDK gives the provider its default role.
 *
 * Not available in the AWS GovCloud (US) Regions, which do not support custom authentication with X.509 client
 * certificates.
 */
export class IotX509Domain extends Construct {
  /** The X.509 authorizer. */
  public readonly authorizer: iot.CfnAuthorizer;
  /** Name of {@link authorizer}, known at synth time. */
  public readonly authorizerName: string;
  /**
   * The domain configuration. On an AWS-managed domain its removal policy is RETAIN: AWS IoT lets an
   * AWS-managed domain configuration be deleted only after it has been DISABLED for 7 days
   * (https://docs.aws.amazon.com/iot/latest/developerguide/iot-custom-endpoints-managing.html), so
   * CloudFormation could not delete it; the custom resource disables it instead, and you delete it later.
   */
  public readonly domainConfiguration: iot.CfnDomainConfiguration;
  /** Name of {@link domainConfiguration} (a token when it is the default, unique per stack creation). */
  public readonly domainConfigurationName: string;
  /** The host name devices connect to (this project uses port 443, ALPN `mqtt`) and send as SNI. */
  public readonly endpoint: string;
  /** The registered device certificate, when {@link IotX509DomainProps.deviceCertificatePem} was given. */
  public readonly deviceCertificate?: iot.CfnCertificate;
  /** The registered CA certificate, when {@link IotX509DomainProps.caCertificatePem} was given. */
  public readonly caCertificate?: iot.CfnCACertificate;

  constructor(scope: Construct, id: string, props: IotX509DomainProps) {
    super(scope, id);

    this.authorizerName = props.authorizerName ?? physicalName(this, 'X509Authorizer', AUTHORIZER_NAME);
    validateAuthorizerName('authorizerName', this.authorizerName);
    if (props.domainConfigurationName !== undefined) {
      validatePattern(
        'domainConfigurationName',
        props.domainConfigurationName,
        DOMAIN_CONFIGURATION_NAME_PATTERN,
        '1 to 128 characters from A-Z a-z 0-9 _ . -',
      );
    }
    const customDomain = props.customDomain && validatedCustomDomain(props.customDomain);
    const deviceCertificatePem =
      props.deviceCertificatePem === undefined
        ? undefined
        : validatedCertificatePem('deviceCertificatePem', props.deviceCertificatePem, false);
    const caCertificatePem =
      props.caCertificatePem === undefined
        ? undefined
        : validatedCertificatePem('caCertificatePem', props.caCertificatePem, true);

    this.domainConfigurationName = props.domainConfigurationName ?? uniqueDomainConfigurationName(this);

    this.authorizer = new iot.CfnAuthorizer(this, 'X509Authorizer', {
      authorizerName: this.authorizerName,
      authorizerFunctionArn: props.authorizerFunction.functionArn,
      status: 'ACTIVE',
      // AWS IoT has authenticated the device by its certificate; there is no token to verify a signature of.
      signingDisabled: true,
    });
    // Bound to this authorizer's ARN and the account, as the other authorizers' permissions are.
    new lambda.CfnPermission(this, 'X509AuthorizerInvokePermission', {
      functionName: props.authorizerFunction.functionArn,
      action: 'lambda:InvokeFunction',
      principal: 'iot.amazonaws.com',
      sourceArn: this.authorizer.attrArn,
      sourceAccount: Stack.of(this).account,
    });

    this.domainConfiguration = new iot.CfnDomainConfiguration(this, 'DomainConfiguration', {
      domainConfigurationName: this.domainConfigurationName,
      ...X509_DOMAIN_SETTINGS,
      authorizerConfig: { defaultAuthorizerName: this.authorizerName, allowAuthorizerOverride: false },
      domainConfigurationStatus: 'ENABLED',
      ...(customDomain && {
        domainName: customDomain.domainName,
        serverCertificateArns: [customDomain.serverCertificateArn],
        validationCertificateArn: customDomain.validationCertificateArn,
      }),
    });
    // The authorizer is named by a plain string, so CloudFormation would not know to create it first.
    this.domainConfiguration.node.addDependency(this.authorizer);

    if (customDomain) {
      // CloudFormation disables, then deletes, and AWS IoT deletes a disabled custom domain at once.
      this.endpoint = customDomain.domainName;
    } else {
      this.domainConfiguration.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.endpoint = this.awsManagedEndpoint();
    }

    if (deviceCertificatePem !== undefined) {
      this.deviceCertificate = new iot.CfnCertificate(this, 'DeviceCertificate', {
        certificateMode: 'SNI_ONLY',
        certificatePem: deviceCertificatePem,
        status: 'ACTIVE',
      });
    }
    if (caCertificatePem !== undefined) {
      this.caCertificate = new iot.CfnCACertificate(this, 'CaCertificate', {
        // SNI_ONLY needs no proof of possession (VerificationCertificatePem is for DEFAULT mode).
        certificateMode: 'SNI_ONLY',
        caCertificatePem,
        status: 'ACTIVE',
        autoRegistrationStatus: 'ENABLE',
      });
    }
  }

  /** The id of the registered device certificate (`Ref`), when one was given. */
  public get deviceCertificateId(): string | undefined {
    return this.deviceCertificate?.ref;
  }

  /**
   * The AWS-managed domain's name, read at deploy time. On stack deletion two calls leave the retained
   * configuration harmless: it is disabled (the call CloudFormation's own handler makes before a delete), and
   * its authorizer is detached so that the authorizer can be deleted with the stack. Two custom resources, so
   * that the disable happens even if AWS IoT refuses the detach.
   */
  private awsManagedEndpoint(): string {
    const name = this.domainConfigurationName;
    const ownConfiguration = (sid: string, actions: string[]): cr.AwsCustomResourcePolicy =>
      cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ sid, actions, resources: [this.domainConfiguration.attrArn] }),
      ]);
    const common = { installLatestAwsSdk: false, timeout: Duration.minutes(1) };

    const detach = new cr.AwsCustomResource(this, 'AuthorizerDetachment', {
      ...common,
      onDelete: {
        service: '@aws-sdk/client-iot',
        action: 'UpdateDomainConfigurationCommand',
        parameters: { domainConfigurationName: name, removeAuthorizerConfig: true },
        // Deleted by hand already, or AWS IoT keeps the authorizer of a CUSTOM_AUTH_X509 configuration: the
        // stack deletion goes on (the disable below still happens).
        ignoreErrorCodesMatching: 'ResourceNotFoundException|InvalidRequestException',
      },
      policy: ownConfiguration('DetachOwnDomainConfigurationAuthorizer', ['iot:UpdateDomainConfiguration']),
    });

    const describe: cr.AwsSdkCall = {
      service: '@aws-sdk/client-iot',
      action: 'DescribeDomainConfigurationCommand',
      parameters: { domainConfigurationName: name },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('domainName'),
    };
    const lookup = new cr.AwsCustomResource(this, 'EndpointAddress', {
      ...common,
      onCreate: describe,
      onUpdate: describe,
      onDelete: {
        service: '@aws-sdk/client-iot',
        action: 'UpdateDomainConfigurationCommand',
        parameters: { domainConfigurationName: name, domainConfigurationStatus: 'DISABLED' },
        // Deleted by hand already: nothing left to disable.
        ignoreErrorCodesMatching: 'ResourceNotFoundException',
      },
      policy: ownConfiguration('ReadAndDisableOwnDomainConfiguration', [
        'iot:DescribeDomainConfiguration',
        'iot:UpdateDomainConfiguration',
      ]),
    });
    // Explicit, though the policies' reference to the configuration's ARN implies it: both run after the
    // configuration exists and, on stack deletion, before it is retained and the authorizer deleted. The lookup
    // depends on the detachment, so on deletion the disable runs first.
    for (const resource of [detach, lookup]) resource.node.addDependency(this.domainConfiguration);
    lookup.node.addDependency(detach);
    return lookup.getResponseField('domainName');
  }
}

const AUTHORIZER_NAME = { maxLength: 128, allowedChars: '\\w=,@-' } as const;

/**
 * `<stack>-<path>-<8 hex digits>`, the digits the start of the stack id's UUID: fixed for the life of the
 * stack, different for a stack created again under the same name.
 */
function uniqueDomainConfigurationName(construct: IConstruct): string {
  const parent = construct.node.scope;
  if (parent === undefined) throw new InfraError('IotX509Domain must be created inside a stack');
  const prefix = physicalName(parent, construct.node.id, {
    maxLength: 128 - UNIQUE_SUFFIX_LENGTH,
    allowedChars: '\\w.-',
  });
  const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
  return Fn.join('', [`${prefix}-`, Fn.select(0, Fn.split('-', stackUuid))]);
}

function validatedCustomDomain(domain: X509CustomDomain): X509CustomDomain {
  validatePattern(
    'customDomain.domainName',
    domain.domainName,
    DNS_NAME_PATTERN,
    'a fully qualified domain name such as iot.example.com',
  );
  const arnRule = 'an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)';
  validatePattern(
    'customDomain.serverCertificateArn',
    domain.serverCertificateArn,
    ACM_CERTIFICATE_ARN_PATTERN,
    arnRule,
  );
  if (domain.validationCertificateArn !== undefined) {
    validatePattern(
      'customDomain.validationCertificateArn',
      domain.validationCertificateArn,
      ACM_CERTIFICATE_ARN_PATTERN,
      arnRule,
    );
  }
  return domain;
}

/**
 * Checks that `pem` is one X.509 certificate (a CA certificate when `ca`) and returns it as given. A private
 * key is refused: it must never travel into a template.
 */
function validatedCertificatePem(name: string, pem: string, ca: boolean): string {
  if (Token.isUnresolved(pem)) return pem;
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new InfraError(
      `\`${name}\` must be a certificate, but a private key was provided: pass the certificate (-----BEGIN CERTIFICATE-----) and keep the key on the device`,
    );
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new InfraError(
      `\`${name}\` must be an X.509 certificate in PEM format (-----BEGIN CERTIFICATE-----), but the value provided could not be read as one`,
      { cause: error },
    );
  }
  if (certificate.ca !== ca) {
    throw new InfraError(
      ca
        ? `\`${name}\` must be a CA certificate (basicConstraints CA:TRUE), but ${describeSubject(certificate)} is not one: register a device certificate as \`deviceCertificatePem\``
        : `\`${name}\` must be a device certificate, but ${describeSubject(certificate)} is a CA certificate: register it as \`caCertificatePem\``,
    );
  }
  return pem;
}

/** The subject on one line (`CN=test-mtls-demo, O=...`), as messages show it. */
function describeSubject(certificate: X509Certificate): string {
  return JSON.stringify(certificate.subject.split('\n').join(', '));
}
