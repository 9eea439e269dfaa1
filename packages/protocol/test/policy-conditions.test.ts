import fc from 'fast-check';
import { compileCondition, type ConditionInput, type PolicyRequestContext } from '../src/policy-conditions';

/** Whether `condition` holds for `context` and client id, failing the test if it does not compile. */
function holds(
  condition: object,
  context: PolicyRequestContext = {},
  clientId: string | null = 'test-1',
  substitutesVariables = true,
): boolean {
  const compiled = compileCondition(condition, substitutesVariables);
  if (compiled.kind !== 'condition') throw new Error(`did not compile: ${JSON.stringify(compiled)}`);
  const variables: Record<string, string> = clientId === null ? {} : { 'iot:ClientId': clientId };
  if (context.sourceIp !== undefined) variables['aws:SourceIp'] = context.sourceIp;
  return compiled.condition.failure({ context, variables }) === undefined;
}

const JAN_2026 = Date.UTC(2026, 0, 1);

describe('compileCondition operators', () => {
  it.each([
    [{ StringEquals: { 'iot:ClientId': 'test-1' } }, true],
    [{ StringEquals: { 'iot:ClientId': 'TEST-1' } }, false],
    [{ StringEquals: { 'iot:ClientId': ['a', 'test-1'] } }, true],
    [{ StringNotEquals: { 'iot:ClientId': ['a', 'test-1'] } }, false],
    [{ StringNotEquals: { 'iot:ClientId': ['a', 'b'] } }, true],
    [{ StringEqualsIgnoreCase: { 'iot:ClientId': 'TEST-1' } }, true],
    [{ StringNotEqualsIgnoreCase: { 'iot:ClientId': 'TEST-1' } }, false],
    [{ StringLike: { 'iot:ClientId': 'test-*' } }, true],
    [{ StringLike: { 'iot:ClientId': 'test-?' } }, true],
    [{ StringLike: { 'iot:ClientId': 'prod-*' } }, false],
    [{ StringNotLike: { 'iot:ClientId': 'prod-*' } }, true],
    [{ StringEquals: { 'IOT:CLIENTID': 'test-1' } }, true],
  ])('string: %j holds for client test-1: %s', (condition, expected) => {
    expect(holds(condition)).toBe(expected);
  });

  it.each([
    [{ NumericLessThan: { 'aws:EpochTime': JAN_2026 / 1000 + 1 } }, true],
    [{ NumericLessThan: { 'aws:EpochTime': JAN_2026 / 1000 } }, false],
    [{ NumericLessThanEquals: { 'aws:EpochTime': JAN_2026 / 1000 } }, true],
    [{ NumericGreaterThan: { 'aws:EpochTime': '1700000000' } }, true],
    [{ NumericGreaterThanEquals: { 'aws:EpochTime': JAN_2026 / 1000 + 1 } }, false],
    [{ NumericEquals: { 'aws:EpochTime': JAN_2026 / 1000 } }, true],
    [{ NumericNotEquals: { 'aws:EpochTime': JAN_2026 / 1000 } }, false],
    [{ DateLessThan: { 'aws:CurrentTime': '2026-01-01T00:00:01Z' } }, true],
    [{ DateGreaterThan: { 'aws:CurrentTime': '2025-12-31' } }, true],
    [{ DateGreaterThanEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, true],
    [{ DateLessThanEquals: { 'aws:CurrentTime': '2025-12-31T23:59:59Z' } }, false],
    [{ DateEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00.000Z' } }, true],
    [{ DateNotEquals: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, false],
    [{ DateLessThan: { 'aws:EpochTime': String(JAN_2026 / 1000 + 60) } }, true],
    [{ DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T01:00:00+02:00' } }, true],
  ])('numeric and date at 2026-01-01T00:00:00Z: %j holds: %s', (condition, expected) => {
    expect(holds(condition, { currentTimeMs: JAN_2026 })).toBe(expected);
  });

  it.each([
    ['127.0.0.1', { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, true],
    ['::ffff:127.0.0.1', { IpAddress: { 'aws:SourceIp': '127.0.0.1' } }, true],
    ['10.1.2.3', { IpAddress: { 'aws:SourceIp': ['192.168.0.0/16', '10.0.0.0/8'] } }, true],
    ['10.1.2.3', { IpAddress: { 'aws:SourceIp': '10.1.2.4/32' } }, false],
    ['10.1.2.3', { NotIpAddress: { 'aws:SourceIp': ['192.168.0.0/16', '10.0.0.0/8'] } }, false],
    ['10.1.2.3', { NotIpAddress: { 'aws:SourceIp': '192.168.0.0/16' } }, true],
    ['2001:db8::1', { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, true],
    ['2001:db8::1', { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, false],
  ])('ip: from %s, %j holds: %s', (sourceIp, condition, expected) => {
    expect(holds(condition, { sourceIp })).toBe(expected);
  });

  it('compares Bool values case-insensitively, as strings or JSON booleans', () => {
    const attributes = { connectAttributes: ['PersistentConnect'] };
    expect(holds({ Bool: { 'iot:ClientId': 'TRUE' } }, {}, 'true')).toBe(true);
    expect(holds({ Bool: { 'iot:ClientId': true } }, {}, 'false')).toBe(false);
    expect(holds({ Bool: { 'iot:ClientId': false } }, attributes, 'False')).toBe(true);
  });

  it('ANDs operators and keys, ORs the values of one key', () => {
    const condition = {
      StringLike: { 'iot:ClientId': ['x-*', 'test-*'] },
      IpAddress: { 'aws:SourceIp': '127.0.0.0/8' },
    };
    expect(holds(condition, { sourceIp: '127.0.0.1' })).toBe(true);
    expect(holds(condition, { sourceIp: '10.0.0.1' })).toBe(false);
    expect(holds(condition, { sourceIp: '127.0.0.1' }, 'prod-1')).toBe(false);
  });
});

describe('compileCondition with keys the request does not have', () => {
  it('is false for a positive operator and true for a negated one', () => {
    expect(holds({ StringEquals: { 'aws:SourceIp': '1.2.3.4' } })).toBe(false);
    expect(holds({ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } })).toBe(false);
    expect(holds({ NotIpAddress: { 'aws:SourceIp': '0.0.0.0/0' } })).toBe(true);
    expect(holds({ StringNotLike: { 'iot:DomainName': '*' } })).toBe(true);
  });

  it('is true under ...IfExists, which checks only a present key', () => {
    expect(holds({ IpAddressIfExists: { 'aws:SourceIp': '10.0.0.0/8' } })).toBe(true);
    expect(holds({ IpAddressIfExists: { 'aws:SourceIp': '10.0.0.0/8' } }, { sourceIp: '127.0.0.1' })).toBe(
      false,
    );
  });

  it('tests presence with Null', () => {
    expect(holds({ Null: { 'aws:SourceIp': 'true' } })).toBe(true);
    expect(holds({ Null: { 'aws:SourceIp': 'false' } })).toBe(false);
    expect(holds({ Null: { 'aws:SourceIp': false } }, { sourceIp: '::1' })).toBe(true);
    expect(holds({ Null: { 'iot:Connection.Thing.ThingName': 'true' } })).toBe(true);
  });

  it('qualifies multi-valued keys with ForAnyValue and ForAllValues', () => {
    const persistentOnly = {
      'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] },
    };
    expect(holds(persistentOnly, { connectAttributes: ['PersistentConnect'] })).toBe(true);
    expect(holds(persistentOnly, { connectAttributes: ['PersistentConnect', 'LastWill'] })).toBe(false);
    expect(holds(persistentOnly, {})).toBe(true);
    const anyWill = { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': 'LastWill' } };
    expect(holds(anyWill, { connectAttributes: ['PersistentConnect', 'LastWill'] })).toBe(true);
    expect(holds(anyWill, { connectAttributes: ['PersistentConnect'] })).toBe(false);
    expect(holds(anyWill, {})).toBe(false);
    const noWill = { 'ForAllValues:StringNotEquals': { 'iot:ConnectAttributes': 'LastWill' } };
    expect(holds(noWill, { connectAttributes: ['PersistentConnect'] })).toBe(true);
    expect(holds(noWill, { connectAttributes: ['LastWill'] })).toBe(false);
  });
});

describe('compileCondition policy variables', () => {
  it('substitutes variables in values as literal text, in 2012-10-17 documents only', () => {
    expect(holds({ StringEquals: { 'iot:ClientId': '${iot:ClientId}' } })).toBe(true);
    expect(holds({ StringLike: { 'iot:ClientId': 'test-${iot:ClientId}' } }, {}, 'a*')).toBe(false);
    expect(holds({ StringLike: { 'iot:ClientId': '${iot:ClientId}' } }, {}, 'a*')).toBe(true);
    expect(holds({ StringEquals: { 'iot:ClientId': '${iot:ClientId}' } }, {}, 'x', false)).toBe(false);
    expect(holds({ IpAddress: { 'aws:SourceIp': '${aws:SourceIp}' } }, { sourceIp: '10.0.0.9' })).toBe(true);
  });

  it('lets a value whose variable cannot be resolved match nothing', () => {
    expect(holds({ StringEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } })).toBe(false);
    expect(holds({ StringNotEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } })).toBe(true);
  });
});

describe('compileCondition refusals', () => {
  it.each([
    [{ ArnLike: { 'aws:SourceArn': 'arn:*' } }, /operator "ArnLike" is not one/],
    [{ StringEqualsMaybe: { 'iot:ClientId': 'x' } }, /operator "StringEqualsMaybe" is not one/],
    [{ NullIfExists: { 'iot:ClientId': 'true' } }, /operator "NullIfExists" is not one/],
    [
      { StringEquals: { 'aws:SecureTransport': 'true' } },
      /key "aws:SecureTransport" is not one AWS IoT Core provides/,
    ],
    [
      { NumericLessThan: { 'aws:EpochTime': 'soon' } },
      /NumericLessThan aws:EpochTime: "soon" is not a number/,
    ],
    [
      { DateLessThan: { 'aws:CurrentTime': 'tomorrow' } },
      /"tomorrow" is neither an ISO 8601 date nor epoch seconds/,
    ],
    [{ IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } }, /"10.0.0.0\/33" is not an IP address or CIDR range/],
    [{ Bool: { 'iot:ClientId': 'yes' } }, /"yes" is not true or false/],
  ])('makes %j unusable: %s', (condition, reason) => {
    const compiled = compileCondition(condition, true);
    expect(compiled.kind).toBe('unusable');
    expect(compiled.kind === 'unusable' && compiled.reason).toMatch(reason);
  });

  it('names the failing clause and what the request had', () => {
    const compiled = compileCondition({ StringLike: { 'iot:ClientId': ['prod-*'] } }, true);
    const input: ConditionInput = { context: {}, variables: { 'iot:ClientId': 'test-1' } };
    expect(compiled.kind === 'condition' && compiled.condition.failure(input)).toBe(
      'StringLike iot:ClientId ["prod-*"] does not hold: the request has ["test-1"]',
    );
  });

  it('never throws on arbitrary Condition input (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (raw, substitutes) => {
        const compiled = compileCondition(raw, substitutes);
        if (compiled.kind === 'condition') {
          const result = compiled.condition.failure({
            context: { sourceIp: '127.0.0.1', currentTimeMs: JAN_2026, connectAttributes: ['LastWill'] },
            variables: { 'iot:ClientId': 'c' },
          });
          expect(result === undefined || typeof result === 'string').toBe(true);
        }
      }),
    );
  });
});

/**
 * A deliberately small reading of IAM's rules for the generated subset (StringEquals, StringLike, their
 * negations, IpAddress / NotIpAddress over IPv4 /8, /16, /24, /32 ranges, the qualifiers and IfExists),
 * straight from the documentation's sentences, without the evaluator's structure.
 */
function referenceHolds(
  operator: string,
  values: readonly string[],
  request: readonly string[] | undefined,
): boolean {
  let name = operator;
  const any = name.startsWith('ForAnyValue:');
  const all = name.startsWith('ForAllValues:');
  name = name.replace(/^For(Any|All)Values?:/, '');
  const ifExists = name.endsWith('IfExists');
  name = name.replace(/IfExists$/, '');
  const negated = name.includes('Not');
  if (request === undefined || request.length === 0) {
    if (ifExists || all) return true;
    if (any) return false;
    return negated;
  }
  const one = (actual: string, wanted: string): boolean => {
    if (name.endsWith('Like')) {
      const source = wanted
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.');
      return new RegExp(`^${source}$`, 's').test(actual);
    }
    if (name.endsWith('IpAddress')) {
      const [base = '', bits = '32'] = wanted.split('/');
      const octets = Number(bits) / 8;
      return actual.split('.').slice(0, octets).join('.') === base.split('.').slice(0, octets).join('.');
    }
    return actual === wanted;
  };
  const satisfied = (actual: string): boolean => {
    const matched = values.some((wanted) => one(actual, wanted));
    return negated ? !matched : matched;
  };
  return all ? request.every(satisfied) : request.some(satisfied);
}

describe('compileCondition against a reference reading of IAM (property)', () => {
  const qualifier = fc.constantFrom('', 'ForAnyValue:', 'ForAllValues:');
  const ifExists = fc.constantFrom('', 'IfExists');
  const octet = fc.constantFrom('10', '127', '0', '255');
  const address = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));

  it('decides string conditions on client ids and connect attributes as the reference does', () => {
    const text = fc.stringMatching(/^[ab*?]{0,4}$/);
    const clause = fc.record({
      qualifier,
      base: fc.constantFrom('StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike'),
      ifExists,
      key: fc.constantFrom('iot:ClientId', 'iot:ConnectAttributes'),
      values: fc.array(text, { minLength: 1, maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(clause, { minLength: 1, maxLength: 3 }),
        fc.option(fc.stringMatching(/^[ab]{0,3}$/), { nil: null }),
        fc.option(fc.array(fc.stringMatching(/^[ab]{0,3}$/), { maxLength: 3 }), { nil: undefined }),
        (clauses, clientId, attributes) => {
          const condition: Record<string, Record<string, string[]>> = {};
          for (const c of clauses) {
            // A key appears once per operator: a later clause for it replaces the earlier one, as in JSON.
            (condition[`${c.qualifier}${c.base}${c.ifExists}`] ??= {})[c.key] = c.values;
          }
          const request = (key: string) =>
            key === 'iot:ClientId' ? (clientId === null ? undefined : [clientId]) : attributes;
          const want = Object.entries(condition).every(([operator, block]) =>
            Object.entries(block).every(([key, values]) => referenceHolds(operator, values, request(key))),
          );
          const context = attributes === undefined ? {} : { connectAttributes: attributes };
          expect(holds(condition, context, clientId)).toBe(want);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decides IP address conditions as the reference does', () => {
    const range = fc.tuple(address, fc.constantFrom(8, 16, 24, 32)).map(
      ([a, bits]) =>
        `${a
          .split('.')
          .slice(0, bits / 8)
          .concat(['0', '0', '0'])
          .slice(0, 4)
          .join('.')}/${bits}`,
    );
    fc.assert(
      fc.property(
        qualifier,
        fc.constantFrom('IpAddress', 'NotIpAddress'),
        ifExists,
        fc.array(range, { minLength: 1, maxLength: 3 }),
        fc.option(address, { nil: undefined }),
        (q, base, exists, ranges, sourceIp) => {
          const operator = `${q}${base}${exists}`;
          const want = referenceHolds(operator, ranges, sourceIp === undefined ? undefined : [sourceIp]);
          const context = sourceIp === undefined ? {} : { sourceIp };
          expect(holds({ [operator]: { 'aws:SourceIp': ranges } }, context)).toBe(want);
        },
      ),
      { numRuns: 500 },
    );
  });
});
