// `npm run broker` as a person sees it on a terminal (tmux pseudo-terminal): readable lines, not JSON;
// with --json, JSON lines there too. Piped output (every other service test) stays JSON.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeDir, tempDir } from "../integration/fixtures";
import { hasTmux, TmuxTerminal } from "../support/tmux";
import { tsxShellLine } from "../support/tsx-command";

const ROOT = path.resolve(import.meta.dirname, "../../..");

let dir: string;
beforeAll(() => {
  dir = tempDir("service-terminal");
});
afterAll(() => removeDir(dir));

describe.skipIf(!hasTmux())("npm run broker on a terminal", () => {
  it("prints readable lines (time, level, event, fields); --json prints JSON lines", async () => {
    const broker = (extra: string) =>
      new TmuxTerminal({ command: `${tsxShellLine("services/broker/service.ts")} --port 0 --pki-dir ${dir}/pki ${extra}`, cwd: ROOT, columns: 200, rows: 40 });
    const readable = broker("");
    try {
      const rows = await readable.waitFor((r) => r.some((row) => / INFO +broker ready /.test(row)), "the ready line");
      const ready = rows.find((row) => / broker ready /.test(row))!;
      expect(ready).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  broker ready .*port=\d+/);
      expect(rows.filter((row) => row.startsWith("{"))).toEqual([]);
      readable.keys("C-c");
      await readable.waitFor((r) => r.some((row) => row === "[exit 0]"), "a clean exit");
    } finally {
      readable.close();
    }
    const json = broker("--json");
    try {
      const rows = await json.waitFor((r) => r.some((row) => row.includes('"event":"ready"')), "the JSON ready line");
      expect(JSON.parse(rows.find((row) => row.includes('"event":"ready"'))!)).toMatchObject({ source: "broker", event: "ready" });
      json.keys("C-c");
      await json.waitFor((r) => r.some((row) => row === "[exit 0]"), "a clean exit");
    } finally {
      json.close();
    }
  });
});
