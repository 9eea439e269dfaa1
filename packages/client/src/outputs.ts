import { DescribeStacksCommand, type CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import {
  DEFAULT_OUTPUTS_FILE,
  DEFAULT_STACK_NAME,
  isRecord,
  LOCAL_IOT_FILES,
  parseLocalConnectionInfo,
  STACK_OUTPUTS,
  type LocalConnectionInfo,
  type StackOutputKey,
} from '@iot-custom-auth/protocol';
import { newCloudFormationClient, type AwsTarget } from './aws-clients';
import { awsCallError, ConfigError } from './errors';
import { readConfigFile, readConfigFileIfPresent, type ReadTextFile } from './read-config-file';

/** The outputs of one stack, keyed like `StackOutputValues`; any output the stack does not have is absent. */
export type PartialStackOutputs = { readonly [K in StackOutputKey]?: string };

/** Stack outputs and where they were read, for the report and for error messages. */
export interface LoadedOutputs {
  /** `cdk-outputs.json` path, or `CloudFormation stack <name>`. */
  readonly source: string;
  readonly stackName: string;
  readonly values: PartialStackOutputs;
  /**
   * The connection file found beside the outputs file (local-iot's `connection.json`): port, CA and AWS API
   * endpoint that a deployed stack's outputs cannot carry. Absent for `cdk deploy` outputs and CloudFormation.
   */
  readonly connection?: { readonly file: string; readonly info: LocalConnectionInfo };
}

/** What to read. Paths are absolute. */
export interface OutputsRequest {
  /** `--outputs FILE`: read it or fail. */
  readonly file?: string;
  /** The default outputs file at the repository root: read when it exists. */
  readonly defaultFile: string;
  /** `--stack-name`. */
  readonly stackName?: string;
  /** `--region`, for DescribeStacks. */
  readonly region?: string;
  /**
   * When the default file does not exist: `true` reads CloudFormation (the outputs are needed), `false`
   * returns `undefined` (the flags say everything, e.g. the upstream sample's `--endpoint ... --custom_auth_*`).
   */
  readonly required: boolean;
}

/** Reads the stack outputs; `main()` gets a fake in tests. */
export interface OutputsReader {
  read(request: OutputsRequest): Promise<LoadedOutputs | undefined>;
}

/** Dependencies of `StackOutputsReader`. */
export interface StackOutputsReaderOptions {
  /** Reads the outputs file and the connection file beside it. */
  readonly readFile: ReadTextFile;
  /** Creates the CloudFormation client. @default newCloudFormationClient */
  readonly cloudFormation?: (target: AwsTarget) => Pick<CloudFormationClient, 'send'>;
  /**
   * Whether something accepts TCP connections at an `http://host:port` URL: tells a running local-iot from
   * the connection file a stopped one left behind. @default a TCP connect, bounded by 1 s
   */
  readonly isListening?: (url: string) => Promise<boolean>;
}

/**
 * The outputs file `cdk deploy --outputs-file` (or local-iot) wrote, else CloudFormation `DescribeStacks`.
 * CloudFormation is reached through the AWS SDK's standard configuration (credentials chain, `AWS_REGION`,
 * `AWS_ENDPOINT_URL_CLOUDFORMATION`), so a local stand-in needs no special code here.
 */
export class StackOutputsReader implements OutputsReader {
  private readonly readFile: StackOutputsReaderOptions['readFile'];
  private readonly cloudFormation: NonNullable<StackOutputsReaderOptions['cloudFormation']>;
  private readonly isListening: NonNullable<StackOutputsReaderOptions['isListening']>;

  constructor(options: StackOutputsReaderOptions) {
    this.readFile = options.readFile;
    this.cloudFormation = options.cloudFormation ?? newCloudFormationClient;
    this.isListening = options.isListening ?? acceptsTcpConnections;
  }

  async read(request: OutputsRequest): Promise<LoadedOutputs | undefined> {
    const { file } = request;
    if (file !== undefined) {
      const text = await readConfigFile(
        this.readFile,
        file,
        (error) =>
          `cannot read --outputs ${file}: ${error.message}. Pass the file \`cdk deploy --outputs-file\` or local-iot wrote`,
      );
      return this.withConnection(parseOutputsFile(text, file, request.stackName), file);
    }
    const text = await readConfigFileIfPresent(
      this.readFile,
      request.defaultFile,
      (error) => `cannot read the outputs file ${request.defaultFile}: ${error.message}`,
    );
    if (text !== undefined) {
      const stacks = stackNamesIn(text);
      // A file without the requested stack falls through to CloudFormation: another stack may be deployed.
      if (request.stackName === undefined || stacks?.includes(request.stackName) !== false) {
        return this.withConnection(
          parseOutputsFile(text, request.defaultFile, request.stackName),
          request.defaultFile,
        );
      }
    } else if (!request.required) {
      return undefined;
    }
    return this.describeStack(request, text === undefined ? 'was not found' : 'has no such stack');
  }

  /** Adds the connection file beside `outputsFile` when there is one. */
  private async withConnection(outputs: LoadedOutputs, outputsFile: string): Promise<LoadedOutputs> {
    const file = join(dirname(outputsFile), LOCAL_IOT_FILES.connection);
    const text = await readConfigFileIfPresent(
      this.readFile,
      file,
      (error) => `cannot read ${file}: ${error.message}`,
    );
    if (text === undefined) return outputs;
    const info = parseLocalConnectionInfo(text);
    if (typeof info === 'string') {
      throw new ConfigError(
        `${file} (beside the outputs file) ${info}; restart local-iot to rewrite it, or remove it`,
      );
    }
    // local-iot's ports change with each run: a file whose AWS API port is closed is from a stopped one.
    if (!(await this.isListening(info.awsEndpointUrl))) {
      throw new ConfigError(
        `local-iot is not running: ${file} is from a local-iot that stopped (nothing listens on ${info.awsEndpointUrl}). Start it with \`npm run local\` in another terminal (it rewrites the file), then run this again`,
      );
    }
    // The CA path is written absolute; a relative one is taken relative to the file, not to the caller.
    return {
      ...outputs,
      connection: { file, info: { ...info, caFile: resolve(dirname(file), info.caFile) } },
    };
  }

  private async describeStack(request: OutputsRequest, fileProblem: string): Promise<LoadedOutputs> {
    const stackName = request.stackName ?? DEFAULT_STACK_NAME;
    const localOutputs = `${LOCAL_IOT_FILES.directory}/${LOCAL_IOT_FILES.outputs}`;
    const hint =
      `${request.defaultFile} ${fileProblem}, so the outputs were read from CloudFormation stack ${stackName}. ` +
      `Against local-iot: start \`npm run local\`, then pass --outputs ${localOutputs}. Against AWS: ` +
      `\`npx cdk deploy --outputs-file ${DEFAULT_OUTPUTS_FILE}\` at the repository root, or pass --stack-name NAME ` +
      `(with AWS credentials and AWS_REGION or --region). Or give --endpoint and the --custom_auth_* flags`;
    let response;
    try {
      response = await this.cloudFormation(
        request.region === undefined ? {} : { region: request.region },
      ).send(new DescribeStacksCommand({ StackName: stackName }));
    } catch (error) {
      throw awsCallError(`CloudFormation DescribeStacks for stack ${stackName}`, error, hint);
    }
    const stack = response.Stacks?.[0];
    if (stack === undefined) {
      throw new ConfigError(`CloudFormation returned no stack named ${stackName}. ${hint}`);
    }
    const outputs: Record<string, unknown> = {};
    for (const output of stack.Outputs ?? []) {
      if (output.OutputKey !== undefined) outputs[output.OutputKey] = output.OutputValue;
    }
    return { source: `CloudFormation stack ${stackName}`, stackName, values: pickOutputs(outputs) };
  }
}

/**
 * Reads an outputs file (`{ "<StackName>": { "<OutputKey>": "value" } }`) and picks the stack: `stackName`
 * when given, else the only stack, else `DEFAULT_STACK_NAME` when present.
 * @throws ConfigError when the text is not such an object or the stack cannot be chosen; the message names
 *   the file and the stacks it holds.
 */
export function parseOutputsFile(text: string, source: string, stackName?: string): LoadedOutputs {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `the outputs file ${source} is not JSON (${(error as Error).message}); it should be what \`cdk deploy --outputs-file\` writes`,
      { cause: error },
    );
  }
  if (!isRecord(parsed)) {
    throw new ConfigError(
      `the outputs file ${source} is not a JSON object of stacks ({"<StackName>": {"<OutputKey>": "value"}})`,
    );
  }
  const stacks = Object.keys(parsed).filter((name) => isRecord(parsed[name]));
  let chosen: string | undefined;
  if (stackName !== undefined) {
    if (!stacks.includes(stackName)) {
      throw new ConfigError(
        `the outputs file ${source} has no stack ${stackName} (it has ${describeList(stacks)}): fix --stack-name`,
      );
    }
    chosen = stackName;
  } else if (stacks.length === 1) {
    chosen = stacks[0];
  } else if (stacks.includes(DEFAULT_STACK_NAME)) {
    chosen = DEFAULT_STACK_NAME;
  }
  if (chosen === undefined) {
    throw new ConfigError(
      stacks.length === 0
        ? `the outputs file ${source} has no stacks; deploy first (\`npx cdk deploy --outputs-file ${DEFAULT_OUTPUTS_FILE}\`)`
        : `the outputs file ${source} has several stacks (${describeList(stacks)}): choose one with --stack-name`,
    );
  }
  return { source, stackName: chosen, values: pickOutputs(parsed[chosen] as Record<string, unknown>) };
}

function stackNamesIn(text: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? Object.keys(parsed) : undefined;
  } catch {
    return undefined;
  }
}

/** The outputs this client knows, as non-empty strings; anything else in the stack is ignored. */
function pickOutputs(outputs: Record<string, unknown>): PartialStackOutputs {
  const values: { [K in StackOutputKey]?: string } = {};
  for (const key of Object.keys(STACK_OUTPUTS) as StackOutputKey[]) {
    const value = outputs[STACK_OUTPUTS[key]];
    if (typeof value === 'string' && value.length > 0) values[key] = value;
  }
  return values;
}

function describeList(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}

/** How long the liveness check of a local-iot waits: it is on loopback, so a refusal comes at once. */
const LIVENESS_TIMEOUT_MS = 1_000;

/** Whether a TCP connect to the URL's host and port succeeds (then closed at once). */
function acceptsTcpConnections(url: string): Promise<boolean> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(false);
  }
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolveListening) => {
    const socket = connect({ host, port, timeout: LIVENESS_TIMEOUT_MS });
    const settle = (listening: boolean): void => {
      socket.destroy();
      resolveListening(listening);
    };
    socket.once('connect', () => settle(true));
    socket.once('timeout', () => settle(false));
    socket.once('error', () => settle(false));
  });
}
