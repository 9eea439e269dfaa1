import fc from 'fast-check';
import { DEFAULT_TIMEOUT_SECONDS, parseArgs, topicNameProblem, usage, type CliConfig } from '../src/args';
import { ClientError, UsageError } from '../src/errors';

const DEFAULTS: CliConfig = {
  help: false,
  transport: 'mqtt',
  verbosity: 'none',
  timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
  json: false,
  signed: false,
  roundtrip: false,
};

// A standard-base64 signature with every character that needs URL-encoding.
const SIGNATURE = 'ab+c/d==';
const SIGNATURE_ENCODED = 'ab%2Bc%2Fd%3D%3D';

describe('parseArgs', () => {
  it('returns the defaults for no flags', () => {
    expect(parseArgs([])).toEqual(DEFAULTS);
  });

  it('returns a frozen config', () => {
    expect(Object.isFrozen(parseArgs(['--json']))).toBe(true);
  });

  it.each<[string, string[], Partial<CliConfig>]>([
    [
      '--endpoint',
      ['--endpoint', 'abc-ats.iot.eu-west-1.amazonaws.com'],
      { endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com' },
    ],
    ['--endpoint host:port', ['--endpoint', 'localhost:8443'], { endpoint: 'localhost', port: 8443 }],
    ['--endpoint IPv6', ['--endpoint', '::1'], { endpoint: '::1' }],
    ['--port', ['--port', '8443'], { port: 8443 }],
    ['--ca_file', ['--ca_file', 'ca.pem'], { caFile: 'ca.pem' }],
    ['--client_id', ['--client_id', 'test-1'], { clientId: 'test-1' }],
    ['--custom_auth_username', ['--custom_auth_username', 'device'], { username: 'device' }],
    ['--custom_auth_password', ['--custom_auth_password', 's3cret'], { password: 's3cret' }],
    ['--custom_auth_authorizer_name', ['--custom_auth_authorizer_name', 'Auth'], { authorizerName: 'Auth' }],
    [
      'token flags, raw signature',
      [
        '--custom_auth_token_key_name',
        'token',
        '--custom_auth_token_value',
        'abc',
        '--custom_auth_authorizer_signature',
        SIGNATURE,
      ],
      { tokenKeyName: 'token', tokenValue: 'abc', signature: SIGNATURE_ENCODED },
    ],
    [
      'token flags, signature already URL-encoded',
      [
        '--custom_auth_token_key_name',
        'token',
        '--custom_auth_token_value',
        'abc',
        '--custom_auth_authorizer_signature',
        SIGNATURE_ENCODED,
      ],
      { tokenKeyName: 'token', tokenValue: 'abc', signature: SIGNATURE_ENCODED },
    ],
    ['--use_websockets (no value)', ['--use_websockets'], { transport: 'websockets' }],
    ['--use_websockets true', ['--use_websockets', 'true'], { transport: 'websockets' }],
    ['--use_websockets false', ['--use_websockets', 'false'], { transport: 'mqtt' }],
    ['--use_websockets "False"', ['--use_websockets', 'False'], { transport: 'mqtt' }],
    ['--use_websockets=no', ['--use_websockets=no'], { transport: 'mqtt' }],
    ['--use_websockets=1', ['--use_websockets=1'], { transport: 'websockets' }],
    [
      '--use_websockets followed by a flag',
      ['--use_websockets', '--json'],
      { transport: 'websockets', json: true },
    ],
    ['--verbosity', ['--verbosity', 'Debug'], { verbosity: 'debug' }],
    ['--verbosity NoLogs (Python sample)', ['--verbosity', 'NoLogs'], { verbosity: 'none' }],
    ['--timeout', ['--timeout', '2.5'], { timeoutSeconds: 2.5 }],
    ['--json', ['--json'], { json: true }],
    ['--signed', ['--signed'], { signed: true }],
    [
      '--signed --token-signing-key',
      ['--signed', '--token-signing-key', 'key.pem'],
      { signed: true, tokenSigningKeyFile: 'key.pem' },
    ],
    [
      '--signed with a token of your own (key name from the outputs)',
      ['--signed', '--custom_auth_token_value', 'abc', '--custom_auth_authorizer_signature', SIGNATURE],
      { signed: true, tokenValue: 'abc', signature: SIGNATURE_ENCODED },
    ],
    ['--outputs', ['--outputs', '.local-iot/outputs.json'], { outputsFile: '.local-iot/outputs.json' }],
    ['--stack-name', ['--stack-name', 'Other'], { stackName: 'Other' }],
    ['--region', ['--region', 'eu-west-1'], { region: 'eu-west-1' }],
    ['--flag=value', ['--client_id=test-2'], { clientId: 'test-2' }],
    ['= inside a value', ['--custom_auth_password=a=b=='], { password: 'a=b==' }],
    [
      'hyphenated names of underscore flags',
      ['--client-id', 'x', '--ca-file', 'c'],
      { clientId: 'x', caFile: 'c' },
    ],
    ['underscored names of hyphen flags', ['--stack_name', 'S'], { stackName: 'S' }],
    ['a value starting with a single dash', ['--custom_auth_password', '-secret'], { password: '-secret' }],
    ['a value starting with -- via =', ['--custom_auth_password=--secret'], { password: '--secret' }],
    ['--roundtrip', ['--roundtrip'], { roundtrip: true }],
    ['--roundtrip false', ['--roundtrip', 'false'], { roundtrip: false }],
    ['--count', ['--count', '5'], { count: 5 }],
    ['--count at its maximum', ['--count=100'], { count: 100 }],
    ['--topic', ['--topic', 'devices/test-1/status'], { topic: 'devices/test-1/status' }],
    ['a topic of exactly 8 levels', ['--topic', 'a/b/c/d/e/f/g/h'], { topic: 'a/b/c/d/e/f/g/h' }],
    ['a topic of exactly 256 bytes', ['--topic', 'é'.repeat(128)], { topic: 'é'.repeat(128) }],
    ['a topic with empty levels', ['--topic', '/a//b/'], { topic: '/a//b/' }],
    ['--message', ['--message', 'hello world'], { message: 'hello world' }],
    ['a JSON --message', ['--message={"temp":21}'], { message: '{"temp":21}' }],
    [
      "the upstream sample's newer form with a round trip",
      ['--roundtrip', '--count', '3', '--topic', 'devices/test-2', '--message', 'hi'],
      { roundtrip: true, count: 3, topic: 'devices/test-2', message: 'hi' },
    ],
  ])('reads %s', (_name, argv, expected) => {
    expect(parseArgs(argv)).toEqual({ ...DEFAULTS, ...expected });
  });

  it.each([['--help'], ['-h'], ['--bogus', '--help']])(
    'returns help for %j, whatever else is there',
    (...argv) => {
      expect(parseArgs(argv)).toEqual({ ...DEFAULTS, help: true });
    },
  );

  it.each<[string, string[], string]>([
    [
      'a positional argument',
      ['localhost'],
      "unexpected argument 'localhost': every option is a flag such as --endpoint <host>",
    ],
    ['an unknown flag', ['--endpoit', 'x'], 'unknown flag --endpoit (did you mean --endpoint?)'],
    ['two swapped letters', ['--endpiont', 'x'], 'unknown flag --endpiont (did you mean --endpoint?)'],
    ['an unknown flag with no near match', ['--frobnicate'], 'unknown flag --frobnicate'],
    [
      '--cert from the upstream README without its --key',
      ['--cert', 'c.pem'],
      '--cert needs --key: give the private key of the certificate with --key <file> (or use --mtls for the demo certificate)',
    ],
    ['a missing value', ['--endpoint'], '--endpoint needs a value: --endpoint <host>'],
    [
      'a flag where the value should be',
      ['--custom_auth_password', '--json'],
      '--custom_auth_password needs a value: --custom_auth_password <password> (for a value that starts with --, write --custom_auth_password=<value>)',
    ],
    ['an empty value', ['--client_id='], '--client_id needs a value: --client_id <id>'],
    ['a repeated flag', ['--port', '1', '--port', '2'], '--port is given more than once; give it once'],
    [
      'the same flag in both spellings',
      ['--client_id', 'a', '--client-id', 'b'],
      '--client_id is given more than once; give it once',
    ],
    [
      '--use_websockets with a non-boolean',
      ['--use_websockets', 'maybe'],
      "--use_websockets takes true or false (or no value, meaning true), but 'maybe' was given",
    ],
    [
      '--json=sure',
      ['--json=sure'],
      "--json takes true or false (or no value, meaning true), but 'sure' was given",
    ],
    [
      'a URL as endpoint',
      ['--endpoint', 'https://abc.iot.amazonaws.com'],
      "--endpoint 'https://abc.iot.amazonaws.com' is not a host name: give the host only, such as abc123-ats.iot.eu-west-1.amazonaws.com or localhost (no scheme or path; host:port or --port for the port)",
    ],
    ['port 0', ['--port', '0'], "--port must be an integer between 1 and 65535, but '0' was given"],
    [
      'port 65536',
      ['--port', '65536'],
      "--port must be an integer between 1 and 65535, but '65536' was given",
    ],
    [
      'a port that is not a number',
      ['--port', '443x'],
      "--port must be an integer between 1 and 65535, but '443x' was given",
    ],
    [
      'two different ports',
      ['--endpoint', 'h:1', '--port', '2'],
      '--endpoint has port 1 but --port is 2: give the port once',
    ],
    [
      'timeout 0',
      ['--timeout', '0'],
      "--timeout must be a number of seconds greater than 0 and at most 300, but '0' was given",
    ],
    [
      'a negative timeout',
      ['--timeout=-1'],
      "--timeout must be a number of seconds greater than 0 and at most 300, but '-1' was given",
    ],
    [
      'a huge timeout',
      ['--timeout', '301'],
      "--timeout must be a number of seconds greater than 0 and at most 300, but '301' was given",
    ],
    [
      'an unknown verbosity',
      ['--verbosity', 'loud'],
      "--verbosity must be one of none, fatal, error, warn, info, debug, trace, but 'loud' was given",
    ],
    [
      'a client id over 128 bytes',
      ['--client_id', 'é'.repeat(65)],
      '--client_id is 130 bytes long; AWS IoT accepts at most 128',
    ],
    [
      'a username with two ?',
      ['--custom_auth_username', 'a?b=1?c=2'],
      "--custom_auth_username may contain at most one '?' (user?extra=params); the authorizer parameters are added by the client",
    ],
    [
      'an invalid token key name',
      [
        '--custom_auth_token_key_name',
        'a b',
        '--custom_auth_token_value',
        't',
        '--custom_auth_authorizer_signature',
        SIGNATURE,
      ],
      "--custom_auth_token_key_name 'a b' is not a valid token key name: AWS IoT requires ^[a-zA-Z0-9_-]{1,128}$",
    ],
    [
      'a base64url signature',
      [
        '--custom_auth_token_key_name',
        'k',
        '--custom_auth_token_value',
        't',
        '--custom_auth_authorizer_signature',
        'ab-c_d',
      ],
      '--custom_auth_authorizer_signature: the token signature must be standard base64 (A-Z a-z 0-9 + / with = padding), raw or URL-encoded; base64url (- and _) is not accepted by AWS IoT',
    ],
    [
      'a token without key name and signature',
      ['--custom_auth_token_value', 't'],
      '--custom_auth_token_key_name, --custom_auth_token_value and --custom_auth_authorizer_signature go together: give all three or none (missing --custom_auth_token_key_name, --custom_auth_authorizer_signature), or use --signed to create a signed token',
    ],
    [
      'a key name alone',
      ['--custom_auth_token_key_name', 'k'],
      '--custom_auth_token_key_name, --custom_auth_token_value and --custom_auth_authorizer_signature go together: give all three or none (missing --custom_auth_token_value, --custom_auth_authorizer_signature), or use --signed to create a signed token',
    ],
    [
      'a signature without a token',
      ['--custom_auth_token_key_name', 'k', '--custom_auth_authorizer_signature', SIGNATURE],
      '--custom_auth_token_key_name, --custom_auth_token_value and --custom_auth_authorizer_signature go together: give all three or none (missing --custom_auth_token_value), or use --signed to create a signed token',
    ],
    [
      '--signed with a token but no signature',
      ['--signed', '--custom_auth_token_value', 't'],
      '--custom_auth_token_value and --custom_auth_authorizer_signature go together: give both (to send your own signed token) or neither (--signed then creates one)',
    ],
    [
      '--signed with a token and a key file',
      [
        '--signed',
        '--custom_auth_token_value',
        't',
        '--custom_auth_authorizer_signature',
        SIGNATURE,
        '--token-signing-key',
        'k.pem',
      ],
      '--token-signing-key is not used when you give --custom_auth_token_value and --custom_auth_authorizer_signature: remove one or the other',
    ],
    [
      '--token-signing-key without --signed',
      ['--token-signing-key', 'k.pem'],
      '--token-signing-key is only used with --signed: add --signed, or remove it',
    ],
    [
      '--count 0',
      ['--count', '0'],
      "--count must be a whole number of messages from 1 to 100 (AWS IoT accepts at most 100 publishes per second on a connection), but '0' was given",
    ],
    [
      '--count over the maximum',
      ['--count', '101'],
      "--count must be a whole number of messages from 1 to 100 (AWS IoT accepts at most 100 publishes per second on a connection), but '101' was given",
    ],
    [
      'a fractional --count',
      ['--count', '1.5'],
      "--count must be a whole number of messages from 1 to 100 (AWS IoT accepts at most 100 publishes per second on a connection), but '1.5' was given",
    ],
    [
      'a negative --count',
      ['--count=-2'],
      "--count must be a whole number of messages from 1 to 100 (AWS IoT accepts at most 100 publishes per second on a connection), but '-2' was given",
    ],
    [
      'a topic with +',
      ['--topic', 'devices/+/status'],
      "--topic 'devices/+/status' is not a topic you can publish to: it contains the wildcard '+', which only topic filters may use. Give a topic name such as devices/<client id>/status, or leave --topic out to use the device's own topic",
    ],
    [
      'a topic with #',
      ['--topic', 'devices/#'],
      "--topic 'devices/#' is not a topic you can publish to: it contains the wildcard '#', which only topic filters may use. Give a topic name such as devices/<client id>/status, or leave --topic out to use the device's own topic",
    ],
    [
      'a topic with the null character',
      ['--topic', 'a\u0000b'],
      "--topic 'a\u0000b' is not a topic you can publish to: it contains the null character. Give a topic name such as devices/<client id>/status, or leave --topic out to use the device's own topic",
    ],
    [
      'a topic over 256 bytes',
      ['--topic', 'é'.repeat(128) + 'x'],
      `--topic '${'é'.repeat(128)}x' is not a topic you can publish to: it is 257 bytes long and AWS IoT accepts at most 256. Give a topic name such as devices/<client id>/status, or leave --topic out to use the device's own topic`,
    ],
    [
      'a topic of 9 levels',
      ['--topic', 'a/b/c/d/e/f/g/h/i'],
      "--topic 'a/b/c/d/e/f/g/h/i' is not a topic you can publish to: it has 9 levels and AWS IoT accepts at most 8 (7 '/'). Give a topic name such as devices/<client id>/status, or leave --topic out to use the device's own topic",
    ],
    ['an empty --topic', ['--topic='], '--topic needs a value: --topic <topic>'],
    [
      '--roundtrip with a non-boolean',
      ['--roundtrip', 'twice'],
      "--roundtrip takes true or false (or no value, meaning true), but 'twice' was given",
    ],
  ])('rejects %s with a UsageError naming the flag and the fix', (_name, argv, message) => {
    let caught: unknown;
    try {
      parseArgs(argv);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).name).toBe('UsageError');
    expect((caught as UsageError).message).toBe(message);
  });

  it('never throws anything but a UsageError, whatever the command line', () => {
    const token = fc.oneof(
      fc.string(),
      fc.constantFrom(
        '--endpoint',
        '--port',
        '--use_websockets',
        '--json',
        '--signed',
        '--timeout',
        '--custom_auth_token_value',
        '--roundtrip',
        '--count',
        '--topic',
        '--message',
        'a/+/b',
        '100',
        'true',
        'false',
        '-h=x',
      ),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 8 }), (argv) => {
        try {
          const config = parseArgs(argv);
          expect(['mqtt', 'websockets']).toContain(config.transport);
        } catch (error) {
          expect(error).toBeInstanceOf(UsageError);
          expect(error).toBeInstanceOf(ClientError);
        }
      }),
    );
  });

  it('passes any non-empty password through unchanged with --flag=value', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (password) => {
        expect(parseArgs([`--custom_auth_password=${password}`]).password).toBe(password);
      }),
    );
  });

  it('encodes any standard base64 signature exactly once, given raw or already encoded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        const raw = Buffer.from(bytes).toString('base64');
        const flags = (signature: string) => [
          '--custom_auth_token_key_name',
          'k',
          '--custom_auth_token_value',
          't',
          `--custom_auth_authorizer_signature=${signature}`,
        ];
        expect(parseArgs(flags(raw)).signature).toBe(encodeURIComponent(raw));
        expect(parseArgs(flags(encodeURIComponent(raw))).signature).toBe(encodeURIComponent(raw));
      }),
    );
  });
});

describe('topicNameProblem', () => {
  it('accepts exactly the topics without wildcards or null characters, of at most 256 bytes and 8 levels', () => {
    const level = fc.string({ unit: fc.constantFrom('a', 'é', '+', '#', '\u0000', '$', ' '), maxLength: 40 });
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 10 }), (levels) => {
        const topic = levels.join('/');
        const valid =
          topic.length > 0 &&
          !topic.includes('+') &&
          !topic.includes('#') &&
          !topic.includes('\u0000') &&
          Buffer.byteLength(topic, 'utf8') <= 256 &&
          levels.length <= 8;
        expect(topicNameProblem(topic) === undefined).toBe(valid);
        if (topic.length > 0) {
          if (valid) expect(parseArgs([`--topic=${topic}`]).topic).toBe(topic);
          else expect(() => parseArgs([`--topic=${topic}`])).toThrow(UsageError);
        }
      }),
    );
  });

  it('refuses a --message over 128 KB, the largest payload AWS IoT accepts', () => {
    expect(parseArgs([`--message=${'x'.repeat(131_072)}`]).message).toHaveLength(131_072);
    expect(() => parseArgs([`--message=${'x'.repeat(131_073)}`])).toThrow(
      new UsageError('--message is 131073 bytes long; AWS IoT accepts payloads of at most 131072 bytes'),
    );
  });
});

describe('usage', () => {
  it('lists every upstream flag and every new flag, with the exit codes', () => {
    const text = usage();
    for (const flag of [
      '--endpoint <host>',
      '--ca_file <file>',
      '--client_id <id>',
      '--custom_auth_username <user>',
      '--custom_auth_password <password>',
      '--custom_auth_authorizer_name <name>',
      '--custom_auth_authorizer_signature <base64>',
      '--custom_auth_token_key_name <name>',
      '--custom_auth_token_value <token>',
      '--use_websockets',
      '--verbosity <level>',
      '--port <n>',
      '--timeout <seconds>',
      '--json',
      '--signed',
      '--token-signing-key <file>',
      '--outputs <file>',
      '--stack-name <name>',
      '--region <region>',
      '--roundtrip',
      '--count <n>',
      '--topic <topic>',
      '--message <text>',
    ]) {
      expect(text).toContain(`  ${flag}`);
    }
    expect(text).toContain(
      'Exit codes: 0 connected (and every message acknowledged, and received with --roundtrip) and disconnected',
    );
    expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThanOrEqual(110);
  });
});
