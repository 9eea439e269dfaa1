/**
 * IAM `Condition` blocks, as AWS IoT Core evaluates them in the policies a custom authorizer returns.
 *
 * IAM semantics (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html):
 * - every operator of a block must hold, and every key under an operator (AND); any one of a key's values
 *   may match (OR); for a negated operator (`StringNotEquals`, `NotIpAddress`, ...) none may (NOR);
 * - condition key names are case-insensitive; values are compared as the operator says;
 * - a key the request does not have: the condition is false, except for a negated operator (true),
 *   `...IfExists` (true) and `Null` (which tests exactly that);
 * - `ForAnyValue:` holds when some request value satisfies the operator (false without the key);
 *   `ForAllValues:` when every request value does (true without the key);
 * - policy variables (`${iot:ClientId}`, `${aws:SourceIp}`, ...) in condition values are substituted in
 *   documents of Version `2012-10-17`, as literal text (also under `StringLike`).
 *
 * Keys (https://docs.aws.amazon.com/iot/latest/developerguide/basic-policy-variables.html,
 * https://docs.aws.amazon.com/iot/latest/developerguide/connect-policy.html): `aws:SourceIp`,
 * `aws:CurrentTime`, `aws:EpochTime`, `iot:ClientId`, `iot:DomainName`, `iot:ConnectAttributes` (on
 * `iot:Connect`: `PersistentConnect`, `LastWill`); thing and certificate keys (`iot:Connection.Thing.*`,
 * `iot:Certificate.*`) are known but have no value under custom authentication without X.509, so they are
 * absent. [choice] Any other key, an operator AWS IoT's keys have no use for (`Arn*`, `Binary*`) or one
 * IAM does not have, and a value the operator cannot read (a number that is not one, a date, an address)
 * make the statement not apply at all, whatever its effect, and the decision's reason names the problem:
 * AWS would reject such a document when it is created, and an authorizer's answer is never checked that
 * way, so failing to match is the one outcome that neither grants nor denies on a guess.
 */

import { BlockList, isIP } from 'node:net';
import { segmentsMatch, wildcardSegments, type WildcardSegment } from './wildcard-match';

/**
 * Facts about the request that condition keys and policy variables read, beyond the client id (which is
 * `PolicyRequest.variables['iot:ClientId']`). Every field is optional: a key whose fact is not given is
 * absent from the request, with IAM's consequences.
 */
export interface PolicyRequestContext {
  /** `aws:SourceIp`: the device's IP address as the gateway sees it (IPv4, IPv6 or IPv4-mapped IPv6). */
  readonly sourceIp?: string;
  /** `aws:CurrentTime` and `aws:EpochTime`: the time of the request, in milliseconds since the epoch. */
  readonly currentTimeMs?: number;
  /** `iot:DomainName`: the endpoint name the device connected to (its TLS SNI). */
  readonly domainName?: string;
  /** `iot:ConnectAttributes`, on `iot:Connect` only: `PersistentConnect`, `LastWill`. */
  readonly connectAttributes?: readonly string[];
}

/** What a condition reads from one request. */
export interface ConditionInput {
  readonly context: PolicyRequestContext;
  /** The policy variables, context-derived ones included. */
  readonly variables: Readonly<Record<string, string>>;
}

/** A compiled `Condition` block. */
export interface CompiledCondition {
  /**
   * `undefined` when every clause holds for `input`, else the first clause that does not, in words, e.g.
   * `IpAddress aws:SourceIp ["10.0.0.0/8"] does not hold for 127.0.0.1`.
   */
  failure(input: ConditionInput): string | undefined;
}

/** What compiling a `Condition` gives: a condition, a reason it can never apply, or a structural problem. */
export type ConditionCompilation =
  | { readonly kind: 'condition'; readonly condition: CompiledCondition }
  /** The statement does not apply: an unknown operator or key, or a value its operator cannot read. */
  | { readonly kind: 'unusable'; readonly reason: string }
  /** Not a Condition block at all (not an object of objects of strings): the document is invalid. */
  | { readonly kind: 'problem'; readonly problem: string };

/** The variables a context provides, by name, for substitution in resources and condition values. */
export function contextVariables(context: PolicyRequestContext | undefined): Record<string, string> {
  const variables: Record<string, string> = {};
  if (context?.sourceIp !== undefined) variables['aws:SourceIp'] = normalizeIp(context.sourceIp);
  if (context?.domainName !== undefined) variables['iot:DomainName'] = context.domainName;
  return variables;
}

type Kind = 'string' | 'numeric' | 'date' | 'bool' | 'ip' | 'null';

interface OperatorSpec {
  readonly kind: Kind;
  /** How a request value compares with one policy value (already parsed for the kind). */
  readonly compare: string;
  readonly negated: boolean;
}

const OPERATORS: Readonly<Record<string, OperatorSpec>> = {
  StringEquals: { kind: 'string', compare: 'equals', negated: false },
  StringNotEquals: { kind: 'string', compare: 'equals', negated: true },
  StringEqualsIgnoreCase: { kind: 'string', compare: 'equalsIgnoreCase', negated: false },
  StringNotEqualsIgnoreCase: { kind: 'string', compare: 'equalsIgnoreCase', negated: true },
  StringLike: { kind: 'string', compare: 'like', negated: false },
  StringNotLike: { kind: 'string', compare: 'like', negated: true },
  NumericEquals: { kind: 'numeric', compare: 'eq', negated: false },
  NumericNotEquals: { kind: 'numeric', compare: 'eq', negated: true },
  NumericLessThan: { kind: 'numeric', compare: 'lt', negated: false },
  NumericLessThanEquals: { kind: 'numeric', compare: 'le', negated: false },
  NumericGreaterThan: { kind: 'numeric', compare: 'gt', negated: false },
  NumericGreaterThanEquals: { kind: 'numeric', compare: 'ge', negated: false },
  DateEquals: { kind: 'date', compare: 'eq', negated: false },
  DateNotEquals: { kind: 'date', compare: 'eq', negated: true },
  DateLessThan: { kind: 'date', compare: 'lt', negated: false },
  DateLessThanEquals: { kind: 'date', compare: 'le', negated: false },
  DateGreaterThan: { kind: 'date', compare: 'gt', negated: false },
  DateGreaterThanEquals: { kind: 'date', compare: 'ge', negated: false },
  Bool: { kind: 'bool', compare: 'equals', negated: false },
  IpAddress: { kind: 'ip', compare: 'in', negated: false },
  NotIpAddress: { kind: 'ip', compare: 'in', negated: true },
  Null: { kind: 'null', compare: 'null', negated: false },
};

/** The keys, lower-cased (key names are case-insensitive), and how a request provides each. */
const KEYS: Readonly<Record<string, (input: ConditionInput) => readonly string[] | undefined>> = {
  'aws:sourceip': ({ context }) =>
    context.sourceIp === undefined ? undefined : [normalizeIp(context.sourceIp)],
  'aws:currenttime': ({ context }) =>
    context.currentTimeMs === undefined ? undefined : [new Date(context.currentTimeMs).toISOString()],
  'aws:epochtime': ({ context }) =>
    context.currentTimeMs === undefined ? undefined : [String(Math.floor(context.currentTimeMs / 1000))],
  'iot:clientid': ({ variables }) => {
    const id = variables['iot:ClientId'];
    return id === undefined ? undefined : [id];
  },
  'iot:domainname': ({ context }) => (context.domainName === undefined ? undefined : [context.domainName]),
  'iot:connectattributes': ({ context }) => context.connectAttributes,
};

/** Documented keys that have no value under custom authentication without a client certificate. */
const ABSENT_KEY_PATTERNS: readonly RegExp[] = [
  /^iot:connection\.thing\.(thingname|thingtypename|isattached)$/,
  /^iot:connection\.thing\.attributes\[[^\]]+\]$/,
  /^iot:certificate\.[a-z.]+(\.[0-9]+)?$/,
];

const KEY_LIST =
  'aws:SourceIp, aws:CurrentTime, aws:EpochTime, iot:ClientId, iot:DomainName, iot:ConnectAttributes, iot:Connection.Thing.*';

type RequestValues = (input: ConditionInput) => readonly string[] | undefined;

function keyReader(key: string): RequestValues | undefined {
  const lower = key.toLowerCase();
  const reader = KEYS[lower];
  if (reader) return reader;
  if (ABSENT_KEY_PATTERNS.some((pattern) => pattern.test(lower))) return () => undefined;
  return undefined;
}

/** One policy value, with its variables resolved per request when it has any. */
type ValueTemplate =
  | { readonly text: string }
  | { readonly parts: readonly ({ readonly literal: string } | { readonly variable: string })[] };

const VARIABLE = /\$\{([^}]*)\}/g;

function valueTemplate(text: string, substitutesVariables: boolean): ValueTemplate {
  if (!substitutesVariables || !text.includes('${')) return { text };
  const parts: ({ literal: string } | { variable: string })[] = [];
  let last = 0;
  for (const match of text.matchAll(VARIABLE)) {
    parts.push({ literal: text.slice(last, match.index) });
    const name = match[1] ?? '';
    parts.push(name === '*' || name === '?' || name === '$' ? { literal: name } : { variable: name });
    last = match.index + match[0].length;
  }
  parts.push({ literal: text.slice(last) });
  return { parts };
}

/**
 * The value's text with variables substituted, and for `StringLike` the wildcard segments with substituted
 * text literal. `undefined` when a variable has no value: [choice] such a value matches no request value.
 */
function resolveTemplate(
  template: ValueTemplate,
  variables: Readonly<Record<string, string>>,
): { readonly text: string; readonly segments: readonly WildcardSegment[] } | undefined {
  if ('text' in template) return { text: template.text, segments: wildcardSegments(template.text) };
  let text = '';
  const segments: WildcardSegment[] = [];
  for (const part of template.parts) {
    if ('variable' in part) {
      const value = Object.prototype.hasOwnProperty.call(variables, part.variable)
        ? variables[part.variable]
        : undefined;
      if (value === undefined) return undefined;
      text += value;
      segments.push({ literal: value });
    } else {
      text += part.literal;
      segments.push(...wildcardSegments(part.literal));
    }
  }
  return { text, segments };
}

/** A policy value read for its operator's kind: a number, a time, an address range, or text. */
type Comparand =
  | { readonly kind: 'text'; readonly text: string; readonly segments: readonly WildcardSegment[] }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'ip'; readonly list: BlockList };

/** Reads a resolved policy value for `kind`; a string saying why when it cannot. */
function comparand(
  kind: Kind,
  resolved: { readonly text: string; readonly segments: readonly WildcardSegment[] },
): Comparand | string {
  switch (kind) {
    case 'numeric': {
      const value = parseNumber(resolved.text);
      return value === undefined
        ? `${JSON.stringify(resolved.text)} is not a number`
        : { kind: 'number', value };
    }
    case 'date': {
      const value = parseDate(resolved.text);
      return value === undefined
        ? `${JSON.stringify(resolved.text)} is neither an ISO 8601 date nor epoch seconds`
        : { kind: 'number', value };
    }
    case 'ip': {
      const list = parseCidr(resolved.text);
      return list ?? `${JSON.stringify(resolved.text)} is not an IP address or CIDR range`;
    }
    case 'bool':
      if (!/^(true|false)$/i.test(resolved.text))
        return `${JSON.stringify(resolved.text)} is not true or false`;
      return { kind: 'text', text: resolved.text.toLowerCase(), segments: [] };
    case 'null':
      if (!/^(true|false)$/i.test(resolved.text))
        return `${JSON.stringify(resolved.text)} is not true or false`;
      return { kind: 'text', text: resolved.text.toLowerCase(), segments: [] };
    default:
      return { kind: 'text', text: resolved.text, segments: resolved.segments };
  }
}

/** Whether one request value matches one policy value under the operator, before negation. */
function matches(spec: OperatorSpec, value: string, policy: Comparand): boolean {
  if (policy.kind === 'ip') {
    const ip = normalizeIp(value);
    const family = isIP(ip);
    return family !== 0 && policy.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
  if (policy.kind === 'number') {
    const actual = spec.kind === 'date' ? parseDate(value) : parseNumber(value);
    if (actual === undefined) return false;
    switch (spec.compare) {
      case 'eq':
        return actual === policy.value;
      case 'lt':
        return actual < policy.value;
      case 'le':
        return actual <= policy.value;
      case 'gt':
        return actual > policy.value;
      default:
        return actual >= policy.value;
    }
  }
  switch (spec.compare) {
    case 'equalsIgnoreCase':
      return value.toLowerCase() === policy.text.toLowerCase();
    case 'like':
      return segmentsMatch(policy.segments, value);
    default:
      return (spec.kind === 'bool' ? value.toLowerCase() : value) === policy.text;
  }
}

interface Clause {
  /** E.g. `ForAnyValue:StringLike iot:ClientId ["test-*"]`, for reasons. */
  readonly label: string;
  readonly spec: OperatorSpec;
  readonly qualifier?: 'any' | 'all';
  readonly ifExists: boolean;
  readonly read: RequestValues;
  /** Values without variables, read once at compile time. */
  readonly fixed?: readonly Comparand[];
  /** Values with variables, read per request. */
  readonly templates?: readonly ValueTemplate[];
}

/**
 * Compiles a statement's `Condition` once. `substitutesVariables` is whether the document's Version
 * substitutes policy variables (`2012-10-17`).
 */
export function compileCondition(raw: unknown, substitutesVariables: boolean): ConditionCompilation {
  if (!isPlainObject(raw)) return { kind: 'problem', problem: 'has a Condition that is not an object' };
  const clauses: Clause[] = [];
  for (const [operatorName, block] of Object.entries(raw)) {
    if (!isPlainObject(block)) {
      return {
        kind: 'problem',
        problem: `has Condition operator ${operatorName} whose value is not an object`,
      };
    }
    const operator = parseOperator(operatorName);
    if (typeof operator === 'string') return { kind: 'unusable', reason: operator };
    for (const [key, rawValues] of Object.entries(block)) {
      const list = Array.isArray(rawValues) ? (rawValues as unknown[]) : [rawValues];
      const texts = list.map((v) =>
        typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined,
      );
      if (list.length === 0 || texts.some((t) => t === undefined)) {
        return {
          kind: 'problem',
          problem: `has Condition ${operatorName} ${JSON.stringify(key)} whose value is neither a string, number or boolean nor a non-empty array of them`,
        };
      }
      const read = keyReader(key);
      if (!read) {
        return {
          kind: 'unusable',
          reason: `its Condition key ${JSON.stringify(key)} is not one AWS IoT Core provides to custom-auth policies (${KEY_LIST})`,
        };
      }
      const templates = (texts as string[]).map((t) => valueTemplate(t, substitutesVariables));
      const label = `${operatorName} ${key} ${JSON.stringify(texts)}`;
      const clause = { label, read, ...operator };
      if (templates.every((t) => 'text' in t)) {
        const fixed: Comparand[] = [];
        for (const template of templates) {
          const read = comparand(
            operator.spec.kind,
            resolveTemplate(template, {}) as NonNullable<ReturnType<typeof resolveTemplate>>,
          );
          if (typeof read === 'string')
            return { kind: 'unusable', reason: `its Condition ${operatorName} ${key}: ${read}` };
          fixed.push(read);
        }
        clauses.push({ ...clause, fixed });
      } else {
        clauses.push({ ...clause, templates });
      }
    }
  }
  return { kind: 'condition', condition: { failure: (input) => firstFailure(clauses, input) } };
}

function parseOperator(
  name: string,
): { readonly spec: OperatorSpec; readonly qualifier?: 'any' | 'all'; readonly ifExists: boolean } | string {
  let rest = name;
  let qualifier: 'any' | 'all' | undefined;
  if (rest.startsWith('ForAnyValue:')) {
    qualifier = 'any';
    rest = rest.slice('ForAnyValue:'.length);
  } else if (rest.startsWith('ForAllValues:')) {
    qualifier = 'all';
    rest = rest.slice('ForAllValues:'.length);
  }
  const ifExists = rest.endsWith('IfExists') && rest !== 'IfExists';
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  const spec = Object.prototype.hasOwnProperty.call(OPERATORS, rest) ? OPERATORS[rest] : undefined;
  if (!spec || (spec.kind === 'null' && (ifExists || qualifier !== undefined))) {
    return `its Condition operator ${JSON.stringify(name)} is not one this evaluator supports for AWS IoT Core's keys (String*, Numeric*, Date*, Bool, IpAddress, NotIpAddress, Null, with ...IfExists, ForAnyValue:, ForAllValues:)`;
  }
  return { spec, ...(qualifier && { qualifier }), ifExists };
}

function firstFailure(clauses: readonly Clause[], input: ConditionInput): string | undefined {
  for (const clause of clauses) {
    if (!clauseHolds(clause, input)) {
      const values = clause.read(input);
      const actual =
        values === undefined ? 'the request has no such key' : `the request has ${JSON.stringify(values)}`;
      return `${clause.label} does not hold: ${actual}`;
    }
  }
  return undefined;
}

function clauseHolds(clause: Clause, input: ConditionInput): boolean {
  const values = clause.read(input);
  const present = values !== undefined && values.length > 0;
  const { spec } = clause;
  const policy = policyValues(clause, input);
  if (spec.kind === 'null') {
    return policy.some((p) => p.kind === 'text' && (p.text === 'true' ? !present : present));
  }
  if (!present) {
    if (clause.ifExists || clause.qualifier === 'all') return true;
    if (clause.qualifier === 'any') return false;
    return spec.negated;
  }
  const satisfied = (value: string): boolean => {
    const matched = policy.some((p) => matches(spec, value, p));
    return spec.negated ? !matched : matched;
  };
  return clause.qualifier === 'all' ? values.every(satisfied) : values.some(satisfied);
}

/** The clause's policy values for this request; a value with an unresolvable variable is left out. */
function policyValues(clause: Clause, input: ConditionInput): readonly Comparand[] {
  if (clause.fixed) return clause.fixed;
  const values: Comparand[] = [];
  for (const template of clause.templates ?? []) {
    const resolved = resolveTemplate(template, input.variables);
    if (resolved === undefined) continue;
    const read = comparand(clause.spec.kind, resolved);
    // A substituted value the operator cannot read matches nothing, as an unresolvable one.
    if (typeof read !== 'string') values.push(read);
  }
  return values;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseNumber(text: string): number | undefined {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text.trim())) return undefined;
  return Number(text);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch milliseconds of an ISO 8601 date or of epoch seconds (IAM accepts both for Date operators). */
function parseDate(text: string): number | undefined {
  if (/^\d{1,12}$/.test(text)) return Number(text) * 1000;
  if (!ISO_DATE.test(text)) return undefined;
  const value = Date.parse(text);
  return Number.isNaN(value) ? undefined : value;
}

/** An IPv4-mapped IPv6 address (how a dual-stack socket reports IPv4 peers) as the IPv4 address. */
function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? (mapped[1] as string) : ip;
}

function parseCidr(text: string): Comparand | undefined {
  const [address = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const ip = normalizeIp(address);
  const family = isIP(ip);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  const list = new BlockList();
  list.addSubnet(ip, prefix, family === 4 ? 'ipv4' : 'ipv6');
  return { kind: 'ip', list };
}
