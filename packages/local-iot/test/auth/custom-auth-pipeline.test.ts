import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  AUTHORIZER_SIGNATURE_PARAM,
  buildCustomAuthUsername,
  clientArn,
  signToken,
} from '@iot-custom-auth/protocol';
import type { ConnectAttempt } from '../../src/auth/connect-types';
import { CustomAuthPipeline } from '../../src/auth/custom-auth-pipeline';
import { compilePolicies } from '@iot-custom-auth/protocol';
import { LambdaRunner } from '../../src/lambda/lambda-runner';
import type { CfnTemplate } from '../../src/deployment/intrinsics';
import { loadLocalDeployment } from '../../src/deployment/local-deployment';
import { createLocalRuntime, type LocalRuntime } from '../../src/local-runtime';
import { signedIotCall } from '../support/sigv4-signing';
import { testCertificate, type TestCertificate } from '../support/x509-certificates';
import {
  demoTemplate,
  type DemoTemplateOptions,
  FUNCTIONS_DIR,
  removeDir,
  rsaKeyPair,
  tempDir,
  writeAssembly,
} from '../fixtures/assembly';

const STACK = 'PipelineTest';
const HOST = 'local-iot.localhost';
const UNSIGNED = `${STACK}-unsigned`;
const SIGNED = `${STACK}-signed`;
const FUNCTION = `${STACK}-AuthorizerFunction`;
const keys = rsaKeyPair();
const otherKeys = rsaKeyPair();

let root: string;
const runtimes: LocalRuntime[] = [];
let lines: string[] = [];

beforeAll(() => {
  root = tempDir('pipeline');
});
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
  lines = [];
});
afterAll(() => removeDir(root));

async function start(
  options: Partial<DemoTemplateOptions> = {},
  edit?: (template: CfnTemplate) => void,
): Promise<LocalRuntime> {
  const template = demoTemplate({ asset: 'fn', publicKeyPem: keys.publicKey, ...options });
  edit?.(template);
  const dir = join(root, randomUUID());
  const cdkOut = writeAssembly(join(dir, 'cdk.out'), STACK, template, {
    fn: join(FUNCTIONS_DIR, 'behaviours'),
  });
  const runtime = await createLocalRuntime({
    cdkOut,
    stateDir: join(dir, 'state'),
    endpointHost: HOST,
    // Short enough that the 'hang' case ends quickly, long enough for a cold worker on a loaded 2-core machine.
    authorizerTimeoutMs: 2000,
    log: (line) => lines.push(line),
  });
  runtimes.push(runtime);
  return runtime;
}

/** A direct MQTT connect to the unsigned authorizer whose fixture behaviour is `behaviour`. */
function unsigned(behaviour: string, extra: Partial<ConnectAttempt> = {}): ConnectAttempt {
  return {
    connectionId: randomUUID(),
    transport: 'mqtt',
    alpn: 'mqtt',
    serverName: HOST,
    clientId: 'test-1',
    username: `${buildCustomAuthUsername({ user: behaviour, authorizerName: UNSIGNED })}&SDK=IoTDeviceSDK/JS&Platform=Unix`,
    password: Buffer.from('secret'),
    ...extra,
  };
}

function signed(token: string, signature: string, extra: Partial<ConnectAttempt> = {}): ConnectAttempt {
  return {
    connectionId: randomUUID(),
    transport: 'mqtt',
    serverName: HOST,
    clientId: 'test-1',
    // Built by hand so that malformed signatures can be sent too (the builder refuses them).
    username: `${buildCustomAuthUsername({ user: 'allow', authorizerName: SIGNED, tokenKeyName: 'token', token })}&${AUTHORIZER_SIGNATURE_PARAM}=${encodeURIComponent(signature)}`,
    ...extra,
  };
}

/** The fixture's connect policy for `test-*`. */
const CONNECT_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: 'arn:aws:iot:us-east-1:000000000000:client/test-*',
    },
  ],
};

const allowedSession = {
  authorizerName: UNSIGNED,
  principalId: 'fixture',
  policies: compilePolicies([CONNECT_POLICY]),
  refreshAfterInSeconds: 300,
  disconnectAfterInSeconds: 3600,
};

describe('CustomAuthPipeline.authorize', () => {
  it('allows an unsigned connect the Lambda allows and whose policy allows iot:Connect', async () => {
    const runtime = await start();
    expect(await runtime.authorizer.authorize(unsigned('allow'))).toEqual({
      allowed: true,
      reasonCode: 0x00,
      reason: 'allowed by statement 1 of policy document 1',
      authorizerName: UNSIGNED,
      signature: 'not-required',
      lambdaInvoked: true,
      lambdaDurationMs: expect.any(Number) as unknown,
      session: allowedSession,
    });
    expect(runtime.invocationCount(FUNCTION)).toBe(1);
    expect(runtime.invocationCount()).toBe(1);
  });

  it.each([
    ['throw', 'LAMBDA_ERROR', `authorizer Lambda ${FUNCTION} failed: Error: fixture failure`],
    [
      'hang',
      'LAMBDA_TIMEOUT',
      `authorizer Lambda ${FUNCTION} did not answer in time: Task timed out after 2.00 seconds (AWS IoT allows 2000 ms)`,
    ],
    [
      'bad-principal',
      'INVALID_RESPONSE',
      "invalid authorizer response: principalId 'a-b' does not match ^[a-zA-Z0-9]{1,128}$",
    ],
    [
      'eleven-documents',
      'INVALID_RESPONSE',
      'invalid authorizer response: policyDocuments has 11 documents; at most 10 are allowed',
    ],
    [
      'ttl-too-low',
      'INVALID_RESPONSE',
      'invalid authorizer response: refreshAfterInSeconds must be an integer between 300 and 86400, but 10 was returned',
    ],
    [
      'not-json-policy',
      'INVALID_RESPONSE',
      expect.stringMatching(/^invalid authorizer response: policy document 1 is not valid JSON \(/) as string,
    ],
    ['explicit-deny', 'CONNECT_NOT_ALLOWED', 'explicitly denied by statement NoOne of policy document 2'],
  ])(
    'refuses with 0x87 when the Lambda does %s, while other connects keep succeeding',
    async (behaviour, cause, reason) => {
      const runtime = await start();
      const [fault, ok] = await Promise.all([
        runtime.authorizer.authorize(unsigned(behaviour)),
        runtime.authorizer.authorize(unsigned('allow', { clientId: 'test-2' })),
      ]);
      expect(fault).toEqual({
        allowed: false,
        reasonCode: 0x87,
        cause,
        reason,
        authorizerName: UNSIGNED,
        signature: 'not-required',
        lambdaInvoked: true,
        lambdaDurationMs: expect.any(Number) as unknown,
      });
      expect(ok.allowed).toBe(true);
      expect((await runtime.authorizer.authorize(unsigned('allow'))).allowed).toBe(true);
      expect(runtime.invocationCount(FUNCTION)).toBe(3);
    },
  );

  it('refuses with 0x87 when the Lambda exits the process, and the host keeps serving', async () => {
    const runtime = await start();
    const decision = await runtime.authorizer.authorize(unsigned('exit'));
    expect(decision.reasonCode).toBe(0x87);
    expect(decision.reason).toMatch(
      new RegExp(
        `^authorizer Lambda ${FUNCTION} crashed: Runtime.ExitError: RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3$`,
      ),
    );
    expect((await runtime.authorizer.authorize(unsigned('allow'))).allowed).toBe(true);
  });

  it('refuses with 0x86 when the Lambda says the device is not authenticated', async () => {
    const runtime = await start();
    expect(await runtime.authorizer.authorize(unsigned('deny'))).toMatchObject({
      allowed: false,
      reasonCode: 0x86,
      reason: `authorizer '${UNSIGNED}' returned isAuthenticated: false`,
      lambdaInvoked: true,
    });
  });

  it('refuses with 0x87 a client id the returned policy does not allow', async () => {
    const runtime = await start();
    expect(await runtime.authorizer.authorize(unsigned('allow', { clientId: 'prod-1' }))).toMatchObject({
      allowed: false,
      reasonCode: 0x87,
      reason: `policy has no Allow for iot:Connect on ${clientArn({ region: 'us-east-1', account: '000000000000' }, 'prod-1')}`,
    });
  });

  it('refuses a client id over 128 bytes with 0x85 without invoking the Lambda', async () => {
    const runtime = await start();
    const before = runtime.invocationCount();
    expect(
      await runtime.authorizer.authorize(unsigned('allow', { clientId: `test-${'é'.repeat(62)}` })),
    ).toMatchObject({
      allowed: false,
      reasonCode: 0x85,
      reason: "client id is longer than AWS IoT's 128 bytes",
      lambdaInvoked: false,
    });
    expect(runtime.invocationCount()).toBe(before);
  });

  it('accepts policy documents returned as JSON strings', async () => {
    const runtime = await start();
    expect(await runtime.authorizer.authorize(unsigned('string-policies'))).toMatchObject({
      allowed: true,
      session: allowedSession,
    });
  });

  it('parses each returned policy document once per authorization, a refresh included', async () => {
    const runtime = await start();
    const document = JSON.stringify(CONNECT_POLICY);
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const attempt = unsigned('string-policies');
      const parsesOfDocument = () => parse.mock.calls.filter(([text]) => text === document).length;
      const first = await runtime.authorizer.authorize(attempt);
      expect(parsesOfDocument()).toBe(1);
      // The gateway re-authorizes the very same attempt when the policy is refreshed.
      const refreshed = await runtime.authorizer.authorize(attempt);
      expect(parsesOfDocument()).toBe(2);
      expect([first.session?.policies.documents, refreshed.session?.policies.documents]).toEqual([
        [CONNECT_POLICY],
        [CONNECT_POLICY],
      ]);
    } finally {
      parse.mockRestore();
    }
  });

  it('refuses unknown and INACTIVE authorizers with 0x87 without invoking the Lambda', async () => {
    const runtime = await start({ unsignedStatus: 'INACTIVE' });
    const unknown = unsigned('allow', {
      username: buildCustomAuthUsername({ user: 'x', authorizerName: 'nope' }),
    });
    expect(await runtime.authorizer.authorize(unknown)).toEqual({
      allowed: false,
      reasonCode: 0x87,
      cause: 'AUTHORIZER_NOT_FOUND',
      reason: `authorizer 'nope' does not exist (stack ${STACK} has: ${UNSIGNED}, ${SIGNED})`,
      authorizerName: 'nope',
      signature: 'not-required',
      lambdaInvoked: false,
    });
    expect(await runtime.authorizer.authorize(unsigned('allow'))).toMatchObject({
      reasonCode: 0x87,
      reason: `authorizer '${UNSIGNED}' is INACTIVE`,
      lambdaInvoked: false,
    });
    expect(await runtime.authorizer.authorize(unsigned('allow', { username: 'device' }))).toMatchObject({
      reasonCode: 0x87,
      reason:
        'the connection names no authorizer (x-amz-customauthorizer-name) and the endpoint has no default authorizer',
      lambdaInvoked: false,
    });
    expect(runtime.invocationCount()).toBe(0);
  });

  it('uses the default authorizer when the connection names none', async () => {
    const runtime = await start({}, (template) => {
      (template.Resources as Record<string, unknown>).Domain = {
        Type: 'AWS::IoT::DomainConfiguration',
        Properties: { AuthorizerConfig: { DefaultAuthorizerName: { Ref: 'UnsignedAuthorizer' } } },
      };
    });
    expect(await runtime.authorizer.authorize(unsigned('allow', { username: 'allow' }))).toMatchObject({
      allowed: true,
      authorizerName: UNSIGNED,
    });
  });

  it('refuses when no Lambda permission lets AWS IoT invoke the function, without invoking it', async () => {
    const runtime = await start({ permissions: false });
    const decision = await runtime.authorizer.authorize(unsigned('allow'));
    expect(decision).toMatchObject({ reasonCode: 0x87, lambdaInvoked: false });
    expect(decision.reason).toMatch(/^no AWS::Lambda::Permission lets iot.amazonaws.com invoke function /);
    expect(runtime.invocationCount()).toBe(0);
  });

  describe('signed authorizer', () => {
    const token = 'eyJjbGllbnRJZCI6InRlc3QtMSJ9';
    const signature = signToken(token, keys.privateKey);

    it('verifies the signature (URL-encoded in the username) and invokes with signatureVerified', async () => {
      const runtime = await start();
      expect(await runtime.authorizer.authorize(signed(token, signature))).toMatchObject({
        allowed: true,
        reasonCode: 0x00,
        authorizerName: SIGNED,
        signature: 'verified',
        lambdaInvoked: true,
      });
    });

    it.each([
      [
        'signed with another key',
        () => signToken(token, otherKeys.privateKey),
        'failed',
        `authorizer '${SIGNED}': the token signature does not verify with TokenSigningPublicKeys (TokenSigningKey)`,
      ],
      [
        'tampered',
        () => `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`,
        'failed',
        `authorizer '${SIGNED}': the token signature does not verify with TokenSigningPublicKeys (TokenSigningKey)`,
      ],
      [
        'base64url',
        () => signature.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') + '-_',
        'failed',
        `authorizer '${SIGNED}': the token signature is not standard base64 after URL-decoding once (base64url, or URL-encoded twice?)`,
      ],
    ])('refuses a signature %s with 0x87 without invoking the Lambda', async (_what, make, state, reason) => {
      const runtime = await start();
      expect(await runtime.authorizer.authorize(signed(token, make()))).toEqual({
        allowed: false,
        reasonCode: 0x87,
        cause: 'SIGNATURE_INVALID',
        reason,
        authorizerName: SIGNED,
        signature: state,
        lambdaInvoked: false,
      });
      expect(runtime.invocationCount(FUNCTION)).toBe(0);
    });

    it('property: a signature in the username must be URL-encoded; a raw + reads as a space and is refused unseen', async () => {
      const runtime = await start();
      const base64Token = fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/);
      await fc.assert(
        fc.asyncProperty(base64Token, async (anyToken) => {
          const good = signToken(anyToken, keys.privateKey);
          const raw = signed(anyToken, good, {
            username: `${buildCustomAuthUsername({ user: 'allow', authorizerName: SIGNED, tokenKeyName: 'token', token: anyToken })}&${AUTHORIZER_SIGNATURE_PARAM}=${good}`,
          });
          const decision = await runtime.authorizer.authorize(raw);
          if (good.includes('+')) {
            expect(decision).toMatchObject({
              allowed: false,
              reasonCode: 0x87,
              signature: 'failed',
              lambdaInvoked: false,
            });
            expect(decision.reason).toContain("a '+' that is not URL-encoded reads as a space");
          } else {
            // Without a +, the raw signature reads the same either way.
            expect(decision).toMatchObject({ signature: 'verified' });
          }
          expect(await runtime.authorizer.authorize(signed(anyToken, good))).toMatchObject({
            signature: 'verified',
          });
        }),
        { numRuns: 15 },
      );
    });

    it('refuses a missing token or signature without invoking the Lambda', async () => {
      const runtime = await start();
      const noSignature = signed(token, signature, {
        username: buildCustomAuthUsername({ authorizerName: SIGNED, tokenKeyName: 'token', token }),
      });
      expect(await runtime.authorizer.authorize(noSignature)).toMatchObject({
        reasonCode: 0x87,
        signature: 'missing',
        reason: `authorizer '${SIGNED}' has signing enabled but the connection sent no x-amz-customauthorizer-signature`,
        lambdaInvoked: false,
      });
      const noToken = signed(token, signature, {
        username: buildCustomAuthUsername({ authorizerName: SIGNED }),
      });
      expect(await runtime.authorizer.authorize(noToken)).toMatchObject({
        reasonCode: 0x87,
        signature: 'missing',
        reason: `authorizer '${SIGNED}' has signing enabled but the connection sent no token under 'token'`,
      });
      expect(runtime.invocationCount()).toBe(0);
    });

    it('skips the signature check once the template turns signing off', async () => {
      const runtime = await start({ signedSigningDisabled: true });
      expect(await runtime.authorizer.authorize(signed(token, 'garbage'))).toMatchObject({
        allowed: true,
        signature: 'not-required',
      });
    });

    it('reads credentials from WebSocket upgrade headers and query string', async () => {
      const runtime = await start();
      const viaHeaders: ConnectAttempt = {
        connectionId: randomUUID(),
        transport: 'websockets',
        serverName: HOST,
        clientId: 'test-1',
        headers: {
          host: HOST,
          'x-amz-customauthorizer-name': SIGNED,
          'x-amz-customauthorizer-signature': signature,
          token,
        },
        queryString: '',
      };
      expect(await runtime.authorizer.authorize(viaHeaders)).toMatchObject({
        allowed: true,
        signature: 'verified',
      });
      const viaQuery: ConnectAttempt = {
        ...viaHeaders,
        headers: { host: HOST },
        queryString: `?x-amz-customauthorizer-name=${SIGNED}&token=${token}&x-amz-customauthorizer-signature=${encodeURIComponent(signature)}`,
      };
      expect(await runtime.authorizer.authorize(viaQuery)).toMatchObject({
        allowed: true,
        signature: 'verified',
      });
      const tampered = { ...viaQuery, queryString: viaQuery.queryString?.replace('token=', 'token=x') };
      expect(await runtime.authorizer.authorize(tampered)).toMatchObject({
        reasonCode: 0x87,
        lambdaInvoked: false,
      });
      expect(runtime.invocationCount()).toBe(2);
    });
  });
});

describe('the event sent to the Lambda', () => {
  async function eventFor(attempt: ConnectAttempt): Promise<unknown> {
    const template = demoTemplate({ asset: 'fn', publicKeyPem: keys.publicKey });
    const dir = join(root, randomUUID());
    const cdkOut = writeAssembly(join(dir, 'cdk.out'), STACK, template, {
      fn: join(FUNCTIONS_DIR, 'behaviours'),
    });
    const deployment = loadLocalDeployment({ cdkOut, stateDir: join(dir, 'state'), endpointHost: HOST });
    const runner = new LambdaRunner({
      functions: deployment.functions,
      region: deployment.region,
      awsEndpointUrl: 'http://127.0.0.1:9',
      log: () => undefined,
    });
    const seen: unknown[] = [];
    const invoke = runner.invoke.bind(runner);
    runner.invoke = (name, event, options) => {
      seen.push(event);
      return invoke(name, event, options);
    };
    try {
      await new CustomAuthPipeline({ deployment, runner }).authorize(attempt);
    } finally {
      await runner.close();
    }
    expect(seen).toHaveLength(1);
    return seen[0];
  }

  it('has the direct MQTT shape: raw username, base64 password, client id, tls server name', async () => {
    const id = randomUUID();
    const username = `device?x-amz-customauthorizer-name=${UNSIGNED}&SDK=IoTDeviceSDK/JS`;
    expect(
      await eventFor({
        connectionId: id,
        transport: 'mqtt',
        serverName: HOST,
        clientId: 'test-1',
        username,
        password: Buffer.from('pässword'),
      }),
    ).toEqual({
      signatureVerified: false,
      protocols: ['tls', 'mqtt'],
      protocolData: {
        tls: { serverName: HOST },
        mqtt: { username, password: Buffer.from('pässword').toString('base64'), clientId: 'test-1' },
      },
      connectionMetadata: { id },
    });
  });

  it('has no clientId when the device sent none, and the http part for WebSockets', async () => {
    const id = randomUUID();
    const headers = { host: HOST, 'x-amz-customauthorizer-name': UNSIGNED, 'sec-websocket-protocol': 'mqtt' };
    expect(
      await eventFor({
        connectionId: id,
        transport: 'websockets',
        serverName: HOST,
        username: 'device',
        headers,
        queryString: '?a=b',
      }),
    ).toEqual({
      signatureVerified: false,
      protocols: ['tls', 'http', 'mqtt'],
      protocolData: {
        tls: { serverName: HOST },
        http: { headers, queryString: '?a=b' },
        mqtt: { username: 'device' },
      },
      connectionMetadata: { id },
    });
  });

  it('carries the token and signatureVerified for the signed authorizer', async () => {
    const token = 'abc';
    const signature = signToken(token, keys.privateKey);
    const event = (await eventFor(signed(token, signature, { connectionId: 'c1' }))) as Record<
      string,
      unknown
    >;
    expect(event).toMatchObject({ token, signatureVerified: true, connectionMetadata: { id: 'c1' } });
  });
});

describe('TestInvokeAuthorizer through the local AWS API', () => {
  async function testInvoke(runtime: LocalRuntime, name: string, body: object) {
    const response = await signedIotCall(
      { credentials: runtime.awsApi.credentials, region: runtime.deployment.region },
      'POST',
      `${runtime.awsApi.url}/authorizer/${encodeURIComponent(name)}/test`,
      body,
    );
    return {
      status: response.status,
      errorType: response.headers.get('x-amzn-errortype'),
      body: await response.json(),
    };
  }

  it('returns the response with policy documents as JSON strings', async () => {
    const runtime = await start();
    const password = Buffer.from('secret').toString('base64');
    expect(
      await testInvoke(runtime, UNSIGNED, {
        mqttContext: { username: 'allow', password, clientId: 'test-1' },
      }),
    ).toEqual({
      status: 200,
      errorType: null,
      body: {
        isAuthenticated: true,
        principalId: 'fixture',
        policyDocuments: [JSON.stringify(CONNECT_POLICY)],
        refreshAfterInSeconds: 300,
        disconnectAfterInSeconds: 3600,
      },
    });
    expect(runtime.invocationCount()).toBe(1);
  });

  it('answers a not-authenticated response without policy documents with an empty list, not a failure', async () => {
    const runtime = await start();
    const password = Buffer.from('secret').toString('base64');
    expect(
      await testInvoke(runtime, UNSIGNED, {
        mqttContext: { username: 'deny-without-policies', password, clientId: 'test-1' },
      }),
    ).toEqual({
      status: 200,
      errorType: null,
      body: {
        isAuthenticated: false,
        principalId: 'fixture',
        policyDocuments: [],
        refreshAfterInSeconds: 300,
        disconnectAfterInSeconds: 300,
      },
    });
  });

  it('answers InvalidResponseException for an invalid Lambda response, ResourceNotFound, and refuses bad signatures unseen', async () => {
    const runtime = await start();
    expect(await testInvoke(runtime, UNSIGNED, { mqttContext: { username: 'bad-principal' } })).toEqual({
      status: 400,
      errorType: 'InvalidResponseException',
      body: { message: "invalid authorizer response: principalId 'a-b' does not match ^[a-zA-Z0-9]{1,128}$" },
    });
    expect(await testInvoke(runtime, 'nope', {})).toEqual({
      status: 404,
      errorType: 'ResourceNotFoundException',
      body: { message: 'Authorizer nope does not exist' },
    });
    expect(
      await testInvoke(runtime, SIGNED, { token: 'abc', tokenSignature: signToken('abd', keys.privateKey) }),
    ).toEqual({
      status: 400,
      errorType: 'InvalidRequestException',
      body: {
        message: `authorizer '${SIGNED}': the token signature does not verify with TokenSigningPublicKeys (TokenSigningKey)`,
      },
    });
    expect(runtime.invocationCount()).toBe(1);
  });
});

describe('CUSTOM_AUTH_X509 attempts (the X.509 listener)', () => {
  const DOMAIN = 'PipelineTest-x509';
  let certificate: TestCertificate;
  beforeAll(async () => {
    certificate = await testCertificate({ commonName: 'test-1' });
  });

  /** The demo stack with a CUSTOM_AUTH_X509 domain whose default authorizer is the unsigned one. */
  const withX509Domain =
    (allowAuthorizerOverride: boolean) =>
    (template: CfnTemplate): void => {
      (template.Resources as Record<string, unknown>).X509Domain = {
        Type: 'AWS::IoT::DomainConfiguration',
        Properties: {
          DomainConfigurationName: DOMAIN,
          AuthenticationType: 'CUSTOM_AUTH_X509',
          ApplicationProtocol: 'SECURE_MQTT',
          AuthorizerConfig: {
            DefaultAuthorizerName: UNSIGNED,
            AllowAuthorizerOverride: allowAuthorizerOverride,
          },
        },
      };
    };

  /** An attempt on the X.509 listener whose fixture behaviour is `behaviour`, naming `authorizerName`. */
  function x509Attempt(behaviour: string, authorizerName?: string): ConnectAttempt {
    return {
      connectionId: randomUUID(),
      transport: 'mqtt',
      alpn: 'mqtt',
      serverName: HOST,
      clientId: 'test-1',
      username:
        authorizerName === undefined
          ? behaviour
          : buildCustomAuthUsername({ user: behaviour, authorizerName }),
      clientCertificate: { id: certificate.id, pem: certificate.certPem },
    };
  }

  /** The fixture's `x509 event` log lines, parsed. */
  const x509Events = (): unknown[] =>
    lines
      .map((line) => /x509 event (\{.*\})$/.exec(line)?.[1])
      .filter((json): json is string => json !== undefined)
      .map((json) => JSON.parse(json) as unknown);

  it("sends the certificate in protocolData.tls, as documented, to the domain's default authorizer", async () => {
    const runtime = await start({}, withX509Domain(false));
    expect(await runtime.authorizer.authorize(x509Attempt('x509-principal'))).toMatchObject({
      allowed: true,
      authorizerName: UNSIGNED,
      session: { principalId: certificate.id },
    });
    expect(x509Events()).toEqual([
      {
        protocols: ['tls', 'mqtt'],
        signatureVerified: false,
        tls: { serverName: HOST, x509CertificatePem: certificate.certPem, principalId: certificate.id },
        mqtt: { username: 'x509-principal', clientId: 'test-1' },
      },
    ]);
  });

  it('ignores a named authorizer unless the domain allows the override', async () => {
    const strict = await start({}, withX509Domain(false));
    // The signed authorizer would refuse it (no token): the default, unsigned one decides instead.
    expect(await strict.authorizer.authorize(x509Attempt('x509-principal', SIGNED))).toMatchObject({
      allowed: true,
      authorizerName: UNSIGNED,
    });
    const lenient = await start({}, withX509Domain(true));
    expect(await lenient.authorizer.authorize(x509Attempt('x509-principal', SIGNED))).toMatchObject({
      allowed: false,
      reasonCode: 0x87,
      authorizerName: SIGNED,
      signature: 'missing',
      lambdaInvoked: false,
    });
  });

  it("refuses an allow whose principalId is not the certificate's id", async () => {
    const runtime = await start({}, withX509Domain(false));
    expect(await runtime.authorizer.authorize(x509Attempt('allow'))).toMatchObject({
      allowed: false,
      reasonCode: 0x87,
      lambdaInvoked: true,
      reason: `invalid authorizer response: principalId 'fixture' is not the client certificate's id ${certificate.id}, which CUSTOM_AUTH_X509 requires`,
    });
  });

  it('refuses an X.509 attempt once the deployment has no X.509 domain, without invoking the Lambda', async () => {
    const runtime = await start();
    expect(await runtime.authorizer.authorize(x509Attempt('x509-principal'))).toMatchObject({
      allowed: false,
      reasonCode: 0x87,
      lambdaInvoked: false,
      reason: expect.stringMatching(
        /^stack \S+ no longer has a CUSTOM_AUTH_X509 domain configuration \(it was redeployed without it\): connect to the stack's endpoint with the custom authorizer, or redeploy the stack with the domain configuration, which this port then serves again$/,
      ) as unknown,
    });
    expect(runtime.invocationCount()).toBe(0);
  });
});
