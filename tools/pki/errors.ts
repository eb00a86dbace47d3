// A PkiError is a user-facing failure: its message is one line that says what is wrong and,
// where it helps, what to do. The CLI prints it without a stack trace and exits 1 (a UsageError: 2).
import { UsageError } from "../cli/conventions";

export { UsageError };

export class PkiError extends Error {
  override name = "PkiError";
}

export function fail(message: string): never {
  throw new PkiError(message);
}

export function usageFail(message: string): never {
  throw new UsageError(message);
}
