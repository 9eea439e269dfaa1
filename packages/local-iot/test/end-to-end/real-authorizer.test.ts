import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import {
  AUTHORIZER_SIGNATURE_PARAM,
  buildCustomAuthUsername,
  buildDevicePolicies,
  createToken,
  signToken,
} from '@iot-custom-auth/protocol';
import type { ConnectAttempt } from '../../src/auth/connect-types';
import { demoStackNames, rsaKeyPair, writeDemoAssembly } from '../fixtures/assembly';
import { useLocalIot } from '../support/local-iot-harness';
import { testInvokeAuthorizer } from '../support/served-stack';
import { REPO_ROOT } from '../support/synthesized-stack';

/**
 * The project's real authorizer Lambda (`packages/authorizer-lambda/src/handler.ts`), bundled as the stack
 * bundles it (esbuild, CommonJS, `@aws-sdk/*` left external), run by local-iot with Secrets Manager served
 * by the local AWS API: nothing in the Lambda knows it is local.
 */
const STACK = 'RealAuthorizerTest';
const HOST = 'local-iot.localhost';
const {
  unsignedAuthorizer: UNSIGNED,
  signedAuthorizer: SIGNED,
  authorizerFunction: FUNCTION,
} = demoStackNames(STACK);
const keys = rsaKeyPair();

const served = useLocalIot({
  assembly: (dir) => {
    const bundle = join(dir, 'bundle');
    buildSync({
      entryPoints: [join(REPO_ROOT, 'packages', 'authorizer-lambda', 'src', 'handler.ts')],
      outfile: join(bundle, 'index.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['@aws-sdk/*'],
      tsconfig: join(REPO_ROOT, 'tsconfig.json'),
      logLevel: 'silent',
    });
    return writeDemoAssembly(dir, STACK, { bundle, publicKeyPem: keys.publicKey, logFormat: 'JSON' });
  },
  serve: { endpointHost: HOST },
});

function direct(clientId: string, username: string, password?: string): ConnectAttempt {
  return {
    connectionId: randomUUID(),
    transport: 'mqtt',
    alpn: 'mqtt',
    serverName: HOST,
    clientId,
    username: `${username}&SDK=IoTDeviceSDK/JS&Platform=Unix`,
    ...(password !== undefined && { password: Buffer.from(password, 'utf8') }),
  };
}

function signedUsername(token: string, signature: string): string {
  const base = buildCustomAuthUsername({ authorizerName: SIGNED, tokenKeyName: 'token', token });
  return `${base}&${AUTHORIZER_SIGNATURE_PARAM}=${encodeURIComponent(signature)}`;
}

/** An unsigned allow: device test-1's own policies; a signed allow: the prefix policies. */
const policies = buildDevicePolicies({ region: 'us-east-1', account: '000000000000', deviceId: 'test-1' });
const signedPolicies = buildDevicePolicies({ region: 'us-east-1', account: '000000000000' });

describe('the real authorizer Lambda under local-iot', () => {
  it("allows a device's own credentials through the unsigned authorizer (master secret read from the local AWS API)", async () => {
    const before = served.runtime.invocationCount(FUNCTION);
    const username = served.unsignedUsername('test-1');
    expect(
      await served.runtime.authorizer.authorize(
        direct('test-1', username, served.credentialsFor('test-1').password),
      ),
    ).toEqual({
      allowed: true,
      reasonCode: 0x00,
      reason: 'allowed by statement ConnectAsDevice of policy document 1',
      authorizerName: UNSIGNED,
      signature: 'not-required',
      lambdaInvoked: true,
      lambdaDurationMs: expect.any(Number) as unknown,
      session: {
        authorizerName: UNSIGNED,
        principalId: expect.stringMatching(/^[a-f0-9]{32}$/) as unknown,
        policies: expect.objectContaining({ documents: policies, problems: [] }) as unknown,
        refreshAfterInSeconds: 300,
        disconnectAfterInSeconds: 86_400,
      },
    });
    expect(served.runtime.invocationCount(FUNCTION)).toBe(before + 1);
    // The Lambda logs its decision as JSON, as the stack configures it, and never the password.
    const decisions = served.functionLog
      .filter((line) => line.startsWith(`[${FUNCTION}] {`))
      .map((line) => JSON.parse(line.slice(FUNCTION.length + 3)) as { level: string; message: unknown })
      .filter((entry) => typeof entry.message === 'object');
    expect(decisions).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: expect.objectContaining({
          decision: 'ALLOW',
          reason: 'PASSWORD_OK',
          clientId: 'test-1',
          deviceId: 'test-1',
        }) as unknown,
      }),
    ]);
    expect(served.functionLog.join('\n')).not.toContain(served.credentialsFor('test-1').password);
  });

  it('refuses a wrong password with 0x86', async () => {
    const before = served.runtime.invocationCount(FUNCTION);
    const username = served.unsignedUsername('test-1');
    expect(
      await served.runtime.authorizer.authorize(
        direct('test-1', username, `${served.credentialsFor('test-1').password}x`),
      ),
    ).toMatchObject({
      allowed: false,
      reasonCode: 0x86,
      reason: `authorizer '${UNSIGNED}' returned isAuthenticated: false`,
      lambdaInvoked: true,
    });
    expect(served.runtime.invocationCount(FUNCTION)).toBe(before + 1);
  });

  it("refuses a client id other than the device's with 0x87: valid credentials, but the policy has no iot:Connect for it", async () => {
    const username = served.unsignedUsername('test-1');
    expect(
      await served.runtime.authorizer.authorize(
        direct('prod-1', username, served.credentialsFor('test-1').password),
      ),
    ).toMatchObject({
      allowed: false,
      reasonCode: 0x87,
      reason: 'policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/prod-1',
      lambdaInvoked: true,
    });
  });

  it("refuses with 0x87 when no client id is sent: the returned policy only allows the device's own", async () => {
    const username = served.unsignedUsername('test-1');
    const attempt = {
      ...direct('x', username, served.credentialsFor('test-1').password),
      clientId: undefined,
    };
    expect(await served.runtime.authorizer.authorize(attempt)).toMatchObject({
      allowed: false,
      reasonCode: 0x87,
      reason: `policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/${attempt.connectionId}`,
    });
  });

  it('allows a token signed with the private key through the signed authorizer', async () => {
    const token = createToken({ clientId: 'test-7', lifetimeSeconds: 600 });
    const decision = await served.runtime.authorizer.authorize(
      direct('test-7', signedUsername(token, signToken(token, keys.privateKey))),
    );
    expect(decision).toMatchObject({
      allowed: true,
      reasonCode: 0x00,
      signature: 'verified',
      authorizerName: SIGNED,
    });
    expect(decision.session?.policies.documents).toEqual(signedPolicies);
  });

  it('refuses a tampered signature with 0x87 without invoking the Lambda', async () => {
    const before = served.runtime.invocationCount(FUNCTION);
    const token = createToken({ clientId: 'test-7', lifetimeSeconds: 600 });
    const tampered = createToken({ clientId: 'test-8', lifetimeSeconds: 600 });
    const decision = await served.runtime.authorizer.authorize(
      direct('test-8', signedUsername(tampered, signToken(token, keys.privateKey))),
    );
    expect(decision).toEqual({
      allowed: false,
      reasonCode: 0x87,
      cause: 'SIGNATURE_INVALID',
      reason: `authorizer '${SIGNED}': the token signature does not verify with TokenSigningPublicKeys (TokenSigningKey)`,
      authorizerName: SIGNED,
      signature: 'failed',
      lambdaInvoked: false,
    });
    expect(served.runtime.invocationCount(FUNCTION)).toBe(before);
  });

  it('answers TestInvokeAuthorizer with the real Lambda', async () => {
    const response = await testInvokeAuthorizer(served.local.connection, UNSIGNED, {
      ...served.credentialsFor('test-1'),
      clientId: 'test-1',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      isAuthenticated: true,
      principalId: expect.stringMatching(/^[a-f0-9]{32}$/) as unknown,
      policyDocuments: policies.map((policy) => JSON.stringify(policy)),
      refreshAfterInSeconds: 300,
      disconnectAfterInSeconds: 86_400,
    });
  });
});
