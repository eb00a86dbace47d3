// A local AWS IoT Device Advisor for this product: every case against every device under test. The
// virtual button always runs; the firmware (x-cli-lin build) when a Moddable SDK is found, otherwise it is
// reported as skipped with the reason.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findSdk } from "../../tools/firmware/sdk";
import { createCasePki, type CasePki } from "./case-pki";
import { CASES } from "./cases";
import { buildFirmwareUnderTest, firmwareDevice, virtualButton, type DeviceUnderTest } from "./devices";
import { productCase, runCase, type CaseResult } from "./runner";

export type DeviceChoice = "virtual-button" | "firmware";

export interface QualificationOptions {
  devices: DeviceChoice[];
  /** Case ids to run (default all). */
  cases?: string[];
  thingName?: string;
  /** Progress lines (case started/finished, builds). */
  progress?: (line: string) => void;
}

export interface DeviceReport {
  device: DeviceChoice;
  label: string;
  skipped?: string;
  /** Firmware only: the build used. */
  build?: { binaryBytes: number; buildMs: number };
  results: CaseResult[];
}

export interface QualificationReport {
  startedAt: string;
  durationMs: number;
  devices: DeviceReport[];
  /** pass: nothing failed (warnings allowed). */
  passed: boolean;
}

export function caseIds(): string[] {
  return [...CASES.map((c) => c.id), "product-one-order-per-press"];
}

export async function runQualification(options: QualificationOptions): Promise<QualificationReport> {
  const started = Date.now();
  const progress = options.progress ?? (() => undefined);
  const unknown = (options.cases ?? []).filter((id) => !caseIds().includes(id));
  if (unknown.length > 0) throw new Error(`unknown case(s): ${unknown.join(", ")} (cases: ${caseIds().join(", ")})`);
  const selected = CASES.filter((c) => !options.cases || options.cases.includes(c.id));
  const workDir = mkdtempSync(join(tmpdir(), "qualify-"));
  const reports: DeviceReport[] = [];
  try {
    progress("creating the case certificates (RSA-4096 keys take a few seconds)");
    const pki: CasePki = await createCasePki({ dir: workDir, thingName: options.thingName ?? "qualify-button" });
    for (const choice of options.devices) {
      let device: DeviceUnderTest;
      const report: DeviceReport = { device: choice, label: "", results: [] };
      reports.push(report);
      if (choice === "firmware") {
        const sdk = findSdk();
        if (!sdk.ok) {
          report.label = "firmware on the Moddable runtime";
          report.skipped = sdk.reason;
          progress(`firmware skipped: ${sdk.reason}`);
          continue;
        }
        progress("building the firmware for x-cli-lin with the case identity (first build: minutes)");
        const build = await buildFirmwareUnderTest(sdk.sdk, pki.device);
        report.build = { binaryBytes: build.binaryBytes, buildMs: build.buildMs };
        device = firmwareDevice(build);
      } else {
        device = virtualButton(pki.device);
      }
      report.label = device.label;
      for (const testCase of selected) {
        progress(`${device.id}: ${testCase.id} …`);
        const result = await runCase(testCase, { device, pki, workDir });
        progress(`${device.id}: ${testCase.id} ${result.verdict} (${(result.durationMs / 1000).toFixed(1)} s)`);
        report.results.push(result);
      }
      if (!options.cases || options.cases.includes("product-one-order-per-press")) report.results.push(productCase(report.results, device.id));
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  return {
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    devices: reports,
    passed: reports.every((r) => r.results.every((c) => c.verdict !== "fail")),
  };
}
