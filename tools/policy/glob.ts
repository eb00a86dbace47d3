// AWS policy wildcard matching: `*` = any run of characters (including `/` and `:`), `?` = exactly one
// character. Everything else is literal, MQTT's `+` and `#` included. Patterns are compiled into tokens so
// that text substituted from a policy variable stays literal even if it contains `*` or `?`.
// Matching is the iterative two-pointer algorithm (no RegExp, so no catastrophic backtracking).

export type GlobToken = { kind: "char"; ch: string } | { kind: "star" } | { kind: "one" };

/** Tokens of a pattern written in a policy: `*` and `?` are wildcards. */
export function wildcardTokens(pattern: string): GlobToken[] {
  const out: GlobToken[] = [];
  for (const ch of pattern) {
    if (ch === "*") out.push({ kind: "star" });
    else if (ch === "?") out.push({ kind: "one" });
    else out.push({ kind: "char", ch });
  }
  return out;
}

/** Tokens that match `text` literally. */
export function literalTokens(text: string): GlobToken[] {
  return Array.from(text, (ch) => ({ kind: "char", ch }) as GlobToken);
}

/** Whether `tokens` match the whole of `subject`. `?` consumes one Unicode code point. */
export function globMatch(tokens: readonly GlobToken[], subject: string, ignoreCase = false): boolean {
  const s = Array.from(ignoreCase ? subject.toLowerCase() : subject);
  const eq = (t: GlobToken, c: string) =>
    t.kind === "one" || (t.kind === "char" && (ignoreCase ? t.ch.toLowerCase() : t.ch) === c);
  let p = 0;
  let i = 0;
  let starP = -1; // position of the last `*` seen in the pattern
  let starI = 0; // subject position that `*` is currently extended to
  while (i < s.length) {
    const t = tokens[p];
    if (t !== undefined && t.kind !== "star" && eq(t, s[i]!)) {
      p++;
      i++;
    } else if (t !== undefined && t.kind === "star") {
      starP = p++;
      starI = i;
    } else if (starP >= 0) {
      p = starP + 1;
      i = ++starI;
    } else {
      return false;
    }
  }
  while (p < tokens.length && tokens[p]!.kind === "star") p++;
  return p === tokens.length;
}

/** Convenience: does the policy pattern (with `*`/`?` wildcards) match `subject`? */
export function wildcardMatch(pattern: string, subject: string, ignoreCase = false): boolean {
  return globMatch(wildcardTokens(pattern), subject, ignoreCase);
}
