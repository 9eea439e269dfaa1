import { segmentsMatch, type WildcardSegment } from '@iot-custom-auth/protocol';

/**
 * CloudWatch Logs filter patterns ("Filter pattern syntax for metric filters, subscription filters, filter log
 * events", https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html), the parts a
 * client realistically uses:
 *
 * - terms: `ERROR` matches events that contain it (case-sensitive); several terms must all appear;
 *   `"quoted phrase"` is one term; `?ERROR ?WARN` matches events with either; `-DEBUG` excludes events with it.
 * - JSON: `{ $.field = "value" }` on events that are JSON objects: selectors `$.a.b` and `$.a[0]`, operators
 *   `=`, `!=`, `<`, `<=`, `>`, `>=`, `IS NULL`, `NOT EXISTS`, `IS TRUE`, `IS FALSE`, string values with `*`
 *   wildcards (quoted or not), numbers, `&&` (binds tighter) and `||`, parentheses.
 *
 * Not supported, refused with a message saying so: space-delimited patterns (`[ip, user, ...]`) and regular
 * expressions (`%...%`).
 */
export type LogEventMatcher = (message: string) => boolean;

/** A filter pattern that cannot be read; the local Logs API answers it as `InvalidParameterException`. */
export class FilterPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterPatternError';
  }
}

/** CloudWatch's limit on `filterPattern`. */
export const MAX_FILTER_PATTERN_LENGTH = 1024;

/**
 * Compiles `pattern` once into a matcher; an empty or blank pattern matches every event.
 * @throws FilterPatternError naming what is wrong and where.
 */
export function compileFilterPattern(pattern: string | undefined): LogEventMatcher {
  if (pattern === undefined || pattern.trim() === '') return () => true;
  if (pattern.length > MAX_FILTER_PATTERN_LENGTH) {
    throw new FilterPatternError(
      `the filter pattern is ${pattern.length} characters long; CloudWatch Logs allows at most ${MAX_FILTER_PATTERN_LENGTH}`,
    );
  }
  const trimmed = pattern.trim();
  if (trimmed.startsWith('{')) return compileJsonPattern(trimmed);
  if (trimmed.startsWith('[')) {
    throw new FilterPatternError(
      'space-delimited filter patterns ([field1, field2, ...]) are not supported by local-iot; use terms or a JSON pattern { $.field = "value" }',
    );
  }
  return compileTermPattern(trimmed);
}

// ---- Term patterns ----------------------------------------------------------------------------------

function compileTermPattern(pattern: string): LogEventMatcher {
  const required: string[] = [];
  const optional: string[] = [];
  const excluded: string[] = [];
  let index = 0;
  while (index < pattern.length) {
    const char = pattern[index] as string;
    if (/\s/.test(char)) {
      index++;
      continue;
    }
    let target = required;
    if (char === '?' || char === '-') {
      target = char === '?' ? optional : excluded;
      index++;
    }
    const { term, next } = readTerm(pattern, index);
    target.push(term);
    index = next;
  }
  return (message) =>
    required.every((term) => message.includes(term)) &&
    (optional.length === 0 || optional.some((term) => message.includes(term))) &&
    !excluded.some((term) => message.includes(term));
}

/** One term at `start`: a quoted phrase or a run of non-space characters. */
function readTerm(pattern: string, start: number): { term: string; next: number } {
  if (pattern[start] === '"') {
    const { value, next } = readQuoted(pattern, start);
    if (value === '') throw new FilterPatternError(`empty quoted term at character ${start + 1}`);
    return { term: value, next };
  }
  let end = start;
  while (end < pattern.length && !/\s/.test(pattern[end] as string)) end++;
  const term = pattern.slice(start, end);
  if (term === '') {
    throw new FilterPatternError(
      `'${pattern[start - 1] ?? ''}' at character ${start} must be followed by a term (e.g. ?ERROR or -DEBUG)`,
    );
  }
  if (term.includes('"')) {
    throw new FilterPatternError(`term '${term}' has a quote inside it: quote the whole phrase ("...")`);
  }
  if (term.startsWith('%')) {
    throw new FilterPatternError(
      'regular expressions (%...%) in filter patterns are not supported by local-iot; use terms or a JSON pattern',
    );
  }
  return { term, next: end };
}

/** A double-quoted string at `start` (`\"` and `\\` escapes). */
function readQuoted(text: string, start: number): { value: string; next: number } {
  let value = '';
  let index = start + 1;
  while (index < text.length) {
    const char = text[index] as string;
    if (char === '\\' && index + 1 < text.length) {
      value += text[index + 1];
      index += 2;
      continue;
    }
    if (char === '"') return { value, next: index + 1 };
    value += char;
    index++;
  }
  throw new FilterPatternError(`unterminated quoted string starting at character ${start + 1}`);
}

// ---- JSON patterns ----------------------------------------------------------------------------------

type Token =
  | { readonly kind: 'selector'; readonly path: readonly (string | number)[]; readonly at: number }
  | { readonly kind: 'op'; readonly value: string; readonly at: number }
  | { readonly kind: 'string'; readonly value: string; readonly quoted: boolean; readonly at: number }
  | { readonly kind: 'number'; readonly value: number; readonly at: number }
  | { readonly kind: 'word'; readonly value: string; readonly at: number }
  | { readonly kind: 'paren'; readonly value: '(' | ')'; readonly at: number };

type JsonTest = (root: unknown) => boolean;

function compileJsonPattern(pattern: string): LogEventMatcher {
  if (!pattern.endsWith('}')) throw new FilterPatternError("a JSON filter pattern must end with '}'");
  const tokens = tokenizeJson(pattern.slice(1, -1), 1);
  if (tokens.length === 0) throw new FilterPatternError('the JSON filter pattern { } has no condition');
  const parser = new JsonPatternParser(tokens);
  const test = parser.parseOr();
  parser.expectEnd();
  return (message) => {
    const root = parseJsonObject(message);
    return root !== undefined && test(root);
  };
}

function parseJsonObject(message: string): unknown {
  const text = message.trim();
  if (!text.startsWith('{') && !text.startsWith('[')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const OPERATORS = ['&&', '||', '!=', '<=', '>=', '=', '<', '>'];

function tokenizeJson(text: string, offset: number): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    const char = text[index] as string;
    const at = index + offset + 1;
    if (/\s/.test(char)) {
      index++;
      continue;
    }
    if (char === '(' || char === ')') {
      tokens.push({ kind: 'paren', value: char, at });
      index++;
      continue;
    }
    const op = OPERATORS.find((candidate) => text.startsWith(candidate, index));
    if (op !== undefined) {
      tokens.push({ kind: 'op', value: op, at });
      index += op.length;
      continue;
    }
    if (char === '"') {
      const { value, next } = readQuoted(text, index);
      tokens.push({ kind: 'string', value, quoted: true, at });
      index = next;
      continue;
    }
    if (char === '$') {
      const { path, next } = readSelector(text, index, at);
      tokens.push({ kind: 'selector', path, at });
      index = next;
      continue;
    }
    let end = index;
    while (end < text.length && !/[\s()=!<>&|"]/.test(text[end] as string)) end++;
    if (end === index) throw new FilterPatternError(`unexpected '${char}' at character ${at}`);
    const word = text.slice(index, end);
    const number = Number(word);
    if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(word) && Number.isFinite(number)) {
      tokens.push({ kind: 'number', value: number, at });
    } else if (/^(IS|NOT|NULL|EXISTS|TRUE|FALSE)$/.test(word)) {
      tokens.push({ kind: 'word', value: word, at });
    } else {
      tokens.push({ kind: 'string', value: word, quoted: false, at });
    }
    index = end;
  }
  return tokens;
}

/** `$.a.b[0].c` → ['a', 'b', 0, 'c']. */
function readSelector(text: string, start: number, at: number): { path: (string | number)[]; next: number } {
  const path: (string | number)[] = [];
  let index = start + 1;
  while (index < text.length) {
    const char = text[index];
    if (char === '.') {
      let end = index + 1;
      while (end < text.length && /[A-Za-z0-9_$@-]/.test(text[end] as string)) end++;
      if (end === index + 1)
        throw new FilterPatternError(`selector at character ${at} has an empty field name after '.'`);
      path.push(text.slice(index + 1, end));
      index = end;
    } else if (char === '[') {
      const close = text.indexOf(']', index);
      const inside = close === -1 ? '' : text.slice(index + 1, close);
      if (!/^\d{1,6}$/.test(inside)) {
        throw new FilterPatternError(`selector at character ${at} needs an array index like [0]`);
      }
      path.push(Number(inside));
      index = close + 1;
    } else {
      break;
    }
  }
  if (path.length === 0)
    throw new FilterPatternError(`selector at character ${at} must name a field: $.field`);
  return { path, next: index };
}

class JsonPatternParser {
  private index = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parseOr(): JsonTest {
    let left = this.parseAnd();
    while (this.peekOp('||')) {
      this.index++;
      const right = this.parseAnd();
      const l = left;
      left = (root) => l(root) || right(root);
    }
    return left;
  }

  expectEnd(): void {
    const token = this.tokens[this.index];
    if (token !== undefined)
      throw new FilterPatternError(`unexpected ${describe(token)} at character ${token.at}`);
  }

  private parseAnd(): JsonTest {
    let left = this.parseTerm();
    while (this.peekOp('&&')) {
      this.index++;
      const right = this.parseTerm();
      const l = left;
      left = (root) => l(root) && right(root);
    }
    return left;
  }

  private parseTerm(): JsonTest {
    const token = this.next('a condition like $.field = "value"');
    if (token.kind === 'paren' && token.value === '(') {
      const inner = this.parseOr();
      const close = this.next("')'");
      if (close.kind !== 'paren' || close.value !== ')') {
        throw new FilterPatternError(`expected ')' at character ${close.at}, found ${describe(close)}`);
      }
      return inner;
    }
    if (token.kind !== 'selector') {
      throw new FilterPatternError(
        `expected a selector ($.field) at character ${token.at}, found ${describe(token)}`,
      );
    }
    return this.parseComparison(token.path);
  }

  private parseComparison(path: readonly (string | number)[]): JsonTest {
    const token = this.next(`an operator after $.${path.join('.')}`);
    if (token.kind === 'word') return this.parseWordTest(path, token);
    if (token.kind !== 'op' || token.value === '&&' || token.value === '||') {
      throw new FilterPatternError(
        `expected =, !=, <, <=, >, >= or IS at character ${token.at}, found ${describe(token)}`,
      );
    }
    const value = this.next(`a value after ${token.value}`);
    const op = token.value;
    if (value.kind === 'number') return numberTest(path, op, value.value);
    if (value.kind !== 'string') {
      throw new FilterPatternError(`expected a value at character ${value.at}, found ${describe(value)}`);
    }
    if (op !== '=' && op !== '!=') {
      throw new FilterPatternError(
        `${op} at character ${token.at} compares numbers, but '${value.value}' is not a number`,
      );
    }
    const expected = starSegments(value.value);
    return (root) => {
      const actual = select(root, path);
      if (typeof actual !== 'string' && typeof actual !== 'number' && typeof actual !== 'boolean')
        return false;
      const matches = segmentsMatch(expected, String(actual));
      return op === '=' ? matches : !matches;
    };
  }

  private parseWordTest(path: readonly (string | number)[], first: Token & { kind: 'word' }): JsonTest {
    const second = this.next(`a word after ${first.value}`);
    const phrase = `${first.value} ${second.kind === 'word' ? second.value : describe(second)}`;
    switch (phrase) {
      case 'IS NULL':
        return (root) => select(root, path) === null;
      case 'NOT EXISTS':
        return (root) => select(root, path) === undefined;
      case 'IS TRUE':
        return (root) => select(root, path) === true;
      case 'IS FALSE':
        return (root) => select(root, path) === false;
      default:
        throw new FilterPatternError(
          `'${phrase}' at character ${first.at} is not IS NULL, NOT EXISTS, IS TRUE or IS FALSE`,
        );
    }
  }

  private peekOp(value: string): boolean {
    const token = this.tokens[this.index];
    return token?.kind === 'op' && token.value === value;
  }

  private next(what: string): Token {
    const token = this.tokens[this.index++];
    if (token === undefined)
      throw new FilterPatternError(`the JSON filter pattern ends where ${what} was expected`);
    return token;
  }
}

/** CloudWatch's only string wildcard is `*` (any run of characters); `?` is literal. */
function starSegments(pattern: string): WildcardSegment[] {
  const segments: WildcardSegment[] = [];
  pattern.split('*').forEach((literal, index) => {
    if (index > 0) segments.push({ wildcard: '*' });
    if (literal !== '') segments.push({ literal });
  });
  return segments;
}

function numberTest(path: readonly (string | number)[], op: string, expected: number): JsonTest {
  const compare: Record<string, (a: number) => boolean> = {
    '=': (a) => a === expected,
    '!=': (a) => a !== expected,
    '<': (a) => a < expected,
    '<=': (a) => a <= expected,
    '>': (a) => a > expected,
    '>=': (a) => a >= expected,
  };
  const test = compare[op];
  if (test === undefined) throw new FilterPatternError(`${op} cannot compare with the number ${expected}`);
  return (root) => {
    const actual = select(root, path);
    return typeof actual === 'number' && test(actual);
  };
}

function select(root: unknown, path: readonly (string | number)[]): unknown {
  let current: unknown = root;
  for (const step of path) {
    if (current === null || typeof current !== 'object') return undefined;
    if (typeof step === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[step];
    } else {
      if (Array.isArray(current) || !Object.hasOwn(current, step)) return undefined;
      current = (current as Record<string, unknown>)[step];
    }
  }
  return current;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'selector':
      return `the selector $.${token.path.join('.')}`;
    case 'string':
      return token.quoted ? `"${token.value}"` : `'${token.value}'`;
    case 'number':
      return `the number ${token.value}`;
    default:
      return `'${token.value}'`;
  }
}
