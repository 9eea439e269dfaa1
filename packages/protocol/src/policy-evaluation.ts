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
 * - `Condition` blocks are evaluated with IAM semantics on the request's `context` (see `policy-conditions.ts`):
 *   a statement applies only when its condition holds. A statement whose condition uses a key, operator or
 *   value this evaluator cannot read applies to nothing, whatever its effect, and every decision it could have
 *   changed says so in its reason. Variables the context provides (`${aws:SourceIp}`, `${iot:DomainName}`)
 *   resolve in resources and condition values as `${iot:ClientId}` does.
 * - `NotAction` / `NotResource` are evaluated with IAM semantics (the statement applies to everything except).
 *
 * Documents are compiled once (`compilePolicies`) and the compiled set evaluates each request: a connection
 * pays for parsing when it is authorized or its policy refreshed, not on every message.
 */

import {
  compileCondition,
  contextVariables,
  type CompiledCondition,
  type ConditionInput,
  type PolicyRequestContext,
} from './policy-conditions';
import { segmentsMatch, wildcardSegments, type WildcardSegment } from './wildcard-match';

export type { PolicyRequestContext } from './policy-conditions';

/** One request to authorize: an action on a resource ARN, with the values of the policy variables. */
export interface PolicyRequest {
  /** E.g. `iot:Connect`. */
  readonly action: string;
  /** E.g. `arn:aws:iot:us-east-1:000000000000:client/test-1`. */
  readonly resource: string;
  /** Policy variable values by name without `${}`, e.g. `{ 'iot:ClientId': 'test-1' }`. */
  readonly variables?: Readonly<Record<string, string>>;
  /**
   * What `Condition` blocks read (source IP, time, domain, connect attributes). Without it those keys are
   * absent from the request, with IAM's consequences (a `StringEquals` on one is false, a `Null: true` true).
   */
  readonly context?: PolicyRequestContext;
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
 * An authorizer's policy documents, parsed and validated once (when a connection is authorized or its
 * policy refreshed) and then evaluated for every request of that connection: PUBLISH, SUBSCRIBE filter and
 * delivery never re-read the documents. Immutable: evaluation reads only what compiling copied out of the
 * documents, so changing a document object afterwards changes no decision.
 */
export interface CompiledPolicies {
  /**
   * The documents as plain objects (JSON strings parsed), in order, for logs and tests; a document that is
   * not a JSON object is left out (it is among `problems`).
   */
  readonly documents: readonly Readonly<Record<string, unknown>>[];
  /**
   * Every problem that makes a document unusable (not JSON, no statements, an effect that is neither Allow
   * nor Deny, ...), as sentences naming the document (1-based) and statement; empty when all are valid. The
   * custom-auth pipeline refuses an authorizer response whose documents have any of these problems.
   */
  readonly problems: readonly string[];
  /**
   * Evaluates `request` against all the documents together, as AWS IoT evaluates the policies an authorizer
   * returns. When a document has problems every request is denied, naming the first such document's problems.
   */
  evaluate(request: PolicyRequest): PolicyDecision;
}

/**
 * Parses and validates `documents` (objects or JSON strings, as an authorizer returns them) once, into a set
 * that evaluates requests without reading them again. Never throws: problems are in `problems` and deny.
 */
export function compilePolicies(documents: readonly unknown[]): CompiledPolicies {
  return new CompiledPolicySet(documents);
}

/**
 * Evaluates one request against `documents` (objects or JSON strings): `compilePolicies(documents).evaluate`
 * for a single decision. Whoever evaluates the same documents repeatedly compiles them once instead.
 */
export function evaluatePolicies(documents: readonly unknown[], request: PolicyRequest): PolicyDecision {
  return compilePolicies(documents).evaluate(request);
}

/**
 * A resource pattern ready to match: its wildcard segments, or (in a document that substitutes policy
 * variables) segments and variable references resolved per request.
 */
type ResourcePattern =
  | { readonly segments: readonly WildcardSegment[] }
  | { readonly parts: readonly (WildcardSegment | { readonly variable: string })[] };

interface CompiledStatement {
  /** E.g. "statement ConnectWithPrefix of policy document 1". */
  readonly where: string;
  readonly effect: Effect;
  /** Lower-cased: actions match case-insensitively. */
  readonly actions?: readonly (readonly WildcardSegment[])[];
  readonly notActions?: readonly (readonly WildcardSegment[])[];
  readonly resources?: readonly ResourcePattern[];
  readonly notResources?: readonly ResourcePattern[];
  readonly condition?: CompiledCondition;
  /** Why the statement can never apply (its Condition cannot be evaluated), if it cannot. */
  readonly unusable?: string;
}

/** How one statement relates to a request. */
type StatementMatch = { readonly applies: true } | { readonly applies: false; readonly note?: string };

class CompiledPolicySet implements CompiledPolicies {
  readonly documents: readonly Readonly<Record<string, unknown>>[];
  readonly problems: readonly string[];
  /** Every statement of every document, in evaluation order (document, then statement). */
  readonly #statements: readonly CompiledStatement[];
  /** The deny reason of a set with an invalid document. */
  readonly #invalid: string | undefined;

  constructor(input: readonly unknown[]) {
    const documents: Readonly<Record<string, unknown>>[] = [];
    const problems: string[] = [];
    const statements: CompiledStatement[] = [];
    let invalid: string | undefined;
    input.forEach((document, index) => {
      const parsed = parseDocument(document, index + 1);
      if (parsed.value !== undefined) documents.push(parsed.value);
      if (parsed.problems.length > 0) {
        problems.push(...parsed.problems);
        invalid ??= `invalid policy: ${parsed.problems.join('; ')}`;
      } else {
        statements.push(...parsed.statements);
      }
    });
    this.documents = Object.freeze(documents);
    this.problems = Object.freeze(problems);
    this.#statements = Object.freeze(statements);
    this.#invalid = invalid;
  }

  evaluate(request: PolicyRequest): PolicyDecision {
    if (this.#invalid !== undefined) return { allowed: false, reason: this.#invalid };
    const variables =
      request.context === undefined
        ? (request.variables ?? {})
        : { ...contextVariables(request.context), ...request.variables };
    const input: ConditionInput = { context: request.context ?? {}, variables };
    const action = request.action.toLowerCase();
    let allow: string | undefined;
    // Statements that matched the action and resource but did not apply, and why.
    const unusableDenies: string[] = [];
    const failedAllows: string[] = [];
    for (const statement of this.#statements) {
      const match = statementMatch(statement, action, request.resource, input);
      if (!match.applies) {
        if (match.note === undefined) continue;
        const note = `${statement.where} does not apply: ${match.note}`;
        if (statement.effect === 'Allow') failedAllows.push(note);
        else if (statement.unusable !== undefined) unusableDenies.push(note);
        continue;
      }
      if (statement.effect === 'Deny') {
        return { allowed: false, reason: `explicitly denied by ${statement.where}` };
      }
      allow ??= `allowed by ${statement.where}`;
    }
    if (allow !== undefined) return { allowed: true, reason: withNotes(allow, unusableDenies) };
    return {
      allowed: false,
      reason: withNotes(`policy has no Allow for ${request.action} on ${request.resource}`, [
        ...failedAllows,
        ...unusableDenies,
      ]),
    };
  }
}

function withNotes(reason: string, notes: readonly string[]): string {
  return notes.length === 0 ? reason : `${reason} (${notes.join('; ')})`;
}

/**
 * Whether `statement` applies: its action and resource match and its condition holds. When only the
 * condition kept it from applying, `note` says how.
 */
function statementMatch(
  statement: CompiledStatement,
  action: string,
  resource: string,
  input: ConditionInput,
): StatementMatch {
  if (!actionAndResourceMatch(statement, action, resource, input.variables)) return { applies: false };
  if (statement.unusable !== undefined) return { applies: false, note: statement.unusable };
  const failure = statement.condition?.failure(input);
  return failure === undefined ? { applies: true } : { applies: false, note: failure };
}

function actionAndResourceMatch(
  statement: CompiledStatement,
  action: string,
  resource: string,
  variables: Readonly<Record<string, string>>,
): boolean {
  const actionMatches = (patterns: readonly (readonly WildcardSegment[])[]): boolean =>
    patterns.some((segments) => segmentsMatch(segments, action));
  if (statement.actions !== undefined && !actionMatches(statement.actions)) return false;
  if (statement.notActions !== undefined && actionMatches(statement.notActions)) return false;
  const resourceMatches = (patterns: readonly ResourcePattern[]): boolean =>
    patterns.some((pattern) => {
      const segments = resolvePattern(pattern, variables);
      return segments !== undefined && segmentsMatch(segments, resource);
    });
  if (statement.resources !== undefined && !resourceMatches(statement.resources)) return false;
  if (statement.notResources !== undefined && resourceMatches(statement.notResources)) return false;
  return true;
}

const VARIABLE = /\$\{([^}]*)\}/g;

/**
 * Splits a resource pattern once. In a document that substitutes variables, `${name}` becomes a reference
 * resolved per request, except `${*}`, `${?}` and `${$}`, which stand for the literal characters.
 */
function compileResource(pattern: string, substitutesVariables: boolean): ResourcePattern {
  if (!substitutesVariables) return { segments: wildcardSegments(pattern) };
  const parts: (WildcardSegment | { readonly variable: string })[] = [];
  let last = 0;
  for (const match of pattern.matchAll(VARIABLE)) {
    parts.push(...wildcardSegments(pattern.slice(last, match.index)));
    const name = match[1] ?? '';
    parts.push(name === '*' || name === '?' || name === '$' ? { literal: name } : { variable: name });
    last = match.index + match[0].length;
  }
  parts.push(...wildcardSegments(pattern.slice(last)));
  return { parts };
}

/**
 * The pattern's segments with the policy variables' values substituted as literal text (never a wildcard).
 * Returns `undefined` when a variable has no value, so the pattern matches nothing.
 */
function resolvePattern(
  pattern: ResourcePattern,
  variables: Readonly<Record<string, string>>,
): readonly WildcardSegment[] | undefined {
  if ('segments' in pattern) return pattern.segments;
  const segments: WildcardSegment[] = [];
  for (const part of pattern.parts) {
    if ('variable' in part) {
      const value = Object.prototype.hasOwnProperty.call(variables, part.variable)
        ? variables[part.variable]
        : undefined;
      if (value === undefined) return undefined;
      segments.push({ literal: value });
    } else {
      segments.push(part);
    }
  }
  return segments;
}

/** One document read once: the object (when it is one), its statements compiled, or its problems. */
interface ParsedDocument {
  readonly value?: Readonly<Record<string, unknown>>;
  readonly statements: readonly CompiledStatement[];
  readonly problems: readonly string[];
}

function parseDocument(document: unknown, number: number): ParsedDocument {
  const name = `policy document ${number}`;
  let json = document;
  if (typeof document === 'string') {
    try {
      json = JSON.parse(document);
    } catch (error) {
      return { statements: [], problems: [`${name} is not valid JSON (${(error as Error).message})`] };
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { statements: [], problems: [`${name} is not a JSON object`] };
  }
  const value = json as Record<string, unknown>;
  const problems: string[] = [];
  const version = value.Version;
  if (version !== undefined && (typeof version !== 'string' || !KNOWN_VERSIONS.has(version))) {
    problems.push(`${name} has Version ${JSON.stringify(version)}; use "${CURRENT_VERSION}"`);
  }
  const substitutesVariables = version === CURRENT_VERSION;
  const rawStatements = Array.isArray(value.Statement) ? (value.Statement as unknown[]) : [value.Statement];
  if (value.Statement === undefined || rawStatements.length === 0) {
    problems.push(`${name} has no Statement`);
  }
  const statements: CompiledStatement[] = [];
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
    const compileActions = (list: readonly string[]) => list.map((a) => wildcardSegments(a.toLowerCase()));
    const compileResources = (list: readonly string[]) =>
      list.map((r) => compileResource(r, substitutesVariables));
    const condition =
      s.Condition === undefined ? undefined : compileCondition(s.Condition, substitutesVariables);
    if (condition?.kind === 'problem') problems.push(`${at} ${condition.problem}`);
    statements.push({
      where: at,
      effect: s.Effect === 'Deny' ? 'Deny' : 'Allow',
      ...(actions && { actions: compileActions(actions) }),
      ...(notActions && { notActions: compileActions(notActions) }),
      ...(resources && { resources: compileResources(resources) }),
      ...(notResources && { notResources: compileResources(notResources) }),
      ...(condition?.kind === 'condition' && { condition: condition.condition }),
      ...(condition?.kind === 'unusable' && { unusable: condition.reason }),
    });
  });
  return problems.length > 0 ? { value, statements: [], problems } : { value, statements, problems };
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
