// The button's side of AWS IoT Jobs for firmware updates, on a short connection of its own (like the
// certificate renewal), run by the host only when no order is in flight. One run:
//
//   connect (subscribe $aws/things/<thing>/jobs/#) → ready: the broker is reached (probation passes)
//   → an outcome still owed (SUCCEEDED after probation, FAILED after a rollback) is sent first
//   → $next/get → a firmware job? checks: document, target, no downgrade → REJECTED with the reason if not
//   → IN_PROGRESS → download (the platform streams it into the inactive slot, hashing as it goes)
//   → SHA-256 must equal the job's, then the release key's signature over the signed statement must verify
//   → only then: the update record is written and the image activated (the host restarts into it).
//   A bad hash or signature → REJECTED, the written image discarded, the running one untouched.
//   A download that fails (network, server) → FAILED with the reason; the next job may try again.
//
// notify-next on the same connection starts the same handling. A click aborts the run: an order never
// waits for an update; a job left IN_PROGRESS is picked up again by the next run ($next returns it).

import {
  decodeFirmwareJob,
  type FirmwareJob,
  hexOf,
  jobProblem,
  signedStatement,
} from "./firmware-job";
import {
  decodeJobsRejected,
  decodeNextExecution,
  decodeUpdateAccepted,
  encodeGetNextRequest,
  encodeUpdateRequest,
  type DeviceReportedStatus,
  type JobExecution,
  type StatusDetails,
} from "./jobs";
import { base64Decode } from "./der";
import type { Log, MqttConnection, MqttConnector, Store, TimerHandle, Timers } from "./ports";
import { jobsFilter, jobsGetNextTopic, jobUpdateTopic, parseJobsTopic } from "./topics";
import { UpdateProbation, writeUpdateRecord } from "./update-probation";

/** The platform's update API (ESP32: esp_ota_* through the SDK; headless host: files). */
export interface FirmwarePort {
  /**
   * Fetch job.url (HTTPS, in chunks) into the inactive image slot, hashing every byte written. done() once:
   * with the SHA-256 of exactly `job.size` bytes, or with why it failed. abort() stops it (done not called).
   * progress() whenever bytes arrived: a download that keeps moving is not idle, however long it takes.
   */
  download(
    job: FirmwareJob,
    done: (result: { ok: true; sha256: Uint8Array } | { ok: false; reason: string }) => void,
    progress?: () => void,
  ): { abort(): void };
  /**
   * RSASSA-PKCS1-v1_5 / SHA-256 over `statement` with the release key built into this firmware. The decoded
   * signature block must equal, byte for byte, the encoding expected for SHA-256(statement) (not a lenient
   * parse of its padding and algorithm identifier).
   */
  verifySignature(statement: Uint8Array, signature: Uint8Array): boolean;
  /** Forget what download() wrote: it must never boot. */
  discard(): void;
  /** Boot the written image next (pending verification), then restart. */
  activate(): void;
}

export type JobsAgentEvent =
  | { type: "job"; jobId: string; version?: string }
  | { type: "updating"; jobId: string; version: string }
  | { type: "reported"; jobId: string; status: DeviceReportedStatus; reason?: string }
  | { type: "activating"; jobId: string; version: string }
  | { type: "done"; reason: string };

export interface JobsAgentOptions {
  thingName: string;
  /** What runs now: the image's target platform and its version. */
  running: { target: string; version: string };
  connector: MqttConnector;
  firmware: FirmwarePort;
  probation: UpdateProbation;
  store: Store;
  timers: Timers;
  log: Log;
  /** A run gives up when nothing more happens for this long (no answer, a download without progress). Default 60 s. */
  idleTimeoutMs?: number;
  onEvent?(event: JobsAgentEvent): void;
}

const CLIENT_TOKEN = "pizza-button";

export class JobsAgent {
  private connection: MqttConnection | undefined;
  private ready = false;
  private download: { abort(): void } | undefined;
  private working: string | undefined;
  private idle: TimerHandle | undefined;
  private onEnd: (() => void) | undefined;
  private readonly o: JobsAgentOptions;

  constructor(options: JobsAgentOptions) {
    this.o = options;
  }

  /** True while a run is connected or downloading: the host keeps the board awake. */
  get busy(): boolean {
    return this.connection !== undefined;
  }

  /** One run. False if one is already under way. onEnd when the run is over (not called on activate). */
  run(onEnd?: () => void): boolean {
    if (this.connection) return false;
    this.onEnd = onEnd;
    this.ready = false;
    this.working = undefined;
    const handlers = {
      onReady: () => this.whenReady(),
      onMessage: (topic: string, payload: Uint8Array) => this.message(topic, payload),
      onClose: (_kind: string, detail: string) => this.finish(`connection closed: ${detail}`),
    };
    this.connection = this.o.connector.connect({ subscribe: jobsFilter(this.o.thingName) }, handlers);
    this.touch();
    return true;
  }

  /** Stops the run now (a click needs the network). A download in progress is dropped and discarded. */
  abort(reason: string): void {
    if (this.connection) this.finish(reason);
  }

  private whenReady(): void {
    if (!this.connection || this.ready) return;
    this.ready = true;
    this.o.probation.brokerReached();
    const owed = this.o.probation.pending();
    if (owed) this.report(owed.jobId, owed.status, owed.statusDetails);
    else this.publish(jobsGetNextTopic(this.o.thingName), encodeGetNextRequest(CLIENT_TOKEN));
    this.touch();
  }

  private message(topic: string, payload: Uint8Array): void {
    const t = parseJobsTopic(topic);
    if (!t || t.thing !== this.o.thingName) return;
    this.touch();
    if (t.kind === "update" && t.answer) {
      const owed = this.o.probation.pending();
      const answer = t.answer === "accepted" ? decodeUpdateAccepted(payload) : decodeJobsRejected(payload);
      if (t.answer === "rejected") this.o.log.warn(`jobs: update of ${t.jobId} refused: ${answer.ok ? JSON.stringify(answer.value) : answer.reason}`);
      // Accepted, or refused for good (the execution ended or is gone): nothing more to send for it.
      if (owed && owed.jobId === t.jobId) this.o.probation.reported();
      // A job ended: ask for the next one, so that every queued job gets its answer in one run.
      if (this.working === undefined) this.publish(jobsGetNextTopic(this.o.thingName), encodeGetNextRequest(CLIENT_TOKEN));
      return;
    }
    if (t.kind === "notify-next" || (t.kind === "get-next" && t.answer === "accepted")) {
      const next = decodeNextExecution(payload);
      if (!next.ok) return this.o.log.warn(`jobs: ignored ${topic}: ${next.reason}`);
      if (!next.value.execution) {
        // Only the answer to our own question ends the run; an empty notify-next may be an old one.
        if (t.kind === "get-next" && this.working === undefined && this.o.probation.pending() === undefined) this.finish("no pending job");
        return;
      }
      this.consider(next.value.execution);
      return;
    }
    if (t.kind === "get-next" && t.answer === "rejected") this.finish("the jobs service refused $next/get");
  }

  private consider(execution: JobExecution): void {
    if (this.working !== undefined || this.o.probation.pending()) return; // one at a time; owed report first
    const { jobId } = execution;
    const decoded = decodeFirmwareJob(execution.jobDocument);
    this.emit({ type: "job", jobId, ...(decoded.ok ? { version: decoded.value.version } : {}) });
    if (!decoded.ok) return this.report(jobId, "REJECTED", { reason: `bad job document: ${decoded.reason}` });
    const job = decoded.value;
    const problem = jobProblem(job, this.o.running);
    if (problem) return this.report(jobId, "REJECTED", { reason: problem });
    this.working = jobId;
    this.report(jobId, "IN_PROGRESS", { step: "download", version: job.version });
    this.emit({ type: "updating", jobId, version: job.version });
    this.download = this.o.firmware.download(job, (result) => {
      this.download = undefined;
      if (!this.connection) return;
      this.touch();
      if (!result.ok) return this.endJob(jobId, "FAILED", `download failed: ${result.reason}`);
      if (hexOf(result.sha256) !== job.sha256) return this.endJob(jobId, "REJECTED", "image SHA-256 does not match the job's");
      const signature = base64Decode(job.signature);
      if (!signature || !this.o.firmware.verifySignature(signedStatement(job), signature)) {
        return this.endJob(jobId, "REJECTED", "signature does not verify with the release key");
      }
      this.activate(jobId, job);
    }, () => {
      if (this.connection) this.touch();
    });
  }

  private endJob(jobId: string, status: "FAILED" | "REJECTED", reason: string): void {
    this.o.firmware.discard();
    this.working = undefined;
    this.report(jobId, status, { reason });
  }

  private activate(jobId: string, job: FirmwareJob): void {
    // Recorded before activation: whichever image boots next knows what to report.
    writeUpdateRecord(this.o.store, { jobId, version: job.version, from: this.o.running.version, state: "installed" });
    this.emit({ type: "activating", jobId, version: job.version });
    this.o.log.info(`jobs: ${job.version} verified (SHA-256 and signature): restarting into it`);
    this.clearIdle();
    this.connection?.close();
    this.connection = undefined;
    this.o.firmware.activate();
  }

  private report(jobId: string, status: DeviceReportedStatus, details: StatusDetails): void {
    if (status !== "IN_PROGRESS") this.emit({ type: "reported", jobId, status, ...(details.reason ? { reason: details.reason } : {}) });
    if (status !== "IN_PROGRESS") this.o.log[status === "SUCCEEDED" ? "info" : "warn"](`jobs: ${jobId} ${status}${details.reason ? `: ${details.reason}` : ""}`);
    this.publish(jobUpdateTopic(this.o.thingName, jobId), encodeUpdateRequest({ status, statusDetails: details, clientToken: CLIENT_TOKEN }));
  }

  private publish(topic: string, payload: Uint8Array): void {
    try {
      this.connection?.publish(topic, payload);
    } catch (error) {
      this.finish(`publish failed: ${String(error)}`);
    }
  }

  private touch(): void {
    this.clearIdle();
    this.idle = this.o.timers.set(() => this.finish("no progress"), this.o.idleTimeoutMs ?? 60_000);
  }

  private clearIdle(): void {
    if (this.idle !== undefined) this.o.timers.clear(this.idle);
    this.idle = undefined;
  }

  private finish(reason: string): void {
    if (!this.connection) return;
    const connection = this.connection;
    this.connection = undefined;
    this.clearIdle();
    if (this.download) {
      this.download.abort();
      this.download = undefined;
      this.o.firmware.discard();
    }
    this.working = undefined;
    connection.close();
    this.emit({ type: "done", reason });
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.();
  }

  private emit(event: JobsAgentEvent): void {
    this.o.onEvent?.(event);
  }
}
