// How tests start the project's TypeScript commands: `node --import tsx <script>`, as the npm scripts do.
// One node process per command; the `tsx` binary would start a second one to register the same loader.
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../../..");

/** The executable and arguments that run `script` (a path relative to the repository) with `args`. */
export function tsxCommand(script: string, ...args: string[]): [command: string, args: string[]] {
  return [process.execPath, ["--import", "tsx", script, ...args]];
}

/** The same as one shell line (for a pseudo-terminal); arguments must need no quoting. */
export function tsxShellLine(script: string, ...args: string[]): string {
  return [process.execPath, "--import", "tsx", script, ...args].join(" ");
}
