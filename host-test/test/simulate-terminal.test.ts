// `npm run simulate` as a person sees it: in a pseudo-terminal of 80 columns (tmux), the live line must
// stay one row however often the LED blinks, fit the width, and follow a resize; without a terminal
// (pipes) it prints plain lines with no escape sequences, and plays every press it was given.
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeDir, tempDir } from "./integration/fixtures";
import { hasTmux, TmuxTerminal } from "./support/tmux";
import { tsxCommand, tsxShellLine } from "./support/tsx-command";

const ROOT = path.resolve(import.meta.dirname, "../..");

let dir: string;
beforeAll(() => {
  dir = tempDir("simulate-terminal");
});
afterAll(() => removeDir(dir));

/** Rows that are the live line: the LED dot, then the pattern. */
const liveRows = (rows: string[]) => rows.filter((row) => /^[●○] /.test(row));

describe.skipIf(!hasTmux())("npm run simulate in a terminal of 80 columns", () => {
  it("after presses, one live line narrower than the terminal; still one after a resize to 40", async () => {
    const term = new TmuxTerminal({
      command: `${tsxShellLine("host-test/simulate.ts")} --state-dir ${dir}/tty-state --pki-dir ${dir}/pki`,
      cwd: ROOT,
      columns: 80,
      rows: 24,
    });
    try {
      await term.waitFor((rows) => rows.some((r) => r.startsWith("Enter = ")) && liveRows(rows).length === 1, "the prompt and the live line");
      term.keys("Enter");
      // The "ok" pattern is 2 s on after a dozen "working" blinks: every switch redrew the line.
      let rows = await term.waitFor((r) => r.some((row) => /^SINGLE → ok \(pizza-button-01-\d+\) in [\d.]+ ms$/.test(row)), "the SINGLE outcome");
      rows = await term.waitFor((r) => liveRows(r).some((row) => row.includes("last: ")), "the outcome on the live line");
      expect(liveRows(rows), rows.join("\n")).toHaveLength(1);
      expect(liveRows(rows)[0]!.length).toBeLessThan(80);
      expect(rows.filter((row) => /working|awaiting-ack/.test(row)), rows.join("\n")).toEqual([]);

      term.resize(40, 24);
      term.keys("d");
      rows = await term.waitFor((r) => r.some((row) => row.startsWith("DOUBLE → ok")), "the DOUBLE outcome");
      rows = await term.waitFor((r) => liveRows(r).some((row) => row.includes("idle")), "the live line back to idle");
      expect(liveRows(rows), rows.join("\n")).toHaveLength(1);
      expect(liveRows(rows)[0]!.length).toBeLessThan(40);

      term.keys("q");
      rows = await term.waitFor((r) => r.some((row) => row === "[exit 0]"), "a clean exit");
      expect(liveRows(rows)).toHaveLength(1);
    } finally {
      term.close();
    }
  });
});

describe("npm run simulate without a terminal", () => {
  it("piped keys: plain lines, no escape sequences, every queued press played before it ends", async () => {
    const child = spawn(...tsxCommand("host-test/simulate.ts", "--state-dir", `${dir}/pipe-state`, "--pki-dir", `${dir}/pki`), {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // Three presses and the end of input at once: they are played one after the other, not dropped.
    child.stdin.end("\nd\n");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(0);
    expect(stdout).not.toMatch(/\x1b/);
    const outcomes = stdout.split("\n").filter((line) => / → /.test(line));
    expect(outcomes.map((line) => line.split(" (")[0])).toEqual(["SINGLE → ok", "DOUBLE → ok", "SINGLE → ok"]);
    expect(stdout).toContain("LED ok\n");
  });
});
