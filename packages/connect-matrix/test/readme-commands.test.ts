import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT, synthesizedAssembly } from '../../local-iot/test/support/synthesized-stack';

// Every shell command the READMEs show (```sh blocks of README.md and packages/*/README.md), run as written
// where it can run offline, each with the outcome its README promises; the rest excluded with the reason.
// COMMANDS is the list: a README command that is not in it, or an entry no README has any more, fails the
// first test, so a README cannot change without this file saying how its commands are checked.
//
// The runnable ones run in a sandbox directory inside the repository (so npm finds the workspaces and the
// client the repository root and its .keys/), whose `.local-iot/` is the state directory of a local-iot this
// test serves on a free port: `.local-iot/outputs.json` in a command means that local-iot, as it means
// `npm run local`'s on a developer's machine. They run in README order (README.md, then the packages'), one
// after the other, through `bash -c` with a clean environment (no npm_*, AWS_* or IOT_CUSTOM_AUTH_* from the
// caller): the `.keys/test-1.password` a command writes is the one the next reads.

/** A command's result. */
interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How a README command is checked. */
type Outcome =
  | { readonly excluded: string }
  | {
      readonly run: (result: Run, sandbox: string) => void;
      readonly timeoutSeconds?: number;
      /** A command of the same block whose shell variables this one uses: run first, in the same shell. */
      readonly after?: string;
      /** Run after every other command (its effect would change what the later ones see). */
      readonly last?: true;
    };

const NEEDS_AWS =
  'needs a deployed stack and AWS credentials (no --outputs: cdk-outputs.json or CloudFormation)';
const NEEDS_AWS_CLI =
  'the AWS CLI (not installed here); the same local calls are made by local-iot/test/end-to-end (TestInvokeAuthorizer, GetSecretValue with the SDK)';
const SERVES_FIXED_PORT =
  "serves on the fixed port 8443 until Ctrl-C and rewrites the developer's .local-iot/; this test serves the same synthesized stack on a free port instead (local-iot's CLI tests cover --watch and -c)";

/** Exit 0. */
const succeeds = (result: Run): void => expect(result).toMatchObject({ code: 0 });
/** Exit 0 and one JSON object on stdout (npm run -s: no banner) with `ok: true`. */
const printsOkJson = (result: Run): void => {
  expect(result.code).toBe(0);
  expect((JSON.parse(result.stdout) as { ok: unknown }).ok).toBe(true);
};
/** A connect or diagnose in text: exit 0, and it says it connected. */
const connects = (result: Run): void => {
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/CONNACK|connect/i);
};
/** A storm against local-iot: exit 0 and its summary of CONNACK reason codes. */
const storms = (result: Run): void => {
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/0x00/);
};

/** Every command of every README, by its text (comments and line continuations removed). */
const COMMANDS: Readonly<Record<string, Outcome>> = {
  // ---- README.md
  'npm ci': { excluded: 'reinstalls node_modules of the tree the other tests run from' },
  'npm start': {
    run: (result) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/websockets/i);
    },
    timeoutSeconds: 600,
  },
  'npm test': { excluded: 'is this test suite (and lint and type-check)' },
  'npm run local': { excluded: SERVES_FIXED_PORT },
  'npm run connect -w client -- --outputs .local-iot/outputs.json': { run: connects },
  'npm run connect -w client -- --outputs .local-iot/outputs.json --signed --use_websockets': {
    run: connects,
  },
  'npm run diagnose -w client -- --outputs .local-iot/outputs.json': { run: connects },
  'npm run local -- -c clientIdPrefix=dev-': { excluded: SERVES_FIXED_PORT },
  'npm run local -- --help': {
    run: (result) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: local-iot [options]');
      expect(result.stdout).not.toContain('Synthesizing');
    },
    timeoutSeconds: 300,
  },
  'npx cdk deploy': { excluded: NEEDS_AWS },
  'npm run connect -w client': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --signed': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --use_websockets': { excluded: NEEDS_AWS },
  'npm run diagnose -w client': { excluded: NEEDS_AWS },
  'npm run device -w client -- create test-kitchen-1': { excluded: NEEDS_AWS },
  'npm run device -w client -- revoke test-kitchen-1': { excluded: NEEDS_AWS },
  'npm run device -w client -- list': { excluded: NEEDS_AWS },
  'npm run device -w client -- rotate --grace-hours 24': { excluded: NEEDS_AWS },
  'mkdir -p -m 700 .keys': {
    run: (result, sandbox) => {
      expect(result.code).toBe(0);
      expect(statSync(join(sandbox, '.keys')).mode & 0o777).toBe(0o700);
    },
  },
  'npm run -s device -w client -- create test-1 --outputs .local-iot/outputs.json --json | (umask 077; jq -r .password > .keys/test-1.password)':
    {
      run: (result, sandbox) => {
        expect(result).toMatchObject({ code: 0, stdout: '' });
        const file = join(sandbox, '.keys', 'test-1.password');
        expect(statSync(file).mode & 0o777).toBe(0o600);
        expect(readFileSync(file, 'utf8')).toMatch(/^[A-Za-z0-9_-]{20,}\n$/);
      },
    },
  'npm run -s connect -w client -- --outputs .local-iot/outputs.json --client_id test-1 --custom_auth_password_file .keys/test-1.password --json':
    { run: printsOkJson },
  'npm run storm -w client -- --outputs .local-iot/outputs.json --connections 50 --rate 20 --bad-credentials 0.2':
    {
      run: storms,
      timeoutSeconds: 300,
    },

  // ---- packages/authorizer-lambda/README.md
  'npm run device -w client -- revoke test-lost-7': { excluded: NEEDS_AWS },
  'npm run device -w client -- restore test-lost-7': { excluded: NEEDS_AWS },
  'npm run device -w client -- create test-1 --out test-1.json': { excluded: NEEDS_AWS },

  // ---- packages/client/README.md
  'npm run connect -w client -- --mtls': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --outputs .local-iot/outputs.json --mtls': { run: connects },
  'npm run -s connect -w client -- --outputs .local-iot/outputs.json --https --json': { run: printsOkJson },
  'npm run connect -w client -- --cert device.pem --key device.key': {
    excluded: 'a certificate of your own (device.pem, device.key) that AWS IoT has registered',
  },
  'npx cdk deploy --outputs-file cdk-outputs.json': { excluded: NEEDS_AWS },
  'npm run -s connect -w client -- --json': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --roundtrip': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --roundtrip --count 5': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --roundtrip --topic devices/test-kitchen-1/status --client_id test-kitchen-1':
    {
      excluded: NEEDS_AWS,
    },
  'npm run connect -w client -- --count 3 --message \'{"temperature": 21}\'': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --roundtrip --topic other/topic': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --client_id test-kitchen-1': { excluded: NEEDS_AWS },
  'npm run connect -w client -- --stack-name MyStack --region eu-west-1': { excluded: NEEDS_AWS },
  'IOT_CUSTOM_AUTH_PASSWORD=not-it npm run connect -w client -- --custom_auth_username device': {
    excluded: NEEDS_AWS,
  },
  'npm run connect -w client -- --endpoint abc123-ats.iot.eu-west-1.amazonaws.com --custom_auth_authorizer_name MyAuthorizer --custom_auth_username device --custom_auth_password_file .keys/device.password':
    { excluded: 'an example account endpoint and authorizer (placeholders)' },
  'IOT_CUSTOM_AUTH_TOKEN="$TOKEN" IOT_CUSTOM_AUTH_SIGNATURE="$SIGNATURE" npm run connect -w client -- --endpoint abc123-ats.iot.eu-west-1.amazonaws.com --use_websockets true --custom_auth_authorizer_name MySignedAuthorizer --custom_auth_token_key_name token':
    {
      excluded:
        'an example account endpoint, authorizer and a token you signed ($TOKEN, $SIGNATURE: placeholders)',
    },
  'npm run connect -w client -- --endpoint localhost --port 8443 --ca_file .local-iot/ca.pem --custom_auth_authorizer_name IotCustomAuthorizerStack-CustomAuthorizer-UnsignedAuthorizer --client_id test-1 --custom_auth_username test-1 --custom_auth_password_file .keys/test-1.password':
    { excluded: "names npm run local's fixed port 8443; this test's local-iot is on a free port" },
  'npm run -s connect -w client -- --outputs .local-iot/outputs.json --client_id test-1 --custom_auth_password_file - < .keys/test-1.password':
    { run: connects },
  'npm run device -w client -- create test-kitchen-1 --outputs .local-iot/outputs.json': {
    run: (result) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('test-kitchen-1');
    },
  },
  'npm run -s device -w client -- create test-kitchen-1 --outputs .local-iot/outputs.json --json': {
    run: (result) => {
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        username: 'test-kitchen-1',
        clientId: 'test-kitchen-1',
      });
    },
  },
  'npm run device -w client -- create test-kitchen-2 --outputs .local-iot/outputs.json --out kitchen-2.json':
    {
      run: (result, sandbox) => {
        expect(result.code).toBe(0);
        const file = join(sandbox, 'kitchen-2.json');
        expect(statSync(file).mode & 0o777).toBe(0o600);
        const written = JSON.parse(readFileSync(file, 'utf8')) as { password: string };
        // "password not printed"
        expect(result.stdout).not.toContain(written.password);
      },
    },
  'npm run device -w client -- revoke test-kitchen-2 --outputs .local-iot/outputs.json': { run: succeeds },
  'npm run device -w client -- list --outputs .local-iot/outputs.json': {
    run: (result) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('test-kitchen-2');
    },
  },
  'npm run device -w client -- restore test-kitchen-2 --outputs .local-iot/outputs.json': { run: succeeds },
  // Last: the Lambda keeps the master secret it read for its cache TTL (5 min), so a password derived from the
  // new key right after a rotation is refused (0x86) until then; the connects and storms above derive theirs.
  'npm run device -w client -- rotate --grace-hours 24 --outputs .local-iot/outputs.json': {
    run: succeeds,
    last: true,
  },
  'npm run -s diagnose -w client -- --outputs .local-iot/outputs.json --signed --use_websockets --json': {
    run: printsOkJson,
  },
  'npm run storm -w client -- --outputs .local-iot/outputs.json --connections 50 --rate 20': {
    run: storms,
    timeoutSeconds: 300,
  },
  'npm run storm -w client -- --connections 1000 --rate 50 --concurrency 200 --hold 5 --publish 2': {
    excluded: NEEDS_AWS,
  },
  'npm run -s storm -w client -- --connections 100 --bad-credentials 0.1 --json > storm.json': {
    excluded: NEEDS_AWS,
  },
  'npm run storm -w client -- --connections 100 --report storm.html': { excluded: NEEDS_AWS },
  'npm run storm -w client -- --help': {
    run: (result) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('--connections');
    },
  },
  'npm run -s storm -w client -- --connections 1000 --rate 100 --shard 1/2 --run-id r42 --json > s1.json': {
    excluded: NEEDS_AWS,
  },
  'npm run -s storm -w client -- --connections 1000 --rate 100 --shard 2/2 --run-id r42 --json > s2.json': {
    excluded: NEEDS_AWS,
  },
  'npm run storm -w client -- merge s1.json s2.json --report storm.html': {
    excluded:
      'merges the two shard runs above, which need a deployed stack (storm merge is tested in client/test/storm)',
  },

  // ---- packages/infra/README.md
  'npx cdk synth': {
    excluded:
      'writes cdk.out at the repository root, which other suites serve; the real npx cdk synth runs in infra/test/app.test.ts',
  },
  'npx cdk destroy': { excluded: NEEDS_AWS },
  // The fix for `cdk deploy` without credentials: each needs an AWS account (and the AWS CLI).
  'aws sso login --profile NAME': { excluded: NEEDS_AWS },
  'aws sts get-caller-identity --profile NAME': { excluded: NEEDS_AWS },
  'AWS_PROFILE=NAME AWS_REGION=eu-west-1 npx cdk bootstrap': { excluded: NEEDS_AWS },
  'AWS_PROFILE=NAME AWS_REGION=eu-west-1 npx cdk deploy': { excluded: NEEDS_AWS },
  'npx cdk deploy -c iotLogging=ERROR': { excluded: NEEDS_AWS },
  'npx cdk deploy -c tokenSigningPublicKeyFile=path/to/public.pem': { excluded: NEEDS_AWS },
  'TOKEN_SIGNING_PUBLIC_KEY_FILE=path/to/public.pem npx cdk deploy': { excluded: NEEDS_AWS },
  'npm run -s execution-policy -w infra -- --account 123456789012 --region us-east-1 > execution-policy.json':
    {
      run: (result, sandbox) => {
        expect(result).toMatchObject({ code: 0, stdout: '' });
        const policy = JSON.parse(readFileSync(join(sandbox, 'execution-policy.json'), 'utf8')) as {
          Version: string;
        };
        expect(policy.Version).toBe('2012-10-17');
      },
    },
  'aws iam create-policy --policy-name IotCustomAuthCfnExecution --policy-document file://execution-policy.json':
    {
      excluded: NEEDS_AWS,
    },
  'npx cdk bootstrap aws://123456789012/us-east-1 --cloudformation-execution-policies arn:aws:iam::123456789012:policy/IotCustomAuthCfnExecution':
    { excluded: NEEDS_AWS },

  // ---- packages/local-iot/README.md
  'npm run local -- -c clientIdPrefix=dev- -c refreshAfterSeconds=60 --port 8444': {
    excluded: SERVES_FIXED_PORT,
  },
  'npm start -- -c clientIdPrefix=dev-': {
    excluded:
      'a second full synth and connect matrix; npm start runs above, and its -c parsing in connect-matrix/test/start.test.ts',
  },
  'npm run local -- -c refreshAfterSeconds=300 --time-scale 60': { excluded: SERVES_FIXED_PORT },
  'export AWS_ENDPOINT_URL="$(jq -r .awsEndpointUrl .local-iot/connection.json)"': {
    excluded: NEEDS_AWS_CLI,
  },
  'export AWS_DEFAULT_REGION="$(jq -r .region .local-iot/connection.json)"': { excluded: NEEDS_AWS_CLI },
  'export AWS_ACCESS_KEY_ID="$(jq -r .credentials.accessKeyId .local-iot/connection.json)"': {
    excluded: NEEDS_AWS_CLI,
  },
  'export AWS_SECRET_ACCESS_KEY="$(jq -r .credentials.secretAccessKey .local-iot/connection.json)"': {
    excluded: NEEDS_AWS_CLI,
  },
  'aws secretsmanager get-secret-value --secret-id "$(jq -r \'.[].DeviceSecretArn\' .local-iot/outputs.json)" --query SecretString --output text':
    { excluded: NEEDS_AWS_CLI },
  "aws iot test-invoke-authorizer --authorizer-name \"$(jq -r '.[].UnsignedAuthorizerName' .local-iot/outputs.json)\" --mqtt-context \"username=<user>,password=$(printf '%s' '<password>' | base64),clientId=<client id>\"":
    { excluded: `${NEEDS_AWS_CLI}; <user> and <password> are placeholders` },
  'X509_PORT="$(jq -r .x509.port .local-iot/connection.json)"': {
    run: (result) => expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' }),
  },
  'mosquitto_pub -h localhost -p "$X509_PORT" -V mqttv5 --tls-alpn mqtt --cafile .local-iot/ca.pem --cert .keys/test-mtls-demo-cert.pem --key .keys/test-mtls-demo-key.pem -i test-mtls-demo -t devices/test-mtls-demo/hello -m hi -q 1':
    { run: succeeds, after: 'X509_PORT="$(jq -r .x509.port .local-iot/connection.json)"' },
  'openssl s_client -connect "127.0.0.1:$X509_PORT" -servername localhost -alpn mqtt -CAfile .local-iot/ca.pem -cert .keys/test-mtls-demo-cert.pem -key .keys/test-mtls-demo-key.pem -brief </dev/null':
    {
      run: (result) => {
        expect(result.code).toBe(0);
        // "the handshake only": the demo certificate is accepted and the server's verified against the CA.
        expect(result.stderr).toContain('CONNECTION ESTABLISHED');
        expect(result.stderr).toContain('Verification: OK');
      },
      after: 'X509_PORT="$(jq -r .x509.port .local-iot/connection.json)"',
    },
  'npm run connect -w client -- --mtls --outputs .local-iot/outputs.json': { run: connects },
  'npx cdk deploy -c x509DomainName=iot.example.com -c x509ServerCertificateArn=arn:aws:acm:eu-west-1:123456789012:certificate/... [-c x509ValidationCertificateArn=arn:aws:acm:...]':
    { excluded: `${NEEDS_AWS}; a domain and ACM certificate of your own (placeholders)` },
  'npm run bench': { excluded: 'the benchmark: minutes of load on a machine the other suites share' },
  'npm run bench -- --connects 150 --rounds 2 --concurrency 10 --skip-lambda': {
    excluded: 'the benchmark: minutes of load on a machine the other suites share',
  },
  'git worktree add ../iot-baseline HEAD~1 && (cd ../iot-baseline && npm ci && npm run build)': {
    excluded:
      'checks out and installs a second copy of the repository beside it: minutes of npm ci, outside the repository',
  },
  'npm run bench -- --baseline ../iot-baseline/packages/local-iot/dist --rows direct-unsigned --skip-lambda':
    {
      excluded: 'the benchmark: minutes of load on a machine the other suites share',
    },
};

/** A README's shell commands: ```sh (or bash, shell) blocks, continuations joined, comments removed. */
function shellCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)) {
    let pending = '';
    for (const line of (block[1] ?? '').split('\n')) {
      const code = withoutComment(line);
      if (code.trimEnd().endsWith('\\')) {
        pending += `${code.trimEnd().slice(0, -1)} `;
        continue;
      }
      const command = `${pending}${code}`.replace(/\s+/g, ' ').trim();
      pending = '';
      if (command !== '') commands.push(command);
    }
  }
  return commands;
}

/** `line` without a shell comment (a `#` that starts a word outside quotes). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] ?? ''))) {
      return line.slice(0, i);
    }
  }
  return line;
}

/** The READMEs, root first: the order their commands run in. */
function readmeFiles(): string[] {
  const packages = readdirSync(join(REPO_ROOT, 'packages'))
    .sort()
    .map((name) => join(REPO_ROOT, 'packages', name, 'README.md'))
    .filter((file) => {
      try {
        return statSync(file).isFile();
      } catch {
        return false;
      }
    });
  return [join(REPO_ROOT, 'README.md'), ...packages];
}

/** Each command once, in README order, with the README it first appears in. */
function readmeCommands(): { command: string; readme: string }[] {
  const seen = new Map<string, string>();
  for (const file of readmeFiles()) {
    for (const command of shellCommands(readFileSync(file, 'utf8'))) {
      if (!seen.has(command)) seen.set(command, relative(REPO_ROOT, file));
    }
  }
  return [...seen].map(([command, readme]) => ({ command, readme }));
}

/** The environment of a fresh terminal: nothing from the npm or Jest run, no AWS or client secrets. */
function terminalEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(npm_|INIT_CWD$|AWS_|IOT_CUSTOM_AUTH_|GITHUB_ACTIONS$|JEST_|NODE_ENV$)/i.test(name),
    ),
  );
}

function runInShell(command: string, cwd: string, timeoutSeconds: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], {
      cwd,
      env: terminalEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

const commands = readmeCommands();

it('classifies every shell command of every README, and lists none that no README has', () => {
  const unclassified = commands.filter(({ command }) => !(command in COMMANDS));
  // A new README command: add it to COMMANDS with how it is checked, or why it cannot run here.
  expect(unclassified).toEqual([]);
  const shown = new Set(commands.map(({ command }) => command));
  expect(Object.keys(COMMANDS).filter((command) => !shown.has(command))).toEqual([]);
});

it('reads a fenced block as a shell would: continuations joined, comments dropped, quotes kept', () => {
  expect(
    shellCommands(
      [
        '```sh',
        "npm run a -- --x '#not' \\",
        '  --y 1   # a comment',
        '# a whole-line comment',
        'b | (c; d) # e',
        '```',
        '```text',
        'not a command',
        '```',
      ].join('\n'),
    ),
  ).toEqual(["npm run a -- --x '#not' --y 1", 'b | (c; d)']);
});

describe('the README commands that run offline, as written, against local-iot', () => {
  let sandbox: string;
  let localIot: ChildProcess | undefined;

  beforeAll(async () => {
    const ensured = await runInShell(
      `${join(REPO_ROOT, 'scripts', 'ensure-debian-packages.sh')} jq=jq mosquitto_pub=mosquitto-clients openssl=openssl`,
      REPO_ROOT,
      300,
    );
    if (ensured.code !== 0) throw new Error(`jq is needed: ${ensured.stderr}`);
    // Inside the repository (git-ignored .local-iot/), so npm and the client find the workspace root.
    mkdirSync(join(REPO_ROOT, '.local-iot'), { recursive: true, mode: 0o700 });
    sandbox = mkdtempSync(join(REPO_ROOT, '.local-iot', 'readme-commands-'));
    // The commands run from the repository root, where .keys/ holds the synth's keys and demo certificate:
    // the sandbox's .keys/ links to those, and takes the files the commands write (test-1.password).
    const keys = join(REPO_ROOT, '.keys');
    mkdirSync(join(sandbox, '.keys'), { mode: 0o700 });
    const cdkOut = await synthesizedAssembly()(sandbox);
    for (const file of readdirSync(keys)) symlinkSync(join(keys, file), join(sandbox, '.keys', file));
    localIot = spawn(
      process.execPath,
      [
        require.resolve('tsx/cli'),
        '--tsconfig',
        join(REPO_ROOT, 'tsconfig.json'),
        join(REPO_ROOT, 'packages', 'local-iot', 'src', 'cli.ts'),
        ...['--cdk-out', cdkOut, '--state-dir', join(sandbox, '.local-iot'), '--port', '0'],
      ],
      { cwd: REPO_ROOT, env: terminalEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // The ready line may come on either stream; the JSON log lines come first.
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const collect = (chunk: string): void => {
        output += chunk;
        if (/^local-iot is serving stack/m.test(output)) resolve();
      };
      localIot?.stdout?.setEncoding('utf8').on('data', collect);
      localIot?.stderr?.setEncoding('utf8').on('data', collect);
      localIot?.on('exit', (code) =>
        reject(new Error(`local-iot exited ${code} before serving:\n${output}`)),
      );
    });
  }, 400_000);

  afterAll(async () => {
    if (localIot !== undefined && localIot.exitCode === null) {
      const exited = new Promise((resolve) => localIot?.once('exit', resolve));
      localIot.kill('SIGTERM');
      await exited;
    }
    if (sandbox !== undefined) rmSync(sandbox, { recursive: true, force: true });
  }, 60_000);

  const runnable = commands
    .flatMap(({ command, readme }) => {
      const outcome = COMMANDS[command];
      return outcome !== undefined && 'run' in outcome ? [{ command, readme, outcome }] : [];
    })
    .sort((a, b) => Number(a.outcome.last === true) - Number(b.outcome.last === true));

  it.each(runnable)(
    '$readme: $command',
    async ({ command, outcome }) => {
      const timeoutSeconds = outcome.timeoutSeconds ?? 120;
      const script = outcome.after === undefined ? command : `${outcome.after}\n${command}`;
      const result = await runInShell(script, sandbox, timeoutSeconds);
      try {
        outcome.run(result, sandbox);
      } catch (error) {
        throw new Error(
          `${(error as Error).message}\n--- exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
        );
      }
    },
    700_000,
  );
});
