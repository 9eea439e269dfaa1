import { join } from 'node:path';
import { STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { DeploymentError } from '../src/errors';
import { LambdaRunner } from '../src/lambda/lambda-runner';
import { CustomAuthPipeline } from '../src/auth/custom-auth-pipeline';
import { LocalAwsApi } from '../src/aws-api/local-aws-api';
import { generateLocalAwsCredentials } from '../src/aws-api/local-aws-credentials';
import { LoopbackListener } from '../src/aws-api/loopback-listener';
import { loadLocalDeployment, type LocalDeployment } from '../src/deployment/local-deployment';
import { createLocalRuntime } from '../src/local-runtime';
import { FUNCTIONS_DIR, removeDir, tempDir, writeDemoAssembly } from './fixtures/assembly';
import { signedIotCall } from './support/sigv4-signing';

const STACK = 'RuntimeTest';
const HOST = 'local-iot.localhost';

let root: string;
let deployment: LocalDeployment;

beforeAll(() => {
  root = tempDir('runtime');
  // The secret-reader bundle is copied outside the repository: only NODE_PATH can lead it to @aws-sdk.
  const cdkOut = writeDemoAssembly(root, STACK, { bundle: join(FUNCTIONS_DIR, 'secret-reader') });
  deployment = loadLocalDeployment({ cdkOut, stateDir: join(root, 'state'), endpointHost: HOST });
});

afterAll(() => removeDir(root));

describe('functions reaching the local AWS API', () => {
  it('resolves the external AWS SDK from the repository and reads the secret through AWS_ENDPOINT_URL_SECRETS_MANAGER', async () => {
    // Built in createLocalRuntime's order: the bound listener's URL goes to the runner, the API comes last.
    const listener = await LoopbackListener.bind();
    const awsCredentials = generateLocalAwsCredentials();
    const runner = new LambdaRunner({
      functions: deployment.functions,
      region: deployment.region,
      awsEndpointUrl: listener.url,
      awsCredentials,
      log: () => undefined,
    });
    const api = new LocalAwsApi({
      deployment,
      listener,
      testInvoker: new CustomAuthPipeline({ deployment, runner }),
      credentials: awsCredentials,
    });
    try {
      const secret = deployment.secrets[0];
      const result = await runner.invoke(`${STACK}-AuthorizerFunction`, { secretId: secret?.arn });
      expect(result).toMatchObject({
        ok: true,
        value: { name: `${STACK}-DeviceSecret`, length: secret?.secretString?.length },
      });
      expect(await runner.invoke(`${STACK}-AuthorizerFunction`, { secretId: 'nope' })).toMatchObject({
        ok: true,
        value: {
          error: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        },
      });
    } finally {
      await runner.close();
      await api.close();
    }
  });

  it('fails to load a bundle whose externals cannot be found, without harming the host', async () => {
    const runner = new LambdaRunner({
      functions: deployment.functions,
      region: deployment.region,
      awsEndpointUrl: 'http://127.0.0.1:9',
      runtimeModulePaths: [],
      log: () => undefined,
    });
    try {
      expect(await runner.invoke(`${STACK}-AuthorizerFunction`, {})).toMatchObject({
        ok: false,
        kind: 'error',
        errorType: 'Error',
        errorMessage: expect.stringMatching(
          /^Cannot find module '@aws-sdk\/client-secrets-manager'/,
        ) as unknown,
      });
    } finally {
      await runner.close();
    }
  });
});

describe('createLocalRuntime', () => {
  it('starts the AWS API on loopback, exposes the outputs and closes twice without error', async () => {
    const runtime = await createLocalRuntime({ deployment, log: () => undefined });
    expect(runtime.awsApi.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(runtime.outputs[STACK_OUTPUTS.endpoint]).toBe(HOST);
    const identity = { credentials: runtime.awsApi.credentials, region: deployment.region };
    const response = await signedIotCall(
      identity,
      'GET',
      `${runtime.awsApi.url}/endpoint?endpointType=iot:Data-ATS`,
    );
    expect(await response.json()).toEqual({ endpointAddress: HOST });
    expect(runtime.invocationCount()).toBe(0);
    await runtime.close();
    await runtime.close();
    await expect(fetch(`${runtime.awsApi.url}/endpoint`)).rejects.toThrow();
  });

  it('throws a DeploymentError telling to synthesize when cdk.out is missing', async () => {
    const cdkOut = join(root, 'missing');
    await expect(
      createLocalRuntime({ cdkOut, stateDir: join(root, 'state'), endpointHost: HOST }),
    ).rejects.toThrow(new DeploymentError(`no cloud assembly at ${cdkOut}: run \`npx cdk synth\` first`));
  });
});
