// Probation of a freshly installed firmware image (ESP-IDF app rollback): the new image runs "pending
// verification" until it has reached the broker. Only then is it marked valid and the job reported
// SUCCEEDED. If it cannot reach the broker within `probationMs` it goes back to the previous image, which
// reports the job FAILED with the reason. An image that never gets this far (crash, hang, watchdog) is
// rolled back by the bootloader at the next reset; the previous image then reports FAILED as well.
//
// What survives the reboots is one store record, written before the new image is activated:
//   {"jobId","version","from","state":"installed"}     the new image is about to boot (or is on probation)
//   {…,"state":"rolling-back","reason"}                 probation failed: the previous image is about to boot
//   {…,"state":"report","status","reason"?}            the outcome, kept until the jobs service accepted it

import type { DeviceReportedStatus, StatusDetails } from "./jobs";
import type { Log, Store, TimerHandle, Timers } from "./ports";

/** Store key (NVS: at most 15 characters). */
export const UPDATE_RECORD_KEY = "fwUpdate";
/**
 * Default probation: long enough for Wi-Fi association, SNTP and a TLS handshake with retries on a slow
 * network, short enough that a kitchen is not without its button for long.
 */
export const DEFAULT_PROBATION_MS = 5 * 60_000;

export interface UpdateRecord {
  jobId: string;
  version: string;
  from: string;
  state: "installed" | "rolling-back" | "report";
  status?: "SUCCEEDED" | "FAILED";
  reason?: string;
}

/** What the platform's update API does at boot (ESP-IDF: esp_ota_mark_app_valid…, …_and_reboot). */
export interface BootControl {
  /** The running image is good: the bootloader keeps it. */
  markValid(): void;
  /** Boot the previous image now. Does not return on the device. */
  rollback(): void;
}

/** A job status the device still has to send (and repeat after a reset until it is accepted). */
export interface PendingReport {
  jobId: string;
  status: DeviceReportedStatus;
  statusDetails: StatusDetails;
}

export function readUpdateRecord(store: Store): UpdateRecord | undefined {
  const text = store.read(UPDATE_RECORD_KEY);
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as UpdateRecord;
    if (typeof r.jobId === "string" && typeof r.version === "string" && typeof r.from === "string" && (r.state === "installed" || r.state === "rolling-back" || r.state === "report")) return r;
  } catch {
    // unreadable: dropped below
  }
  store.remove(UPDATE_RECORD_KEY);
  return undefined;
}

export function writeUpdateRecord(store: Store, record: UpdateRecord): void {
  store.write(UPDATE_RECORD_KEY, JSON.stringify(record));
}

/** What a boot finds: nothing to do, a new image on probation, or an outcome still to report. */
export type BootVerdict =
  | { kind: "none" }
  | { kind: "probation"; record: UpdateRecord }
  | { kind: "report"; report: PendingReport };

/** Pure: the verdict for `record` when `running` is the version that booted. Writes nothing. */
export function bootVerdict(record: UpdateRecord | undefined, running: string, probationMs: number): BootVerdict {
  if (!record) return { kind: "none" };
  const report = (status: "SUCCEEDED" | "FAILED", details: StatusDetails): BootVerdict => ({ kind: "report", report: { jobId: record.jobId, status, statusDetails: details } });
  if (record.state === "report") {
    return report(record.status ?? "FAILED", record.reason ? { reason: record.reason, version: running } : { version: running });
  }
  if (running === record.version && record.state === "installed") return { kind: "probation", record };
  if (running === record.from) {
    const reason =
      record.state === "rolling-back" && record.reason
        ? record.reason
        : `version ${record.version} did not start: the bootloader went back to ${record.from}`;
    return report("FAILED", { reason, version: running });
  }
  if (running === record.version) {
    // Probation already failed but the previous image did not come back: report instead of looping.
    return report("FAILED", { reason: record.reason ?? "rollback did not happen", version: running });
  }
  return report("FAILED", { reason: `running ${running} is neither the new ${record.version} nor the previous ${record.from}`, version: running });
}

export interface ProbationOptions {
  store: Store;
  timers: Timers;
  boot: BootControl;
  runningVersion: string;
  probationMs?: number;
  log: Log;
}

/**
 * The boot side of an update. start() once at boot; brokerReached() whenever a connection to the broker is
 * up; pending() is the report to send; reported() once the jobs service accepted it.
 */
export class UpdateProbation {
  private verdict: BootVerdict = { kind: "none" };
  private timer: TimerHandle | undefined;
  private readonly probationMs: number;

  constructor(private readonly o: ProbationOptions) {
    this.probationMs = o.probationMs ?? DEFAULT_PROBATION_MS;
  }

  start(): BootVerdict {
    const record = readUpdateRecord(this.o.store);
    this.verdict = bootVerdict(record, this.o.runningVersion, this.probationMs);
    if (this.verdict.kind === "probation") {
      const { record: r } = this.verdict;
      this.o.log.info(`update: ${r.version} on probation until it reaches the broker (${Math.round(this.probationMs / 1000)} s)`);
      this.timer = this.o.timers.set(() => this.expire(r), this.probationMs);
    } else if (this.verdict.kind === "report") {
      // The outcome is settled: an image that booted without probation is already the valid one.
      const { report } = this.verdict;
      writeUpdateRecord(this.o.store, { ...(record as UpdateRecord), state: "report", status: report.status === "SUCCEEDED" ? "SUCCEEDED" : "FAILED", ...(report.statusDetails.reason ? { reason: report.statusDetails.reason } : {}) });
      this.o.boot.markValid();
    }
    return this.verdict;
  }

  get onProbation(): boolean {
    return this.verdict.kind === "probation";
  }

  /** A connection to the broker is up: a new image on probation has proven itself. */
  brokerReached(): void {
    if (this.verdict.kind !== "probation") return;
    const { record } = this.verdict;
    this.o.timers.clear(this.timer);
    this.timer = undefined;
    this.o.boot.markValid();
    writeUpdateRecord(this.o.store, { ...record, state: "report", status: "SUCCEEDED" });
    this.verdict = { kind: "report", report: { jobId: record.jobId, status: "SUCCEEDED", statusDetails: { version: record.version } } };
    this.o.log.info(`update: ${record.version} reached the broker: marked valid`);
  }

  /** The report still owed to the jobs service, if any. */
  pending(): PendingReport | undefined {
    return this.verdict.kind === "report" ? this.verdict.report : undefined;
  }

  /** The jobs service accepted (or refused for good) the report: forget the update. */
  reported(): void {
    if (this.verdict.kind !== "report") return;
    this.o.store.remove(UPDATE_RECORD_KEY);
    this.verdict = { kind: "none" };
  }

  private expire(record: UpdateRecord): void {
    this.timer = undefined;
    const reason = `version ${record.version} could not reach the broker within ${Math.round(this.probationMs / 1000)} s; rolled back to ${record.from}`;
    this.o.log.error(`update: ${reason}`);
    writeUpdateRecord(this.o.store, { ...record, state: "rolling-back", reason });
    this.o.boot.rollback();
  }
}
