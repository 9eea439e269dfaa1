import { X509Certificate } from 'node:crypto';
import { isRecord, isStandardBase64, safeDecodeURIComponent } from '@iot-custom-auth/protocol';
import type { TestInvokeOutcome, TestInvokeRequest } from '../auth/custom-auth-pipeline';
import { findAuthorizer, type LocalDeployment } from '../deployment/local-deployment';
import { awsError, parseJsonObject, type LocalAwsService, type Reply, type ServiceRequest } from './aws-wire';

/** What serves `TestInvokeAuthorizer`: the custom-auth pipeline (`CustomAuthPipeline` implements it). */
export interface TestInvoker {
  testInvoke(authorizerName: string, request: TestInvokeRequest): Promise<TestInvokeOutcome>;
}

/**
 * IoT (restJson1): `DescribeEndpoint` (`GET /endpoint`), `DescribeAuthorizer` (`GET /authorizer/{name}`),
 * `TestInvokeAuthorizer` (`POST /authorizer/{name}/test`), `DescribeDomainConfiguration`
 * (`GET /domainConfigurations/{name}`, the served CUSTOM_AUTH_X509 one) and `DescribeCertificate`
 * (`GET /certificates/{certificateId}`, the stack's registered device certificates).
 */
export class IotService implements LocalAwsService {
  readonly signingName = 'iot';
  readonly protocol = 'restJson1';
  readonly authFailureStatus = 403;
  /** Stands in for the authorizers' creation date: when this local deployment started. */
  private readonly startedAt = Date.now() / 1000;

  constructor(
    private readonly deployment: LocalDeployment,
    private readonly testInvoker: TestInvoker,
  ) {}

  /** IoT is the fallback for an unsigned REST request no other service claims. */
  claims({ target }: { readonly target: string | undefined }): boolean {
    return target === undefined;
  }

  async handle({ method, url, body }: ServiceRequest): Promise<Reply> {
    const parts = url.pathname.split('/').filter(Boolean).map(safeDecodeURIComponent);
    if (method === 'GET' && parts.length === 1 && parts[0] === 'endpoint') {
      return this.describeEndpoint(url.searchParams.get('endpointType'));
    }
    if (method === 'GET' && parts.length === 2 && parts[0] === 'domainConfigurations') {
      return this.describeDomainConfiguration(parts[1] as string);
    }
    if (method === 'GET' && parts.length === 2 && parts[0] === 'certificates') {
      return this.describeCertificate(parts[1] as string);
    }
    if (parts[0] === 'authorizer' && parts.length >= 2 && parts.length <= 3) {
      const name = parts[1] as string;
      if (method === 'GET' && parts.length === 2) return this.describeAuthorizer(name);
      if (method === 'POST' && parts[2] === 'test') return this.testInvokeAuthorizer(name, body);
    }
    return awsError(
      404,
      'UnknownOperationException',
      `local-iot does not implement ${method} ${url.pathname}`,
    );
  }

  private describeEndpoint(type: string | null): Reply {
    if (type !== null && type !== 'iot:Data-ATS' && type !== 'iot:Data') {
      return invalidRequest(`local-iot serves only the iot:Data-ATS endpoint, not ${type}`);
    }
    return { status: 200, body: { endpointAddress: this.deployment.endpointHost } };
  }

  /** https://docs.aws.amazon.com/iot/latest/apireference/API_DescribeDomainConfiguration.html */
  private describeDomainConfiguration(name: string): Reply {
    const domain = this.deployment.x509Domain;
    if (domain === undefined || domain.name !== name) {
      return awsError(
        404,
        'ResourceNotFoundException',
        `Domain configuration ${name} does not exist (local-iot serves ${domain ? `only ${domain.name}` : 'no domain configuration'})`,
      );
    }
    return {
      status: 200,
      body: {
        domainConfigurationName: domain.name,
        domainConfigurationArn: domain.arn,
        domainName: domain.endpointHost,
        serverCertificates: [],
        authorizerConfig: {
          defaultAuthorizerName: domain.defaultAuthorizerName,
          allowAuthorizerOverride: domain.allowAuthorizerOverride,
        },
        domainConfigurationStatus: 'ENABLED',
        serviceType: 'DATA',
        domainType: 'AWS_MANAGED',
        lastStatusChangeDate: this.startedAt,
        authenticationType: 'CUSTOM_AUTH_X509',
        applicationProtocol: domain.applicationProtocol,
      },
    };
  }

  /** https://docs.aws.amazon.com/iot/latest/apireference/API_DescribeCertificate.html */
  private describeCertificate(certificateId: string): Reply {
    const certificate = this.deployment.certificates.find((c) => c.id === certificateId);
    if (certificate === undefined) {
      return awsError(404, 'ResourceNotFoundException', `Certificate ${certificateId} does not exist`);
    }
    const parsed = new X509Certificate(certificate.pem);
    const { partition, region, accountId } = this.deployment;
    return {
      status: 200,
      body: {
        certificateDescription: {
          certificateArn: `arn:${partition}:iot:${region}:${accountId}:cert/${certificate.id}`,
          certificateId: certificate.id,
          status: certificate.status,
          certificatePem: certificate.pem,
          ownedBy: accountId,
          creationDate: this.startedAt,
          lastModifiedDate: this.startedAt,
          certificateMode: certificate.mode,
          validity: {
            notBefore: Date.parse(parsed.validFrom) / 1000,
            notAfter: Date.parse(parsed.validTo) / 1000,
          },
        },
      },
    };
  }

  private describeAuthorizer(name: string): Reply {
    const authorizer = findAuthorizer(this.deployment, name);
    if (authorizer === undefined)
      return awsError(404, 'ResourceNotFoundException', `Authorizer ${name} does not exist`);
    const created = this.startedAt;
    return {
      status: 200,
      body: {
        authorizerDescription: {
          authorizerName: authorizer.name,
          authorizerArn: authorizer.arn,
          authorizerFunctionArn: authorizer.functionArn,
          ...(authorizer.tokenKeyName !== undefined && { tokenKeyName: authorizer.tokenKeyName }),
          tokenSigningPublicKeys: authorizer.tokenSigningPublicKeys,
          status: authorizer.status,
          creationDate: created,
          lastModifiedDate: created,
          signingDisabled: authorizer.signingDisabled,
          enableCachingForHttp: authorizer.enableCachingForHttp,
        },
      },
    };
  }

  private async testInvokeAuthorizer(name: string, body: string): Promise<Reply> {
    const input = body.trim() === '' ? {} : parseJsonObject(body);
    if (input === undefined) return invalidRequest('the request body is not a JSON object');
    const problem = testInvokeRequestProblem(input);
    if (problem !== undefined) return invalidRequest(problem);
    const outcome = await this.testInvoker.testInvoke(name, input);
    if (outcome.ok) return { status: 200, body: outcome.response };
    const status = outcome.errorCode === 'ResourceNotFoundException' ? 404 : 400;
    return awsError(status, outcome.errorCode, outcome.message);
  }
}

/** Why a TestInvokeAuthorizer body does not match the API's shapes, or undefined. */
function testInvokeRequestProblem(input: Record<string, unknown>): string | undefined {
  for (const key of ['token', 'tokenSignature'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'string') return `${key} must be a string`;
  }
  if (typeof input.token === 'string' && (input.token.length < 1 || input.token.length > 6144)) {
    return 'token must be 1 to 6144 characters long';
  }
  const contexts: Record<string, readonly string[]> = {
    mqttContext: ['username', 'password', 'clientId'],
    tlsContext: ['serverName'],
    httpContext: ['queryString'],
  };
  for (const [name, fields] of Object.entries(contexts)) {
    const context = input[name];
    if (context === undefined) continue;
    if (!isRecord(context)) return `${name} must be an object`;
    for (const field of fields) {
      if (context[field] !== undefined && typeof context[field] !== 'string')
        return `${name}.${field} must be a string`;
    }
  }
  const mqtt = input.mqttContext as Record<string, unknown> | undefined;
  if (typeof mqtt?.password === 'string' && mqtt.password !== '' && !isStandardBase64(mqtt.password)) {
    return 'mqttContext.password must be base64 (it is a blob)';
  }
  const headers = (input.httpContext as Record<string, unknown> | undefined)?.headers;
  if (
    headers !== undefined &&
    (!isRecord(headers) || !Object.values(headers).every((v) => typeof v === 'string'))
  ) {
    return 'httpContext.headers must map header names to strings';
  }
  return undefined;
}

function invalidRequest(message: string): Reply {
  return awsError(400, 'InvalidRequestException', message);
}
