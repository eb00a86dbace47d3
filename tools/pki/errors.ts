// A PkiError is a user-facing failure: its message is one line that says what is wrong and,
// where it helps, what to do. The CLI prints it without a stack trace and exits 1.
export class PkiError extends Error {
  override name = "PkiError";
}

export function fail(message: string): never {
  throw new PkiError(message);
}
