// The qualification report as a readable table (default) with the evidence of every case that did not
// pass cleanly; `--json` prints the report object itself.
import type { QualificationReport } from "./qualify";
import type { CaseResult } from "./runner";

const MARK: Record<CaseResult["verdict"], string> = {
  pass: "pass",
  "pass-with-warnings": "pass (warnings)",
  fail: "FAIL",
  skipped: "skipped",
};

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

export function formatTable(report: QualificationReport, options: { evidence?: "failures" | "all" } = {}): string {
  const out: string[] = [];
  const ids = [...new Set(report.devices.flatMap((d) => d.results.map((r) => r.id)))];
  const devices = report.devices;
  const idWidth = Math.max(4, ...ids.map((id) => id.length));
  out.push(["case".padEnd(idWidth), ...devices.map((d) => pad(d.device, 22))].join("  "));
  out.push(["-".repeat(idWidth), ...devices.map(() => "-".repeat(22))].join("  "));
  for (const id of ids) {
    const cells = devices.map((d) => {
      if (d.skipped) return pad("skipped", 22);
      const r = d.results.find((x) => x.id === id);
      if (!r) return pad("-", 22);
      return pad(`${MARK[r.verdict]}${r.durationMs ? ` ${(r.durationMs / 1000).toFixed(1)} s` : ""}`, 22);
    });
    out.push([id.padEnd(idWidth), ...cells].join("  "));
  }
  out.push("");
  for (const d of devices) {
    if (d.skipped) out.push(`${d.device}: skipped — ${d.skipped}`);
    else if (d.build) out.push(`${d.device}: ${d.label}; binary ${d.build.binaryBytes} bytes, build ${(d.build.buildMs / 1000).toFixed(1)} s`);
    else out.push(`${d.device}: ${d.label}`);
  }
  for (const d of devices) {
    for (const r of d.results) {
      const show = options.evidence === "all" || r.verdict === "fail" || r.verdict === "pass-with-warnings";
      if (!show) continue;
      out.push("", `── ${d.device} · ${r.id}: ${MARK[r.verdict]} — ${r.title}`);
      for (const c of r.checks) out.push(`   ${c.ok ? "ok  " : c.required ? "FAIL" : "warn"} ${c.name}: ${c.detail}`);
      if (r.evidence.length > 0) out.push("   evidence:", ...r.evidence.map((line) => `     ${line}`));
    }
  }
  out.push("", `${report.passed ? "QUALIFIED" : "NOT QUALIFIED"}: ${(report.durationMs / 1000).toFixed(1)} s`);
  return out.join("\n");
}
