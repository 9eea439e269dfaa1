import { createHash } from 'node:crypto';
import { awsIotCertificateId } from '@iot-custom-auth/protocol';
import { DeploymentError } from '../errors';
import { stableUuid } from './stable-uuid';
import { CUSTOM_AUTH_X509, parseCertificatePem } from './iot-certificates';

/** The account id every local resource lives in (AWS's documentation placeholder account). */
export const LOCAL_ACCOUNT_ID = '000000000000';

/** A CloudFormation template, as far as local-iot reads it. */
export interface CfnTemplate {
  readonly Parameters?: Readonly<Record<string, CfnParameter>>;
  readonly Mappings?: Readonly<Record<string, unknown>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Resources?: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, CfnOutput>>;
}

export interface CfnParameter {
  readonly Type?: string;
  readonly Default?: unknown;
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Metadata?: Readonly<Record<string, unknown>>;
  readonly Condition?: string;
}

export interface CfnOutput {
  readonly Value: unknown;
  readonly Description?: string;
  readonly Condition?: string;
}

/** Where the stack is "deployed" locally. */
export interface IntrinsicResolverOptions {
  readonly stackName: string;
  readonly region: string;
  /** @default LOCAL_ACCOUNT_ID ('000000000000') */
  readonly accountId?: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** @default 'amazonaws.com' */
  readonly urlSuffix?: string;
  /** The host name IoT `DescribeEndpoint` (`iot:Data-ATS`) returns: the local gateway's. */
  readonly endpointHost: string;
  /**
   * The host name of the X.509 listener: what a `CUSTOM_AUTH_X509` domain configuration's `domainName`
   * resolves to. @default endpointHost
   */
  readonly x509EndpointHost?: string;
  /** Values for template parameters; a parameter without one takes its `Default`. */
  readonly parameters?: Readonly<Record<string, string>>;
}

/** What `Ref: AWS::NoValue` resolves to before it is dropped from its object or array. */
const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

const CONDITION_FUNCTIONS = new Set(['Fn::Equals', 'Fn::And', 'Fn::Or', 'Fn::Not', 'Condition']);

/**
 * Resolves CloudFormation intrinsic functions to local values: `Ref` (resources, parameters, pseudo
 * parameters), `Fn::GetAtt`, `Fn::Join`, `Fn::Sub` (both forms), `Fn::Select`, `Fn::Split`, `Fn::If` with
 * conditions, `Fn::FindInMap` and `Fn::Base64`.
 *
 * Resources get deterministic local physical ids (a Lambda function's ARN is
 * `arn:aws:lambda:<region>:000000000000:function:<name>`), so re-loading the same template gives the same
 * values. Anything it cannot resolve throws a `DeploymentError` naming the property path (which starts with
 * the resource's logical id) and the reason: never a silent default. Resolution is lazy: only what local-iot
 * reads is resolved, so a template may use unsupported functions in resources local-iot does not run.
 */
export class IntrinsicResolver {
  private readonly resources: Readonly<Record<string, CfnResource>>;
  private readonly account: string;
  private readonly partition: string;
  private readonly inProgress = new Set<string>();
  private readonly conditionCache = new Map<string, boolean>();

  constructor(
    private readonly template: CfnTemplate,
    private readonly options: IntrinsicResolverOptions,
  ) {
    this.resources = template.Resources ?? {};
    this.account = options.accountId ?? LOCAL_ACCOUNT_ID;
    this.partition = options.partition ?? 'aws';
  }

  /** Resolves every intrinsic in `value`; `path` names where it is (for errors). `AWS::NoValue` gives `undefined`. */
  resolve(value: unknown, path: string): unknown {
    const resolved = this.resolveValue(value, path);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  /** Resolves a value that must be a string (numbers and booleans are converted, as CloudFormation does). */
  resolveString(value: unknown, path: string): string {
    const resolved = this.resolve(value, path);
    if (typeof resolved === 'string') return resolved;
    if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
    throw new DeploymentError(`${path}: expected a string, but it resolves to ${describe(resolved)}`);
  }

  /** Resolves `Properties.<propertyPath>` of a resource (`undefined` when absent). */
  resolveProperty(logicalId: string, propertyPath: string): unknown {
    const resource = this.resource(logicalId, `Resources.${logicalId}`);
    let value: unknown = resource.Properties;
    for (const key of propertyPath.split('.')) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return this.resolve(value, `Resources.${logicalId}.Properties.${propertyPath}`);
  }

  /** Whether a resource or output with `Condition: name` exists (`true` without a condition). */
  conditionHolds(name: string | undefined, path: string): boolean {
    if (name === undefined) return true;
    return this.condition(name, path);
  }

  /** `Ref` of a resource, parameter or pseudo parameter. */
  ref(name: string, path: string): unknown {
    const pseudo = this.pseudoParameter(name, path);
    if (pseudo !== undefined) return pseudo;
    const parameter = this.template.Parameters?.[name];
    if (parameter !== undefined) return this.parameterValue(name, parameter, path);
    const resource = this.resources[name];
    if (resource === undefined) {
      throw new DeploymentError(
        `${path}: Ref '${name}' is neither a resource nor a parameter of the template`,
      );
    }
    return this.guard(`Ref ${name}`, path, () => this.resourceRef(name, resource, path));
  }

  /** `Fn::GetAtt` of a resource attribute. */
  getAtt(logicalId: string, attribute: string, path: string): unknown {
    const resource = this.resource(logicalId, path);
    return this.guard(`GetAtt ${logicalId}.${attribute}`, path, () =>
      this.resourceAttribute(logicalId, resource, attribute, path),
    );
  }

  private resource(logicalId: string, path: string): CfnResource {
    const resource = this.resources[logicalId];
    if (resource === undefined) {
      throw new DeploymentError(`${path}: resource '${logicalId}' is not in the template`);
    }
    return resource;
  }

  private guard<T>(key: string, path: string, compute: () => T): T {
    if (this.inProgress.has(key)) throw new DeploymentError(`${path}: circular reference through ${key}`);
    this.inProgress.add(key);
    try {
      return compute();
    } finally {
      this.inProgress.delete(key);
    }
  }

  private resolveValue(value: unknown, path: string): unknown {
    if (Array.isArray(value)) {
      return value
        .map((item, index) => this.resolveValue(item, `${path}[${index}]`))
        .filter((item) => item !== NO_VALUE);
    }
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [first] = entries;
    if (entries.length === 1 && first !== undefined && isIntrinsicName(first[0])) {
      return this.intrinsic(first[0], first[1], `${path}.${first[0]}`);
    }
    const result: Record<string, unknown> = {};
    for (const [key, item] of entries) {
      const resolved = this.resolveValue(item, `${path}.${key}`);
      if (resolved !== NO_VALUE) result[key] = resolved;
    }
    return result;
  }

  private intrinsic(name: string, argument: unknown, path: string): unknown {
    switch (name) {
      case 'Ref': {
        const target = this.resolveValue(argument, path);
        if (typeof target !== 'string')
          throw new DeploymentError(`${path}: Ref needs a name, not ${describe(target)}`);
        return this.ref(target, path);
      }
      case 'Fn::GetAtt':
        return this.fnGetAtt(argument, path);
      case 'Fn::Join':
        return this.fnJoin(argument, path);
      case 'Fn::Sub':
        return this.fnSub(argument, path);
      case 'Fn::Select':
        return this.fnSelect(argument, path);
      case 'Fn::Split':
        return this.fnSplit(argument, path);
      case 'Fn::If':
        return this.fnIf(argument, path);
      case 'Fn::FindInMap':
        return this.fnFindInMap(argument, path);
      case 'Fn::Base64':
        return Buffer.from(this.resolveString(argument, path), 'utf8').toString('base64');
      default:
        if (CONDITION_FUNCTIONS.has(name)) {
          throw new DeploymentError(`${path}: ${name} is only valid in the Conditions section or Fn::If`);
        }
        throw new DeploymentError(
          `${path}: ${name} is not supported by local-iot (supported: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, ` +
            'Fn::Select, Fn::Split, Fn::If, Fn::FindInMap, Fn::Base64): remove it from what the authorizer uses',
        );
    }
  }

  private fnGetAtt(argument: unknown, path: string): unknown {
    let parts: unknown[];
    if (typeof argument === 'string') {
      const dot = argument.indexOf('.');
      parts = dot < 0 ? [argument] : [argument.slice(0, dot), argument.slice(dot + 1)];
    } else {
      parts = Array.isArray(argument) ? argument.map((item, i) => this.resolve(item, `${path}[${i}]`)) : [];
    }
    const [logicalId, attribute] = parts;
    if (parts.length !== 2 || typeof logicalId !== 'string' || typeof attribute !== 'string') {
      throw new DeploymentError(`${path}: Fn::GetAtt takes [logicalId, attribute] or "logicalId.attribute"`);
    }
    return this.getAtt(logicalId, attribute, path);
  }

  private fnJoin(argument: unknown, path: string): string {
    if (!Array.isArray(argument) || argument.length !== 2) {
      throw new DeploymentError(`${path}: Fn::Join takes [delimiter, [values]]`);
    }
    const delimiter = this.resolve(argument[0], `${path}[0]`);
    const values = this.resolve(argument[1], `${path}[1]`);
    if (typeof delimiter !== 'string' || !Array.isArray(values)) {
      throw new DeploymentError(`${path}: Fn::Join takes a string delimiter and a list of values`);
    }
    return values
      .map((item, index) => {
        if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean')
          return String(item);
        throw new DeploymentError(`${path}[1][${index}]: Fn::Join cannot join ${describe(item)}`);
      })
      .join(delimiter);
  }

  private fnSub(argument: unknown, path: string): string {
    let template: unknown = argument;
    let variables: Record<string, unknown> = {};
    if (Array.isArray(argument)) {
      const [text, map] = argument as unknown[];
      if (argument.length !== 2 || typeof map !== 'object' || map === null || Array.isArray(map)) {
        throw new DeploymentError(`${path}: Fn::Sub takes "string" or ["string", { variables }]`);
      }
      template = text;
      variables = map as Record<string, unknown>;
    }
    if (typeof template !== 'string')
      throw new DeploymentError(`${path}: Fn::Sub needs a string to substitute into`);
    return template.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      const key = name.trim();
      if (Object.prototype.hasOwnProperty.call(variables, key)) {
        return this.resolveString(variables[key], `${path}[1].${key}`);
      }
      const dot = key.indexOf('.');
      const value =
        dot > 0 && !key.startsWith('AWS::')
          ? this.getAtt(key.slice(0, dot), key.slice(dot + 1), `${path} (${whole})`)
          : this.ref(key, `${path} (${whole})`);
      if (typeof value === 'string' || typeof value === 'number') return String(value);
      throw new DeploymentError(
        `${path}: ${whole} resolves to ${describe(value)}, which cannot be substituted`,
      );
    });
  }

  private fnSelect(argument: unknown, path: string): unknown {
    if (!Array.isArray(argument) || argument.length !== 2) {
      throw new DeploymentError(`${path}: Fn::Select takes [index, [values]]`);
    }
    const index = Number(this.resolve(argument[0], `${path}[0]`));
    const list = this.resolve(argument[1], `${path}[1]`);
    if (!Array.isArray(list))
      throw new DeploymentError(`${path}: Fn::Select needs a list, not ${describe(list)}`);
    if (!Number.isInteger(index) || index < 0 || index >= list.length) {
      throw new DeploymentError(
        `${path}: Fn::Select index ${String(argument[0])} is outside the list of ${list.length}`,
      );
    }
    return list[index];
  }

  private fnSplit(argument: unknown, path: string): string[] {
    if (!Array.isArray(argument) || argument.length !== 2) {
      throw new DeploymentError(`${path}: Fn::Split takes [delimiter, string]`);
    }
    const delimiter = this.resolve(argument[0], `${path}[0]`);
    if (typeof delimiter !== 'string' || delimiter.length === 0) {
      throw new DeploymentError(`${path}: Fn::Split needs a non-empty string delimiter`);
    }
    return this.resolveString(argument[1], `${path}[1]`).split(delimiter);
  }

  private fnIf(argument: unknown, path: string): unknown {
    if (!Array.isArray(argument) || argument.length !== 3 || typeof argument[0] !== 'string') {
      throw new DeploymentError(`${path}: Fn::If takes [conditionName, valueIfTrue, valueIfFalse]`);
    }
    const chosen = this.condition(argument[0], path) ? 1 : 2;
    return this.resolveValue(argument[chosen], `${path}[${chosen}]`);
  }

  private fnFindInMap(argument: unknown, path: string): unknown {
    if (!Array.isArray(argument) || argument.length !== 3) {
      throw new DeploymentError(`${path}: Fn::FindInMap takes [mapName, topLevelKey, secondLevelKey]`);
    }
    const keys = argument.map((item, index) => this.resolveString(item, `${path}[${index}]`));
    let value: unknown = this.template.Mappings;
    for (const key of keys) {
      value =
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
    }
    if (value === undefined) throw new DeploymentError(`${path}: Mappings has no ${keys.join('.')}`);
    return value;
  }

  private condition(name: string, path: string): boolean {
    const cached = this.conditionCache.get(name);
    if (cached !== undefined) return cached;
    const definition = this.template.Conditions?.[name];
    if (definition === undefined)
      throw new DeploymentError(`${path}: condition '${name}' is not in the template`);
    const value = this.guard(`Condition ${name}`, path, () =>
      this.conditionValue(definition, `Conditions.${name}`),
    );
    this.conditionCache.set(name, value);
    return value;
  }

  private conditionValue(expression: unknown, path: string): boolean {
    const entries: [string, unknown][] =
      typeof expression === 'object' && expression !== null
        ? Object.entries(expression as Record<string, unknown>)
        : [];
    const [entry] = entries;
    if (entries.length !== 1 || entry === undefined) {
      throw new DeploymentError(
        `${path}: a condition must be one of Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition`,
      );
    }
    const [fn, argument] = entry;
    const at = `${path}.${fn}`;
    const list = (min: number, max: number): unknown[] => {
      if (!Array.isArray(argument) || argument.length < min || argument.length > max) {
        throw new DeploymentError(`${at}: takes a list of ${min === max ? min : `${min} to ${max}`} items`);
      }
      return argument;
    };
    switch (fn) {
      case 'Condition':
        if (typeof argument !== 'string') throw new DeploymentError(`${at}: takes a condition name`);
        return this.condition(argument, at);
      case 'Fn::Equals': {
        const [a, b] = list(2, 2).map((item, index) => this.resolve(item, `${at}[${index}]`));
        return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
      }
      case 'Fn::And':
        return list(2, 10).every((item, index) => this.conditionValue(item, `${at}[${index}]`));
      case 'Fn::Or':
        return list(2, 10).some((item, index) => this.conditionValue(item, `${at}[${index}]`));
      case 'Fn::Not':
        return !this.conditionValue(list(1, 1)[0], `${at}[0]`);
      default:
        throw new DeploymentError(`${at}: ${fn} cannot be used as a condition`);
    }
  }

  private pseudoParameter(name: string, path: string): unknown {
    const { region, stackName } = this.options;
    switch (name) {
      case 'AWS::Region':
        return region;
      case 'AWS::AccountId':
        return this.account;
      case 'AWS::Partition':
        return this.partition;
      case 'AWS::StackName':
        return stackName;
      case 'AWS::StackId':
        return `arn:${this.partition}:cloudformation:${region}:${this.account}:stack/${stackName}/${stableUuid(stackName)}`;
      case 'AWS::URLSuffix':
        return this.options.urlSuffix ?? 'amazonaws.com';
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::NotificationARNs':
        return [];
      default:
        if (name.startsWith('AWS::')) {
          throw new DeploymentError(`${path}: pseudo parameter ${name} is not supported by local-iot`);
        }
        return undefined;
    }
  }

  private parameterValue(name: string, parameter: CfnParameter, path: string): unknown {
    const given = this.options.parameters?.[name];
    const value = given ?? parameter.Default;
    if (value === undefined) {
      throw new DeploymentError(
        `${path}: parameter '${name}' has no Default and no value was given: pass one in the parameters option`,
      );
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    // List parameter types resolve to lists, as `Ref` of them does in CloudFormation.
    if (parameter.Type === 'CommaDelimitedList' || parameter.Type?.startsWith('List<')) {
      return text.split(',').map((item) => item.trim());
    }
    return text;
  }

  /** The physical id CloudFormation would return for `Ref`, made local and deterministic. */
  private resourceRef(logicalId: string, resource: CfnResource, path: string): unknown {
    switch (resource.Type) {
      case 'AWS::Lambda::Function':
        return this.nameProperty(logicalId, 'FunctionName', 64);
      case 'AWS::Lambda::Version':
        return `${this.functionArnOf(logicalId)}:1`;
      case 'AWS::Lambda::Alias':
        return `${this.functionArnOf(logicalId)}:${this.resolveString(resource.Properties?.Name, `Resources.${logicalId}.Properties.Name`)}`;
      case 'AWS::IoT::Authorizer':
        return this.nameProperty(logicalId, 'AuthorizerName', 128, false);
      case 'AWS::IoT::Policy':
        return this.nameProperty(logicalId, 'PolicyName', 128);
      case 'AWS::IoT::DomainConfiguration':
        return this.nameProperty(logicalId, 'DomainConfigurationName', 128);
      case 'AWS::IoT::Certificate':
        return this.certificateRef(logicalId, 'CertificatePem');
      case 'AWS::IoT::CACertificate':
        return this.certificateRef(logicalId, 'CACertificatePem');
      case 'AWS::SecretsManager::Secret':
        return this.secretArn(logicalId);
      case 'AWS::IAM::Role':
        return this.nameProperty(logicalId, 'RoleName', 64);
      case 'AWS::IAM::Policy':
        return generatedName(this.options.stackName, logicalId, 128);
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${this.partition}:iam::${this.account}:policy/${this.nameProperty(logicalId, 'ManagedPolicyName', 128)}`;
      case 'AWS::Logs::LogGroup':
        return this.nameProperty(logicalId, 'LogGroupName', 512);
      case 'AWS::Lambda::Permission':
        return generatedName(this.options.stackName, logicalId, 128);
      default:
        if (isCustomResource(resource.Type)) return this.customResourceId(logicalId, resource, path);
        throw new DeploymentError(
          `${path}: Ref of resource '${logicalId}' (${resource.Type}) is not supported by local-iot`,
        );
    }
  }

  private resourceAttribute(
    logicalId: string,
    resource: CfnResource,
    attribute: string,
    path: string,
  ): unknown {
    const region = this.options.region;
    const arnPrefix = `arn:${this.partition}`;
    const unsupported = (): never => {
      throw new DeploymentError(
        `${path}: attribute ${attribute} of resource '${logicalId}' (${resource.Type}) is not supported by local-iot`,
      );
    };
    switch (resource.Type) {
      case 'AWS::Lambda::Function':
        if (attribute !== 'Arn') return unsupported();
        return this.functionArn(this.nameProperty(logicalId, 'FunctionName', 64));
      case 'AWS::IoT::Authorizer':
        if (attribute !== 'Arn') return unsupported();
        return `${arnPrefix}:iot:${region}:${this.account}:authorizer/${String(this.ref(logicalId, path))}`;
      case 'AWS::IoT::Policy':
        if (attribute === 'Id') return this.ref(logicalId, path);
        if (attribute !== 'Arn') return unsupported();
        return `${arnPrefix}:iot:${region}:${this.account}:policy/${String(this.ref(logicalId, path))}`;
      case 'AWS::IoT::DomainConfiguration':
        if (attribute === 'DomainName') return this.domainConfigurationHost(logicalId);
        if (attribute !== 'Arn') return unsupported();
        return `${arnPrefix}:iot:${region}:${this.account}:domainconfiguration/${String(this.ref(logicalId, path))}`;
      case 'AWS::IoT::Certificate':
      case 'AWS::IoT::CACertificate':
        if (attribute === 'Id') return this.ref(logicalId, path);
        if (attribute !== 'Arn') return unsupported();
        return `${arnPrefix}:iot:${region}:${this.account}:${resource.Type === 'AWS::IoT::Certificate' ? 'cert' : 'cacert'}/${String(this.ref(logicalId, path))}`;
      case 'AWS::SecretsManager::Secret':
        if (attribute !== 'Id') return unsupported();
        return this.secretArn(logicalId);
      case 'AWS::IAM::Role':
        if (attribute === 'RoleId')
          return `AROA${hash(`${this.options.stackName}/${logicalId}`, 17).toUpperCase()}`;
        if (attribute !== 'Arn') return unsupported();
        return `${arnPrefix}:iam::${this.account}:role/${String(this.ref(logicalId, path))}`;
      case 'AWS::Logs::LogGroup':
        if (attribute !== 'Arn') return unsupported();
        return `${arnPrefix}:logs:${region}:${this.account}:log-group:${String(this.ref(logicalId, path))}:*`;
      default:
        if (isCustomResource(resource.Type))
          return this.customResourceAttribute(logicalId, resource, attribute, path);
        return unsupported();
    }
  }

  /**
   * The certificate id CloudFormation returns for `Ref` of an `AWS::IoT::Certificate` or `CACertificate`: the
   * SHA-256 of the DER of its PEM, as AWS IoT computes it. A certificate AWS IoT issues from a CSR has no PEM in
   * the template, so it gets a generated local id (local-iot then accepts no certificate for it).
   */
  private certificateRef(logicalId: string, pemProperty: string): string {
    const at = `Resources.${logicalId}.Properties.${pemProperty}`;
    const pem = this.resources[logicalId]?.Properties?.[pemProperty];
    if (pem === undefined)
      return createHash('sha256').update(`${this.options.stackName}/${logicalId}`).digest('hex');
    return awsIotCertificateId(parseCertificatePem(this.resolveString(pem, at), at));
  }

  /**
   * Where a domain configuration is reached locally: a `CUSTOM_AUTH_X509` one on the X.509 listener's host,
   * any other on the gateway's host, which serves custom authentication.
   */
  private domainConfigurationHost(logicalId: string): string {
    const type = this.resources[logicalId]?.Properties?.AuthenticationType;
    const resolved =
      type === undefined
        ? undefined
        : this.resolve(type, `Resources.${logicalId}.Properties.AuthenticationType`);
    return resolved === CUSTOM_AUTH_X509
      ? (this.options.x509EndpointHost ?? this.options.endpointHost)
      : this.options.endpointHost;
  }

  /** The domain configuration of this template called `name`, if any. */
  private domainConfigurationNamed(name: string): string | undefined {
    return Object.entries(this.resources).find(
      ([logicalId, resource]) =>
        resource.Type === 'AWS::IoT::DomainConfiguration' &&
        this.ref(logicalId, `Resources.${logicalId}`) === name,
    )?.[0];
  }

  /** The local ARN of a Lambda function called `name`. */
  functionArn(name: string): string {
    return `arn:${this.partition}:lambda:${this.options.region}:${this.account}:function:${name}`;
  }

  /** The ARN of the function a Version or Alias resource points at (FunctionName: name or ARN). */
  private functionArnOf(logicalId: string): string {
    const target = this.resolveString(
      this.resources[logicalId]?.Properties?.FunctionName,
      `Resources.${logicalId}.Properties.FunctionName`,
    );
    return target.startsWith('arn:') ? target : this.functionArn(target);
  }

  /** The resource's name property, or the name CloudFormation would generate (made deterministic). */
  private nameProperty(logicalId: string, property: string, maxLength: number, prefixStack = true): string {
    const value = this.resources[logicalId]?.Properties?.[property];
    if (value !== undefined)
      return this.resolveString(value, `Resources.${logicalId}.Properties.${property}`);
    return prefixStack ? generatedName(this.options.stackName, logicalId, maxLength) : logicalId;
  }

  /** `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>`, as Secrets Manager builds it. */
  private secretArn(logicalId: string): string {
    const name = this.nameProperty(logicalId, 'Name', 256);
    const suffix = hash(`${this.options.stackName}/${logicalId}/${name}`, 6);
    return `arn:${this.partition}:secretsmanager:${this.options.region}:${this.account}:secret:${name}-${suffix}`;
  }

  private customResourceId(logicalId: string, resource: CfnResource, path: string): string {
    const call = awsCustomResourceCall(this, logicalId, resource);
    if (call?.physicalResourceId !== undefined) return call.physicalResourceId;
    if (call?.physicalResourceResponsePath !== undefined) {
      // PhysicalResourceId.fromResponse(path): the id is a field of the call's response.
      return String(
        this.customResourceAttribute(logicalId, resource, call.physicalResourceResponsePath, path),
      );
    }
    return generatedName(this.options.stackName, logicalId, 128);
  }

  /**
   * The only custom resource whose result local-iot knows is the `AwsCustomResource` calling IoT
   * `DescribeEndpoint` (the ATS data endpoint is not a CloudFormation attribute): its `endpointAddress` is the
   * local gateway's host.
   */
  private customResourceAttribute(
    logicalId: string,
    resource: CfnResource,
    attribute: string,
    path: string,
  ): unknown {
    const call = awsCustomResourceCall(this, logicalId, resource);
    if (call !== undefined && isDescribeEndpoint(call)) {
      if (attribute === 'endpointAddress') return this.options.endpointHost;
      throw new DeploymentError(
        `${path}: custom resource '${logicalId}' calls IoT DescribeEndpoint, whose response has endpointAddress, not ${attribute}`,
      );
    }
    if (call !== undefined && isIotCall(call, 'describedomainconfiguration')) {
      const name = call.parameters.domainConfigurationName;
      const domain = typeof name === 'string' ? this.domainConfigurationNamed(name) : undefined;
      if (domain === undefined) {
        throw new DeploymentError(
          `${path}: custom resource '${logicalId}' calls IoT DescribeDomainConfiguration for ${JSON.stringify(name)}, ` +
            "which is not a domain configuration of this stack: local-iot serves only the stack's own",
        );
      }
      if (attribute === 'domainName') return this.domainConfigurationHost(domain);
      if (attribute === 'domainConfigurationName') return name;
      throw new DeploymentError(
        `${path}: custom resource '${logicalId}' calls IoT DescribeDomainConfiguration; local-iot knows its domainName and domainConfigurationName, not ${attribute}`,
      );
    }
    const what = call ? `calls ${call.service}.${call.action}` : 'runs its own provider';
    throw new DeploymentError(
      `${path}: custom resource '${logicalId}' (${resource.Type}) ${what}; local-iot only knows the results of ` +
        'IoT DescribeEndpoint and DescribeDomainConfiguration, so it cannot resolve attribute ' +
        attribute,
    );
  }
}

/** The SDK call an `AwsCustomResource` makes (its `Create`/`Update` property, JSON). */
interface AwsSdkCall {
  readonly service?: unknown;
  readonly action?: unknown;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly physicalResourceId?: { readonly id?: unknown; readonly responsePath?: unknown };
}

/** An `AwsCustomResource` SDK call, resolved. */
export interface AwsCustomResourceCall {
  readonly service: string;
  readonly action: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  /** `PhysicalResourceId.of(id)` */
  readonly physicalResourceId?: string;
  /** `PhysicalResourceId.fromResponse(path)` */
  readonly physicalResourceResponsePath?: string;
}

/** Whether an AwsCustomResource call is IoT `DescribeEndpoint` for the ATS data endpoint. */
function isDescribeEndpoint(call: AwsCustomResourceCall): boolean {
  const type = call.parameters?.endpointType;
  return isIotCall(call, 'describeendpoint') && (type === undefined || type === 'iot:Data-ATS');
}

/** Whether an AwsCustomResource call is IoT `action` (lower case), in any of the SDK's spellings. */
function isIotCall(call: AwsCustomResourceCall, action: string): boolean {
  const service = String(call.service)
    .toLowerCase()
    .replace(/^@aws-sdk\/client-/, '');
  return (
    service === 'iot' &&
    String(call.action)
      .toLowerCase()
      .replace(/command$/, '') === action
  );
}

/**
 * The SDK call of an `AwsCustomResource` (`Custom::AWS`: its `Create`, else `Update`, property is the call
 * as JSON), resolved; `undefined` for any other resource.
 */
export function awsCustomResourceCall(
  resolver: IntrinsicResolver,
  logicalId: string,
  resource: CfnResource,
): AwsCustomResourceCall | undefined {
  if (!isCustomResource(resource.Type)) return undefined;
  for (const key of ['Create', 'Update']) {
    const raw = resource.Properties?.[key];
    if (raw === undefined) continue;
    const text = resolver.resolve(raw, `Resources.${logicalId}.Properties.${key}`);
    let call: unknown;
    try {
      call = typeof text === 'string' ? JSON.parse(text) : text;
    } catch {
      return undefined;
    }
    if (typeof call !== 'object' || call === null) return undefined;
    const { service, action, parameters, physicalResourceId } = call as AwsSdkCall;
    if (typeof service !== 'string' || typeof action !== 'string') return undefined;
    const id = physicalResourceId?.id;
    const responsePath = physicalResourceId?.responsePath;
    return {
      service,
      action,
      parameters: parameters ?? {},
      ...(typeof id === 'string' && { physicalResourceId: id }),
      ...(typeof responsePath === 'string' && { physicalResourceResponsePath: responsePath }),
    };
  }
  return undefined;
}

function isCustomResource(type: string): boolean {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';
}

function isIntrinsicName(key: string): boolean {
  return key === 'Ref' || key.startsWith('Fn::') || key === 'Condition';
}

/** CloudFormation compares condition values as strings; lists element-wise. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (AWS::NoValue)';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** `<stackName>-<logicalId>`, cut to the service's length limit as CloudFormation does with generated names. */
function generatedName(stackName: string, logicalId: string, maxLength: number): string {
  const name = `${stackName}-${logicalId}`;
  if (name.length <= maxLength) return name;
  const suffix = hash(name, 12);
  return `${name.slice(0, maxLength - suffix.length - 1)}-${suffix}`;
}

function hash(text: string, length: number): string {
  return createHash('sha256')
    .update(text)
    .digest('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, length);
}
