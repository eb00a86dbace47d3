// The shell commands of a README, as a newcomer would type them: every ```sh block, line continuations
// joined, comments dropped, `a && b` as two commands. Each is either runnable here (on loopback, in a
// temp clone) or skipped with the reason, so a new README command is never silently left untested.

export interface ReadmeCommand {
  /** 1-based line of the README where the command starts. */
  line: number;
  /** As written in the README. */
  text: string;
  /** What the test runs (placeholders filled in), or undefined when skipped. */
  run?: string;
  skipped?: string;
  /** Why `run` does less than `text` (it still runs the command itself). */
  narrowed?: string;
}

/** Commands that must not or cannot run in the test, and why. First match wins. */
const SKIPS: Array<[RegExp, string]> = [
  [/^npm ci\b/, "would reinstall node_modules, which the temp clone shares with this checkout"],
  [/^npm (run )?test\b/, "the test suite this test is part of"],
  [/^npm run typecheck\b/, "npm test runs it before every suite"],
  [/^(PIZZA_\w+=\S+ )*(mcconfig|mcrun)\b/, "builds and flashes a board (Moddable SDK and a device)"],
  [/^npm run (build:esp32-check|firmware:host)\b/, "builds the firmware with the Moddable SDK (the firmware suite covers it)"],
  [/^npx xs-dev\b/, "installs the Moddable SDK from the network"],
  [/^aws\b/, "talks to AWS"],
  [/^(esptool(\.py)?|idf\.py)\b/, "writes a board's flash (ESP-IDF's tools and a device)"],
  [/^npm run release -- (sign|publish)\b/, "needs a firmware image built with the Moddable SDK"],
  [/^npm run release -- (status|cancel) fw-/, "names a job that publishing a built image creates"],
  [/^npm run jobs\b/, "a long-running service, stopped with Ctrl-C (host-test/test/services/jobs runs it)"],
  [/^npm run (broker|restaurant)\b/, "a long-running service, stopped with Ctrl-C (host-test/test/services runs it)"],
];

/**
 * Commands whose whole run another suite already makes: the test runs them on a narrower input, so the
 * command itself (its flags, its output modes, its exit code) is still checked. Appended when the command
 * does not narrow itself already.
 */
const NARROWINGS: Array<{ pattern: RegExp; unless: RegExp; append: string; reason: string }> = [
  {
    pattern: /^npm run qualify\b/,
    unless: /--case\b/,
    append: "--case tls-connect",
    reason: "every case runs in host-test/test/qualify; here the command itself, on one case",
  },
];

/** Placeholders a reader fills in, with the value the test uses (loopback only). */
const FILL_INS: Array<[string, string]> = [
  ["<your computer's LAN address>", "127.0.0.2"],
  ["my-policy.json", "services/policies/device.json"],
];

/** Every command of every ```sh block of `markdown`. */
export function readmeCommands(markdown: string): ReadmeCommand[] {
  const lines = markdown.split("\n");
  const commands: ReadmeCommand[] = [];
  let inBlock = false;
  let pending: { line: number; text: string } | undefined;
  lines.forEach((raw, index) => {
    const fence = /^\s*```(\w*)\s*$/.exec(raw);
    if (fence) {
      if (!inBlock && ["sh", "bash", "shell"].includes(fence[1]!)) inBlock = true;
      else if (inBlock) inBlock = false;
      return;
    }
    if (!inBlock) return;
    const text = stripComment(raw).trim();
    if (!text && !pending) return;
    const joined = pending ? `${pending.text} ${text}` : text;
    const line = pending?.line ?? index + 1;
    if (joined.endsWith("\\")) {
      pending = { line, text: joined.slice(0, -1).trim() };
      return;
    }
    pending = undefined;
    for (const part of joined.split(/\s+&&\s+/)) commands.push(classify(line, part.trim()));
  });
  return commands;
}

function stripComment(line: string): string {
  // A " #" outside quotes starts a comment (the README's commands quote no "#").
  const at = line.search(/(^|\s)#/);
  return at < 0 ? line : line.slice(0, at);
}

function classify(line: number, text: string): ReadmeCommand {
  for (const [pattern, reason] of SKIPS) if (pattern.test(text)) return { line, text, skipped: reason };
  let run = text;
  for (const [placeholder, value] of FILL_INS) run = run.split(placeholder).join(value);
  if (/<[^>]+>|…/.test(run)) return { line, text, skipped: "has a placeholder for the reader's own value" };
  for (const n of NARROWINGS) {
    if (n.pattern.test(run) && !n.unless.test(run)) return { line, text, run: `${run}${/ -- /.test(` ${run} `) ? "" : " --"} ${n.append}`, narrowed: n.reason };
  }
  return { line, text, run };
}
