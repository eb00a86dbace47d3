// The command-line conventions every command of the project follows (npm run simulate, broker,
// restaurant, pki, policy, bench):
//   exit 0   done (for a check: it passed);
//   exit 1   a runtime failure, or a check that failed (verify, policy check, a DENY from policy explain);
//   exit 2   a usage error: unknown flag, missing or malformed value, unknown command;
//   one name per thing across commands: --pki-dir (PKI directory), --eta-min (ETA in minutes), --json
//   (machine-readable output), --no-color (or NO_COLOR). Other spellings of them (--dir, --pki, --eta) are
//   deprecated aliases that print a one-line notice on stderr, so existing scripts keep running.

/** A command line that cannot be run as given (unknown flag, missing value, bad argument): exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * Rewrites deprecated flag names in argv to their current ones ("--dir x", "--dir=x" → "--pki-dir …"),
 * telling the user once per flag through `notice`. Stops at "--" (what follows is not ours).
 */
export function renameDeprecatedFlags(
  argv: readonly string[],
  renames: Readonly<Record<string, string>>,
  notice: (line: string) => void,
): string[] {
  const told = new Set<string>();
  const out: string[] = [];
  let passthrough = false;
  for (const arg of argv) {
    if (passthrough || arg === "--") {
      passthrough = true;
      out.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const now = renames[name];
    if (now === undefined) {
      out.push(arg);
      continue;
    }
    if (!told.has(name)) {
      told.add(name);
      notice(`note: ${name} is deprecated, use ${now}`);
    }
    out.push(eq >= 0 ? `${now}${arg.slice(eq)}` : now);
  }
  return out;
}
