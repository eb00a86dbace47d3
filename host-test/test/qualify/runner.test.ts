// The verdict rules of a qualification case, on cases that only record checks (no server, no device).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CasePki } from "../../qualify/case-pki";
import type { DeviceUnderTest } from "../../qualify/devices";
import { productCase, runCase, type CaseContext, type CaseResult } from "../../qualify/runner";

const device: DeviceUnderTest = {
  id: "virtual-button",
  label: "no device (the cases below never start one)",
  start: () => Promise.reject(new Error("not used")),
};
const pki = { device: { thingName: "runner-test" } } as unknown as CasePki;
const workDir = mkdtempSync(join(tmpdir(), "qualify-runner-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const run = (body: (ctx: CaseContext) => Promise<void>) =>
  runCase({ id: "t", group: "MQTT", title: "t", run: body }, { device, pki, workDir });

describe("runCase verdicts", () => {
  it("pass when every check holds; a failed advisory check gives pass-with-warnings; a failed required one fails", async () => {
    expect((await run(async (ctx) => void ctx.check("a", true, "fine"))).verdict).toBe("pass");
    expect((await run(async (ctx) => void ctx.check("a", false, "meh", { advisory: true }))).verdict).toBe("pass-with-warnings");
    const failed = await run(async (ctx) => {
      ctx.check("a", false, "meh", { advisory: true });
      ctx.check("b", false, "broken");
    });
    expect(failed.verdict).toBe("fail");
    expect(failed.checks.map((c) => [c.name, c.required, c.ok])).toEqual([
      ["a", false, false],
      ["b", true, false],
    ]);
  });

  it("a case that throws fails with the error as evidence, and its notes stay in time order", async () => {
    const result = await run(async (ctx) => {
      ctx.note("first");
      await ctx.sleep(5);
      ctx.note("second");
      throw new Error("the server never came up");
    });
    expect(result.verdict).toBe("fail");
    expect(result.error).toBe("the server never came up");
    expect(result.evidence.map((line) => line.replace(/^\s*\d+ ms\s+/, ""))).toEqual(["first", "second"]);
  });
});

describe("productCase", () => {
  const result = (id: string, presses: number, orderRows: number): CaseResult => ({
    id,
    group: "MQTT",
    title: id,
    device: "firmware",
    verdict: "pass",
    durationMs: 1,
    checks: [],
    evidence: [],
    presses,
    orderRows,
  });

  it("fails when any case has more order rows than presses, naming it", () => {
    const ok = productCase([result("a", 1, 1), result("b", 2, 1), result("c", 1, 0)], "firmware");
    expect(ok.verdict).toBe("pass");
    const bad = productCase([result("a", 1, 1), result("b", 1, 2)], "firmware");
    expect(bad.verdict).toBe("fail");
    expect(bad.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["b: order rows ≤ presses"]);
  });

  it("counts only the device's own cases", () => {
    const other = { ...result("x", 1, 5), device: "virtual-button" as const };
    expect(productCase([other, result("a", 1, 1)], "firmware").verdict).toBe("pass");
  });
});
