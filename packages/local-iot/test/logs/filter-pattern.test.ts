import fc from 'fast-check';
import { compileFilterPattern, FilterPatternError } from '../../src/logs/filter-pattern';

const matches = (pattern: string, message: string) => compileFilterPattern(pattern)(message);

function refusal(pattern: string): string {
  try {
    compileFilterPattern(pattern);
  } catch (error) {
    expect(error).toBeInstanceOf(FilterPatternError);
    return (error as Error).message;
  }
  throw new Error(`'${pattern}' compiled`);
}

describe('compileFilterPattern', () => {
  it('matches everything when the pattern is empty or blank', () => {
    expect(matches('', 'anything')).toBe(true);
    expect(compileFilterPattern(undefined)('x')).toBe(true);
    expect(matches('   ', 'x')).toBe(true);
  });

  it('terms: all must appear, case-sensitively; quoted phrases keep their spaces', () => {
    expect(matches('ERROR timeout', 'ERROR: a timeout')).toBe(true);
    expect(matches('ERROR timeout', 'ERROR only')).toBe(false);
    expect(matches('error', 'ERROR')).toBe(false);
    expect(matches('"did not answer"', 'Lambda did not answer in time')).toBe(true);
    expect(matches('"did not answer"', 'did answer not')).toBe(false);
    expect(matches('"say \\"hi\\""', 'they say "hi"')).toBe(true);
  });

  it('?terms: at least one; -terms: none', () => {
    expect(matches('?ERROR ?WARN', 'a WARN line')).toBe(true);
    expect(matches('?ERROR ?WARN', 'an INFO line')).toBe(false);
    expect(matches('Connect -Success', '{"eventType":"Connect","status":"Failure"}')).toBe(true);
    expect(matches('Connect -Success', '{"eventType":"Connect","status":"Success"}')).toBe(false);
  });

  it('JSON: selectors, string wildcards, numbers, booleans, null, &&, || and parentheses', () => {
    const entry = JSON.stringify({
      eventType: 'Connect',
      status: 'Failure',
      clientId: 'test-1',
      sourcePort: 443,
      nested: { list: [{ ok: true }], none: null },
    });
    expect(matches('{ $.eventType = "Connect" && $.status = "Failure" }', entry)).toBe(true);
    expect(matches('{ $.clientId = test-* }', entry)).toBe(true);
    expect(matches('{ $.clientId = "prod-*" }', entry)).toBe(false);
    expect(matches('{ $.clientId = "test-?" }', entry)).toBe(false);
    expect(matches('{ $.status != "Success" }', entry)).toBe(true);
    expect(matches('{ $.sourcePort >= 443 && $.sourcePort < 444 }', entry)).toBe(true);
    expect(matches('{ $.sourcePort = 443 }', entry)).toBe(true);
    expect(matches('{ $.nested.list[0].ok IS TRUE }', entry)).toBe(true);
    expect(matches('{ $.nested.none IS NULL }', entry)).toBe(true);
    expect(matches('{ $.principalId NOT EXISTS }', entry)).toBe(true);
    expect(matches('{ $.status = "Success" || ($.clientId = "test-1" && $.sourcePort > 1) }', entry)).toBe(
      true,
    );
    // && binds tighter than ||.
    expect(matches('{ $.status = "Success" && $.clientId = "x" || $.eventType = "Connect" }', entry)).toBe(
      true,
    );
    expect(matches('{ $.eventType = "Connect" }', 'not json')).toBe(false);
    expect(matches('{ $.missing != "x" }', entry)).toBe(false);
  });

  it('refuses what it cannot read, saying what and where', () => {
    expect(refusal('"unterminated')).toBe('unterminated quoted string starting at character 1');
    expect(refusal('{ $.a = "x"')).toBe("a JSON filter pattern must end with '}'");
    expect(refusal('{ }')).toBe('the JSON filter pattern { } has no condition');
    expect(refusal('{ $.a > "x" }')).toBe("> at character 7 compares numbers, but 'x' is not a number");
    expect(refusal('{ a = 1 }')).toBe("expected a selector ($.field) at character 3, found 'a'");
    expect(refusal('{ $.a = 1 $.b = 2 }')).toBe('unexpected the selector $.b at character 11');
    expect(refusal('[ip, user]')).toMatch(/^space-delimited filter patterns/);
    expect(refusal('%ERR.*%')).toMatch(/^regular expressions/);
    expect(refusal('x'.repeat(1025))).toBe(
      'the filter pattern is 1025 characters long; CloudWatch Logs allows at most 1024',
    );
  });

  it('never throws anything but FilterPatternError, and a compiled pattern never throws on any message', () => {
    const piece = fc.constantFrom(
      '{',
      '}',
      '(',
      ')',
      '$',
      '$.a',
      '.',
      '[0]',
      '[',
      ']',
      '=',
      '!=',
      '<',
      '>=',
      '&&',
      '||',
      '"',
      '"v"',
      '*',
      '?',
      '-',
      ' ',
      'IS',
      'NOT',
      'NULL',
      'EXISTS',
      'TRUE',
      '12',
      '-3.5',
      '\\',
      'ERROR',
      '%',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.array(piece, { maxLength: 16 }).map((p) => p.join('')),
        ),
        fc.oneof(fc.string(), fc.json()),
        (pattern, message) => {
          let matcher: ((message: string) => boolean) | undefined;
          try {
            matcher = compileFilterPattern(pattern);
          } catch (error) {
            expect(error).toBeInstanceOf(FilterPatternError);
            return;
          }
          expect(typeof matcher(message)).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
