// One way to put a caught value into a log line: an Error's message, anything else as text.

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
