// The README followed from top to bottom on a fresh clone, as a newcomer would, then the docs pages that give
// commands to type, in the order a reader reaches them: a `git clone` of this checkout into a temp dir
// (node_modules linked, not reinstalled), then every shell command of every ```sh block, page after page, each
// of which must succeed. Commands that cannot run here (flashing a board, the SDK's builds, npm ci, the test
// suite itself) are skipped with their reason, printed. An `npm run` whose script is a plain
// `node --import tsx <file>` starts that directly (the scripts named must exist: checked).
// The clone is of the committed HEAD: commit documentation changes before running this.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readmeCommands } from "./support/readme-commands";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** The pages with commands, in reading order: each builds on what the ones before it made (the PKI). */
const PAGES = [
  "README.md",
  "docs/security.md",
  "docs/registry.md",
  "docs/provisioning.md",
  "docs/firmware.md",
  "docs/setup.md",
  "docs/power.md",
  "docs/updates.md",
  "docs/operations.md",
  "docs/scaling.md",
  "docs/performance.md",
  "docs/qualification.md",
  "docs/testing.md",
];
const commands = PAGES.flatMap((page) =>
  readmeCommands(fs.readFileSync(path.join(ROOT, page), "utf8")).map((command) => ({ ...command, page })),
);

const SCRIPTS = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

/**
 * `npm run <name> [-- args]` as the process npm would start for it, when package.json's script is one plain
 * `node --import tsx <file>`: the same program with the same arguments, without npm's own start-up (half a
 * second of CPU per command). Any other command runs as written.
 */
function withoutNpm(command: string): string {
  const match = /^npm run ([\w:-]+)(?: -- (.*))?$/.exec(command);
  const script = match ? SCRIPTS[match[1]!] : undefined;
  if (!match || !script || !/^node --import tsx \S+$/.test(script)) return command;
  return match[2] ? `${script} ${match[2]}` : script;
}

let home: string;
let clone: string;
beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "readme-"));
  clone = path.join(home, "pizza-button");
  execFileSync("git", ["clone", "--quiet", ROOT, clone]);
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe("the README and the docs pages, top to bottom, on a fresh clone", () => {
  it("have shell commands, most of them runnable here", () => {
    const skipped = commands.filter((c) => c.skipped);
    for (const c of skipped) console.log(`${c.page} line ${c.line}: skipped (${c.skipped}): ${c.text}`);
    for (const c of commands.filter((c) => c.narrowed)) console.log(`${c.page} line ${c.line}: runs as \`${c.run}\` (${c.narrowed})`);
    expect(commands.filter((c) => c.run).length).toBeGreaterThan(skipped.length);
  });

  it("name only npm scripts that exist", () => {
    const named = commands.flatMap((c) => /^npm run ([\w:-]+)/.exec(c.text)?.[1] ?? []);
    expect(named.filter((name) => !(name in SCRIPTS))).toEqual([]);
  });

  for (const command of commands.filter((c) => c.run)) {
    it(`${command.page} line ${command.line}: ${command.text}`, () => {
      const { MODDABLE: _sdk, ...env } = process.env;
      // stdin closed: the interactive simulator starts, sees the end of its input and quits cleanly.
      const run = spawnSync("bash", ["-c", withoutNpm(command.run!)], {
        cwd: clone,
        env: { ...env, HOME: home, npm_config_update_notifier: "false" },
        stdio: ["ignore", "pipe", "pipe"],
        encoding: "utf8",
        timeout: 150_000,
      });
      expect(run.status, `${command.run}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    }, 160_000);
  }
});
