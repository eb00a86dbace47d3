// `npm run qualify` for the real firmware on the Moddable runtime (x-cli-lin build, esp32/nodemcu XS
// memory budget). Needs an installed Moddable SDK ($MODDABLE); skipped with the reason otherwise.
import { describe, expect, it, beforeAll } from "vitest";
import { findSdk } from "../../../tools/firmware/sdk";
import { caseIds, runQualification, type QualificationReport } from "../../qualify/qualify";
import { formatTable } from "../../qualify/report";

const sdk = findSdk();
if (!sdk.ok) console.log(`firmware qualification skipped: ${sdk.reason}`);

describe.skipIf(!sdk.ok)("qualification: the firmware on the Moddable runtime (x-cli-lin)", () => {
  let report: QualificationReport;

  beforeAll(async () => {
    report = await runQualification({ devices: ["firmware"] });
    console.log(formatTable(report));
  }, 20 * 60_000);

  it.each(caseIds())("%s passes", (id) => {
    const result = report.devices[0]!.results.find((r) => r.id === id);
    expect(result, `case ${id} did not run`).toBeDefined();
    const detail = [...result!.checks.map((c) => `${c.ok ? "ok" : c.required ? "FAIL" : "warn"} ${c.name}: ${c.detail}`), ...result!.evidence].join("\n");
    expect(result!.verdict, detail).not.toBe("fail");
  });
});
