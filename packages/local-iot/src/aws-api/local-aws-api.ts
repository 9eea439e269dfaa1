import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalAwsCredentials } from '@iot-custom-auth/protocol';
import type { LocalDeployment } from '../deployment/local-deployment';
import { MAX_BODY_BYTES, readBody, send, sendReply, type LocalAwsService, type Reply } from './aws-wire';
import { LocalLogStore } from '../logs/log-store';
import { IotService, type TestInvoker } from './iot-service';
import { LambdaService } from './lambda-service';
import { LogsService } from './logs-service';
import type { LoopbackListener } from './loopback-listener';
import { SecretsManagerService } from './secrets-manager-service';
import { credentialScopeService, SigV4Verifier, type SigV4Refusal } from './sigv4-verifier';

export type { TestInvoker } from './iot-service';

/** What the API serves, and where. */
export interface LocalAwsApiOptions {
  readonly deployment: LocalDeployment;
  /**
   * The bound listener to serve (its URL is what the Lambda runner and the SDK clients are given). Bound
   * before the API is built because the pipeline behind `testInvoker` needs a runner that needs the URL.
   */
  readonly listener: LoopbackListener;
  /** Serves `TestInvokeAuthorizer`. */
  readonly testInvoker: TestInvoker;
  /**
   * The access key pair every request must be signed with (SigV4): the one `connection.json` hands the
   * client and the Lambda functions get in their environment.
   */
  readonly credentials: LocalAwsCredentials;
  /** The clock signing dates are checked against (tests move it). @default () => new Date() */
  readonly now?: () => Date;
  /** The log groups CloudWatch Logs serves. @default an empty store */
  readonly logs?: LocalLogStore;
}

/**
 * The local AWS API on loopback: one URL for every service, speaking the real wire protocols so unmodified
 * AWS SDK v3 clients work through the standard endpoint override (`endpoint` option or `AWS_ENDPOINT_URL*`).
 * Each service is its own module (`secrets-manager-service.ts`, `iot-service.ts`, `logs-service.ts`,
 * `lambda-service.ts`); this class only
 * routes. Since every service shares the URL, a request goes to the service its SigV4 credential scope names
 * (the SDK signs for the service it calls); an unsigned request, or one scoped to a service local-iot does
 * not serve, goes to the service its shape suggests (`X-Amz-Target` prefix, path), which refuses it in its
 * own protocol. Every request must carry a valid SigV4 signature by `options.credentials` (see
 * `SigV4Verifier`), else it is refused before any operation runs, with the status, `x-amzn-ErrorType` and
 * message AWS sends. A malformed request gets an AWS error response, never a crash.
 */
export class LocalAwsApi {
  private readonly verifier: SigV4Verifier;
  /** In the order unsigned requests are matched: the last one takes what no other claims. */
  private readonly services: readonly LocalAwsService[];

  /** Serves `options.listener` from now on. @throws LocalIotError when something already serves it. */
  constructor(private readonly options: LocalAwsApiOptions) {
    this.verifier = new SigV4Verifier({
      credentials: options.credentials,
      region: options.deployment.region,
      ...(options.now !== undefined && { now: options.now }),
    });
    const { deployment } = options;
    this.services = [
      new SecretsManagerService(deployment),
      new LogsService({
        store: options.logs ?? new LocalLogStore(),
        region: deployment.region,
        accountId: deployment.accountId,
        partition: deployment.partition,
      }),
      new LambdaService(deployment),
      new IotService(deployment, options.testInvoker),
    ];
    options.listener.serve((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        send(response, 500, { 'x-amzn-ErrorType': 'InternalFailureException' }, { message });
      });
    });
  }

  /** The port it listens on. */
  get port(): number {
    return this.options.listener.port;
  }

  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL` and the SDK clients' `endpoint`. */
  get url(): string {
    return this.options.listener.url;
  }

  /** The access key pair requests must be signed with. */
  get credentials(): LocalAwsCredentials {
    return this.options.credentials;
  }

  /** Stops listening and closes open connections (SDK clients keep theirs alive). Safe to call twice. */
  close(): Promise<void> {
    return this.options.listener.close();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const rawTarget = request.headers['x-amz-target'];
    const target = typeof rawTarget === 'string' ? rawTarget : undefined;
    const url = new URL(request.url ?? '/', 'http://localhost');
    const service = this.route(request, target, url.pathname);
    const body = await readBody(request);
    if (body === undefined) return sendReply(response, service.protocol, tooLarge());
    // Nothing of the request is acted on before its signature holds.
    const refusal = await this.verifier.verify(
      { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headersDistinct, body },
      service.signingName,
    );
    if (refusal !== undefined) {
      return sendReply(response, service.protocol, refused(refusal, service.authFailureStatus));
    }
    const method = request.method ?? 'GET';
    const reply = await service.handle({ method, url, target, body: body.toString('utf8') });
    sendReply(response, service.protocol, reply);
  }

  /** The service the credential scope names, else the one the request's shape suggests. */
  private route(request: IncomingMessage, target: string | undefined, path: string): LocalAwsService {
    const scoped = credentialScopeService(request.headers.authorization);
    const named = this.services.find((service) => service.signingName === scoped);
    if (named !== undefined) return named;
    const claimed = this.services.find((service) => service.claims({ target, path }));
    return claimed ?? (this.services[this.services.length - 1] as LocalAwsService);
  }
}

/** An authentication refusal, in the status the service's front end uses (400 or 403). */
function refused({ code, message }: SigV4Refusal, status: number): Reply {
  return { error: { status, code, message, fromFrontEnd: true } };
}

function tooLarge(): Reply {
  return {
    error: {
      status: 413,
      code: 'RequestEntityTooLargeException',
      message: `the request body exceeds ${MAX_BODY_BYTES} bytes`,
    },
  };
}
