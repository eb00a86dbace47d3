// `npm run qualify` for the virtual button: every case against its case server on loopback, real TLS,
// real timers. A failed case shows its checks and evidence in the assertion message.
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../tools/firmware/sdk";
import { caseIds, runQualification, type QualificationReport } from "../../qualify/qualify";
import { formatTable } from "../../qualify/report";

describe("qualification: the virtual button", () => {
  let report: QualificationReport;

  beforeAll(async () => {
    report = await runQualification({ devices: ["virtual-button"] });
    console.log(formatTable(report));
  }, 180_000);

  it.each(caseIds())("%s passes", (id) => {
    const result = report.devices[0]!.results.find((r) => r.id === id);
    expect(result, `case ${id} did not run`).toBeDefined();
    const detail = [...result!.checks.map((c) => `${c.ok ? "ok" : c.required ? "FAIL" : "warn"} ${c.name}: ${c.detail}`), ...result!.evidence].join("\n");
    expect(result!.verdict, detail).not.toBe("fail");
  });

});

describe("npm run qualify (the command)", () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "host-test/qualify/cli.ts", ...args], { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, MODDABLE: "" } });

  it("--json prints the report for CI; the firmware is skipped with the reason when there is no SDK", () => {
    const result = run(["--json", "--case", "mqtt-connect"]);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as QualificationReport;
    expect(report.passed).toBe(true);
    expect(report.devices.map((d) => d.device)).toEqual(["virtual-button", "firmware"]);
    expect(report.devices[0]!.results.map((r) => [r.id, r.verdict])).toEqual([["mqtt-connect", "pass"]]);
    expect(report.devices[0]!.results[0]!.evidence.join("\n")).toMatch(/← CONNECT clientId=qualify-button keepalive=\d+s/);
    expect(report.devices[1]!.skipped).toMatch(/MODDABLE is not set/);
  }, 60_000);

  it("an unknown case is a usage error (exit 2), named", () => {
    const result = run(["--case", "tls-everything"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown case(s): tls-everything");
  });
});
