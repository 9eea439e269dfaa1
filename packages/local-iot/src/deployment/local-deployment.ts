import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOKEN_KEY_NAME_PATTERN, wildcardMatch } from '@iot-custom-auth/protocol';
import { type AssemblyStack, functionCodeDirectory, readCloudAssembly } from './cloud-assembly';
import { DeploymentError } from '../errors';
import { ensurePrivateDirectory, keepFilePrivate, writePrivateFile } from '../private-state-files';
import { stableUuid } from './stable-uuid';
import { awsCustomResourceCall, type CfnResource, IntrinsicResolver, LOCAL_ACCOUNT_ID } from './intrinsics';
import { generateSecretString } from './secret-generator';
import {
  CUSTOM_AUTH_X509,
  readX509Side,
  type LocalCaCertificate,
  type LocalCertificate,
  type LocalX509Domain,
} from './iot-certificates';

/** Region used when neither the options nor the stack's environment name one. */
export const DEFAULT_LOCAL_REGION = 'us-east-1';

/** Name of the file in the state directory keeping generated secret values (mode 0600). */
export const SECRETS_STATE_FILE = 'secrets.json';

/** How to serve a synthesized stack locally. */
export interface LoadLocalDeploymentOptions {
  /** The cloud assembly directory (`cdk.out`). */
  readonly cdkOut: string;
  /** Which stack; @default the only stack of the assembly */
  readonly stackName?: string;
  /** Where local state lives (`.local-iot/`): generated secret values are kept there across restarts. */
  readonly stateDir: string;
  /** @default the stack's environment region, else DEFAULT_LOCAL_REGION ('us-east-1') */
  readonly region?: string;
  /** Host name of the local gateway: what IoT `DescribeEndpoint` and the `IotEndpoint`-style outputs return. */
  readonly endpointHost: string;
  /**
   * Host name of the X.509 listener (the `CUSTOM_AUTH_X509` domain configuration's `domainName` and the
   * `X509Endpoint`-style outputs). @default endpointHost
   */
  readonly x509EndpointHost?: string;
  /** Values for template parameters without (or overriding) a Default. */
  readonly parameters?: Readonly<Record<string, string>>;
}

/** A Lambda function of the stack, as local-iot runs it. */
export interface LocalFunction {
  readonly logicalId: string;
  readonly name: string;
  /** `arn:aws:lambda:<region>:000000000000:function:<name>` */
  readonly arn: string;
  /** The bundled asset directory in `cdk.out`. */
  readonly codeDirectory: string;
  /** E.g. `index.handler`. */
  readonly handler: string;
  /** E.g. `nodejs20.x`. */
  readonly runtime: string;
  /** `Timeout`; @default 3 (Lambda's default) */
  readonly timeoutSeconds: number;
  /** `MemorySize`; @default 128 */
  readonly memorySizeMb: number;
  /** `Environment.Variables`, resolved to local values. */
  readonly environment: Readonly<Record<string, string>>;
  /** `LoggingConfig.LogFormat`: how the runtime formats console output. @default 'Text' */
  readonly logFormat: 'Text' | 'JSON';
  /** `LoggingConfig.ApplicationLogLevel` (JSON format only): console calls below it are dropped. */
  readonly applicationLogLevel?: string;
  /** The log group the function writes to: `LoggingConfig.LogGroup`, else Lambda's `/aws/lambda/<name>`. */
  readonly logGroupName: string;
  /**
   * `ReservedConcurrentExecutions`: at most this many execution environments at once; an invocation beyond
   * them is throttled (0 throttles every one, as Lambda does). Absent: the runner's default limit.
   */
  readonly reservedConcurrency?: number;
}

/** An `AWS::IoT::Authorizer` of the stack. */
export interface LocalAuthorizer {
  readonly logicalId: string;
  /** `AuthorizerName`, else the logical id. */
  readonly name: string;
  readonly arn: string;
  readonly status: 'ACTIVE' | 'INACTIVE';
  /** `SigningDisabled`; false (signing required) when the template does not set it, as in AWS. */
  readonly signingDisabled: boolean;
  readonly tokenKeyName?: string;
  /** `TokenSigningPublicKeys`: key name → PEM. */
  readonly tokenSigningPublicKeys: Readonly<Record<string, string>>;
  readonly enableCachingForHttp: boolean;
  /** `AuthorizerFunctionArn` as configured (may carry a version or alias qualifier). */
  readonly functionArn: string;
  /** The stack's function it points at. */
  readonly functionName: string;
  /** Whether an `AWS::Lambda::Permission` lets AWS IoT invoke the function for this authorizer. */
  readonly invokePermission: { readonly granted: boolean; readonly reason: string };
}

/** An `AWS::SecretsManager::Secret` of the stack, with its local value. */
export interface LocalSecret {
  readonly logicalId: string;
  readonly name: string;
  /** `arn:aws:secretsmanager:<region>:000000000000:secret:<name>-<6 characters>` */
  readonly arn: string;
  /** Absent for a secret created without a value. Never log it. */
  readonly secretString?: string;
  readonly versionId: string;
  readonly createdDate: Date;
}

/** An `AWS::IoT::Policy` of the stack. */
export interface LocalPolicy {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly document: Readonly<Record<string, unknown>>;
}

/** Everything local-iot serves from one synthesized stack. */
export interface LocalDeployment {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly endpointHost: string;
  readonly authorizers: readonly LocalAuthorizer[];
  /** The functions the authorizers invoke. */
  readonly functions: readonly LocalFunction[];
  readonly secrets: readonly LocalSecret[];
  readonly policies: readonly LocalPolicy[];
  /** The stack's `AWS::Lambda::Permission` resources: the functions' resource policies (Lambda `GetPolicy`). */
  readonly lambdaPermissions: readonly LocalLambdaPermission[];
  /** The stack outputs with local values (outputs whose Condition is false are left out). */
  readonly outputs: Readonly<Record<string, string>>;
  /**
   * The authorizer used when a connection names none: the account default an `AwsCustomResource` sets with
   * IoT `SetDefaultAuthorizer`, else a (custom-auth) domain configuration's `AuthorizerConfig.DefaultAuthorizerName`.
   */
  readonly defaultAuthorizerName?: string;
  /** The device certificates the stack registers (`AWS::IoT::Certificate` with a `CertificatePem`). */
  readonly certificates: readonly LocalCertificate[];
  /** The CA certificates the stack registers (`AWS::IoT::CACertificate`). */
  readonly caCertificates: readonly LocalCaCertificate[];
  /** The `CUSTOM_AUTH_X509` domain configuration local-iot serves on its X.509 listener, if any. */
  readonly x509Domain?: LocalX509Domain;
  /** What of the stack local-iot does not serve, one sentence each, for the start-up output. */
  readonly notices: readonly string[];
}

/**
 * Reads `cdk.out` and builds the local deployment of the chosen stack.
 * @throws DeploymentError naming the missing file, resource or property and the fix.
 */
export function loadLocalDeployment(options: LoadLocalDeploymentOptions): LocalDeployment {
  return buildLocalDeployment(readCloudAssembly(options.cdkOut, options.stackName), options);
}

/** Builds the local deployment of an already read stack (see `loadLocalDeployment`). */
export function buildLocalDeployment(
  stack: AssemblyStack,
  options: Omit<LoadLocalDeploymentOptions, 'cdkOut' | 'stackName'>,
): LocalDeployment {
  const region = options.region ?? stack.region ?? DEFAULT_LOCAL_REGION;
  const resolver = new IntrinsicResolver(stack.template, {
    stackName: stack.stackName,
    region,
    endpointHost: options.endpointHost,
    ...(options.x509EndpointHost !== undefined && { x509EndpointHost: options.x509EndpointHost }),
    ...(options.parameters && { parameters: options.parameters }),
  });
  const resources = Object.entries(stack.template.Resources ?? {}).filter(([logicalId, resource]) =>
    resolver.conditionHolds(resource.Condition, `Resources.${logicalId}.Condition`),
  );
  const ofType = (type: string): [string, CfnResource][] => resources.filter(([, r]) => r.Type === type);

  const functionsByArn = new Map<string, string>();
  for (const [logicalId] of ofType('AWS::Lambda::Function')) {
    functionsByArn.set(String(resolver.getAtt(logicalId, 'Arn', `Resources.${logicalId}`)), logicalId);
  }
  const functions = new Map<string, LocalFunction>();
  const permissions = ofType('AWS::Lambda::Permission').map(([logicalId]) =>
    readPermission(resolver, logicalId),
  );

  const authorizers = ofType('AWS::IoT::Authorizer').map(([logicalId]): LocalAuthorizer => {
    const at = `Resources.${logicalId}.Properties`;
    const prop = (name: string): unknown => resolver.resolveProperty(logicalId, name);
    const functionArn = resolver.resolveString(prop('AuthorizerFunctionArn'), `${at}.AuthorizerFunctionArn`);
    const baseArn = functionArn.split(':').slice(0, 7).join(':');
    const functionId = functionsByArn.get(baseArn);
    if (functionId === undefined) {
      throw new DeploymentError(
        `${at}.AuthorizerFunctionArn: ${functionArn} is not a Lambda function of this stack; local-iot can only run functions defined in the synthesized template`,
      );
    }
    let fn = functions.get(functionId);
    if (fn === undefined) {
      fn = readFunction(stack, resolver, functionId);
      functions.set(functionId, fn);
    }
    const name = String(resolver.ref(logicalId, `Resources.${logicalId}`));
    const arn = String(resolver.getAtt(logicalId, 'Arn', `Resources.${logicalId}`));
    const status = prop('Status') ?? 'INACTIVE';
    if (status !== 'ACTIVE' && status !== 'INACTIVE') {
      throw new DeploymentError(
        `${at}.Status must be ACTIVE or INACTIVE, but ${JSON.stringify(status)} was given`,
      );
    }
    const keys = prop('TokenSigningPublicKeys') ?? {};
    if (
      typeof keys !== 'object' ||
      keys === null ||
      Array.isArray(keys) ||
      !Object.values(keys).every((v) => typeof v === 'string')
    ) {
      throw new DeploymentError(`${at}.TokenSigningPublicKeys must map key names to PEM strings`);
    }
    const tokenKeyName = prop('TokenKeyName');
    if (
      tokenKeyName !== undefined &&
      (typeof tokenKeyName !== 'string' || !TOKEN_KEY_NAME_PATTERN.test(tokenKeyName))
    ) {
      throw new DeploymentError(
        `${at}.TokenKeyName must match ${TOKEN_KEY_NAME_PATTERN.source}, but ${JSON.stringify(tokenKeyName)} was given`,
      );
    }
    const signingDisabled = isTrue(prop('SigningDisabled'));
    if (!signingDisabled && (tokenKeyName === undefined || Object.keys(keys).length === 0)) {
      throw new DeploymentError(
        `${at}: signing is enabled (SigningDisabled is not true), so TokenKeyName and TokenSigningPublicKeys are required, as AWS requires`,
      );
    }
    return {
      logicalId,
      name,
      arn,
      status,
      signingDisabled,
      ...(tokenKeyName !== undefined && { tokenKeyName }),
      tokenSigningPublicKeys: keys as Record<string, string>,
      enableCachingForHttp: isTrue(prop('EnableCachingForHttp')),
      functionArn,
      functionName: fn.name,
      invokePermission: invokePermission(permissions, fn, arn, LOCAL_ACCOUNT_ID),
    };
  });

  const secrets = readSecrets(
    ofType('AWS::SecretsManager::Secret'),
    resolver,
    stack.stackName,
    options.stateDir,
  );
  const policies = ofType('AWS::IoT::Policy').map(([logicalId]): LocalPolicy => {
    const at = `Resources.${logicalId}.Properties.PolicyDocument`;
    const document = resolver.resolveProperty(logicalId, 'PolicyDocument');
    const parsed = typeof document === 'string' ? parsePolicyDocumentString(document, at) : document;
    if (typeof parsed !== 'object' || parsed === null) {
      throw new DeploymentError(`${at} is not a policy document`);
    }
    return {
      logicalId,
      name: String(resolver.ref(logicalId, `Resources.${logicalId}`)),
      arn: String(resolver.getAtt(logicalId, 'Arn', `Resources.${logicalId}`)),
      document: parsed as Record<string, unknown>,
    };
  });

  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries(stack.template.Outputs ?? {})) {
    if (!resolver.conditionHolds(output.Condition, `Outputs.${name}.Condition`)) continue;
    outputs[name] = resolver.resolveString(output.Value, `Outputs.${name}.Value`);
  }

  const defaultAuthorizerName = findDefaultAuthorizer(resources, resolver);
  if (defaultAuthorizerName !== undefined && !authorizers.some((a) => a.name === defaultAuthorizerName)) {
    throw new DeploymentError(
      `the default authorizer '${defaultAuthorizerName}' is not an authorizer of this stack`,
    );
  }
  const x509 = readX509Side(resources, resolver, options.x509EndpointHost ?? options.endpointHost);
  const x509Default = x509.x509Domain?.defaultAuthorizerName;
  if (x509Default !== undefined && !authorizers.some((a) => a.name === x509Default)) {
    throw new DeploymentError(
      `Resources.${x509.x509Domain?.logicalId ?? ''}.Properties.AuthorizerConfig.DefaultAuthorizerName: '${x509Default}' is not an authorizer of this stack`,
    );
  }
  return {
    stackName: stack.stackName,
    region,
    accountId: LOCAL_ACCOUNT_ID,
    partition: 'aws',
    endpointHost: options.endpointHost,
    authorizers,
    functions: [...functions.values()],
    secrets,
    policies,
    lambdaPermissions: permissions,
    outputs,
    ...(defaultAuthorizerName !== undefined && { defaultAuthorizerName }),
    certificates: x509.certificates,
    caCertificates: x509.caCertificates,
    ...(x509.x509Domain !== undefined && { x509Domain: x509.x509Domain }),
    notices: x509.notices,
  };
}

/** The authorizer called `name`, or undefined. */
export function findAuthorizer(deployment: LocalDeployment, name: string): LocalAuthorizer | undefined {
  return deployment.authorizers.find((authorizer) => authorizer.name === name);
}

/**
 * The secret a Secrets Manager `SecretId` names: its full ARN, its name, or its ARN without the 6-character
 * suffix (all three are accepted by Secrets Manager).
 */
export function findSecret(deployment: LocalDeployment, secretId: string): LocalSecret | undefined {
  return deployment.secrets.find(
    (secret) => secret.arn === secretId || secret.name === secretId || secret.arn.slice(0, -7) === secretId,
  );
}

/** The outputs in the shape `cdk deploy --outputs-file` writes: `{ "<StackName>": { "<Output>": "value" } }`. */
export function outputsFileContent(deployment: LocalDeployment): Record<string, Record<string, string>> {
  return { [deployment.stackName]: { ...deployment.outputs } };
}

function readFunction(stack: AssemblyStack, resolver: IntrinsicResolver, logicalId: string): LocalFunction {
  const resource = stack.template.Resources?.[logicalId] as CfnResource;
  const at = `Resources.${logicalId}.Properties`;
  const prop = (name: string): unknown => resolver.resolveProperty(logicalId, name);
  const runtime = prop('Runtime');
  if (typeof runtime !== 'string' || !runtime.startsWith('nodejs')) {
    throw new DeploymentError(
      `${at}.Runtime is ${JSON.stringify(runtime)}; local-iot runs only Node.js functions (nodejs*.x)`,
    );
  }
  const handler = prop('Handler');
  if (typeof handler !== 'string' || !/^[^.]+(\.[^.]+)+$/.test(handler)) {
    throw new DeploymentError(
      `${at}.Handler must be "<file>.<export>" (e.g. index.handler), but ${JSON.stringify(handler)} was given`,
    );
  }
  const timeoutSeconds = positiveInteger(prop('Timeout'), 3, `${at}.Timeout`);
  const memorySizeMb = positiveInteger(prop('MemorySize'), 128, `${at}.MemorySize`);
  const logFormat = prop('LoggingConfig.LogFormat') ?? 'Text';
  if (logFormat !== 'Text' && logFormat !== 'JSON') {
    throw new DeploymentError(
      `${at}.LoggingConfig.LogFormat must be Text or JSON, but ${JSON.stringify(logFormat)} was given`,
    );
  }
  const level = prop('LoggingConfig.ApplicationLogLevel');
  const applicationLogLevel = logFormat === 'JSON' ? (typeof level === 'string' ? level : 'INFO') : undefined;
  const reserved = prop('ReservedConcurrentExecutions');
  const reservedConcurrency = reserved === undefined ? undefined : Number(reserved);
  if (
    reservedConcurrency !== undefined &&
    (!Number.isInteger(reservedConcurrency) || reservedConcurrency < 0)
  ) {
    throw new DeploymentError(
      `${at}.ReservedConcurrentExecutions must be a whole number of 0 or more, but ${JSON.stringify(reserved)} was given`,
    );
  }
  const variables = prop('Environment.Variables') ?? {};
  if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) {
    throw new DeploymentError(`${at}.Environment.Variables must be an object`);
  }
  const environment: Record<string, string> = {};
  for (const [key, value] of Object.entries(variables as Record<string, unknown>)) {
    environment[key] = resolver.resolveString(value, `${at}.Environment.Variables.${key}`);
  }
  const name = String(resolver.ref(logicalId, `Resources.${logicalId}`));
  const logGroup = prop('LoggingConfig.LogGroup');
  return {
    logicalId,
    name,
    arn: resolver.functionArn(name),
    logGroupName:
      logGroup === undefined
        ? `/aws/lambda/${name}`
        : resolver.resolveString(logGroup, `${at}.LoggingConfig.LogGroup`),
    codeDirectory: functionCodeDirectory(stack, logicalId, resource),
    handler,
    runtime,
    timeoutSeconds,
    memorySizeMb,
    environment,
    logFormat,
    ...(applicationLogLevel !== undefined && { applicationLogLevel }),
    ...(reservedConcurrency !== undefined && { reservedConcurrency }),
  };
}

/** An `AWS::Lambda::Permission`: one statement of a function's resource policy. */
export interface LocalLambdaPermission {
  readonly logicalId: string;
  /** The statement id Lambda gives it: the resource's physical id. */
  readonly statementId: string;
  readonly action: string;
  readonly principal: string;
  readonly functionName: string;
  readonly sourceArn?: string;
  readonly sourceAccount?: string;
}

function readPermission(resolver: IntrinsicResolver, logicalId: string): LocalLambdaPermission {
  const at = `Resources.${logicalId}.Properties`;
  const optional = (name: string): string | undefined => {
    const value = resolver.resolveProperty(logicalId, name);
    return value === undefined ? undefined : resolver.resolveString(value, `${at}.${name}`);
  };
  const sourceArn = optional('SourceArn');
  const sourceAccount = optional('SourceAccount');
  return {
    logicalId,
    statementId: String(resolver.ref(logicalId, `Resources.${logicalId}`)),
    action: optional('Action') ?? '',
    principal: optional('Principal') ?? '',
    functionName: optional('FunctionName') ?? '',
    ...(sourceArn !== undefined && { sourceArn }),
    ...(sourceAccount !== undefined && { sourceAccount }),
  };
}

/** Whether some permission lets `iot.amazonaws.com` invoke `fn` for the authorizer `authorizerArn`. */
function invokePermission(
  permissions: readonly LocalLambdaPermission[],
  fn: LocalFunction,
  authorizerArn: string,
  account: string,
): { granted: boolean; reason: string } {
  const targetsFunction = (name: string): boolean => {
    const base = name.split(':').length >= 7 ? name.split(':').slice(0, 7).join(':') : name;
    return base === fn.name || base === fn.arn || fn.arn.endsWith(`:${base}`);
  };
  const granting = permissions.find(
    (p) =>
      (p.action === 'lambda:InvokeFunction' || p.action === 'lambda:*') &&
      p.principal === 'iot.amazonaws.com' &&
      targetsFunction(p.functionName) &&
      // ArnLike on SourceArn: the same `*` / `?` matching as policy resources.
      (p.sourceArn === undefined || wildcardMatch(p.sourceArn, authorizerArn)) &&
      (p.sourceAccount === undefined || p.sourceAccount === account),
  );
  if (granting !== undefined) {
    return {
      granted: true,
      reason: `AWS::Lambda::Permission '${granting.logicalId}' lets iot.amazonaws.com invoke ${fn.name}`,
    };
  }
  return {
    granted: false,
    reason:
      `no AWS::Lambda::Permission lets iot.amazonaws.com invoke function ${fn.name} for authorizer ${authorizerArn} ` +
      '(principal iot.amazonaws.com, action lambda:InvokeFunction, SourceArn = the authorizer ARN): AWS IoT would never invoke it',
  };
}

function findDefaultAuthorizer(
  resources: readonly [string, CfnResource][],
  resolver: IntrinsicResolver,
): string | undefined {
  for (const [logicalId, resource] of resources) {
    const call = awsCustomResourceCall(resolver, logicalId, resource);
    if (call === undefined) continue;
    const service = call.service.toLowerCase().replace(/^@aws-sdk\/client-/, '');
    const action = call.action.toLowerCase().replace(/command$/, '');
    if (
      service === 'iot' &&
      action === 'setdefaultauthorizer' &&
      typeof call.parameters.authorizerName === 'string'
    ) {
      return call.parameters.authorizerName;
    }
  }
  const names = new Set<string>();
  for (const [logicalId, resource] of resources) {
    if (resource.Type !== 'AWS::IoT::DomainConfiguration') continue;
    if (resolver.resolveProperty(logicalId, 'DomainConfigurationStatus') === 'DISABLED') continue;
    // Its default authorizer decides the X.509 listener's connections only, not the gateway's.
    if (resolver.resolveProperty(logicalId, 'AuthenticationType') === CUSTOM_AUTH_X509) continue;
    const name = resolver.resolveProperty(logicalId, 'AuthorizerConfig.DefaultAuthorizerName');
    if (typeof name === 'string') names.add(name);
  }
  if (names.size > 1) {
    throw new DeploymentError(
      `domain configurations name different default authorizers (${[...names].join(', ')}); local-iot serves one endpoint: keep one`,
    );
  }
  return [...names][0];
}

interface SecretState {
  readonly fingerprint: string;
  readonly secretString: string;
  readonly createdDate: string;
}

type SecretsFile = Record<string, Record<string, SecretState>>;

/**
 * Secret values: a `SecretString` as given; a `GenerateSecretString` value generated once and kept in
 * `<stateDir>/secrets.json` (mode 0600) under the stack and logical id with a fingerprint of its settings,
 * so a restart reuses it and changing the settings in the stack generates a new one (as an update would).
 */
function readSecrets(
  entries: readonly [string, CfnResource][],
  resolver: IntrinsicResolver,
  stackName: string,
  stateDir: string,
): LocalSecret[] {
  const file = join(stateDir, SECRETS_STATE_FILE);
  let state: SecretsFile | undefined;
  let changed = false;
  const loadState = (): SecretsFile => {
    if (state !== undefined) return state;
    if (!existsSync(file)) return (state = {});
    // Reused as is, so its mode is re-tightened here: a copy written by an older version may be looser.
    keepFilePrivate(file);
    try {
      state = JSON.parse(readFileSync(file, 'utf8')) as SecretsFile;
    } catch (error) {
      throw new DeploymentError(`${file} is not valid JSON: delete it to generate new secret values`, {
        cause: error,
      });
    }
    return state;
  };
  const now = new Date();
  const secrets = entries.map(([logicalId]): LocalSecret => {
    const at = `Resources.${logicalId}.Properties`;
    const arn = String(resolver.ref(logicalId, `Resources.${logicalId}`));
    const name = arn.split(':secret:')[1]?.slice(0, -7) ?? logicalId;
    const literal = resolver.resolveProperty(logicalId, 'SecretString');
    const spec = resolver.resolveProperty(logicalId, 'GenerateSecretString');
    if (literal !== undefined && spec !== undefined) {
      throw new DeploymentError(`${at}: SecretString and GenerateSecretString cannot both be set`);
    }
    if (literal !== undefined) {
      const secretString = resolver.resolveString(literal, `${at}.SecretString`);
      return { logicalId, name, arn, secretString, versionId: stableUuid(secretString), createdDate: now };
    }
    if (spec === undefined) return { logicalId, name, arn, versionId: stableUuid(arn), createdDate: now };
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      throw new DeploymentError(`${at}.GenerateSecretString must be an object`);
    }
    const fingerprint = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    const stackState = (loadState()[stackName] ??= {});
    let kept = stackState[logicalId];
    if (kept === undefined || kept.fingerprint !== fingerprint || typeof kept.secretString !== 'string') {
      kept = {
        fingerprint,
        secretString: generateSecretString(spec, `${at}.GenerateSecretString`),
        createdDate: now.toISOString(),
      };
      stackState[logicalId] = kept;
      changed = true;
    }
    return {
      logicalId,
      name,
      arn,
      secretString: kept.secretString,
      versionId: stableUuid(`${fingerprint}/${kept.createdDate}`),
      createdDate: new Date(kept.createdDate),
    };
  });
  if (changed && state !== undefined) {
    ensurePrivateDirectory(stateDir);
    writePrivateFile(file, `${JSON.stringify(state, null, 2)}\n`);
  }
  return secrets;
}

/** A policy document given as a string (CloudFormation accepts both): JSON, else a DeploymentError. */
function parsePolicyDocumentString(document: string, at: string): unknown {
  try {
    return JSON.parse(document) as unknown;
  } catch (error) {
    throw new DeploymentError(
      `${at} is a string that is not valid JSON (${(error as Error).message}): give the policy document as an object, or as a string holding a JSON object`,
      { cause: error },
    );
  }
}

function positiveInteger(value: unknown, fallback: number, where: string): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) {
    throw new DeploymentError(`${where} must be a positive integer, but ${JSON.stringify(value)} was given`);
  }
  return number;
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}
