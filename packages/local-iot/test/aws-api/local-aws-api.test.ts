import { connect } from 'node:net';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseMasterSecret } from '@iot-custom-auth/protocol';
import type { TestInvokeOutcome, TestInvokeRequest } from '../../src/auth/custom-auth-pipeline';
import { LocalAwsApi, type TestInvoker } from '../../src/aws-api/local-aws-api';
import { generateLocalAwsCredentials } from '../../src/aws-api/local-aws-credentials';
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
import { signedFetch, signedHeaders, type SigningIdentity } from '../support/sigv4-signing';

const STACK = 'ApiTest';
const HOST = 'local-iot.localhost';

let root: string;
let deployment: LocalDeployment;
let api: LocalAwsApi;
let client: SecretsManagerClient;
let identity: SigningIdentity;
const credentials = generateLocalAwsCredentials();

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
  api = new LocalAwsApi({ deployment, listener: await LoopbackListener.bind(), testInvoker, credentials });
  identity = { credentials, region: deployment.region };
  client = new SecretsManagerClient({
    region: deployment.region,
    endpoint: api.url,
    credentials,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  await api.close();
  removeDir(root);
});

const secret = () => deployment.secrets[0] as NonNullable<LocalDeployment['secrets'][0]>;

/** A call signed as the SDK signs it: for Secrets Manager when it carries an `x-amz-target`, else IoT. */
async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const response = await signedFetch(identity, {
    service: headers['x-amz-target'] === undefined ? 'iot' : 'secretsmanager',
    method,
    url: `${api.url}${path}`,
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
        expect(parseMasterSecret(result.SecretString)).toEqual(parseMasterSecret(secret().secretString));
        expect(parseMasterSecret(result.SecretString).ok).toBe(true);
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

  describe('SigV4: every request signed with the local credentials, refused as AWS refuses', () => {
    const MISMATCH =
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
    const getSecretValue = () => ({
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
      },
      body: JSON.stringify({ SecretId: secret().arn }),
    });
    const answer = async (response: Response) => ({
      status: response.status,
      errorType: response.headers.get('x-amzn-errortype'),
      body: await response.json(),
    });

    it('serves GetSecretValue and DescribeEndpoint to a signed request', async () => {
      const served = await signedFetch(identity, {
        service: 'secretsmanager',
        url: `${api.url}/`,
        ...getSecretValue(),
      });
      expect(served.status).toBe(200);
      expect(await served.json()).toMatchObject({ ARN: secret().arn, SecretString: secret().secretString });
      expect((await call('GET', '/endpoint')).status).toBe(200);
    });

    it('refuses an unsigned request: Secrets Manager 400, IoT 403, MissingAuthenticationTokenException', async () => {
      expect(await answer(await fetch(`${api.url}/`, getSecretValue()))).toEqual({
        status: 400,
        errorType: 'MissingAuthenticationTokenException',
        body: { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' },
      });
      expect(await answer(await fetch(`${api.url}/endpoint?endpointType=iot%3AData-ATS`))).toEqual({
        status: 403,
        errorType: 'MissingAuthenticationTokenException',
        body: { message: 'Missing Authentication Token' },
      });
      const test = await fetch(`${api.url}/authorizer/${STACK}-unsigned/test`, {
        method: 'POST',
        body: JSON.stringify({ token: 'x' }),
      });
      expect(await answer(test)).toMatchObject({
        status: 403,
        errorType: 'MissingAuthenticationTokenException',
      });
    });

    it('refuses an unknown access key (UnrecognizedClientException) and another secret (InvalidSignatureException) through the SDK', async () => {
      const withCredentials = (accessKeyId: string, secretAccessKey: string) =>
        new SecretsManagerClient({
          region: deployment.region,
          endpoint: api.url,
          credentials: { accessKeyId, secretAccessKey },
          maxAttempts: 1,
        });
      const stranger = withCredentials('AKIAIOSFODNN7EXAMPLE', credentials.secretAccessKey);
      const wrongSecret = withCredentials(
        credentials.accessKeyId,
        'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      );
      try {
        await expect(
          stranger.send(new GetSecretValueCommand({ SecretId: secret().arn })),
        ).rejects.toMatchObject({
          name: 'UnrecognizedClientException',
          message: 'The security token included in the request is invalid.',
          $metadata: { httpStatusCode: 400 },
        });
        await expect(
          wrongSecret.send(new GetSecretValueCommand({ SecretId: secret().arn })),
        ).rejects.toMatchObject({
          name: 'InvalidSignatureException',
          message: MISMATCH,
          $metadata: { httpStatusCode: 400 },
        });
      } finally {
        stranger.destroy();
        wrongSecret.destroy();
      }
      const iotStranger = await signedFetch(
        { credentials: generateLocalAwsCredentials(), region: deployment.region },
        { service: 'iot', method: 'GET', url: `${api.url}/endpoint` },
      );
      expect(await answer(iotStranger)).toEqual({
        status: 403,
        errorType: 'UnrecognizedClientException',
        body: { message: 'The security token included in the request is invalid.' },
      });
    });

    it('refuses a tampered body and a tampered signature without acting on them', async () => {
      testInvoker.calls = [];
      const request = {
        service: 'iot',
        method: 'POST',
        url: `${api.url}/authorizer/${STACK}-unsigned/test`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: 'signed' }),
      };
      const headers = await signedHeaders(identity, request);
      const tamperedBody = await fetch(request.url, { ...request, headers, body: '{"token":"forged"}' });
      expect(await answer(tamperedBody)).toEqual({
        status: 403,
        errorType: 'InvalidSignatureException',
        body: { message: MISMATCH },
      });
      const signature = headers.authorization ?? '';
      const forged = `${signature.slice(0, -4)}${signature.endsWith('0000') ? '1111' : '0000'}`;
      const tamperedSignature = await fetch(request.url, {
        ...request,
        headers: { ...headers, authorization: forged },
      });
      expect(await answer(tamperedSignature)).toMatchObject({
        status: 403,
        errorType: 'InvalidSignatureException',
      });
      expect(testInvoker.calls).toEqual([]);
    });

    it('refuses a request signed more than five minutes ago: InvalidSignatureException "Signature expired"', async () => {
      const now = new Date('2024-03-05T10:20:30.000Z');
      const frozen = new LocalAwsApi({
        deployment,
        listener: await LoopbackListener.bind(),
        testInvoker,
        credentials,
        now: () => now,
      });
      try {
        const expired = await signedFetch(identity, {
          service: 'secretsmanager',
          url: `${frozen.url}/`,
          signingDate: new Date('2024-03-05T10:14:30.000Z'),
          ...getSecretValue(),
        });
        const message =
          'Signature expired: 20240305T101430Z is now earlier than 20240305T101530Z (20240305T102030Z - 5 min.)';
        expect(await answer(expired)).toEqual({
          status: 400,
          errorType: 'InvalidSignatureException',
          body: { __type: 'InvalidSignatureException', message },
        });
      } finally {
        await frozen.close();
      }
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
