// `npm run bench -- --quick` as a child process, the way a user runs it: one JSON document on stdout, every
// section present with the documented shape, and the load runs clean (every button's order accepted
// exactly once: 0 lost, 0 duplicates). No timing is asserted: speed goals are what the bench reports.
// $MODDABLE is removed for the main run (the firmware section then says why it skipped); a second case
// runs the firmware section alone where the SDK is installed.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findSdk } from "../../../tools/firmware/sdk";
import { mosquittoUnavailableReason } from "../../mosquitto/mosquitto";
import { tsxCommand } from "../support/tsx-command";

const ROOT = path.resolve(import.meta.dirname, "../../..");

/** Runs the bench; a run that outlives `timeoutMs` is ended (SIGTERM to its PID; tsx passes it on). */
function bench(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(...tsxCommand("host-test/bench/bench.ts", ...args), { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`bench ${args.join(" ")} still running after ${timeoutMs} ms; stopped. stderr:\n${stderr}`));
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A latency summary: positive, finite, ordered percentiles. */
function expectSummary(summary: any, n?: number): void {
  expect(summary).toEqual(expect.objectContaining({ p50: expect.any(Number), p90: expect.any(Number), p99: expect.any(Number) }));
  if (n !== undefined) expect(summary.n).toBe(n);
  for (const key of ["p50", "p90", "p99"]) expect(Number.isFinite(summary[key]) && summary[key] >= 0).toBe(true);
  expect(summary.p50).toBeLessThanOrEqual(summary.p90);
  expect(summary.p90).toBeLessThanOrEqual(summary.p99);
}

function expectRatio(ratio: any): void {
  for (const key of ["p50", "p90", "p99"]) expect(Number.isFinite(ratio[key]) && ratio[key] > 0).toBe(true);
}

function expectCleanLoad(run: any, buttons: number): void {
  expect(run.buttons).toBe(buttons);
  expect(run.lost).toBe(0);
  expect(run.duplicates).toBe(0);
  expect(run.failed).toBe(0);
  expect(run.accepted).toBe(buttons);
  expect(run.restaurant.refused).toBe(0);
  expect(run.wallMs).toBeGreaterThan(0);
  expect(run.ordersPerSec).toBeGreaterThan(0);
  expect(run.pressToAck.p50).toBeLessThanOrEqual(run.pressToAck.p99);
}

describe("npm run bench -- --quick", () => {
  it("prints one JSON document with warm, cold, rtt, load and firmware sections; the load runs lose and double nothing", async () => {
    const env = { ...process.env };
    delete env.MODDABLE; // the firmware section is covered below; here it must say why it skipped
    // Every section runs, on fewer samples than --quick's own (what is checked here is the command and the shape
    // of its report; the load's exactly-once guarantees at scale are host-test/test/load's).
    const run = await bench(["--quick", "--table", "--warm", "20", "--cold", "5", "--load", "40"], env, 170_000);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout); // the whole stdout is one document
    expect(run.stderr).toContain("[bench"); // progress and the table go to stderr
    expect(run.stderr).toContain("targets:");

    expect(report).toMatchObject({ bench: "pizza-button", version: 1, quick: true });
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.machine.loadavgStart).toHaveLength(3);

    // Warm: ours and the baseline, same N, ratio per percentile, and where ours spends its time.
    expectSummary(report.warm.ours, report.warm.n);
    expectSummary(report.warm.baseline, report.warm.n);
    expectRatio(report.warm.ratio);
    for (const part of ["publishToAck", "store", "rest"]) expect(report.warm.oursSplit[part].n).toBe(report.warm.n);

    // Cold: the same, plus the per-step split on both sides, over TLS 1.2.
    expectSummary(report.cold.ours, report.cold.n);
    expectSummary(report.cold.baseline, report.cold.n);
    expectRatio(report.cold.ratio);
    for (const step of ["tcp", "tls", "connack", "suback", "publishToAck"]) {
      expectSummary(report.cold.split.ours[step], report.cold.n);
      expectSummary(report.cold.split.baseline[step], report.cold.n);
    }
    expect(report.cold.tls.protocol).toBe("TLSv1.2");

    // Load: every button's one order accepted exactly once, on each broker.
    const buttons = report.load.buttons;
    expect(buttons).toBeGreaterThan(0);
    expectCleanLoad(report.load.embedded, buttons);
    if (mosquittoUnavailableReason()) expect(report.load.mosquitto.skipped).toEqual(expect.any(String));
    else expectCleanLoad(report.load.mosquitto, buttons);

    expect(report.firmware.skipped).toMatch(/MODDABLE/);

    // Round trips: the virtual button through the delaying relay, full and resumed, counted in RTTs.
    expect(report.rtt.rttMs).toBe(2 * report.rtt.oneWayMs);
    const rttRuns = mosquittoUnavailableReason() ? [report.rtt.virtual.embedded] : [report.rtt.virtual.embedded, report.rtt.virtual.mosquitto];
    for (const run of rttRuns) {
      for (const handshake of ["full", "resumed"]) {
        expectSummary(run[handshake].pressToAck, run[handshake].clicks);
        expect(run[handshake].rtts).toBeGreaterThan(0);
      }
      expect(run.full.resumed).toBe(0); // a forgotten session is never resumed
    }
    expect(report.rtt.firmware.skipped).toMatch(/MODDABLE/);
    expect(report.battery.skipped).toMatch(/MODDABLE/);

    // Targets: one entry per goal, judged (true/false) where measured, null where not run.
    expect(report.targets).toHaveLength(23);
    for (const target of report.targets) {
      expect(target).toEqual(expect.objectContaining({ name: expect.any(String), limit: expect.any(Number) }));
      expect([true, false, null]).toContain(target.met);
    }
    // warm (ratio, overhead), cold, load (embedded, and mosquitto with its CPU comparison when installed), rtt of the virtual button
    expect(report.targets.filter((t: any) => t.met !== null)).toHaveLength(mosquittoUnavailableReason() ? 4 + 2 : 6 + 4);

    // Loopback only, temp dirs gone.
    expect(fs.existsSync(report.settings.workDir)).toBe(false);
    expect(fs.existsSync(report.settings.stateDir)).toBe(false);
  }, 180_000);

  const sdk = findSdk();
  // The scale section starts PostgreSQL and five restaurant processes: it runs in `npm run test:load` (and CI),
  // not in `npm test`, like the full-size load and failover tests.
  const scale = process.env.PIZZA_SCALE_BENCH === "1";
  if (!scale) console.log("bench --only scale: run by npm run test:load (PostgreSQL and five restaurant runs)");
  it.runIf(scale)("--quick --only scale: orders/s on SQLite and on PostgreSQL with one and three instances, each run clean", async () => {
    const run = await bench(["--quick", "--only", "scale"], process.env, 170_000);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const { buttons, presses } = report.scale;
    const runs = [report.scale.sqlite1, report.scale.postgres1, report.scale.postgres3].filter((r) => !("skipped" in r));
    expect(runs[0]).toMatchObject({ store: "sqlite", instances: 1 });
    if (!("skipped" in report.scale.postgres3)) expect(report.scale.postgres3).toMatchObject({ store: "postgres", instances: 3 });
    for (const r of runs) {
      expect(r).toMatchObject({ orders: buttons * presses, accepted: buttons * presses, lost: 0, duplicates: 0 });
      expect(r.ordersPerSec).toBeGreaterThan(0);
    }
  }, 180_000);

  it.skipIf(!sdk.ok)("--only firmware: the real firmware (x-cli-lin) clicks cold against the embedded broker and mosquitto", async () => {
    const run = await bench(["--quick", "--only", "firmware"], process.env, 19 * 60_000);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const fw = report.firmware;
    expectSummary(fw.pressToAck, fw.clicks);
    expectSummary(fw.connectToReady, fw.clicks);
    expectSummary(fw.tlsHandshake);
    expect(fw.build.binaryBytes).toBeGreaterThan(0);
    for (const step of ["acceptToClientHello", "clientSecondFlight", "connack", "connackToAck", "ackToOutcome"]) expectSummary(fw.split[step], fw.clicks);
    // XS memory: measured when the firmware reports it, otherwise a reason naming the line it would need.
    if ("skipped" in fw.memory) expect(fw.memory.skipped).toContain("@mem");
    else expectSummary(fw.memory.chunksPeakBytes, fw.clicks);
    if (!("skipped" in fw.mosquitto)) expectSummary(fw.mosquitto.pressToAck, fw.mosquitto.clicks);
    // Battery mode: boots woken by a press; the classifier holds the press before the firmware listens.
    expectSummary(fw.wake.pressToClassifier, fw.wake.wakes);
    expectSummary(fw.wake.pressToReady, fw.wake.wakes);
    expect(fw.wake.pressToClassifier.p50).toBeLessThanOrEqual(fw.wake.pressToReady.p50);
    expect(report.warm.skipped).toEqual(expect.any(String));
  }, 20 * 60_000);

  it.skipIf(!sdk.ok)("--only battery: the firmware in battery mode, first press after power-on full, presses after deep sleep resumed on the wire", async () => {
    const run = await bench(["--quick", "--only", "battery", "--table"], process.env, 19 * 60_000);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const battery = report.battery;
    expect(battery.rttMs).toBe(2 * battery.oneWayMs);
    const runs = mosquittoUnavailableReason() ? [battery.embedded] : [battery.embedded, battery.mosquitto];
    for (const r of runs) {
      expectSummary(r.powerOn.pressToAck, r.powerOn.presses);
      expectSummary(r.afterSleep.pressToAck, r.afterSleep.presses);
      expectSummary(r.afterSleep.wakeToAck, r.afterSleep.presses);
      expect(r.powerOn.resumedOnWire).toBe(0); // RTC memory is empty after a power-on
      expect(r.afterSleep.resumedOnWire).toBe(r.afterSleep.presses);
      if (!("skipped" in r.afterSleep.tlsCpuMs)) expect(r.afterSleep.tlsCpuMs.p50).toBeLessThan(r.powerOn.tlsCpuMs.p50); // no RSA, no ECDHE
      // On the wire: TCP, TLS, MQTT pipelined (resumed); a full handshake has one more.
      expect(r.afterSleep.wireRoundTrips.max).toBe(3);
      expect(r.powerOn.wireRoundTrips.max).toBe(4);
      expect(r.afterSleep.split.wireMs.p50).toBe(3 * battery.rttMs);
      expect(r.afterSleep.split.serverMs.p50).toBeGreaterThan(0);
    }
    const battTargets = report.targets.filter((t: any) => t.name.startsWith("battery"));
    expect(battTargets).toHaveLength(6);
    expect(run.stderr).toContain("press after deep sleep");
  }, 20 * 60_000);
});
