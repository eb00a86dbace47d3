import { describe, expect, it } from "vitest";
import {
  decodeGetNextRequest,
  decodeJobsRejected,
  decodeNextExecution,
  decodeUpdateAccepted,
  decodeUpdateRequest,
  encodeGetNextRequest,
  encodeJobsRejected,
  encodeNextExecution,
  encodeUpdateAccepted,
  encodeUpdateRequest,
  statusDetailsProblem,
  transitionProblem,
} from "../../../modules/core/jobs";
import { utf8Encode } from "../../../modules/core/utf8";

const json = (value: unknown) => utf8Encode(JSON.stringify(value));

describe("jobs API messages", () => {
  it("round-trips a next execution with its job document, and an empty one", () => {
    const execution = { jobId: "fw-1_4_0", status: "QUEUED" as const, versionNumber: 1, executionNumber: 1, jobDocument: { a: 1 } };
    expect(decodeNextExecution(encodeNextExecution({ execution, timestamp: 5, clientToken: "t1" }))).toEqual({ ok: true, value: { execution, clientToken: "t1" } });
    expect(decodeNextExecution(encodeNextExecution({ timestamp: 5 }))).toEqual({ ok: true, value: {} });
  });

  it("refuses a next execution that is not AWS-shaped", () => {
    for (const bad of [
      { execution: { jobId: "a/b", status: "QUEUED", versionNumber: 1 } },
      { execution: { jobId: "j", status: "DONE", versionNumber: 1 } },
      { execution: { jobId: "j", status: "QUEUED", versionNumber: 0 } },
      { execution: "j" },
    ]) {
      expect(decodeNextExecution(json(bad)).ok, JSON.stringify(bad)).toBe(false);
    }
    expect(decodeNextExecution(new Uint8Array([0xff]))).toEqual({ ok: false, reason: "not UTF-8" });
    expect(decodeNextExecution(utf8Encode("[1]"))).toEqual({ ok: false, reason: "not a JSON object" });
  });

  it("round-trips an update request; only device statuses and AWS-valid details pass", () => {
    const request = { status: "REJECTED" as const, statusDetails: { reason: "signature does not verify" }, expectedVersion: 2, clientToken: "c" };
    expect(decodeUpdateRequest(encodeUpdateRequest(request))).toEqual({ ok: true, value: request });
    expect(decodeUpdateRequest(json({ status: "QUEUED" }))).toMatchObject({ ok: false, reason: expect.stringMatching(/status must be one of/) });
    expect(decodeUpdateRequest(json({ status: "FAILED", statusDetails: { "bad key": "x" } })).ok).toBe(false);
    expect(decodeUpdateRequest(json({ status: "FAILED", statusDetails: { reason: "x".repeat(1025) } })).ok).toBe(false);
    expect(decodeUpdateRequest(json({ status: "FAILED", expectedVersion: -1 })).ok).toBe(false);
    expect(decodeUpdateRequest(json({ status: "FAILED", clientToken: "" })).ok).toBe(false);
  });

  it("statusDetails: at most 10 entries of strings", () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 11; i++) many[`k${i}`] = "v";
    expect(statusDetailsProblem(many)).toMatch(/more than 10/);
    expect(statusDetailsProblem({ a: 1 })).toMatch(/must be a string/);
    expect(statusDetailsProblem({ reason: "ok", "x:y_z-1": "v" })).toBeUndefined();
  });

  it("get-next requests: empty payload or a client token", () => {
    expect(decodeGetNextRequest(new Uint8Array(0))).toEqual({ ok: true, value: {} });
    expect(decodeGetNextRequest(encodeGetNextRequest("tok"))).toEqual({ ok: true, value: { clientToken: "tok" } });
    expect(decodeGetNextRequest(json({ clientToken: "x".repeat(65) })).ok).toBe(false);
  });

  it("update answers and refusals decode", () => {
    expect(decodeUpdateAccepted(encodeUpdateAccepted({ status: "SUCCEEDED", versionNumber: 3, timestamp: 1, clientToken: "c" }))).toEqual({
      ok: true,
      value: { status: "SUCCEEDED", versionNumber: 3, clientToken: "c" },
    });
    expect(decodeJobsRejected(encodeJobsRejected({ code: "InvalidStateTransition", message: "no", timestamp: 1 }))).toEqual({ ok: true, value: { code: "InvalidStateTransition", message: "no" } });
    expect(decodeUpdateAccepted(json({ executionState: {} })).ok).toBe(false);
  });

  it("a device may move an execution only from QUEUED or IN_PROGRESS", () => {
    expect(transitionProblem("QUEUED", "IN_PROGRESS")).toBeUndefined();
    expect(transitionProblem("IN_PROGRESS", "SUCCEEDED")).toBeUndefined();
    expect(transitionProblem("SUCCEEDED", "FAILED")).toMatch(/SUCCEEDED/);
    expect(transitionProblem("CANCELED", "IN_PROGRESS")).toMatch(/CANCELED/);
  });
});
