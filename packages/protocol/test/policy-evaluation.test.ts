import fc from 'fast-check';
import {
  buildConnectPolicy,
  buildDevicePolicies,
  clientArn,
  topicArn,
  topicFilterArn,
} from '@iot-custom-auth/protocol';
import { compilePolicies, evaluatePolicies, type PolicyRequest } from '../src/policy-evaluation';
import { countingReads } from './counting-reads';

const context = { region: 'us-east-1', account: '000000000000' };
const client = (id: string): string => clientArn(context, id);
const connect = (clientId: string) => ({
  action: 'iot:Connect',
  resource: client(clientId),
  variables: { 'iot:ClientId': clientId },
});

function doc(...statements: object[]): object {
  return { Version: '2012-10-17', Statement: statements };
}

describe('evaluatePolicies', () => {
  it('allows iot:Connect for a client id under the project connect policy', () => {
    expect(evaluatePolicies([buildConnectPolicy(context)], connect('test-1'))).toEqual({
      allowed: true,
      reason: 'allowed by statement ConnectWithPrefix of policy document 1',
    });
  });

  it('denies implicitly when no statement allows, naming the action and the whole resource ARN', () => {
    expect(evaluatePolicies([buildConnectPolicy(context)], connect('foo'))).toEqual({
      allowed: false,
      reason: 'policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/foo',
    });
  });

  it('denies when there are no documents at all', () => {
    expect(evaluatePolicies([], connect('test-1'))).toEqual({
      allowed: false,
      reason: 'policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/test-1',
    });
  });

  it('lets an explicit Deny in any document win over an Allow in another, naming it by Sid', () => {
    const deny = doc({ Sid: 'NoTestOne', Effect: 'Deny', Action: 'iot:Connect', Resource: client('test-1') });
    expect(evaluatePolicies([buildConnectPolicy(context), deny], connect('test-1'))).toEqual({
      allowed: false,
      reason: 'explicitly denied by statement NoTestOne of policy document 2',
    });
  });

  it('names a statement without Sid by its 1-based index', () => {
    const policy = doc(
      { Effect: 'Allow', Action: 'iot:*', Resource: '*' },
      { Effect: 'Deny', Action: 'iot:Connect', Resource: '*' },
    );
    expect(evaluatePolicies([policy], connect('test-1'))).toEqual({
      allowed: false,
      reason: 'explicitly denied by statement 2 of policy document 1',
    });
  });

  it('ignores a Deny that does not match the request', () => {
    const policy = doc(
      { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
      { Effect: 'Deny', Action: 'iot:Publish', Resource: '*' },
    );
    expect(evaluatePolicies([policy], connect('x')).allowed).toBe(true);
  });

  it.each([
    ['*', true],
    ['iot:*', true],
    ['IOT:CONNECT', true],
    ['iot:Conn*', true],
    ['iot:Connec?', true],
    ['iot:Pub*', false],
    ['iot:Connect2', false],
    ['greengrass:*', false],
  ])('matches the action pattern %s: %s', (pattern, allowed) => {
    const policy = doc({ Effect: 'Allow', Action: pattern, Resource: '*' });
    expect(evaluatePolicies([policy], connect('test-1')).allowed).toBe(allowed);
  });

  it.each([
    ['test-*', 'test-1', true],
    ['test-*', 'test-', true],
    ['test-*', 'prod-1', false],
    ['test-?', 'test-1', true],
    ['test-?', 'test-12', false],
    ['test-?', 'test-', false],
    ['*', 'a/b/c', true],
    ['a*c', 'a/b/c', true],
    ['Test-*', 'test-1', false],
  ])('matches the resource pattern %s against client %s: %s', (pattern, clientId, allowed) => {
    const policy = doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: client(pattern) });
    expect(evaluatePolicies([policy], connect(clientId)).allowed).toBe(allowed);
  });

  it('treats MQTT wildcards + and # in a resource literally', () => {
    const policy = doc({
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: topicFilterArn(context, 'devices/+'),
    });
    const subscribe = (filter: string) => ({
      action: 'iot:Subscribe',
      resource: topicFilterArn(context, filter),
    });
    expect(evaluatePolicies([policy], subscribe('devices/+')).allowed).toBe(true);
    expect(evaluatePolicies([policy], subscribe('devices/a')).allowed).toBe(false);
    const hash = doc({
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: topicFilterArn(context, 'devices/#'),
    });
    expect(evaluatePolicies([hash], subscribe('devices/a/b')).allowed).toBe(false);
    expect(evaluatePolicies([hash], subscribe('devices/#')).allowed).toBe(true);
  });

  it('accepts Action and Resource as arrays, and a single Statement object', () => {
    const policy = {
      Version: '2012-10-17',
      Statement: {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Connect'],
        Resource: [client('a'), client('b')],
      },
    };
    expect(evaluatePolicies([policy], connect('b')).allowed).toBe(true);
    expect(evaluatePolicies([policy], connect('c')).allowed).toBe(false);
  });

  it('accepts documents as JSON strings and objects alike', () => {
    const asObject = buildConnectPolicy(context);
    const asString = JSON.stringify(asObject);
    expect(evaluatePolicies([asString], connect('test-1'))).toEqual(
      evaluatePolicies([asObject], connect('test-1')),
    );
    expect(evaluatePolicies([asString], connect('test-1')).allowed).toBe(true);
  });

  it('substitutes ${iot:ClientId} as literal text', () => {
    const [, topics] = buildDevicePolicies(context);
    const publish = (clientId: string, topic: string) => ({
      action: 'iot:Publish',
      resource: topicArn(context, topic),
      variables: { 'iot:ClientId': clientId },
    });
    expect(evaluatePolicies([topics], publish('test-1', 'devices/test-1')).allowed).toBe(true);
    expect(evaluatePolicies([topics], publish('test-1', 'devices/test-1/a/b')).allowed).toBe(true);
    expect(evaluatePolicies([topics], publish('test-1', 'devices/test-2')).allowed).toBe(false);
    // A client id with a wildcard does not become a wildcard.
    expect(evaluatePolicies([topics], publish('test-*', 'devices/test-2')).allowed).toBe(false);
    expect(evaluatePolicies([topics], publish('test-*', 'devices/test-*')).allowed).toBe(true);
  });

  it('does not substitute variables in documents of the 2008-10-17 language version', () => {
    const policy = {
      Version: '2008-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: client('${iot:ClientId}') }],
    };
    expect(evaluatePolicies([policy], connect('test-1')).allowed).toBe(false);
    expect(evaluatePolicies([policy], connect('${iot:ClientId}')).allowed).toBe(true);
  });

  it('supports the ${*}, ${?} and ${$} escapes for literal characters', () => {
    const policy = doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: client('a${*}b${?}${$}') });
    expect(evaluatePolicies([policy], connect('a*b?$')).allowed).toBe(true);
    expect(evaluatePolicies([policy], connect('axxbc$')).allowed).toBe(false);
  });

  it('never matches a resource with an unresolvable variable: such an Allow grants nothing', () => {
    const policy = doc({
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: client('${iot:Connection.Thing.ThingName}'),
    });
    expect(evaluatePolicies([policy], connect('test-1'))).toEqual({
      allowed: false,
      reason: 'policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/test-1',
    });
  });

  it('does not apply a Deny whose resource has an unresolvable variable (IAM semantics)', () => {
    const policy = doc(
      { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
      { Effect: 'Deny', Action: 'iot:Connect', Resource: client('${iot:Connection.Thing.ThingName}') },
    );
    expect(evaluatePolicies([policy], connect('test-1')).allowed).toBe(true);
  });

  it('applies a statement only when its Condition holds for the request context', () => {
    const allow = doc({
      Sid: 'FromLoopback',
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: '*',
      Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } },
    });
    const from = (sourceIp: string) => ({ ...connect('test-1'), context: { sourceIp } });
    expect(evaluatePolicies([allow], from('127.0.0.1'))).toEqual({
      allowed: true,
      reason: 'allowed by statement FromLoopback of policy document 1',
    });
    expect(evaluatePolicies([allow], from('10.0.0.1'))).toEqual({
      allowed: false,
      reason:
        'policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/test-1 (statement FromLoopback of policy document 1 does not apply: IpAddress aws:SourceIp ["127.0.0.0/8"] does not hold: the request has ["10.0.0.1"])',
    });
    const deny = doc({
      Sid: 'NotFromLoopback',
      Effect: 'Deny',
      Action: 'iot:Connect',
      Resource: '*',
      Condition: { NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } },
    });
    const both = [buildConnectPolicy(context), deny];
    expect(evaluatePolicies(both, from('127.0.0.1')).allowed).toBe(true);
    expect(evaluatePolicies(both, from('10.0.0.1'))).toEqual({
      allowed: false,
      reason: 'explicitly denied by statement NotFromLoopback of policy document 2',
    });
  });

  it('never applies a statement whose Condition it cannot read, Allow or Deny, and says why', () => {
    const unknownKey = { Bool: { 'aws:SecureTransport': 'true' } };
    const allow = doc({
      Sid: 'A',
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: '*',
      Condition: unknownKey,
    });
    expect(evaluatePolicies([allow], connect('test-1'))).toEqual({
      allowed: false,
      reason: expect.stringContaining(
        'statement A of policy document 1 does not apply: its Condition key "aws:SecureTransport" is not one AWS IoT Core provides',
      ) as unknown,
    });
    const deny = doc({
      Sid: 'Guard',
      Effect: 'Deny',
      Action: 'iot:Connect',
      Resource: '*',
      Condition: { ArnLike: { 'aws:SourceArn': 'arn:*' } },
    });
    expect(evaluatePolicies([buildConnectPolicy(context), deny], connect('test-1'))).toEqual({
      allowed: true,
      reason: expect.stringMatching(
        /^allowed by statement ConnectWithPrefix of policy document 1 \(statement Guard of policy document 2 does not apply: its Condition operator "ArnLike" is not one/,
      ) as unknown,
    });
  });

  it('leaves thing keys absent under custom auth: a Bool IsAttached Allow grants nothing', () => {
    const allow = doc({
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: '*',
      Condition: { Bool: { 'iot:Connection.Thing.IsAttached': ['true'] } },
    });
    expect(evaluatePolicies([allow], connect('test-1')).reason).toContain(
      'Bool iot:Connection.Thing.IsAttached ["true"] does not hold: the request has no such key',
    );
  });

  it('reports a Condition that is not an object of objects as a problem of the document', () => {
    const compiled = compilePolicies([
      doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: '*', Condition: 'yes' }),
      doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: '*', Condition: { StringEquals: 'x' } }),
      doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: '*', Condition: { StringEquals: { k: [] } } }),
    ]);
    expect(compiled.problems).toEqual([
      'statement 1 of policy document 1 has a Condition that is not an object',
      'statement 1 of policy document 2 has Condition operator StringEquals whose value is not an object',
      'statement 1 of policy document 3 has Condition StringEquals "k" whose value is neither a string, number or boolean nor a non-empty array of them',
    ]);
  });

  it('evaluates NotAction and NotResource as IAM does', () => {
    const notAction = doc({ Effect: 'Allow', NotAction: 'iot:Publish', Resource: '*' });
    expect(evaluatePolicies([notAction], connect('x')).allowed).toBe(true);
    const notResource = doc({ Effect: 'Allow', Action: 'iot:Connect', NotResource: client('admin-*') });
    expect(evaluatePolicies([notResource], connect('test-1')).allowed).toBe(true);
    expect(evaluatePolicies([notResource], connect('admin-1')).allowed).toBe(false);
  });

  it('refuses when a document is invalid, naming the problem', () => {
    expect(evaluatePolicies([buildConnectPolicy(context), '{not json'], connect('test-1'))).toEqual({
      allowed: false,
      reason: expect.stringMatching(/^invalid policy: policy document 2 is not valid JSON \(/) as unknown,
    });
  });

  it('stays fast on hostile wildcard patterns', () => {
    const policy = doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: `${'*a'.repeat(50)}*b` });
    const started = Date.now();
    expect(evaluatePolicies([policy], connect('a'.repeat(2000))).allowed).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('never allows when a matching Deny is present, whatever else the documents say (property)', () => {
    const action = fc.constantFrom('iot:Connect', 'iot:*', '*', 'iot:Conn*', 'iot:Publish');
    const resource = fc.constantFrom(
      '*',
      client('test-*'),
      client('*'),
      client('other'),
      client('${iot:ClientId}'),
    );
    const statement = fc.record({
      Effect: fc.constantFrom('Allow', 'Deny'),
      Action: fc.oneof(action, fc.array(action, { minLength: 1, maxLength: 3 })),
      Resource: fc.oneof(resource, fc.array(resource, { minLength: 1, maxLength: 3 })),
    });
    const document = fc.array(statement, { minLength: 1, maxLength: 4 }).map((s) => doc(...s));
    const asWire = (d: object, asString: boolean): unknown => (asString ? JSON.stringify(d) : d);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(document, fc.boolean()), { maxLength: 4 }),
        fc.nat({ max: 4 }),
        fc.stringMatching(/^[a-z0-9-]{1,12}$/),
        (documents, at, clientId) => {
          const wire = documents.map(([d, s]) => asWire(d, s));
          const denyAll = doc({ Effect: 'Deny', Action: 'iot:Connect', Resource: client('${iot:ClientId}') });
          wire.splice(Math.min(at, wire.length), 0, denyAll);
          const decision = evaluatePolicies(wire, connect(clientId));
          expect(decision.allowed).toBe(false);
          expect(decision.reason).toMatch(/^explicitly denied by statement \d+ of policy document \d+$/);
        },
      ),
    );
  });

  it('is monotonic in Allows: adding an Allow-only document never turns an allow into a deny (property)', () => {
    const pattern = fc.stringMatching(/^[a-z*?-]{0,8}$/);
    fc.assert(
      fc.property(pattern, pattern, fc.stringMatching(/^[a-z-]{0,8}$/), (first, second, clientId) => {
        const a = doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: client(first) });
        const b = doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: client(second) });
        const alone = evaluatePolicies([a], connect(clientId)).allowed;
        const both = evaluatePolicies([a, b], connect(clientId)).allowed;
        expect(both).toBe(alone || evaluatePolicies([b], connect(clientId)).allowed);
      }),
    );
  });

  it('never throws on arbitrary documents (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.jsonValue(), fc.string()), { maxLength: 3 }), (documents) => {
        const decision = evaluatePolicies(documents, connect('test-1'));
        expect(typeof decision.reason).toBe('string');
      }),
    );
  });
});

describe('compilePolicies problems', () => {
  it('finds nothing wrong with the project policies', () => {
    expect(
      compilePolicies([...buildDevicePolicies(context), JSON.stringify(buildConnectPolicy(context))])
        .problems,
    ).toEqual([]);
  });

  it('names every problem with its document and statement', () => {
    const compiled = compilePolicies([
      42,
      '[]',
      { Version: '2012-10-17' },
      {
        Version: '2020-01-01',
        Statement: [{ Sid: 'S', Effect: 'Maybe', Action: [], Resource: 'x', Extra: 1 }, 'text'],
      },
      { Statement: [{ Effect: 'Allow', Action: 'iot:Connect', NotAction: 'iot:Publish' }] },
    ]);
    expect(compiled.problems).toEqual([
      'policy document 1 is not a JSON object',
      'policy document 2 is not a JSON object',
      'policy document 3 has no Statement',
      'policy document 4 has Version "2020-01-01"; use "2012-10-17"',
      'statement S of policy document 4 has unknown element "Extra"',
      'statement S of policy document 4 has Effect "Maybe"; it must be "Allow" or "Deny"',
      'statement S of policy document 4 has Action that is neither a string nor a non-empty array of strings',
      'statement S of policy document 4 must have exactly one of Action and NotAction',
      'statement 2 of policy document 4 is not an object',
      'statement 1 of policy document 5 must have exactly one of Action and NotAction',
      'statement 1 of policy document 5 must have exactly one of Resource and NotResource',
    ]);
    // Evaluation names the first invalid document only, as it always has.
    expect(compiled.evaluate(connect('test-1'))).toEqual({
      allowed: false,
      reason: 'invalid policy: policy document 1 is not a JSON object',
    });
  });
});

describe('compilePolicies documents', () => {
  it('parses JSON strings and keeps objects, leaving out what is not a JSON object', () => {
    const policy = buildConnectPolicy(context);
    expect(compilePolicies([policy, JSON.stringify(policy), '[]']).documents).toEqual([policy, policy]);
  });
});

describe('compilePolicies: parse once, evaluate many times', () => {
  const requests: PolicyRequest[] = [
    connect('test-1'),
    connect('prod-1'),
    {
      action: 'iot:Publish',
      resource: topicArn(context, 'devices/test-1/up'),
      variables: { 'iot:ClientId': 'test-1' },
    },
    {
      action: 'iot:Receive',
      resource: topicArn(context, 'devices/test-2/up'),
      variables: { 'iot:ClientId': 'test-1' },
    },
  ];

  it('reads each document while compiling and never again while evaluating', () => {
    let reads = 0;
    const documents = buildDevicePolicies(context).map((d) => countingReads(d, () => (reads += 1)));
    const compiled = compilePolicies(documents);
    const readsToCompile = reads;
    expect(readsToCompile).toBeGreaterThan(0);
    for (let round = 0; round < 50; round++) for (const request of requests) compiled.evaluate(request);
    expect(reads).toBe(readsToCompile);
    expect(requests.map((request) => compiled.evaluate(request).allowed)).toEqual([true, false, true, false]);
  });

  it('parses a JSON string document exactly once', () => {
    const text = JSON.stringify(buildDevicePolicies(context)[1]);
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const compiled = compilePolicies([buildConnectPolicy(context), text]);
      for (let round = 0; round < 50; round++) for (const request of requests) compiled.evaluate(request);
      expect(parse.mock.calls.filter(([argument]) => argument === text)).toHaveLength(1);
    } finally {
      parse.mockRestore();
    }
  });

  it('decides as before when a document object is changed after compiling', () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }],
    };
    const compiled = compilePolicies([policy]);
    (policy.Statement[0] as { Effect: string }).Effect = 'Deny';
    expect(compiled.evaluate(connect('test-1'))).toEqual({
      allowed: true,
      reason: 'allowed by statement 1 of policy document 1',
    });
  });
});

/** A generated, valid statement (the property below compares decisions, not validation). */
interface GeneratedStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly NotResource?: string | string[];
  readonly Condition?: object;
}
interface GeneratedDocument {
  readonly Version: '2012-10-17' | '2008-10-17';
  readonly Statement: GeneratedStatement | GeneratedStatement[];
}

/**
 * An independent, deliberately naive reading of the IAM rules the engine documents: each pattern becomes a
 * regular expression (`*` any run, `?` one code point, variables substituted as escaped text, `${*}` /
 * `${?}` / `${$}` literal, an unresolvable variable matches nothing), re-read from the documents per request.
 */
function referenceDecision(documents: readonly GeneratedDocument[], request: PolicyRequest) {
  const variables = request.variables ?? {};
  const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const regex = (pattern: string, substitute: boolean): RegExp | undefined => {
    let source = '';
    for (const [token, name] of pattern.matchAll(substitute ? /\$\{([^}]*)\}|[\s\S]/gu : /[\s\S]/gu)) {
      if (name !== undefined) {
        const literal = ['*', '?', '$'].includes(name);
        if (!literal && !Object.prototype.hasOwnProperty.call(variables, name)) return undefined;
        source += escape(literal ? name : (variables[name] as string));
      } else {
        source += token === '*' ? '[\\s\\S]*' : token === '?' ? '[\\s\\S]' : escape(token);
      }
    }
    return new RegExp(`^${source}$`, 'u');
  };
  const list = (value: string | string[] | undefined): string[] | undefined =>
    value === undefined ? undefined : Array.isArray(value) ? value : [value];
  const anyMatches = (patterns: string[], text: string, substitute: boolean): boolean =>
    patterns.some((pattern) => regex(pattern, substitute)?.test(text) ?? false);
  let allow: string | undefined;
  const failedAllows: string[] = [];
  for (const [d, document] of documents.entries()) {
    const substitute = document.Version === '2012-10-17';
    const statements = Array.isArray(document.Statement) ? document.Statement : [document.Statement];
    for (const [s, statement] of statements.entries()) {
      const action = request.action.toLowerCase();
      const actions = list(statement.Action)?.map((a) => a.toLowerCase());
      const notActions = list(statement.NotAction)?.map((a) => a.toLowerCase());
      if (actions && !anyMatches(actions, action, false)) continue;
      if (notActions && anyMatches(notActions, action, false)) continue;
      const resources = list(statement.Resource);
      const notResources = list(statement.NotResource);
      if (resources && !anyMatches(resources, request.resource, substitute)) continue;
      if (notResources && anyMatches(notResources, request.resource, substitute)) continue;
      const where = `statement ${statement.Sid ?? s + 1} of policy document ${d + 1}`;
      // The only generated condition: IpAddress aws:SourceIp 127.0.0.0/8.
      const sourceIp = request.context?.sourceIp;
      if (statement.Condition !== undefined && !(sourceIp ?? '').startsWith('127.')) {
        if (statement.Effect === 'Allow') {
          const has = sourceIp === undefined ? 'no such key' : `["${sourceIp}"]`;
          failedAllows.push(
            `${where} does not apply: IpAddress aws:SourceIp ["127.0.0.0/8"] does not hold: the request has ${has}`,
          );
        }
        continue;
      }
      if (statement.Effect === 'Deny') {
        return { allowed: false, reason: `explicitly denied by ${where}` };
      }
      allow ??= `allowed by ${where}`;
    }
  }
  if (allow !== undefined) return { allowed: true, reason: allow };
  const notes = failedAllows.length === 0 ? '' : ` (${failedAllows.join('; ')})`;
  return {
    allowed: false,
    reason: `policy has no Allow for ${request.action} on ${request.resource}${notes}`,
  };
}

describe('compiled and uncompiled evaluation (property)', () => {
  const clientId = fc.stringMatching(/^[a-z0-9*?$-]{1,6}$/);
  const topicText = fc.stringMatching(/^[a-z0-9*?${}/+#-]{0,8}$/);
  const actionPattern = fc.constantFrom(
    '*',
    'iot:*',
    'iot:Connect',
    'IOT:PUB*',
    'iot:?eceive',
    'iot:Subscribe',
    'iot:*Publish',
    'greengrass:*',
  );
  const resourcePattern = fc.oneof(
    fc.constantFrom(
      '*',
      client('test-*'),
      client('${iot:ClientId}'),
      client('${iot:Connection.Thing.ThingName}'),
      client('a${*}b${?}${$}'),
      topicArn(context, 'devices/${iot:ClientId}'),
      topicArn(context, 'devices/${iot:ClientId}/*'),
      topicFilterArn(context, 'devices/+'),
      topicFilterArn(context, 'devices/#'),
    ),
    clientId.map(client),
    topicText.map((topic) => topicArn(context, topic)),
  );
  const oneOrMore = <T>(item: fc.Arbitrary<T>) =>
    fc.oneof(item, fc.array(item, { minLength: 1, maxLength: 3 }));
  const statement: fc.Arbitrary<GeneratedStatement> = fc
    .record({
      sid: fc.option(fc.constantFrom('First', 'Second', 'Guard'), { nil: undefined }),
      effect: fc.constantFrom<'Allow' | 'Deny'>('Allow', 'Deny'),
      negateAction: fc.boolean(),
      actions: oneOrMore(actionPattern),
      negateResource: fc.boolean(),
      resources: oneOrMore(resourcePattern),
      condition: fc.boolean(),
    })
    .map((s) => ({
      ...(s.sid !== undefined && { Sid: s.sid }),
      Effect: s.effect,
      ...(s.negateAction ? { NotAction: s.actions } : { Action: s.actions }),
      ...(s.negateResource ? { NotResource: s.resources } : { Resource: s.resources }),
      ...(s.condition && { Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }),
    }));
  const document: fc.Arbitrary<GeneratedDocument> = fc.record({
    Version: fc.constantFrom<GeneratedDocument['Version'][]>('2012-10-17', '2008-10-17'),
    Statement: fc.oneof(statement, fc.array(statement, { minLength: 1, maxLength: 4 })),
  });
  // The resource names the variable's client id, a look-alike that its wildcard characters would match if
  // they were substituted as wildcards, or an unrelated id, so substitution is tested every way.
  const request: fc.Arbitrary<PolicyRequest> = fc
    .record({
      action: fc.constantFrom(
        'iot:Connect',
        'iot:Publish',
        'iot:Receive',
        'iot:Subscribe',
        'iot:RetainPublish',
      ),
      clientId,
      named: fc.constantFrom('same', 'look-alike', 'unrelated'),
      unrelated: clientId,
      suffix: topicText,
      kind: fc.constantFrom('client', 'topic', 'topicfilter'),
      sourceIp: fc.constantFrom(undefined, '127.0.0.1', '127.9.8.7', '10.0.0.1', '::1'),
    })
    .map(({ action, clientId: id, named: which, unrelated, suffix, kind, sourceIp }) => {
      const lookAlike = id.replace(/\*/g, 'xy').replace(/\?/g, 'z');
      const named = which === 'same' ? id : which === 'look-alike' ? lookAlike : unrelated;
      const resource =
        kind === 'client'
          ? client(named)
          : kind === 'topic'
            ? topicArn(context, `devices/${named}${suffix}`)
            : topicFilterArn(context, suffix);
      return {
        action,
        resource,
        variables: { 'iot:ClientId': id },
        ...(sourceIp !== undefined && { context: { sourceIp } }),
      };
    });

  it('one compiled set, reused for every request, decides exactly as re-reading the documents per request', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(document, fc.boolean()), { maxLength: 3 }),
        fc.array(request, { minLength: 1, maxLength: 8 }),
        (documents, requests) => {
          const wire = documents.map(([d, asString]) => (asString ? JSON.stringify(d) : d));
          const compiled = compilePolicies(wire);
          expect(compiled.problems).toEqual([]);
          for (const r of requests) {
            const decision = compiled.evaluate(r);
            expect(decision).toEqual(evaluatePolicies(wire, r));
            expect(decision).toEqual(
              referenceDecision(
                documents.map(([d]) => d),
                r,
              ),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
