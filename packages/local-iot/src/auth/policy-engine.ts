/**
 * AWS IoT policy evaluation with IAM logic: implicit deny, any matching Allow grants, any matching Deny wins.
 *
 * Matching rules (as AWS IoT documents them):
 * - `Action` and `Resource` are a string or an array of strings; `Statement` an object or an array.
 * - Actions match case-insensitively with `*` and `?` wildcards (`iot:*`, `*`, `iot:Pub*`).
 * - Resources match case-sensitively; `*` matches any run of characters including `/`, `?` exactly one;
 *   MQTT `+` and `#` are literal characters.
 * - Policy variables (`${iot:ClientId}`, ...) are substituted when the document's `Version` is `2012-10-17`
 *   (IAM ignores them in older versions); the substituted value is literal text, never a wildcard. `${*}`,
 *   `${?}` and `${$}` stand for the literal characters.
 * - A resource pattern with a variable that cannot be resolved (e.g. `${iot:Connection.Thing.ThingName}`
 *   under plain custom auth) matches nothing, whatever the effect, as in IAM: such an Allow grants nothing,
 *   and such a Deny does not apply.
 * - `Condition` blocks are not evaluated: a statement with one is treated as not matching when it allows and
 *   as matching when it denies (fail closed), and the reason says so.
 * - `NotAction` / `NotResource` are evaluated with IAM semantics (the statement applies to everything except).
 */

/** One request to authorize: an action on a resource ARN, with the values of the policy variables. */
export interface PolicyRequest {
  /** E.g. `iot:Connect`. */
  readonly action: string;
  /** E.g. `arn:aws:iot:us-east-1:000000000000:client/test-1`. */
  readonly resource: string;
  /** Policy variable values by name without `${}`, e.g. `{ 'iot:ClientId': 'test-1' }`. */
  readonly variables?: Readonly<Record<string, string>>;
}

/** The outcome of evaluating policies, with the exact reason. */
export interface PolicyDecision {
  readonly allowed: boolean;
  /**
   * E.g. "allowed by statement ConnectWithPrefix of policy document 1",
   * "policy has no Allow for iot:Connect on arn:aws:iot:us-east-1:000000000000:client/foo",
   * "explicitly denied by statement 2 of policy document 1".
   */
  readonly reason: string;
}

type Effect = 'Allow' | 'Deny';

interface ParsedStatement {
  readonly label: string;
  readonly effect: Effect;
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly resources?: readonly string[];
  readonly notResources?: readonly string[];
  readonly hasCondition: boolean;
}

interface ParsedDocument {
  readonly substitutesVariables: boolean;
  readonly statements: readonly ParsedStatement[];
}

/** Result of parsing one document: the statements, or every problem found (1-based document number). */
type ParseResult =
  | { readonly ok: true; readonly document: ParsedDocument }
  | { readonly ok: false; readonly problems: string[] };

const CURRENT_VERSION = '2012-10-17';
const KNOWN_VERSIONS = new Set([CURRENT_VERSION, '2008-10-17']);
const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);

/**
 * Every problem that makes a policy document unusable (not JSON, no statements, an effect that is neither
 * Allow nor Deny, ...), as sentences naming the document (1-based) and statement. Empty when all are valid.
 * The custom-auth pipeline refuses an authorizer response whose documents have any of these problems.
 */
export function policyDocumentProblems(documents: readonly unknown[]): string[] {
  return documents.flatMap((document, index) => {
    const parsed = parseDocument(document, index + 1);
    return parsed.ok ? [] : parsed.problems;
  });
}

/**
 * Parses documents given as objects or JSON strings into plain objects (as the gateway keeps them for the
 * session). Throws nothing: call `policyDocumentProblems` first; documents that are not JSON objects are skipped.
 */
export function policyDocumentObjects(documents: readonly unknown[]): Record<string, unknown>[] {
  return documents.flatMap((document) => {
    const value = toObject(document);
    return value === undefined ? [] : [value];
  });
}

/**
 * Evaluates `request` against all `documents` (objects or JSON strings) together, as AWS IoT evaluates the
 * policies an authorizer returns. A document with problems (see `policyDocumentProblems`) denies, naming them.
 */
export function evaluatePolicies(documents: readonly unknown[], request: PolicyRequest): PolicyDecision {
  const parsed: ParsedDocument[] = [];
  for (const [index, document] of documents.entries()) {
    const result = parseDocument(document, index + 1);
    if (!result.ok) return { allowed: false, reason: `invalid policy: ${result.problems.join('; ')}` };
    parsed.push(result.document);
  }
  const variables = request.variables ?? {};
  let allow: string | undefined;
  for (const [docIndex, document] of parsed.entries()) {
    for (const statement of document.statements) {
      if (!statementApplies(statement, document, request, variables)) continue;
      const where = `statement ${statement.label} of policy document ${docIndex + 1}`;
      if (statement.effect === 'Deny') {
        const note = statement.hasCondition
          ? ' (its Condition is not evaluated locally: a Deny with one always applies)'
          : '';
        return { allowed: false, reason: `explicitly denied by ${where}${note}` };
      }
      allow ??= `allowed by ${where}`;
    }
  }
  if (allow !== undefined) return { allowed: true, reason: allow };
  return { allowed: false, reason: `policy has no Allow for ${request.action} on ${request.resource}` };
}

function statementApplies(
  statement: ParsedStatement,
  document: ParsedDocument,
  request: PolicyRequest,
  variables: Readonly<Record<string, string>>,
): boolean {
  // Fail closed on what is not evaluated: an Allow with a Condition grants nothing, a Deny with one applies.
  if (statement.hasCondition && statement.effect === 'Allow') return false;
  const actionMatches = (patterns: readonly string[]): boolean =>
    patterns.some((pattern) => wildcardMatch(pattern.toLowerCase(), request.action.toLowerCase()));
  if (statement.actions !== undefined && !actionMatches(statement.actions)) return false;
  if (statement.notActions !== undefined && actionMatches(statement.notActions)) return false;
  const resourceMatches = (patterns: readonly string[]): boolean =>
    patterns.some((pattern) => {
      const expanded = document.substitutesVariables
        ? expandVariables(pattern, variables)
        : literalPattern(pattern);
      return expanded !== undefined && segmentsMatch(expanded, request.resource);
    });
  if (statement.resources !== undefined && !resourceMatches(statement.resources)) return false;
  if (statement.notResources !== undefined && resourceMatches(statement.notResources)) return false;
  return true;
}

/** A pattern as a list of segments: literal text, or a wildcard (`*` any run, `?` one character). */
type Segment = { readonly literal: string } | { readonly wildcard: '*' | '?' };

const VARIABLE = /\$\{([^}]*)\}/g;

/**
 * Splits a resource pattern into segments, substituting policy variables as literal text.
 * Returns `undefined` when a variable has no value, so the pattern matches nothing.
 */
function expandVariables(
  pattern: string,
  variables: Readonly<Record<string, string>>,
): Segment[] | undefined {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of pattern.matchAll(VARIABLE)) {
    segments.push(...literalPattern(pattern.slice(last, match.index)));
    const name = match[1] ?? '';
    if (name === '*' || name === '?' || name === '$') {
      segments.push({ literal: name });
    } else {
      const value = Object.prototype.hasOwnProperty.call(variables, name) ? variables[name] : undefined;
      if (value === undefined) return undefined;
      segments.push({ literal: value });
    }
    last = match.index + match[0].length;
  }
  segments.push(...literalPattern(pattern.slice(last)));
  return segments;
}

/** Segments of a pattern without variables. */
function literalPattern(pattern: string): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  for (const char of pattern) {
    if (char === '*' || char === '?') {
      if (text) segments.push({ literal: text });
      text = '';
      segments.push({ wildcard: char });
    } else {
      text += char;
    }
  }
  if (text) segments.push({ literal: text });
  return segments;
}

function wildcardMatch(pattern: string, text: string): boolean {
  return segmentsMatch(literalPattern(pattern), text);
}

/**
 * Glob match without backtracking blow-up: dynamic programming over (segment, position) pairs, so a hostile
 * pattern such as `*a*a*a*a*b` against a long resource stays linear in pattern × text.
 */
function segmentsMatch(segments: readonly Segment[], text: string): boolean {
  const chars = [...text];
  let positions = new Set<number>([0]);
  for (const segment of segments) {
    const next = new Set<number>();
    if ('wildcard' in segment) {
      if (segment.wildcard === '?') {
        for (const p of positions) if (p < chars.length) next.add(p + 1);
      } else {
        const from = Math.min(...positions);
        for (let p = from; p <= chars.length; p++) next.add(p);
      }
    } else {
      const literal = [...segment.literal];
      for (const p of positions) {
        if (literal.every((c, i) => chars[p + i] === c)) next.add(p + literal.length);
      }
    }
    if (next.size === 0) return false;
    positions = next;
  }
  return positions.has(chars.length);
}

function toObject(document: unknown): Record<string, unknown> | undefined {
  let value = document;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

function parseDocument(document: unknown, number: number): ParseResult {
  const name = `policy document ${number}`;
  if (typeof document === 'string') {
    try {
      JSON.parse(document);
    } catch (error) {
      return { ok: false, problems: [`${name} is not valid JSON (${(error as Error).message})`] };
    }
  }
  const value = toObject(document);
  if (value === undefined) return { ok: false, problems: [`${name} is not a JSON object`] };
  const problems: string[] = [];
  const version = value.Version;
  if (version !== undefined && (typeof version !== 'string' || !KNOWN_VERSIONS.has(version))) {
    problems.push(`${name} has Version ${JSON.stringify(version)}; use "${CURRENT_VERSION}"`);
  }
  const rawStatements = Array.isArray(value.Statement) ? (value.Statement as unknown[]) : [value.Statement];
  if (value.Statement === undefined || rawStatements.length === 0) {
    problems.push(`${name} has no Statement`);
  }
  const statements: ParsedStatement[] = [];
  rawStatements.forEach((raw, index) => {
    if (value.Statement === undefined) return;
    const label = `${index + 1}`;
    const where = `statement ${label} of ${name}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${where} is not an object`);
      return;
    }
    const s = raw as Record<string, unknown>;
    const sid = typeof s.Sid === 'string' && s.Sid.length > 0 ? s.Sid : undefined;
    const at = `statement ${sid ?? label} of ${name}`;
    for (const key of Object.keys(s)) {
      if (!STATEMENT_KEYS.has(key)) problems.push(`${at} has unknown element ${JSON.stringify(key)}`);
    }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') {
      problems.push(`${at} has Effect ${JSON.stringify(s.Effect)}; it must be "Allow" or "Deny"`);
    }
    const actions = stringList(s, 'Action', at, problems);
    const notActions = stringList(s, 'NotAction', at, problems);
    const resources = stringList(s, 'Resource', at, problems);
    const notResources = stringList(s, 'NotResource', at, problems);
    if ((actions === undefined) === (notActions === undefined)) {
      problems.push(`${at} must have exactly one of Action and NotAction`);
    }
    if ((resources === undefined) === (notResources === undefined)) {
      problems.push(`${at} must have exactly one of Resource and NotResource`);
    }
    statements.push({
      label: sid ?? label,
      effect: s.Effect === 'Deny' ? 'Deny' : 'Allow',
      ...(actions && { actions }),
      ...(notActions && { notActions }),
      ...(resources && { resources }),
      ...(notResources && { notResources }),
      hasCondition: s.Condition !== undefined,
    });
  });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, document: { substitutesVariables: version === CURRENT_VERSION, statements } };
}

function stringList(
  statement: Record<string, unknown>,
  key: string,
  where: string,
  problems: string[],
): string[] | undefined {
  const value = statement[key];
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0 || !list.every((item): item is string => typeof item === 'string')) {
    problems.push(`${where} has ${key} that is neither a string nor a non-empty array of strings`);
    return undefined;
  }
  return list;
}
