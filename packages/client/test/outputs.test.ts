import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { createServer, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { ConfigError } from '../src/errors';
import { parseOutputsFile, StackOutputsReader } from '../src/outputs';
import { thrownBy } from './fixtures/caught';
import { inMemoryFiles } from './fixtures/in-memory-files';

const OUTPUT_VALUES = {
  IotEndpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
  Region: 'eu-west-1',
  UnsignedAuthorizerName: 'S-Unsigned',
  SignedAuthorizerName: 'S-Signed',
  TokenKeyName: 'token',
  DeviceSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:d-AbCdEf',
  ConnectPolicyName: 'S-Connect',
  ClientIdPrefix: 'test-',
};

const PICKED = {
  endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
  region: 'eu-west-1',
  unsignedAuthorizerName: 'S-Unsigned',
  signedAuthorizerName: 'S-Signed',
  tokenKeyName: 'token',
  deviceSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:d-AbCdEf',
  connectPolicyName: 'S-Connect',
  clientIdPrefix: 'test-',
};

function expectConfigError(action: () => unknown, message: string | RegExp): void {
  const error = thrownBy(action);
  expect(error).toBeInstanceOf(ConfigError);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
}

/** What CloudFormation DescribeStacks answers for a deployed stack with these outputs. */
function describedStack(stackName: string, outputs: Record<string, string>) {
  return {
    Stacks: [
      {
        StackName: stackName,
        CreationTime: new Date(0),
        StackStatus: 'CREATE_COMPLETE' as const,
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  };
}

describe('parseOutputsFile', () => {
  it('picks the only stack and the outputs the client knows, ignoring the rest', () => {
    const text = JSON.stringify({ Mine: { ...OUTPUT_VALUES, Other: 'x', Empty: '', Number: 3 } });
    expect(parseOutputsFile(text, 'f.json')).toEqual({ source: 'f.json', stackName: 'Mine', values: PICKED });
  });

  it('drops outputs that are not non-empty strings', () => {
    const text = JSON.stringify({ S: { IotEndpoint: 42, Region: '', TokenKeyName: 'k' } });
    expect(parseOutputsFile(text, 'f.json').values).toEqual({ tokenKeyName: 'k' });
  });

  it('picks the stack named by --stack-name', () => {
    const text = JSON.stringify({ A: { Region: 'a' }, B: { Region: 'b' } });
    expect(parseOutputsFile(text, 'f.json', 'B')).toEqual({
      source: 'f.json',
      stackName: 'B',
      values: { region: 'b' },
    });
  });

  it('picks the default stack name among several', () => {
    const text = JSON.stringify({ A: {}, IotCustomAuthorizerStack: { Region: 'x' } });
    expect(parseOutputsFile(text, 'f.json').stackName).toBe('IotCustomAuthorizerStack');
  });

  it.each([
    [
      'not JSON',
      '{',
      /^the outputs file f\.json is not JSON \(.+\); it should be what `cdk deploy --outputs-file` writes$/,
    ],
    [
      'an array',
      '[]',
      'the outputs file f.json is not a JSON object of stacks ({"<StackName>": {"<OutputKey>": "value"}})',
    ],
    [
      'null',
      'null',
      'the outputs file f.json is not a JSON object of stacks ({"<StackName>": {"<OutputKey>": "value"}})',
    ],
    [
      'empty',
      '{}',
      'the outputs file f.json has no stacks; deploy first (`npx cdk deploy --outputs-file cdk-outputs.json`)',
    ],
    [
      'several stacks',
      '{"A":{},"B":{}}',
      'the outputs file f.json has several stacks (A, B): choose one with --stack-name',
    ],
  ])('rejects a file that is %s', (_name, text, message) => {
    expectConfigError(() => parseOutputsFile(text, 'f.json'), message);
  });

  it('rejects an unknown --stack-name, listing the stacks', () => {
    expectConfigError(
      () => parseOutputsFile('{"A":{},"B":1}', 'f.json', 'C'),
      'the outputs file f.json has no stack C (it has A): fix --stack-name',
    );
  });

  it('never throws anything but a ConfigError on any JSON', () => {
    fc.assert(
      fc.property(fc.json(), fc.option(fc.string(), { nil: undefined }), (text, stack) => {
        try {
          const loaded = parseOutputsFile(text, 'f.json', stack);
          expect(Object.values(loaded.values).every((v) => typeof v === 'string' && v.length > 0)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
        }
      }),
    );
  });
});

describe('StackOutputsReader', () => {
  const cloudFormation = mockClient(CloudFormationClient);
  afterEach(() => cloudFormation.reset());

  function reader(
    files: Record<string, string | NodeJS.ErrnoException>,
    isListening: (url: string) => Promise<boolean> = () => Promise.resolve(true),
  ): StackOutputsReader {
    return new StackOutputsReader({ readFile: inMemoryFiles(files), isListening });
  }

  const FILE = JSON.stringify({ S: OUTPUT_VALUES });

  it('reads --outputs and the connection file beside it', async () => {
    const connection = {
      endpoint: 'localhost',
      port: 8443,
      caFile: 'ca.pem',
      awsEndpointUrl: 'http://127.0.0.1:4566',
      region: 'us-east-1',
      credentials: { accessKeyId: 'A', secretAccessKey: 'B' },
    };
    const loaded = await reader({
      '/s/outputs.json': FILE,
      '/s/connection.json': JSON.stringify(connection),
    }).read({
      file: '/s/outputs.json',
      defaultFile: '/repo/cdk-outputs.json',
      required: true,
    });
    expect(loaded).toEqual({
      source: '/s/outputs.json',
      stackName: 'S',
      values: PICKED,
      connection: { file: '/s/connection.json', info: { ...connection, caFile: '/s/ca.pem' } },
    });
  });

  describe('a connection file a stopped local-iot left behind', () => {
    const connection = {
      endpoint: 'localhost',
      port: 8443,
      caFile: 'ca.pem',
      awsEndpointUrl: 'http://127.0.0.1:4566',
      region: 'us-east-1',
      credentials: { accessKeyId: 'A', secretAccessKey: 'B' },
    };
    const files = { '/s/outputs.json': FILE, '/s/connection.json': JSON.stringify(connection) };
    const request = { file: '/s/outputs.json', defaultFile: '/repo/cdk-outputs.json', required: true };

    it('says local-iot is not running and how to start it, after checking its AWS API port', async () => {
      const probed: string[] = [];
      const stale = reader(files, (url) => {
        probed.push(url);
        return Promise.resolve(false);
      });
      await expect(stale.read(request)).rejects.toThrow(
        new ConfigError(
          'local-iot is not running: /s/connection.json is from a local-iot that stopped (nothing listens on http://127.0.0.1:4566). Start it with `npm run local` in another terminal (it rewrites the file), then run this again',
        ),
      );
      expect(probed).toEqual(['http://127.0.0.1:4566']);
    });

    it('checks with a real TCP connect by default: a closed loopback port is not running', async () => {
      const server = createServer();
      await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
      const { port } = server.address() as AddressInfo;
      const live = { ...connection, awsEndpointUrl: `http://127.0.0.1:${port}` };
      const defaultProbe = new StackOutputsReader({
        readFile: inMemoryFiles({ ...files, '/s/connection.json': JSON.stringify(live) }),
      });
      await expect(defaultProbe.read(request)).resolves.toMatchObject({
        connection: { info: { awsEndpointUrl: live.awsEndpointUrl } },
      });
      await new Promise<void>((closed) => server.close(() => closed()));
      await expect(defaultProbe.read(request)).rejects.toThrow('local-iot is not running');
    });
  });

  it('rejects a connection file that is not what local-iot writes', async () => {
    await expect(
      reader({ '/s/outputs.json': FILE, '/s/connection.json': '{"endpoint":"x"}' }).read({
        file: '/s/outputs.json',
        defaultFile: '/repo/cdk-outputs.json',
        required: true,
      }),
    ).rejects.toThrow(
      new ConfigError(
        '/s/connection.json (beside the outputs file) has no string "caFile"; restart local-iot to rewrite it, or remove it',
      ),
    );
  });

  it('fails on a missing --outputs file, naming it', async () => {
    const promise = reader({}).read({
      file: '/x.json',
      defaultFile: '/repo/cdk-outputs.json',
      required: true,
    });
    await expect(promise).rejects.toBeInstanceOf(ConfigError);
    await expect(promise).rejects.toThrow(
      "cannot read --outputs /x.json: ENOENT: no such file or directory, open '/x.json'. Pass the file `cdk deploy --outputs-file` or local-iot wrote",
    );
  });

  it('reads the default file when it exists', async () => {
    const loaded = await reader({ '/repo/cdk-outputs.json': FILE }).read({
      defaultFile: '/repo/cdk-outputs.json',
      required: false,
    });
    expect(loaded).toEqual({ source: '/repo/cdk-outputs.json', stackName: 'S', values: PICKED });
    expect(cloudFormation.calls()).toHaveLength(0);
  });

  it('returns nothing, and calls no AWS API, when the default file is absent and the flags suffice', async () => {
    expect(await reader({}).read({ defaultFile: '/repo/cdk-outputs.json', required: false })).toBeUndefined();
    expect(cloudFormation.calls()).toHaveLength(0);
  });

  it('reads CloudFormation DescribeStacks when the default file is absent and outputs are needed', async () => {
    cloudFormation
      .on(DescribeStacksCommand, { StackName: 'IotCustomAuthorizerStack' })
      .resolves(describedStack('IotCustomAuthorizerStack', OUTPUT_VALUES));
    const loaded = await reader({}).read({
      defaultFile: '/repo/cdk-outputs.json',
      required: true,
      region: 'eu-west-1',
    });
    expect(loaded).toEqual({
      source: 'CloudFormation stack IotCustomAuthorizerStack',
      stackName: 'IotCustomAuthorizerStack',
      values: PICKED,
    });
    const client = cloudFormation.call(0).thisValue as CloudFormationClient;
    expect(await client.config.region()).toBe('eu-west-1');
  });

  it('falls through to CloudFormation when the default file lacks the --stack-name stack', async () => {
    cloudFormation
      .on(DescribeStacksCommand, { StackName: 'Other' })
      .resolves(describedStack('Other', { Region: 'r' }));
    const loaded = await reader({ '/repo/cdk-outputs.json': FILE }).read({
      defaultFile: '/repo/cdk-outputs.json',
      stackName: 'Other',
      required: true,
    });
    expect(loaded).toEqual({
      source: 'CloudFormation stack Other',
      stackName: 'Other',
      values: { region: 'r' },
    });
  });

  it('explains a stack that does not exist as a configuration error', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Stack with id IotCustomAuthorizerStack does not exist'), {
        name: 'ValidationError',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const promise = reader({}).read({ defaultFile: '/repo/cdk-outputs.json', required: true });
    await expect(promise).rejects.toBeInstanceOf(ConfigError);
    await expect(promise).rejects.toThrow(
      'CloudFormation DescribeStacks for stack IotCustomAuthorizerStack failed: ValidationError: Stack with id IotCustomAuthorizerStack does not exist. ' +
        '/repo/cdk-outputs.json was not found, so the outputs were read from CloudFormation stack IotCustomAuthorizerStack. ' +
        'Against local-iot: start `npm run local`, then pass --outputs .local-iot/outputs.json. Against AWS: ' +
        '`npx cdk deploy --outputs-file cdk-outputs.json` at the repository root, or pass --stack-name NAME ' +
        '(with AWS credentials and AWS_REGION or --region). Or give --endpoint and the --custom_auth_* flags',
    );
  });

  it('reports an unreadable default file instead of ignoring it', async () => {
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const promise = reader({ '/repo/cdk-outputs.json': denied }).read({
      defaultFile: '/repo/cdk-outputs.json',
      required: false,
    });
    await expect(promise).rejects.toBeInstanceOf(ConfigError);
    await expect(promise).rejects.toThrow(
      'cannot read the outputs file /repo/cdk-outputs.json: EACCES: permission denied',
    );
  });
});
