import { describe, expect, it } from "vitest";
import { bootVerdict, readUpdateRecord, UPDATE_RECORD_KEY, UpdateProbation, writeUpdateRecord } from "../../../modules/core/update-probation";
import { FakeTimers, MemoryStore } from "./fakes";

const silent = { info() {}, warn() {}, error() {} };

function setup(running: string, record?: object) {
  const store = new MemoryStore();
  if (record) store.write(UPDATE_RECORD_KEY, JSON.stringify(record));
  const timers = new FakeTimers();
  const calls: string[] = [];
  const probation = new UpdateProbation({
    store,
    timers,
    runningVersion: running,
    probationMs: 60_000,
    boot: { markValid: () => calls.push("markValid"), rollback: () => calls.push("rollback") },
    log: silent,
  });
  return { store, timers, calls, probation };
}

const installed = { jobId: "fw-2", version: "2.0.0", from: "1.0.0", state: "installed" };

describe("update probation", () => {
  it("without a record a boot is just a boot", () => {
    const { probation, calls } = setup("1.0.0");
    expect(probation.start()).toEqual({ kind: "none" });
    expect(probation.pending()).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it("the new image reports SUCCEEDED only after it reached the broker, then marks itself valid", () => {
    const { probation, calls, timers, store } = setup("2.0.0", installed);
    expect(probation.start().kind).toBe("probation");
    expect(probation.pending()).toBeUndefined();
    timers.advance(59_000);
    probation.brokerReached();
    expect(calls).toEqual(["markValid"]);
    expect(probation.pending()).toEqual({ jobId: "fw-2", status: "SUCCEEDED", statusDetails: { version: "2.0.0" } });
    timers.advance(10 * 60_000);
    expect(calls).toEqual(["markValid"]); // the probation timer is gone
    probation.reported();
    expect(store.read(UPDATE_RECORD_KEY)).toBeUndefined();
  });

  it("a SUCCEEDED not yet accepted is sent again after a reset", () => {
    const first = setup("2.0.0", installed);
    first.probation.start();
    first.probation.brokerReached();
    const again = new UpdateProbation({ store: first.store, timers: first.timers, runningVersion: "2.0.0", boot: { markValid() {}, rollback() {} }, log: silent });
    expect(again.start()).toEqual({ kind: "report", report: { jobId: "fw-2", status: "SUCCEEDED", statusDetails: { version: "2.0.0" } } });
  });

  it("no broker within the probation time: back to the previous image, which reports FAILED with the reason", () => {
    const { probation, calls, timers, store } = setup("2.0.0", installed);
    probation.start();
    timers.advance(60_000);
    expect(calls).toEqual(["rollback"]);
    expect(readUpdateRecord(store)).toMatchObject({ state: "rolling-back", reason: "version 2.0.0 could not reach the broker within 60 s; rolled back to 1.0.0" });

    const previous = new UpdateProbation({ store, timers, runningVersion: "1.0.0", boot: { markValid: () => calls.push("markValid"), rollback() {} }, log: silent });
    expect(previous.start().kind).toBe("report");
    expect(previous.pending()).toEqual({
      jobId: "fw-2",
      status: "FAILED",
      statusDetails: { reason: "version 2.0.0 could not reach the broker within 60 s; rolled back to 1.0.0", version: "1.0.0" },
    });
    previous.brokerReached(); // nothing more to prove
    previous.reported();
    expect(store.read(UPDATE_RECORD_KEY)).toBeUndefined();
  });

  it("an image that never started (bootloader rollback) is reported FAILED by the previous one", () => {
    expect(bootVerdict({ ...installed, state: "installed" }, "1.0.0", 1000)).toEqual({
      kind: "report",
      report: { jobId: "fw-2", status: "FAILED", statusDetails: { reason: "version 2.0.0 did not start: the bootloader went back to 1.0.0", version: "1.0.0" } },
    });
  });

  it("a version that is neither is reported, not put on probation", () => {
    const verdict = bootVerdict({ ...installed, state: "installed" }, "3.0.0", 1000);
    expect(verdict).toMatchObject({ kind: "report", report: { status: "FAILED" } });
  });

  it("an unreadable record is dropped", () => {
    const store = new MemoryStore();
    store.write(UPDATE_RECORD_KEY, "{not json");
    expect(readUpdateRecord(store)).toBeUndefined();
    expect(store.read(UPDATE_RECORD_KEY)).toBeUndefined();
    writeUpdateRecord(store, { jobId: "j", version: "1.0.1", from: "1.0.0", state: "installed" });
    expect(readUpdateRecord(store)).toMatchObject({ jobId: "j" });
  });
});
