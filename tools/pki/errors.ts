// A PkiError is a user-facing failure: its message is one line that says what is wrong and,
// where it helps, what to do. The CLI prints it without a stack trace and exits 1 (a UsageError: 2).
export class PkiError extends Error {
  override name = "PkiError";
}

export function fail(message: string): never {
  throw new PkiError(message);
}

/** A command line that cannot be run as given (unknown flag, missing value, bad argument): exit 2. */
export class UsageError extends PkiError {
  override name = "UsageError";
}

export function usageFail(message: string): never {
  throw new UsageError(message);
}
