// What every command of the project decides the same way about its terminal: colours and the
// human-versus-machine output. Colours follow the NO_COLOR convention (no-color.org): any non-empty
// NO_COLOR, or --no-color on the command line, turns them off; they are never sent to a pipe.

export interface ColorChoice {
  /** argv without --color / --no-color (so a command's own parser never sees them). */
  argv: string[];
  /** The user's choice from the flags: true (--color), false (--no-color) or undefined (none given). */
  flag: boolean | undefined;
}

/** Takes --color / --no-color out of argv; the last one given wins. */
export function takeColorFlag(argv: readonly string[]): ColorChoice {
  let flag: boolean | undefined;
  const rest: string[] = [];
  for (const arg of argv) {
    if (arg === "--no-color") flag = false;
    else if (arg === "--color") flag = true;
    else rest.push(arg);
  }
  return { argv: rest, flag };
}

/** Whether to colour what goes to `stream`: the flag if given, else off under NO_COLOR or without a TTY. */
export function useColor(
  stream: { isTTY?: boolean },
  flag: boolean | undefined,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (flag !== undefined) return flag;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return Boolean(stream.isTTY);
}

/** Whether `stream` is a terminal that can redraw a line in place (not a pipe, not TERM=dumb). */
export function isLiveTerminal(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && env.TERM !== "dumb";
}
