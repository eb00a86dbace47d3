import { describe, expect, it } from "vitest";
import { base64Encode } from "../../../modules/core/der";
import { FIRMWARE_UPDATE_OPERATION, type FirmwareJob, signedStatement } from "../../../modules/core/firmware-job";
import { encodeNextExecution, encodeUpdateAccepted, encodeJobsRejected } from "../../../modules/core/jobs";
import { type FirmwarePort, JobsAgent, type JobsAgentEvent } from "../../../modules/core/jobs-agent";
import { readUpdateRecord, UpdateProbation, writeUpdateRecord } from "../../../modules/core/update-probation";
import { utf8Decode } from "../../../modules/core/utf8";
import { FakeConnector, FakeTimers, MemoryLog, MemoryStore } from "./fakes";

const THING = "b-1";
const SHA = new Uint8Array(32).fill(0xab);
const GOOD_SIGNATURE = new Uint8Array(256).fill(7);

function jobDocument(patch: Partial<FirmwareJob> = {}): FirmwareJob {
  return {
    operation: FIRMWARE_UPDATE_OPERATION,
    target: "esp32",
    version: "1.1.0",
    size: 1000,
    sha256: "ab".repeat(32),
    signature: base64Encode(GOOD_SIGNATURE),
    url: "https://jobs.local/images/x",
    ...patch,
  };
}

class FakeFirmware implements FirmwarePort {
  done: ((result: { ok: true; sha256: Uint8Array } | { ok: false; reason: string }) => void) | undefined;
  readonly calls: string[] = [];
  verified: string[] = [];
  progress: (() => void) | undefined;
  download(job: FirmwareJob, done: FakeFirmware["done"] & {}, progress?: () => void) {
    this.calls.push(`download ${job.version}`);
    this.done = done;
    this.progress = progress;
    return { abort: () => this.calls.push("abort") };
  }
  verifySignature(statement: Uint8Array, signature: Uint8Array): boolean {
    this.verified.push(utf8Decode(statement)!);
    return signature.every((b) => b === 7) && signature.length === 256;
  }
  discard() {
    this.calls.push("discard");
  }
  activate() {
    this.calls.push("activate");
  }
}

function setup(opts: { running?: string; record?: object } = {}) {
  const timers = new FakeTimers();
  const store = new MemoryStore();
  if (opts.record) writeUpdateRecord(store, opts.record as never);
  const connector = new FakeConnector();
  const firmware = new FakeFirmware();
  const log = new MemoryLog();
  const boot: string[] = [];
  const running = { target: "esp32", version: opts.running ?? "1.0.0" };
  const probation = new UpdateProbation({ store, timers, log, runningVersion: running.version, boot: { markValid: () => boot.push("valid"), rollback: () => boot.push("rollback") } });
  probation.start();
  const events: JobsAgentEvent[] = [];
  const agent = new JobsAgent({ thingName: THING, running, connector, firmware, probation, store, timers, log, onEvent: (e) => events.push(e) });
  const published = () => connector.allPublished.map((p) => [p.topic, JSON.parse(utf8Decode(p.payload)!)]);
  const offer = (doc: unknown, jobId = "fw-1") =>
    connector.last!.deliver(`$aws/things/${THING}/jobs/$next/get/accepted`, encodeNextExecution({ execution: { jobId, status: "QUEUED", versionNumber: 1, jobDocument: doc }, timestamp: 1 }));
  return { timers, store, connector, firmware, agent, events, published, offer, boot, probation };
}

describe("jobs agent", () => {
  it("asks for its next job on its own jobs topics once the broker is reached", () => {
    const s = setup();
    s.agent.run();
    expect(s.connector.last!.subscribe).toBe(`$aws/things/${THING}/jobs/#`);
    s.connector.last!.ready();
    expect(s.published()).toEqual([[`$aws/things/${THING}/jobs/$next/get`, { clientToken: "pizza-button", includeJobDocument: true }]]);
    s.connector.last!.deliver(`$aws/things/${THING}/jobs/$next/get/accepted`, encodeNextExecution({ timestamp: 1 }));
    expect(s.agent.busy).toBe(false);
    expect(s.events).toEqual([{ type: "done", reason: "no pending job" }]);
  });

  it("downloads, checks hash and signature, records the update and only then activates", () => {
    const s = setup();
    s.agent.run();
    s.connector.last!.ready();
    s.offer(jobDocument());
    expect(s.published()[1]).toEqual([`$aws/things/${THING}/jobs/fw-1/update`, { status: "IN_PROGRESS", statusDetails: { step: "download", version: "1.1.0" }, clientToken: "pizza-button" }]);
    expect(s.firmware.calls).toEqual(["download 1.1.0"]);
    expect(readUpdateRecord(s.store)).toBeUndefined();
    s.firmware.done!({ ok: true, sha256: SHA });
    expect(s.firmware.verified).toEqual([new TextDecoderShim().decode(signedStatement(jobDocument()))]);
    expect(s.firmware.calls).toEqual(["download 1.1.0", "activate"]);
    expect(readUpdateRecord(s.store)).toEqual({ jobId: "fw-1", version: "1.1.0", from: "1.0.0", state: "installed" });
  });

  it.each([
    ["a tampered image", { ok: true as const, sha256: new Uint8Array(32).fill(0xac) }, {}, "image SHA-256 does not match the job's"],
    ["a wrong signature", { ok: true as const, sha256: SHA }, { signature: base64Encode(new Uint8Array(256).fill(8)) }, "signature does not verify with the release key"],
  ])("%s: REJECTED, the written image discarded, nothing activated", (_name, result, patch, reason) => {
    const s = setup();
    s.agent.run();
    s.connector.last!.ready();
    s.offer(jobDocument(patch));
    s.firmware.done!(result);
    expect(s.firmware.calls).toEqual(["download 1.1.0", "discard"]);
    expect(s.published().at(-1)).toEqual([`$aws/things/${THING}/jobs/fw-1/update`, { status: "REJECTED", statusDetails: { reason }, clientToken: "pizza-button" }]);
    expect(readUpdateRecord(s.store)).toBeUndefined();
    s.connector.last!.deliver(`$aws/things/${THING}/jobs/fw-1/update/accepted`, encodeUpdateAccepted({ status: "REJECTED", versionNumber: 3, timestamp: 1 }));
    // The job ended: the next queued one is asked for; an empty notify-next does not end the run, the answer does.
    expect(s.published().at(-1)![0]).toBe(`$aws/things/${THING}/jobs/$next/get`);
    s.connector.last!.deliver(`$aws/things/${THING}/jobs/notify-next`, encodeNextExecution({ timestamp: 1 }));
    expect(s.agent.busy).toBe(true);
    s.connector.last!.deliver(`$aws/things/${THING}/jobs/$next/get/accepted`, encodeNextExecution({ timestamp: 1 }));
    expect(s.agent.busy).toBe(false);
  });

  it.each([
    ["a downgrade", jobDocument({ version: "0.9.0" }), "version 0.9.0 is not newer than the running 1.0.0 (no downgrade)"],
    ["the running version", jobDocument({ version: "1.0.0" }), "version 1.0.0 is not newer than the running 1.0.0 (no downgrade)"],
    ["another board's image", jobDocument({ target: "x-cli-lin" }), "image is for x-cli-lin, this button is esp32"],
    ["a bad document", { operation: "reboot" }, "bad job document: operation must be pizza.firmware-update"],
  ])("%s is REJECTED without a download", (_name, doc, reason) => {
    const s = setup();
    s.agent.run();
    s.connector.last!.ready();
    s.offer(doc);
    expect(s.firmware.calls).toEqual([]);
    expect(s.published().at(-1)![1]).toEqual({ status: "REJECTED", statusDetails: { reason }, clientToken: "pizza-button" });
  });

  it("a download that keeps moving is never idle, however long it takes; one that stalls is dropped", () => {
    const s = setup();
    s.agent.run();
    s.connector.last!.ready();
    s.offer(jobDocument());
    for (let i = 0; i < 5; i++) {
      s.timers.advance(50_000);
      s.firmware.progress!();
    }
    expect(s.agent.busy).toBe(true);
    s.timers.advance(60_000);
    expect(s.agent.busy).toBe(false);
    expect(s.firmware.calls).toEqual(["download 1.1.0", "abort", "discard"]);
    expect(s.events.at(-1)).toEqual({ type: "done", reason: "no progress" });
  });

  it("a failed download is FAILED with the reason; an abort (a click) drops and discards it without a report", () => {
    const s = setup();
    s.agent.run();
    s.connector.last!.ready();
    s.offer(jobDocument());
    s.firmware.done!({ ok: false, reason: "HTTP 403" });
    expect(s.published().at(-1)![1]).toMatchObject({ status: "FAILED", statusDetails: { reason: "download failed: HTTP 403" } });

    const t = setup();
    t.agent.run();
    t.connector.last!.ready();
    t.offer(jobDocument());
    t.agent.abort("a click needs the connection");
    expect(t.firmware.calls).toEqual(["download 1.1.0", "abort", "discard"]);
    expect(t.connector.last!.closedByCore).toBe(true);
    expect(t.published().map((p) => p[1].status)).toEqual([undefined, "IN_PROGRESS"]);
  });

  it("after the update the new image reports SUCCEEDED with its version once it reached the broker", () => {
    const s = setup({ running: "1.1.0", record: { jobId: "fw-1", version: "1.1.0", from: "1.0.0", state: "installed" } });
    expect(s.probation.onProbation).toBe(true);
    s.agent.run();
    s.connector.last!.ready();
    expect(s.boot).toEqual(["valid"]);
    expect(s.published()).toEqual([[`$aws/things/${THING}/jobs/fw-1/update`, { status: "SUCCEEDED", statusDetails: { version: "1.1.0" }, clientToken: "pizza-button" }]]);
    s.connector.last!.deliver(`$aws/things/${THING}/jobs/fw-1/update/accepted`, encodeUpdateAccepted({ status: "SUCCEEDED", versionNumber: 3, timestamp: 1 }));
    expect(readUpdateRecord(s.store)).toBeUndefined();
    expect(s.published().at(-1)![0]).toBe(`$aws/things/${THING}/jobs/$next/get`);
  });

  it("after a rollback the previous image reports FAILED with the reason, even if the service refuses it", () => {
    const s = setup({ running: "1.0.0", record: { jobId: "fw-1", version: "1.1.0", from: "1.0.0", state: "rolling-back", reason: "version 1.1.0 could not reach the broker within 300 s; rolled back to 1.0.0" } });
    s.agent.run();
    s.connector.last!.ready();
    expect(s.published()[0]![1]).toEqual({ status: "FAILED", statusDetails: { reason: "version 1.1.0 could not reach the broker within 300 s; rolled back to 1.0.0", version: "1.0.0" }, clientToken: "pizza-button" });
    s.connector.last!.deliver(`$aws/things/${THING}/jobs/fw-1/update/rejected`, encodeJobsRejected({ code: "InvalidStateTransition", message: "x", timestamp: 1 }));
    expect(readUpdateRecord(s.store)).toBeUndefined();
  });

  it("gives up a run that stalls, discarding a half-written image", () => {
    const s = setup();
    s.agent.run();
    s.connector.last!.ready();
    s.offer(jobDocument());
    s.timers.advance(60_000);
    expect(s.agent.busy).toBe(false);
    expect(s.firmware.calls).toEqual(["download 1.1.0", "abort", "discard"]);
  });

  it("ignores another thing's topics and answers", () => {
    const s = setup();
    s.agent.run();
    s.connector.last!.ready();
    s.connector.last!.deliver("$aws/things/b-2/jobs/notify-next", encodeNextExecution({ execution: { jobId: "x", status: "QUEUED", versionNumber: 1, jobDocument: jobDocument() }, timestamp: 1 }));
    expect(s.firmware.calls).toEqual([]);
    expect(s.published().length).toBe(1);
  });
});

/** utf8Decode with a throwing guard (the core has no TextDecoder). */
class TextDecoderShim {
  decode(bytes: Uint8Array): string {
    const text = utf8Decode(bytes);
    if (text === undefined) throw new Error("not UTF-8");
    return text;
  }
}
