// Firmware updates for the virtual button: the core's jobs agent and update probation (as the firmware
// runs them) on Node adapters. It has no image to flash, so "installing" is a version change: the image is
// really downloaded over HTTPS (mutual TLS, 16 KiB Range requests, hashed as it streams) and checked
// (SHA-256 and the release key's signature); activating it sets the running version in the button's store
// and "reboots" the updater, which then proves itself by reaching the broker (or rolls back).
import crypto from "node:crypto";
import https from "node:https";
import { type FirmwarePort, JobsAgent, type JobsAgentEvent } from "../../modules/core/jobs-agent";
import type { Log, MqttConnector, Store, Timers } from "../../modules/core/ports";
import { type BootVerdict, readUpdateRecord, UpdateProbation } from "../../modules/core/update-probation";
import type { PemInput } from "../../services/net/tls-stream";

/** Store keys of the simulated boot slots. */
const VERSION_KEY = "fwVersion";
const PREVIOUS_KEY = "fwPrevious";
export const DOWNLOAD_CHUNK_BYTES = 16 * 1024;

export type VirtualUpdateEvent = JobsAgentEvent | { type: "boot"; version: string; verdict: BootVerdict["kind"] };

export interface VirtualUpdatesOptions {
  thingName: string;
  store: Store;
  connector: MqttConnector;
  /** The device's TLS identity, also presented to the image server. */
  credentials: { ca: PemInput | PemInput[]; cert: PemInput; key: PemInput };
  /** The release public key; without it every image fails the signature check. */
  releaseKey: crypto.KeyObject | undefined;
  target: string;
  /** The version before any update. */
  factoryVersion: string;
  timers: Timers;
  log: Log;
  probationMs?: number;
  onEvent?(event: VirtualUpdateEvent): void;
}

export class VirtualUpdates {
  #agent: JobsAgent | undefined;
  #probation: UpdateProbation | undefined;
  #stopped = false;
  readonly #o: VirtualUpdatesOptions;

  constructor(options: VirtualUpdatesOptions) {
    this.#o = options;
  }

  get version(): string {
    return this.#o.store.read(VERSION_KEY) ?? this.#o.factoryVersion;
  }

  get busy(): boolean {
    return this.#agent?.busy === true;
  }

  /** Boot: probation or an owed report from a previous update, then (lookNow) a first look for jobs. */
  start(lookNow = true): void {
    const o = this.#o;
    const version = this.version;
    this.#probation = new UpdateProbation({
      store: o.store,
      timers: o.timers,
      runningVersion: version,
      log: o.log,
      ...(o.probationMs !== undefined ? { probationMs: o.probationMs } : {}),
      boot: {
        markValid: () => o.store.remove(PREVIOUS_KEY),
        rollback: () => {
          const previous = o.store.read(PREVIOUS_KEY);
          if (previous !== undefined) o.store.write(VERSION_KEY, previous);
          o.store.remove(PREVIOUS_KEY);
          this.#reboot();
        },
      },
    });
    const verdict = this.#probation.start();
    o.onEvent?.({ type: "boot", version, verdict: verdict.kind });
    this.#agent = new JobsAgent({
      thingName: o.thingName,
      running: { target: o.target, version },
      connector: o.connector,
      firmware: this.#firmwarePort(),
      probation: this.#probation,
      store: o.store,
      timers: o.timers,
      log: o.log,
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    });
    if (lookNow) this.check();
  }

  /** One look for jobs (and the owed report), unless one is under way. */
  check(onEnd?: () => void): boolean {
    if (this.#stopped || !this.#agent) return false;
    return this.#agent.run(onEnd);
  }

  /** A click needs the connection: the update waits for the next check. */
  abort(reason: string): void {
    this.#agent?.abort(reason);
  }

  stop(): void {
    this.#stopped = true;
    this.#agent?.abort("stopping");
  }

  #reboot(): void {
    this.#agent?.abort("restarting");
    this.#o.timers.set(() => {
      if (!this.#stopped) this.start();
    }, 0);
  }

  #firmwarePort(): FirmwarePort {
    const o = this.#o;
    let slot: Buffer[] = [];
    return {
      download: (job, done) => {
        let aborted = false;
        let request: ReturnType<typeof https.get> | undefined;
        const hash = crypto.createHash("sha256");
        let received = 0;
        slot = [];
        const fail = (reason: string) => {
          if (!aborted) done({ ok: false, reason });
          aborted = true;
        };
        const next = () => {
          if (aborted) return;
          if (received === job.size) return done({ ok: true, sha256: new Uint8Array(hash.digest()) });
          const end = Math.min(job.size, received + DOWNLOAD_CHUNK_BYTES) - 1;
          request = https.get(job.url, { ca: o.credentials.ca, cert: o.credentials.cert, key: o.credentials.key, minVersion: "TLSv1.2", headers: { range: `bytes=${received}-${end}` } }, (response) => {
            if (response.statusCode !== 206 && response.statusCode !== 200) {
              response.resume();
              return fail(`HTTP ${response.statusCode}`);
            }
            response.on("data", (chunk: Buffer) => {
              if (aborted) return;
              if (received + chunk.length > job.size) return fail(`the server sent more than the job's ${job.size} bytes`);
              hash.update(chunk);
              slot.push(chunk);
              received += chunk.length;
            });
            response.on("end", next);
            response.on("error", (error) => fail(error.message));
          });
          request.on("error", (error) => fail(error.message));
        };
        next();
        return {
          abort: () => {
            aborted = true;
            request?.destroy();
          },
        };
      },
      verifySignature: (statement, signature) => (o.releaseKey ? crypto.verify("sha256", statement, o.releaseKey, signature) : false),
      discard: () => {
        slot = [];
      },
      activate: () => {
        slot = [];
        const installed = readUpdateRecord(o.store)?.version;
        o.store.write(PREVIOUS_KEY, this.version);
        if (installed) o.store.write(VERSION_KEY, installed);
        this.#reboot();
      },
    };
  }

}
