// The AWS IoT Jobs MQTT API messages a device and the local jobs service exchange (the subset for one thing
// working through its own jobs). Field names and status values are AWS's, so the firmware talks to AWS IoT
// Jobs unchanged. Topics: modules/core/topics.ts.
//
//   notify-next                  {"timestamp":…,"execution":{jobId,status,versionNumber,executionNumber,jobDocument}}
//                                (no "execution": nothing pending)
//   $next/get                    {"clientToken":"…"}  → …/accepted {"execution"?:…,"clientToken"}  | …/rejected
//   <jobId>/update               {"status":"IN_PROGRESS"|"SUCCEEDED"|"FAILED"|"REJECTED","statusDetails":{…},
//                                 "expectedVersion"?:n,"clientToken"?}
//                                → …/accepted {"executionState":{status,statusDetails,versionNumber}} | …/rejected
//   …/rejected                   {"code":"InvalidRequest"|"InvalidStateTransition"|"ResourceNotFound"|"VersionMismatch",
//                                 "message":"…","clientToken"?}

import type { Decoded } from "./messages";
import { isValidJobId } from "./topics";
import { utf8Decode, utf8Encode } from "./utf8";

export type JobExecutionStatus = "QUEUED" | "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "REJECTED" | "TIMED_OUT" | "REMOVED" | "CANCELED";
/** What a device may report (AWS refuses QUEUED and the service-side ends). */
export type DeviceReportedStatus = "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "REJECTED";
export const DEVICE_REPORTED_STATUSES: readonly DeviceReportedStatus[] = ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"];
const EXECUTION_STATUSES: readonly string[] = ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "REMOVED", "CANCELED"];
/** An execution in one of these is over: no update may change it. */
export const TERMINAL_STATUSES: readonly JobExecutionStatus[] = ["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "REMOVED", "CANCELED"];

/** AWS: statusDetails is at most 10 entries, keys [a-zA-Z0-9:_-]{1,128}, values 1–1024 characters. */
export type StatusDetails = { [key: string]: string };
const MAX_DETAILS = 10;
const MAX_DETAIL_VALUE = 1024;
/** A notify-next or get answer carries the job document (AWS allows 32 KB). */
export const MAX_JOBS_MESSAGE_BYTES = 32 * 1024;

export interface JobExecution {
  jobId: string;
  status: JobExecutionStatus;
  versionNumber: number;
  executionNumber?: number;
  jobDocument?: unknown;
}

export type JobsErrorCode = "InvalidRequest" | "InvalidStateTransition" | "ResourceNotFound" | "VersionMismatch" | "InvalidJson";

export interface UpdateRequest {
  status: DeviceReportedStatus;
  statusDetails?: StatusDetails;
  expectedVersion?: number;
  clientToken?: string;
}

type Fields = { [key: string]: unknown };

function parseObject(payload: Uint8Array): Fields | string {
  if (payload.length > MAX_JOBS_MESSAGE_BYTES) return `larger than ${MAX_JOBS_MESSAGE_BYTES} bytes`;
  const text = utf8Decode(payload);
  if (text === undefined) return "not UTF-8";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  return value as Fields;
}

function clientTokenProblem(token: unknown): string | undefined {
  if (token === undefined) return undefined;
  return typeof token === "string" && token.length >= 1 && token.length <= 64 && !/[\u0000-\u001f]/.test(token) ? undefined : "clientToken must be 1-64 characters";
}

/** Why statusDetails is not AWS-valid, or undefined. */
export function statusDetailsProblem(details: unknown): string | undefined {
  if (typeof details !== "object" || details === null || Array.isArray(details)) return "statusDetails must be an object of strings";
  const keys = Object.keys(details);
  if (keys.length > MAX_DETAILS) return `statusDetails has more than ${MAX_DETAILS} entries`;
  for (const key of keys) {
    if (!/^[A-Za-z0-9:_-]{1,128}$/.test(key)) return `statusDetails key ${JSON.stringify(key.slice(0, 40))} is not [a-zA-Z0-9:_-]{1,128}`;
    const value = (details as Fields)[key];
    if (typeof value !== "string" || value.length === 0 || value.length > MAX_DETAIL_VALUE) return `statusDetails.${key} must be a string of 1-${MAX_DETAIL_VALUE} characters`;
  }
  return undefined;
}

function decodeExecution(value: unknown): JobExecution | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "execution is not an object";
  const e = value as Fields;
  if (typeof e.jobId !== "string" || !isValidJobId(e.jobId)) return "execution.jobId is not a job id";
  if (typeof e.status !== "string" || EXECUTION_STATUSES.indexOf(e.status) < 0) return "execution.status is not a job execution status";
  if (typeof e.versionNumber !== "number" || !Number.isSafeInteger(e.versionNumber) || e.versionNumber < 1) return "execution.versionNumber must be a positive integer";
  const out: JobExecution = { jobId: e.jobId, status: e.status as JobExecutionStatus, versionNumber: e.versionNumber };
  if (typeof e.executionNumber === "number" && Number.isSafeInteger(e.executionNumber)) out.executionNumber = e.executionNumber;
  if (e.jobDocument !== undefined) out.jobDocument = e.jobDocument;
  return out;
}

/** notify-next or $next/get/accepted: the next pending execution, or none. */
export function decodeNextExecution(payload: Uint8Array): Decoded<{ execution?: JobExecution; clientToken?: string }> {
  const o = parseObject(payload);
  if (typeof o === "string") return { ok: false, reason: o };
  if (o.execution === undefined || o.execution === null) return { ok: true, value: typeof o.clientToken === "string" ? { clientToken: o.clientToken } : {} };
  const execution = decodeExecution(o.execution);
  if (typeof execution === "string") return { ok: false, reason: execution };
  return { ok: true, value: { execution, ...(typeof o.clientToken === "string" ? { clientToken: o.clientToken } : {}) } };
}

export function encodeNextExecution(message: { execution?: JobExecution; timestamp: number; clientToken?: string }): Uint8Array {
  return utf8Encode(JSON.stringify(message));
}

export function encodeGetNextRequest(clientToken: string): Uint8Array {
  return utf8Encode(JSON.stringify({ clientToken, includeJobDocument: true }));
}

/** The service side of $next/get: an empty object is a valid request. */
export function decodeGetNextRequest(payload: Uint8Array): Decoded<{ clientToken?: string }> {
  const o = payload.length === 0 ? ({} as Fields) : parseObject(payload);
  if (typeof o === "string") return { ok: false, reason: o };
  const tokenProblem = clientTokenProblem(o.clientToken);
  if (tokenProblem) return { ok: false, reason: tokenProblem };
  return { ok: true, value: typeof o.clientToken === "string" ? { clientToken: o.clientToken } : {} };
}

export function encodeUpdateRequest(request: UpdateRequest): Uint8Array {
  return utf8Encode(JSON.stringify(request));
}

export function decodeUpdateRequest(payload: Uint8Array): Decoded<UpdateRequest> {
  const o = parseObject(payload);
  if (typeof o === "string") return { ok: false, reason: o };
  if (typeof o.status !== "string" || (DEVICE_REPORTED_STATUSES as readonly string[]).indexOf(o.status) < 0) {
    return { ok: false, reason: `status must be one of ${DEVICE_REPORTED_STATUSES.join(", ")}` };
  }
  const out: UpdateRequest = { status: o.status as DeviceReportedStatus };
  if (o.statusDetails !== undefined) {
    const problem = statusDetailsProblem(o.statusDetails);
    if (problem) return { ok: false, reason: problem };
    out.statusDetails = o.statusDetails as StatusDetails;
  }
  if (o.expectedVersion !== undefined) {
    if (typeof o.expectedVersion !== "number" || !Number.isSafeInteger(o.expectedVersion) || o.expectedVersion < 1) return { ok: false, reason: "expectedVersion must be a positive integer" };
    out.expectedVersion = o.expectedVersion;
  }
  const tokenProblem = clientTokenProblem(o.clientToken);
  if (tokenProblem) return { ok: false, reason: tokenProblem };
  if (typeof o.clientToken === "string") out.clientToken = o.clientToken;
  return { ok: true, value: out };
}

export function encodeUpdateAccepted(message: { status: JobExecutionStatus; statusDetails?: StatusDetails; versionNumber: number; timestamp: number; clientToken?: string }): Uint8Array {
  const { clientToken, timestamp, ...state } = message;
  return utf8Encode(JSON.stringify({ executionState: state, timestamp, ...(clientToken ? { clientToken } : {}) }));
}

export function decodeUpdateAccepted(payload: Uint8Array): Decoded<{ status: JobExecutionStatus; versionNumber: number; clientToken?: string }> {
  const o = parseObject(payload);
  if (typeof o === "string") return { ok: false, reason: o };
  const s = o.executionState as Fields | undefined;
  if (typeof s !== "object" || s === null || typeof s.status !== "string" || EXECUTION_STATUSES.indexOf(s.status) < 0 || typeof s.versionNumber !== "number") {
    return { ok: false, reason: "executionState must carry status and versionNumber" };
  }
  return { ok: true, value: { status: s.status as JobExecutionStatus, versionNumber: s.versionNumber, ...(typeof o.clientToken === "string" ? { clientToken: o.clientToken } : {}) } };
}

export function encodeJobsRejected(message: { code: JobsErrorCode; message: string; timestamp: number; clientToken?: string }): Uint8Array {
  return utf8Encode(JSON.stringify(message));
}

export function decodeJobsRejected(payload: Uint8Array): Decoded<{ code: string; message: string; clientToken?: string }> {
  const o = parseObject(payload);
  if (typeof o === "string") return { ok: false, reason: o };
  if (typeof o.code !== "string") return { ok: false, reason: "code must be a string" };
  const message = typeof o.message === "string" ? o.message.slice(0, 300) : "";
  return { ok: true, value: { code: o.code, message, ...(typeof o.clientToken === "string" ? { clientToken: o.clientToken } : {}) } };
}

/** The AWS transition rule for a device's report: from QUEUED or IN_PROGRESS to a reported status. */
export function transitionProblem(from: JobExecutionStatus, to: DeviceReportedStatus): string | undefined {
  if (from === "QUEUED" || from === "IN_PROGRESS") return undefined;
  return `execution is ${from}: it cannot become ${to}`;
}
