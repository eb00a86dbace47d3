// Fitting the simulator's live line into one terminal row. The line is redrawn in place with "\r, clear
// row"; that erases only the row the cursor is on, so a line wider than the terminal wraps and leaves a
// copy behind at every redraw. Everything here keeps the visible width below the terminal's columns.

/** One field of the live line: its full text and a shorter form used when the full one does not fit. */
export interface LiveField {
  long: string;
  short?: string;
}

export type LiveStatus = Array<LiveField | string>;

export const FIELD_SEPARATOR = " · ";

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Columns a text takes on a terminal: escape sequences take none, each code point one. */
export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, "")].length;
}

/** Cuts plain text (no escapes) to `width` columns, marking the cut with "…". */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 0) return "";
  return `${chars.slice(0, width - 1).join("")}…`;
}

/**
 * The status fields (in order of importance, most important first) that fit in `width` columns:
 * all in full if they fit; else the least important ones shortened first; else the least important
 * dropped; the last one left is cut with "…".
 */
export function fitFields(status: LiveStatus, width: number): string {
  const fields = status
    .map((f) => (typeof f === "string" ? { long: f } : f))
    .filter((f) => f.long.length > 0);
  const forms = fields.map((f) => f.long);
  const join = (parts: string[]) => parts.join(FIELD_SEPARATOR);
  const fits = (parts: string[]) => visibleWidth(join(parts)) <= width;
  // Shorten from the least important up.
  for (let i = fields.length - 1; i >= 0 && !fits(forms); i--) {
    const short = fields[i]!.short;
    if (short !== undefined) forms[i] = short;
  }
  // Drop from the least important up.
  while (forms.length > 1 && !fits(forms)) forms.pop();
  return fits(forms) ? join(forms) : truncate(forms[0] ?? "", width);
}
