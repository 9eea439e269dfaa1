import { createHash } from 'node:crypto';
import { safeDecodeURIComponent } from '@iot-custom-auth/protocol';
import type { LocalDeployment, LocalFunction, LocalLambdaPermission } from '../deployment/local-deployment';
import { awsError, type LocalAwsService, type Reply, type ServiceRequest } from './aws-wire';

const API_VERSION = '2015-03-31';

/**
 * Lambda (restJson1, SigV4 service `lambda`): `GetPolicy` (`GET /2015-03-31/functions/{FunctionName}/policy`),
 * the function's resource-based policy built from the template's `AWS::Lambda::Permission` resources, as
 * Lambda returns it: `{"Policy": "<JSON string>", "RevisionId"}` with one statement per permission
 * (`Principal.Service`, `Action`, `Resource` = the function ARN, `Condition` with `AWS:SourceAccount`
 * (StringEquals) and `AWS:SourceArn` (ArnLike)). API reference:
 * https://docs.aws.amazon.com/lambda/latest/api/API_GetPolicy.html
 */
export class LambdaService implements LocalAwsService {
  readonly signingName = 'lambda';
  readonly protocol = 'restJson1';
  readonly authFailureStatus = 403;

  constructor(private readonly deployment: LocalDeployment) {}

  claims({ path }: { readonly path: string }): boolean {
    return path.startsWith(`/${API_VERSION}/`);
  }

  handle({ method, url }: ServiceRequest): Reply {
    const parts = url.pathname.split('/').filter(Boolean).map(safeDecodeURIComponent);
    if (
      method === 'GET' &&
      parts.length === 4 &&
      parts[0] === API_VERSION &&
      parts[1] === 'functions' &&
      parts[3] === 'policy'
    ) {
      return this.getPolicy(parts[2] as string, url.searchParams.get('Qualifier'));
    }
    return awsError(
      404,
      'UnknownOperationException',
      `local-iot does not implement ${method} ${url.pathname}`,
    );
  }

  private getPolicy(functionName: string, qualifier: string | null): Reply {
    const fn = this.findFunction(functionName);
    if (fn === undefined) {
      return awsError(
        404,
        'ResourceNotFoundException',
        `Function not found: ${this.functionArnFor(functionName)}`,
      );
    }
    if (qualifier !== null && qualifier !== '$LATEST') {
      return awsError(404, 'ResourceNotFoundException', `Function not found: ${fn.arn}:${qualifier}`);
    }
    const statements = this.deployment.lambdaPermissions
      .filter((permission) => permissionTargets(permission, fn))
      .map((permission) => statement(permission, fn));
    if (statements.length === 0) {
      return awsError(404, 'ResourceNotFoundException', 'The resource you requested does not exist.');
    }
    const policy = JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: statements });
    return { status: 200, body: { Policy: policy, RevisionId: revisionId(policy) } };
  }

  /** By name, full ARN or partial ARN (`<account>:function:<name>`), as Lambda accepts. */
  private findFunction(name: string): LocalFunction | undefined {
    const base = name.split(':').length >= 7 ? name.split(':').slice(0, 7).join(':') : name;
    return this.deployment.functions.find(
      (fn) => base === fn.name || base === fn.arn || fn.arn.endsWith(`:${base}`),
    );
  }

  private functionArnFor(name: string): string {
    if (name.startsWith('arn:')) return name;
    const { partition, region, accountId } = this.deployment;
    return `arn:${partition}:lambda:${region}:${accountId}:function:${name}`;
  }
}

function permissionTargets(permission: LocalLambdaPermission, fn: LocalFunction): boolean {
  const name = permission.functionName;
  const base = name.split(':').length >= 7 ? name.split(':').slice(0, 7).join(':') : name;
  return base === fn.name || base === fn.arn || fn.arn.endsWith(`:${base}`);
}

/** One statement as Lambda writes it for an `AddPermission` (what CloudFormation calls). */
function statement(permission: LocalLambdaPermission, fn: LocalFunction): Record<string, unknown> {
  const condition: Record<string, Record<string, string>> = {};
  if (permission.sourceAccount !== undefined) {
    condition.StringEquals = { 'AWS:SourceAccount': permission.sourceAccount };
  }
  if (permission.sourceArn !== undefined) condition.ArnLike = { 'AWS:SourceArn': permission.sourceArn };
  const principal = permission.principal.endsWith('.amazonaws.com')
    ? { Service: permission.principal }
    : { AWS: permission.principal };
  return {
    Sid: permission.statementId,
    Effect: 'Allow',
    Principal: principal,
    Action: permission.action,
    Resource: fn.arn,
    ...(Object.keys(condition).length > 0 && { Condition: condition }),
  };
}

/** Stable for a given policy, shaped like Lambda's (a UUID). */
function revisionId(policy: string): string {
  const hex = createHash('sha256').update(policy).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
