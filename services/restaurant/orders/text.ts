// Text a button sent (items) or that goes back to it (refusal reasons), made safe to show and to cut:
// - cut only between graphemes (an emoji, a flag or a letter with its accents stays whole; cutting inside
//   a surrogate pair would send a lone surrogate, which the wire turns into U+FFFD);
// - control characters become spaces and bidirectional controls are removed, so a log line stays one line
//   and an item cannot reverse the text around it on the kitchen page or in a log.

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** C0/C1 controls and DEL. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
/** Bidi embedding, override and isolate controls, and the implicit marks (LRM, RLM, ALM). */
export const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** One line of plain text: controls as spaces, bidi controls removed. */
export function plainText(text: string): string {
  return text.replace(CONTROLS, " ").replace(BIDI_CONTROLS, "");
}

/**
 * At most `maxGraphemes` user-perceived characters and `maxBytes` UTF-8 bytes; if cut, it ends in
 * `ellipsis` (counted in both limits). Never splits a grapheme.
 */
export function cutText(text: string, limits: { maxGraphemes: number; maxBytes?: number; ellipsis?: string }): string {
  const ellipsis = limits.ellipsis ?? "…";
  const maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
  const graphemes = Array.from(segmenter.segment(text), (s) => s.segment);
  if (graphemes.length <= limits.maxGraphemes && utf8Length(text) <= maxBytes) return text;
  const budgetGraphemes = limits.maxGraphemes - 1;
  const budgetBytes = maxBytes - utf8Length(ellipsis);
  let kept = "";
  let bytes = 0;
  for (let i = 0; i < graphemes.length && i < budgetGraphemes; i++) {
    const size = utf8Length(graphemes[i]!);
    if (bytes + size > budgetBytes) break;
    kept += graphemes[i];
    bytes += size;
  }
  return `${kept}${ellipsis}`;
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
