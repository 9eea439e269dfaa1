import {
  DescribeAuthorizerCommand,
  IoTClient,
  ResourceNotFoundException,
  TestInvokeAuthorizerCommand,
} from '@aws-sdk/client-iot';
import {
  GetPolicyCommand,
  LambdaClient,
  ResourceNotFoundException as NoPolicy,
} from '@aws-sdk/client-lambda';
import { createToken, encodeQueryValue, signToken, toUrlEncodedSignature } from '@iot-custom-auth/protocol';
import { mockClient } from 'aws-sdk-client-mock';
import type { ConnectRequest } from '../../src/connection';
import {
  checkAuthorizer,
  checkInvokePermission,
  checkPolicies,
  checkTestInvoke,
  checkToken,
  type FoundAuthorizer,
} from '../../src/diagnose/authorizer-checks';
import { rsaSigningKeyPair } from '../fixtures/signing-keys';

const iot = mockClient(IoTClient);
const lambda = mockClient(LambdaClient);
const clients = {
  iot: new IoTClient({ region: 'eu-west-1' }),
  lambda: new LambdaClient({ region: 'eu-west-1' }),
};

const AUTHORIZER_ARN = 'arn:aws:iot:eu-west-1:123456789012:authorizer/Stack-Unsigned';
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:Stack-Authorizer';

const unsigned: FoundAuthorizer = {
  name: 'Stack-Unsigned',
  arn: AUTHORIZER_ARN,
  functionArn: FUNCTION_ARN,
  signingDisabled: true,
  publicKeys: [],
};

const request: ConnectRequest = {
  endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
  port: 443,
  transport: 'mqtt',
  clientId: 'test-1',
  auth: { authorizerName: 'Stack-Unsigned', username: 'test-1', password: 'secret' },
  timeoutMs: 10_000,
  verbosity: 'none',
};

beforeEach(() => {
  iot.reset();
  lambda.reset();
});

describe('checkAuthorizer', () => {
  const expect_ = { signed: false, region: 'eu-west-1', knownNames: ['Stack-Unsigned', 'Stack-Signed'] };

  it('passes an ACTIVE unsigned authorizer and gives its function', async () => {
    iot.on(DescribeAuthorizerCommand, { authorizerName: 'Stack-Unsigned' }).resolves({
      authorizerDescription: {
        authorizerName: 'Stack-Unsigned',
        authorizerArn: AUTHORIZER_ARN,
        authorizerFunctionArn: FUNCTION_ARN,
        status: 'ACTIVE',
        signingDisabled: true,
      },
    });
    const { result, authorizer } = await checkAuthorizer(clients, 'Stack-Unsigned', expect_);
    expect(result).toEqual({
      check: 'authorizer',
      ok: true,
      detail: `Stack-Unsigned: ACTIVE, signing disabled, function ${FUNCTION_ARN}`,
    });
    expect(authorizer).toEqual(unsigned);
  });

  it("names the stack's authorizers when the one asked for does not exist", async () => {
    iot
      .on(DescribeAuthorizerCommand)
      .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
    const { result } = await checkAuthorizer(clients, 'Wrong', expect_);
    expect(result).toMatchObject({
      ok: false,
      detail:
        "the authorizer 'Wrong' does not exist in eu-west-1 (the stack has: Stack-Unsigned, Stack-Signed)",
    });
  });

  it('fails an INACTIVE authorizer, and one that expects a token for a password', async () => {
    iot.on(DescribeAuthorizerCommand).resolves({
      authorizerDescription: { authorizerName: 'Stack-Unsigned', status: 'INACTIVE', signingDisabled: false },
    });
    const { result } = await checkAuthorizer(clients, 'Stack-Unsigned', expect_);
    expect(result).toMatchObject({
      ok: false,
      detail:
        'Stack-Unsigned: it is INACTIVE, not ACTIVE; it has signing enabled, so it needs a signed token, not a user name and password',
      fix: expect.stringContaining('--status ACTIVE') as string,
    });
  });
});

describe('checkInvokePermission', () => {
  const statement = (sourceArn: string) => ({
    Sid: 'AllowIot',
    Effect: 'Allow',
    Principal: { Service: 'iot.amazonaws.com' },
    Action: 'lambda:InvokeFunction',
    Resource: FUNCTION_ARN,
    Condition: { ArnLike: { 'AWS:SourceArn': sourceArn } },
  });

  it('passes a statement for iot.amazonaws.com with the authorizer as SourceArn', async () => {
    lambda.on(GetPolicyCommand, { FunctionName: FUNCTION_ARN }).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [statement(AUTHORIZER_ARN)] }),
    });
    expect(await checkInvokePermission(clients, unsigned)).toMatchObject({ ok: true });
  });

  it('fails a statement for another authorizer', async () => {
    lambda.on(GetPolicyCommand).resolves({
      Policy: JSON.stringify({ Statement: [statement(`${AUTHORIZER_ARN}-other`)] }),
    });
    expect(await checkInvokePermission(clients, unsigned)).toMatchObject({
      ok: false,
      detail: `the function lets iot.amazonaws.com invoke it, but for another SourceArn than ${AUTHORIZER_ARN}`,
    });
  });

  it('fails a function without a resource policy', async () => {
    lambda.on(GetPolicyCommand).rejects(new NoPolicy({ message: 'No policy is associated', $metadata: {} }));
    expect(await checkInvokePermission(clients, unsigned)).toMatchObject({
      ok: false,
      detail: `${FUNCTION_ARN} has no resource policy: AWS IoT may not invoke it`,
    });
  });
});

describe('checkToken', () => {
  const keys = rsaSigningKeyPair();
  const now = new Date('2026-01-01T10:00:00Z');
  const signed: FoundAuthorizer = { ...unsigned, signingDisabled: false, publicKeys: [keys.publicKeyPem] };
  const withToken = (token: string, signature: string): ConnectRequest => ({
    ...request,
    auth: {
      tokenKeyName: 'token',
      tokenValue: encodeQueryValue(token),
      signature: toUrlEncodedSignature(signature),
    },
  });

  it('passes a token signed with the deployed key for this client id', () => {
    const token = createToken({ clientId: 'test-1', lifetimeSeconds: 300, now });
    expect(
      checkToken(withToken(token, signToken(token, keys.privateKeyPem)), signed, now, true),
    ).toMatchObject({
      ok: true,
      detail: expect.stringContaining('expires in 300 s') as string,
    });
  });

  it('fails a signature by another key', () => {
    const token = createToken({ clientId: 'test-1', lifetimeSeconds: 300, now });
    const other = rsaSigningKeyPair();
    expect(
      checkToken(withToken(token, signToken(token, other.privateKeyPem)), signed, now, true),
    ).toMatchObject({
      ok: false,
      detail: "the token signature does not verify with Stack-Unsigned's 1 TokenSigningPublicKeys",
    });
  });

  it("blames this machine's clock only for a token it signed itself", () => {
    const token = createToken({
      clientId: 'test-1',
      lifetimeSeconds: 300,
      now: new Date('2025-12-31T10:00:00Z'),
    });
    const tampered = withToken(token, signToken(token, keys.privateKeyPem));
    expect(checkToken(tampered, signed, now, true).fix).toContain("this machine's clock");
    expect(checkToken(tampered, signed, now, false).fix).not.toContain('clock');
  });
});

describe('checkTestInvoke and checkPolicies', () => {
  const connectPolicy = (resource: string) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'iot:Connect',
          Resource: `arn:aws:iot:eu-west-1:123456789012:client/${resource}`,
        },
      ],
    });

  it('sends the device credentials with the endpoint as SNI and accepts a valid response', async () => {
    iot.on(TestInvokeAuthorizerCommand).resolves({
      isAuthenticated: true,
      principalId: 'device',
      policyDocuments: [connectPolicy('test-*')],
      refreshAfterInSeconds: 300,
      disconnectAfterInSeconds: 3600,
    });
    const { result, response } = await checkTestInvoke(
      clients,
      unsigned,
      request,
      'test-1?x-amz-customauthorizer-name=Stack-Unsigned',
    );
    expect(result).toMatchObject({ ok: true });
    const input = iot.commandCalls(TestInvokeAuthorizerCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      authorizerName: 'Stack-Unsigned',
      mqttContext: { username: 'test-1?x-amz-customauthorizer-name=Stack-Unsigned', clientId: 'test-1' },
      tlsContext: { serverName: request.endpoint },
    });
    expect(Buffer.from(input?.mqttContext?.password ?? []).toString()).toBe('secret');
    const policies = checkPolicies(response!, unsigned, 'test-1', 'test-');
    expect(policies.map((p) => p.ok)).toEqual([true, false]);
    expect(policies[1]).toMatchObject({
      hard: false,
      detail: expect.stringContaining('iot:Publish on devices/test-1') as string,
    });
  });

  it('fails a response with TTLs outside 300..86400', async () => {
    iot.on(TestInvokeAuthorizerCommand).resolves({
      isAuthenticated: true,
      principalId: 'device',
      policyDocuments: [connectPolicy('test-*')],
      refreshAfterInSeconds: 5,
      disconnectAfterInSeconds: 3600,
    });
    const { result } = await checkTestInvoke(clients, unsigned, request, undefined);
    expect(result).toMatchObject({
      ok: false,
      detail: expect.stringContaining(
        'refreshAfterInSeconds must be an integer between 300 and 86400, but 5 was returned',
      ) as string,
    });
  });

  it('stops at a policy that does not allow iot:Connect on the client id', async () => {
    iot.on(TestInvokeAuthorizerCommand).resolves({
      isAuthenticated: true,
      principalId: 'device',
      policyDocuments: [connectPolicy('test-*')],
      refreshAfterInSeconds: 300,
      disconnectAfterInSeconds: 3600,
    });
    const { response } = await checkTestInvoke(
      clients,
      unsigned,
      { ...request, clientId: 'prod-1' },
      undefined,
    );
    expect(checkPolicies(response!, unsigned, 'prod-1', 'test-')).toEqual([
      expect.objectContaining({
        ok: false,
        hard: true,
        detail: expect.stringContaining('iot:Connect on client/prod-1 is not allowed') as string,
      }),
    ]);
  });
});
