import { existsSync } from 'node:fs';
import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  AUTHORIZER_ENV,
  AUTHORIZER_INVOKE_TIMEOUT_SECONDS,
  AUTHORIZER_RESPONSE_LIMITS,
  DEFAULTS,
  DEVICE_SECRET_FIELDS,
} from '@iot-custom-auth/protocol';
import { InfraError } from './errors';
import { physicalName } from './physical-name';
import {
  TOKEN_SIGNING_KEY_NAME_PATTERN,
  validateAuthorizerName,
  validateClientIdPrefix,
  validateIntegerInRange,
  validatePattern,
  validateTokenKeyName,
  validateTokenSigningPublicKey,
  validateTopicRoot,
} from './prop-validation';
import { authorizerLambdaPackageDir, authorizerLambdaSource, findRepoRoot } from './repo-root';

/** Properties of an {@link IotCustomAuthorizer}. */
export interface IotCustomAuthorizerProps {
  /**
   * Public keys the signed authorizer verifies token signatures with, by key name (AWS IoT's
   * `TokenSigningPublicKeys`): RSA, at least 2048 bits, PEM. Two keys let you rotate without downtime.
   */
  readonly tokenSigningPublicKeys: { readonly [keyName: string]: string };

  /**
   * Client ids allowed to connect start with this; the Lambda returns `iot:Connect` on `client/<prefix>*`.
   * @default DEFAULTS.clientIdPrefix ('test-')
   */
  readonly clientIdPrefix?: string;

  /**
   * Devices may use the topics `<topicRoot>/<clientId>` and below.
   * @default DEFAULTS.topicRoot ('devices')
   */
  readonly topicRoot?: string;

  /**
   * Name of the query parameter or header that carries the token on the signed authorizer (`TokenKeyName`).
   * @default DEFAULTS.tokenKeyName ('token')
   */
  readonly tokenKeyName?: string;

  /**
   * How long AWS IoT caches the returned policy before invoking the Lambda again, 300 to 86400 seconds.
   * @default DEFAULTS.refreshAfterSeconds (300)
   */
  readonly refreshAfterSeconds?: number;

  /**
   * How long a connection may last before AWS IoT closes it, 300 to 86400 seconds.
   * @default DEFAULTS.disconnectAfterSeconds (86400)
   */
  readonly disconnectAfterSeconds?: number;

  /**
   * Name of the authorizer for user name and password (`SigningDisabled: true`).
   * @default - `<stack name>-<construct path>-UnsignedAuthorizer`, stable across deployments
   */
  readonly unsignedAuthorizerName?: string;

  /**
   * Name of the authorizer for signed tokens.
   * @default - `<stack name>-<construct path>-SignedAuthorizer`, stable across deployments
   */
  readonly signedAuthorizerName?: string;

  /**
   * Lambda timeout, at most 5 seconds: AWS IoT refuses the connection when the Lambda takes longer.
   * @default Duration.seconds(4)
   */
  readonly timeout?: Duration;

  /**
   * Lambda memory in MB, 128 to 10240 (more memory also means more CPU, so faster cold starts).
   * @default 256
   */
  readonly memorySize?: number;

  /**
   * How long the Lambda's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * X.509 mode only (`IotX509Domain`): the SHA-256 fingerprints (64 hex digits, colons allowed, or the AWS IoT
   * certificate id) of the only client certificates the Lambda admits, on top of AWS IoT's own check that the
   * certificate is registered and ACTIVE (`X509_TRUSTED_CERTIFICATE_FINGERPRINTS`).
   * @default - unset: pinning off, every certificate AWS IoT verified is decided on its subject CN
   */
  readonly x509TrustedCertificateFingerprints?: readonly string[];

  /**
   * Root of the repository holding `packages/authorizer-lambda/src/handler.ts`, `package-lock.json` and
   * `tsconfig.json`; the handler is bundled from there with the locally installed esbuild.
   * @default - the repository this package lives in
   */
  readonly projectRoot?: string;
}

/** Default Lambda timeout: inside AWS IoT's 5 s limit with a second to spare for the network. */
const DEFAULT_TIMEOUT = Duration.seconds(4);
const DEFAULT_MEMORY_MB = 256;
const AUTHORIZER_NAME_MAX_LENGTH = 128;

/**
 * AWS IoT Core custom authentication for devices: one authorizer Lambda (bundled from
 * `packages/authorizer-lambda` with esbuild, arm64, JSON logs, least-privilege role), the master secret every
 * device password derives from in Secrets Manager, and two `ACTIVE` authorizers on that Lambda, each allowed to
 * invoke it only for itself:
 * - unsigned (`SigningDisabled: true`): MQTT user name (the device id) and that device's own password, which
 *   the Lambda derives from the master key (HMAC-SHA-256) and compares; revoked devices are listed in the secret;
 * - signed: AWS IoT verifies the token's RSA signature with `tokenSigningPublicKeys`, then invokes the Lambda.
 */
export class IotCustomAuthorizer extends Construct {
  /** The authorizer Lambda. */
  public readonly function: lambda.IFunction;
  /** The Lambda's execution role: read of {@link deviceSecret} and writes to {@link logGroup}, nothing else. */
  public readonly role: iam.IRole;
  /** Where the Lambda logs (JSON format). */
  public readonly logGroup: logs.ILogGroup;
  /**
   * The master secret: `{"masterKey": <64 generated letters and digits>, "revokedDevices": {}}`; every device
   * password is derived from the key (see the authorizer-lambda README for rotation and revocation).
   */
  public readonly deviceSecret: secretsmanager.ISecret;
  /** The user name-and-password authorizer. */
  public readonly unsignedAuthorizer: iot.CfnAuthorizer;
  /** The signed-token authorizer. */
  public readonly signedAuthorizer: iot.CfnAuthorizer;
  /** Name of {@link unsignedAuthorizer}, known at synth time. */
  public readonly unsignedAuthorizerName: string;
  /** Name of {@link signedAuthorizer}, known at synth time. */
  public readonly signedAuthorizerName: string;
  /** The signed authorizer's `TokenKeyName`. */
  public readonly tokenKeyName: string;
  /** The client id prefix the Lambda allows to connect. */
  public readonly clientIdPrefix: string;
  /** The topic root the Lambda's policy grants under. */
  public readonly topicRoot: string;

  constructor(scope: Construct, id: string, props: IotCustomAuthorizerProps) {
    super(scope, id);

    this.clientIdPrefix = props.clientIdPrefix ?? DEFAULTS.clientIdPrefix;
    this.topicRoot = props.topicRoot ?? DEFAULTS.topicRoot;
    this.tokenKeyName = props.tokenKeyName ?? DEFAULTS.tokenKeyName;
    const refreshAfterSeconds = props.refreshAfterSeconds ?? DEFAULTS.refreshAfterSeconds;
    const disconnectAfterSeconds = props.disconnectAfterSeconds ?? DEFAULTS.disconnectAfterSeconds;
    const timeout = props.timeout ?? DEFAULT_TIMEOUT;
    const memorySize = props.memorySize ?? DEFAULT_MEMORY_MB;

    validateClientIdPrefix('clientIdPrefix', this.clientIdPrefix);
    validateTopicRoot('topicRoot', this.topicRoot);
    validateTokenKeyName('tokenKeyName', this.tokenKeyName);
    const { minTtlSeconds, maxTtlSeconds } = AUTHORIZER_RESPONSE_LIMITS;
    validateIntegerInRange('refreshAfterSeconds', refreshAfterSeconds, minTtlSeconds, maxTtlSeconds);
    validateIntegerInRange('disconnectAfterSeconds', disconnectAfterSeconds, minTtlSeconds, maxTtlSeconds);
    if (!timeout.isUnresolved()) {
      validateIntegerInRange(
        'timeout',
        timeout.toSeconds({ integral: false }),
        1,
        AUTHORIZER_INVOKE_TIMEOUT_SECONDS,
        'seconds',
      );
    }
    validateIntegerInRange('memorySize', memorySize, 128, 10_240, 'MB');
    const tokenSigningPublicKeys = validatedPublicKeys(props.tokenSigningPublicKeys);
    const trustedFingerprints =
      props.x509TrustedCertificateFingerprints === undefined
        ? undefined
        : validatedFingerprints(props.x509TrustedCertificateFingerprints);

    const unsignedId = 'UnsignedAuthorizer';
    const signedId = 'SignedAuthorizer';
    this.unsignedAuthorizerName = props.unsignedAuthorizerName ?? this.defaultAuthorizerName(unsignedId);
    this.signedAuthorizerName = props.signedAuthorizerName ?? this.defaultAuthorizerName(signedId);
    validateAuthorizerName('unsignedAuthorizerName', this.unsignedAuthorizerName);
    validateAuthorizerName('signedAuthorizerName', this.signedAuthorizerName);
    if (
      !Token.isUnresolved(this.unsignedAuthorizerName) &&
      this.unsignedAuthorizerName === this.signedAuthorizerName
    ) {
      throw new InfraError(
        `\`unsignedAuthorizerName\` and \`signedAuthorizerName\` must differ, but both are ${JSON.stringify(this.signedAuthorizerName)}`,
      );
    }

    // By default the handler comes from the installed authorizer-lambda package; an explicit projectRoot is
    // another checkout with this repository's layout.
    const source =
      props.projectRoot === undefined
        ? authorizerLambdaSource(findRepoRoot(), authorizerLambdaPackageDir())
        : authorizerLambdaSource(props.projectRoot);
    if (!existsSync(source.entry)) {
      throw new InfraError(
        `cannot find the authorizer handler ${source.entry}: \`projectRoot\` must be the repository root holding packages/authorizer-lambda, but ${JSON.stringify(source.projectRoot)} was provided`,
      );
    }

    // The logical id stays 'DeviceCredentials': the secret evolves in place (a changed template value only
    // replaces the value at creation; existing stacks keep their ARN and rotate with the CLI).
    const deviceSecret = new secretsmanager.Secret(this, 'DeviceCredentials', {
      description: `Master key the device passwords of the AWS IoT custom authorizer ${this.node.path} derive from, and revoked devices`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ [DEVICE_SECRET_FIELDS.revokedDevices]: {} }),
        generateStringKey: DEVICE_SECRET_FIELDS.masterKey,
        // 64 characters of 62 letters and digits: 381 bits, above the 256 of the HMAC-SHA-256 key it is.
        excludePunctuation: true,
        passwordLength: 64,
      },
    });
    Validations.of(deviceSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating the master key changes every device password, so it needs a re-provisioning rollout that a rotation Lambda cannot do; the operator rotates with `npm run device -w client -- rotate`, which keeps the previous key valid for a grace period (see the authorizer-lambda README).',
    });
    this.deviceSecret = deviceSecret;

    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.logGroup = logGroup;

    // An explicit role with inline statements instead of the default AWSLambdaBasicExecutionRole, which would
    // allow creating log groups and writing to any of them.
    const role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the AWS IoT custom authorizer Lambda ${this.node.path}`,
      inlinePolicies: {
        AuthorizerPolicy: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'ReadDeviceCredentials',
              actions: ['secretsmanager:GetSecretValue'],
              resources: [deviceSecret.secretArn],
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
    this.role = role;

    const fn = new nodejs.NodejsFunction(this, 'Function', {
      description: 'AWS IoT Core custom authorizer: checks device credentials or signed tokens',
      entry: source.entry,
      handler: 'handler',
      projectRoot: source.projectRoot,
      depsLockFilePath: source.depsLockFilePath,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: {
        [AUTHORIZER_ENV.deviceSecretArn]: deviceSecret.secretArn,
        [AUTHORIZER_ENV.clientIdPrefix]: this.clientIdPrefix,
        [AUTHORIZER_ENV.topicRoot]: this.topicRoot,
        [AUTHORIZER_ENV.refreshAfterSeconds]: numberToString(refreshAfterSeconds),
        [AUTHORIZER_ENV.disconnectAfterSeconds]: numberToString(disconnectAfterSeconds),
        ...(trustedFingerprints !== undefined && {
          [AUTHORIZER_ENV.x509TrustedCertificateFingerprints]: trustedFingerprints.join(','),
        }),
        // Stack traces point at the TypeScript source instead of the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // Local esbuild only: bundling must work offline and without Docker.
        forceDockerBundling: false,
        tsconfig: source.tsconfig,
        // The Node.js runtime provides AWS SDK v3; bundling it would only slow cold starts.
        externalModules: ['@aws-sdk/*'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The oldest Node.js the bundle runs on: Lambda runs 24, local-iot runs it on the developer's Node 20+.
        target: 'node20',
        logLevel: nodejs.LogLevel.WARNING,
      },
    });
    this.function = fn;

    this.unsignedAuthorizer = new iot.CfnAuthorizer(this, unsignedId, {
      authorizerName: this.unsignedAuthorizerName,
      authorizerFunctionArn: fn.functionArn,
      status: 'ACTIVE',
      signingDisabled: true,
    });
    this.signedAuthorizer = new iot.CfnAuthorizer(this, signedId, {
      authorizerName: this.signedAuthorizerName,
      authorizerFunctionArn: fn.functionArn,
      status: 'ACTIVE',
      signingDisabled: false,
      tokenKeyName: this.tokenKeyName,
      tokenSigningPublicKeys,
    });

    // One permission per authorizer, bound to its ARN and the account: `grantInvoke` would let any IoT
    // authorizer (of any account) invoke the function.
    for (const authorizer of [this.unsignedAuthorizer, this.signedAuthorizer]) {
      new lambda.CfnPermission(this, `${authorizer.node.id}InvokePermission`, {
        functionName: fn.functionArn,
        action: 'lambda:InvokeFunction',
        principal: 'iot.amazonaws.com',
        sourceArn: authorizer.attrArn,
        sourceAccount: Stack.of(this).account,
      });
    }
  }

  private defaultAuthorizerName(childId: string): string {
    return physicalName(this, childId, { maxLength: AUTHORIZER_NAME_MAX_LENGTH, allowedChars: '\\w=,@-' });
  }
}

function validatedPublicKeys(keys: { readonly [keyName: string]: string }): Record<string, string> {
  const names = Object.keys(keys);
  if (names.length === 0) {
    throw new InfraError(
      '`tokenSigningPublicKeys` must hold at least one public key, but none was provided: run `npm run keys` and pass .keys/token-signing-public.pem',
    );
  }
  const validated: Record<string, string> = {};
  for (const name of names) {
    validatePattern(
      'tokenSigningPublicKeys',
      name,
      TOKEN_SIGNING_KEY_NAME_PATTERN,
      'keyed by names of 1 to 128 characters from A-Z a-z 0-9 : _ -',
    );
    validated[name] = validateTokenSigningPublicKey(`\`tokenSigningPublicKeys.${name}\``, keys[name] ?? '');
  }
  return validated;
}

/** A SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it (colons) or as plain hex. */
const SHA256_FINGERPRINT_PATTERN = /^(?:[0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{64}$/;

/** Checks the fingerprints and returns them as the Lambda compares them: lower-case hex without colons. */
function validatedFingerprints(fingerprints: readonly string[]): string[] {
  if (fingerprints.length === 0) {
    throw new InfraError(
      '`x509TrustedCertificateFingerprints` must hold at least one SHA-256 fingerprint, but the list is empty: leave it unset to turn pinning off',
    );
  }
  return fingerprints.map((fingerprint) => {
    validatePattern(
      'x509TrustedCertificateFingerprints',
      fingerprint,
      SHA256_FINGERPRINT_PATTERN,
      'SHA-256 certificate fingerprints (64 hex digits, colons allowed, as `openssl x509 -noout -fingerprint -sha256` prints them, or AWS IoT certificate ids)',
    );
    return fingerprint.replaceAll(':', '').toLowerCase();
  });
}

/** Environment values are strings; a number token stays a token so that it resolves at deploy time. */
function numberToString(value: number): string {
  return Token.isUnresolved(value) ? Token.asString(value) : String(value);
}
