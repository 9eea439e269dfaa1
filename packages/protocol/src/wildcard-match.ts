/**
 * IAM's `*` / `?` wildcard matching, the one matcher this project uses wherever AWS matches a pattern against
 * an ARN or an action: policy `Action` / `Resource` (policy-evaluation) and a Lambda permission's `SourceArn`
 * (the deployment's `ArnLike`). `*` matches any run of characters (`/` and `:` included), `?` exactly one
 * character (a code point); every other character, MQTT `+` and `#` included, is literal. Matching is
 * case-sensitive: callers lower-case both sides where AWS does not care (actions).
 */

/** A pattern as a list of segments: literal text, or a wildcard (`*` any run, `?` one character). */
export type WildcardSegment = { readonly literal: string } | { readonly wildcard: '*' | '?' };

/** Splits `pattern` into segments once, so that a pattern matched many times is not re-read each time. */
export function wildcardSegments(pattern: string): WildcardSegment[] {
  const segments: WildcardSegment[] = [];
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

/** Whether `text` matches the wildcard `pattern` as a whole. */
export function wildcardMatch(pattern: string, text: string): boolean {
  return segmentsMatch(wildcardSegments(pattern), text);
}

/**
 * Whether `text` matches `segments` as a whole. Dynamic programming over (segment, position) pairs rather
 * than backtracking, so a hostile pattern such as `*a*a*a*a*b` against a long ARN stays linear in
 * pattern × text.
 */
export function segmentsMatch(segments: readonly WildcardSegment[], text: string): boolean {
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
