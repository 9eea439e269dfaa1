// TestInvokeAuthorizer for the after-deploy checks (scripts/e2e-after-deploy.sh), without the AWS CLI: the
// client's own outputs reader and IoT client, so the call goes where every client command goes (AWS through
// the SDK's chain, or the local AWS API of the connection.json beside a local-iot outputs file).
//   tsx scripts/test-invoke-authorizer.ts --outputs FILE [--stack-name NAME] --username USER --client-id ID
// invokes the stack's unsigned authorizer (UnsignedAuthorizerName) with that MQTT context and the password from
// IOT_CUSTOM_AUTH_PASSWORD (never a flag: it would be visible to other processes). Prints AWS's answer as one JSON object on stdout: isAuthenticated, principalId, policyDocuments (parsed),
// refreshAfterInSeconds, disconnectAfterInSeconds. Exit 2 on a usage or configuration problem, 1 when the call
// fails. API: https://docs.aws.amazon.com/iot/latest/apireference/API_TestInvokeAuthorizer.html
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TestInvokeAuthorizerCommand } from '@aws-sdk/client-iot';
import { DEFAULT_OUTPUTS_FILE, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { newIotClient } from '../packages/client/src/aws-clients';
import { StackOutputsReader } from '../packages/client/src/outputs';
import { SECRET_SPECS } from '../packages/client/src/secret-input';

/** The client's own variable for the MQTT password. */
const PASSWORD_ENV =
  SECRET_SPECS.find((spec) => spec.field === 'password')?.envVar ?? 'IOT_CUSTOM_AUTH_PASSWORD';

const USAGE =
  'usage: tsx scripts/test-invoke-authorizer.ts --outputs FILE [--stack-name NAME] ' +
  '--username USER --client-id ID ' +
  `(the password in ${PASSWORD_ENV})`;

/** A problem the caller fixes: printed as one line with the usage, exit 2. */
class UsageError extends Error {}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        outputs: { type: 'string' },
        'stack-name': { type: 'string' },
        username: { type: 'string' },
        'client-id': { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { outputs: file, username } = values;
  const clientId = values['client-id'];
  if (file === undefined || username === undefined || clientId === undefined) {
    throw new UsageError('--outputs, --username and --client-id are required');
  }
  const password = process.env[PASSWORD_ENV];
  if (password === undefined || password === '') {
    throw new UsageError(
      `set ${PASSWORD_ENV} to the device's password (npm run -s device -w client -- create ID --json)`,
    );
  }

  const outputs = await new StackOutputsReader({ readFile: (path) => readFile(path, 'utf8') }).read({
    file: resolve(file),
    defaultFile: resolve(DEFAULT_OUTPUTS_FILE),
    ...(values['stack-name'] === undefined ? {} : { stackName: values['stack-name'] }),
    required: true,
  });
  const authorizerName = outputs?.values.unsignedAuthorizerName;
  if (authorizerName === undefined) {
    throw new UsageError(
      `${file} has no output ${STACK_OUTPUTS.unsignedAuthorizerName} for stack ${outputs?.stackName ?? '?'}: pass the outputs file of this project's stack`,
    );
  }

  // local-iot's AWS API and credentials when its connection.json is beside the outputs file; else the SDK's
  // chain (AWS_REGION, the OIDC role's credentials), with the stack's region.
  const local = outputs?.connection?.info;
  const region = local?.region ?? outputs?.values.region;
  const iot = newIotClient({
    ...(region === undefined ? {} : { region }),
    ...(local === undefined ? {} : { endpoint: local.awsEndpointUrl, credentials: local.credentials }),
  });
  try {
    const answer = await iot.send(
      new TestInvokeAuthorizerCommand({
        authorizerName,
        // The API takes the MQTT password base64-encoded.
        mqttContext: { username, password: Buffer.from(password), clientId },
      }),
    );
    process.stdout.write(
      `${JSON.stringify({
        authorizerName,
        isAuthenticated: answer.isAuthenticated,
        principalId: answer.principalId,
        policyDocuments: (answer.policyDocuments ?? []).map((document) => JSON.parse(document) as unknown),
        refreshAfterInSeconds: answer.refreshAfterInSeconds,
        disconnectAfterInSeconds: answer.disconnectAfterInSeconds,
      })}\n`,
    );
  } finally {
    iot.destroy();
  }
}

main().catch((error: unknown) => {
  const usage = error instanceof UsageError || (error as Error).name === 'ConfigError';
  process.stderr.write(
    `test-invoke-authorizer: ${(error as Error).message}${error instanceof UsageError ? `\n${USAGE}` : ''}\n`,
  );
  process.exitCode = usage ? 2 : 1;
});
