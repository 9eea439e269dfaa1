import { connect } from 'node:net';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseDeviceCredentials } from '@iot-custom-auth/protocol';
import type { TestInvokeOutcome, TestInvokeRequest } from '../../src/auth/custom-auth-pipeline';
import { LocalAwsApi, type TestInvoker } from '../../src/aws-api/local-aws-api';
import { LoopbackListener } from '../../src/aws-api/loopback-listener';
import { loadLocalDeployment, type LocalDeployment } from '../../src/deployment/local-deployment';
import {
  demoTemplate,
  FUNCTIONS_DIR,
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
} from '../fixtures/assembly';

const STACK = 'ApiTest';
const HOST = 'local-iot.localhost';

let root: string;
let deployment: LocalDeployment;
let api: LocalAwsApi;
let client: SecretsManagerClient;

/** Stands in for the custom-auth pipeline: records what TestInvokeAuthorizer hands on, answers `outcome`. */
class RecordingTestInvoker implements TestInvoker {
  calls: [string, TestInvokeRequest][] = [];
  outcome: TestInvokeOutcome = { ok: false, errorCode: 'InvalidRequestException', message: 'unset' };

  testInvoke(authorizerName: string, request: TestInvokeRequest): Promise<TestInvokeOutcome> {
    this.calls.push([authorizerName, request]);
    return Promise.resolve(this.outcome);
  }
}
const testInvoker = new RecordingTestInvoker();

beforeAll(async () => {
  root = tempDir('api');
  const cdkOut = writeAssembly(
    join(root, 'cdk.out'),
    STACK,
    demoTemplate({ asset: 'fn', publicKeyPem: rsaKeyPair().publicKey }),
    {
      fn: join(FUNCTIONS_DIR, 'behaviours'),
    },
  );
  deployment = loadLocalDeployment({ cdkOut, stateDir: join(root, 'state'), endpointHost: HOST });
  api = new LocalAwsApi({ deployment, listener: await LoopbackListener.bind(), testInvoker });
  client = new SecretsManagerClient({
    region: deployment.region,
    endpoint: api.url,
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  await api.close();
  removeDir(root);
});

const secret = () => deployment.secrets[0] as NonNullable<LocalDeployment['secrets'][0]>;

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body }),
  });
  return {
    status: response.status,
    errorType: response.headers.get('x-amzn-errortype'),
    body: await response.json(),
  };
}

describe('LocalAwsApi', () => {
  it('listens on 127.0.0.1 on an ephemeral port', () => {
    expect(api.url).toBe(`http://127.0.0.1:${api.port}`);
    expect(api.port).toBeGreaterThan(0);
  });

  describe('Secrets Manager GetSecretValue (awsJson1_1) through the real AWS SDK client', () => {
    it('returns the generated secret by ARN and by name', async () => {
      for (const secretId of [secret().arn, secret().name]) {
        const result = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
        expect({
          ARN: result.ARN,
          Name: result.Name,
          VersionId: result.VersionId,
          VersionStages: result.VersionStages,
          CreatedDate: result.CreatedDate,
        }).toEqual({
          ARN: secret().arn,
          Name: `${STACK}-DeviceSecret`,
          VersionId: secret().versionId,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: secret().createdDate,
        });
        expect(parseDeviceCredentials(result.SecretString)).toEqual(
          parseDeviceCredentials(secret().secretString),
        );
      }
    });

    it('answers ResourceNotFoundException for an unknown secret and another staging label', async () => {
      await expect(client.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
        $metadata: { httpStatusCode: 400 },
      });
      await expect(
        client.send(new GetSecretValueCommand({ SecretId: secret().arn, VersionStage: 'AWSPREVIOUS' })),
      ).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
      });
    });

    it('answers AWS errors for malformed requests', async () => {
      const target = {
        'x-amz-target': 'secretsmanager.GetSecretValue',
        'content-type': 'application/x-amz-json-1.1',
      };
      expect(await call('POST', '/', '{nope', target)).toEqual({
        status: 400,
        errorType: 'SerializationException',
        body: { __type: 'SerializationException', Message: 'the request body is not a JSON object' },
      });
      expect(await call('POST', '/', '{"SecretId":5}', target)).toEqual({
        status: 400,
        errorType: 'ValidationException',
        body: {
          __type: 'ValidationException',
          Message:
            "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must not be null or empty",
        },
      });
      expect(await call('POST', '/', '{"SecretId":"x","VersionStage":[1]}', target)).toEqual({
        status: 400,
        errorType: 'ValidationException',
        body: { __type: 'ValidationException', Message: 'VersionStage must be a string' },
      });
      expect(
        await call('POST', '/', '{}', { ...target, 'x-amz-target': 'secretsmanager.DeleteSecret' }),
      ).toEqual({
        status: 400,
        errorType: 'UnknownOperationException',
        body: {
          __type: 'UnknownOperationException',
          Message: 'local-iot does not implement secretsmanager.DeleteSecret',
        },
      });
    });
  });

  describe('IoT (restJson1)', () => {
    it('DescribeEndpoint returns the local gateway host', async () => {
      expect(await call('GET', '/endpoint?endpointType=iot%3AData-ATS')).toEqual({
        status: 200,
        errorType: null,
        body: { endpointAddress: HOST },
      });
      expect(await call('GET', '/endpoint?endpointType=iot:CredentialProvider')).toEqual({
        status: 400,
        errorType: 'InvalidRequestException',
        body: { message: 'local-iot serves only the iot:Data-ATS endpoint, not iot:CredentialProvider' },
      });
    });

    it('DescribeAuthorizer describes an authorizer of the stack', async () => {
      const signed = deployment.authorizers[1];
      const result = await call('GET', `/authorizer/${encodeURIComponent(`${STACK}-signed`)}`);
      expect(result).toEqual({
        status: 200,
        errorType: null,
        body: {
          authorizerDescription: {
            authorizerName: `${STACK}-signed`,
            authorizerArn: `arn:aws:iot:us-east-1:000000000000:authorizer/${STACK}-signed`,
            authorizerFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${STACK}-AuthorizerFunction`,
            tokenKeyName: 'token',
            tokenSigningPublicKeys: signed?.tokenSigningPublicKeys,
            status: 'ACTIVE',
            creationDate: expect.any(Number) as unknown,
            lastModifiedDate: expect.any(Number) as unknown,
            signingDisabled: false,
            enableCachingForHttp: false,
          },
        },
      });
      expect(await call('GET', '/authorizer/missing')).toEqual({
        status: 404,
        errorType: 'ResourceNotFoundException',
        body: { message: 'Authorizer missing does not exist' },
      });
    });

    it('TestInvokeAuthorizer validates the request before handing it to the pipeline', async () => {
      testInvoker.calls = [];
      expect(await call('POST', `/authorizer/${STACK}-unsigned/test`, '{"token": 5}')).toEqual({
        status: 400,
        errorType: 'InvalidRequestException',
        body: { message: 'token must be a string' },
      });
      expect(
        await call(
          'POST',
          `/authorizer/${STACK}-unsigned/test`,
          '{"mqttContext": {"password": "not base64!"}}',
        ),
      ).toEqual({
        status: 400,
        errorType: 'InvalidRequestException',
        body: { message: 'mqttContext.password must be base64 (it is a blob)' },
      });
      expect(testInvoker.calls).toEqual([]);
    });

    it("TestInvokeAuthorizer answers with the pipeline's outcome: 200, 404 for an unknown authorizer, else 400", async () => {
      testInvoker.calls = [];
      const response = { isAuthenticated: true, principalId: 'p', policyDocuments: ['{}'] };
      testInvoker.outcome = { ok: true, response };
      const body = { mqttContext: { username: 'u', clientId: 'test-1' } };
      expect(await call('POST', `/authorizer/${STACK}-unsigned/test`, JSON.stringify(body))).toEqual({
        status: 200,
        errorType: null,
        body: response,
      });
      expect(testInvoker.calls).toEqual([[`${STACK}-unsigned`, body]]);
      testInvoker.outcome = {
        ok: false,
        errorCode: 'ResourceNotFoundException',
        message: 'Authorizer x does not exist',
      };
      expect(await call('POST', '/authorizer/x/test', '')).toEqual({
        status: 404,
        errorType: 'ResourceNotFoundException',
        body: { message: 'Authorizer x does not exist' },
      });
      testInvoker.outcome = { ok: false, errorCode: 'InvalidResponseException', message: 'bad response' };
      expect(await call('POST', '/authorizer/x/test', '{}')).toEqual({
        status: 400,
        errorType: 'InvalidResponseException',
        body: { message: 'bad response' },
      });
      expect(testInvoker.calls).toEqual([
        [`${STACK}-unsigned`, body],
        ['x', {}],
        ['x', {}],
      ]);
    });

    it('answers unknown routes with an error, not a crash', async () => {
      expect(await call('DELETE', '/things/x')).toEqual({
        status: 404,
        errorType: 'UnknownOperationException',
        body: { message: 'local-iot does not implement DELETE /things/x' },
      });
    });
  });

  it('refuses bodies over 1 MB and drops sockets that do not speak HTTP, then keeps serving', async () => {
    expect(await call('POST', '/authorizer/x/test', 'x'.repeat(1024 * 1024 + 1))).toEqual({
      status: 413,
      errorType: 'RequestEntityTooLargeException',
      body: { message: 'the request body exceeds 1048576 bytes' },
    });
    await new Promise<void>((resolve, reject) => {
      const socket = connect(api.port, '127.0.0.1', () => socket.write('\u0000\u0001garbage\r\n\r\n'));
      socket.on('close', () => resolve());
      socket.on('error', reject);
      socket.resume();
    });
    expect((await call('GET', '/endpoint')).status).toBe(200);
  });
});
