// Firmware updates in the simulator over the real parts: the embedded broker under the product policies,
// the jobs service and its HTTPS image server, the virtual button's updater (the core's jobs agent and
// probation). Jobs are published into the store as `npm run release -- publish` does.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSimulateArgs } from "../config";
import { memoryLog } from "../device/log";
import type { VirtualUpdateEvent } from "../device/virtual-updates";
import { startSimulation, type Simulation } from "../simulation";
import { JobStore } from "../../tools/release/job-store";
import { createReleaseKey, readPrivateKey } from "../../tools/release/keys";
import { signRelease } from "../../tools/release/sign";
import { waitFor } from "./support/mqtt-probe";

const THING = "pizza-button-01";
let sim: Simulation;
let dir: string;
let key: crypto.KeyObject;
let jobsDir: string;
const events: VirtualUpdateEvent[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pizza-sim-updates-"));
  const files = createReleaseKey(path.join(dir, "release", "release-key.pem"));
  key = readPrivateKey(files.privateKeyPath);
  const state = path.join(dir, "state");
  jobsDir = path.join(state, "jobs");
  const config = parseSimulateArgs(["--state-dir", state, "--pki-dir", path.join(dir, "pki"), "--no-restaurant", "--release-key", files.publicPemPath])!;
  sim = await startSimulation(config, { log: () => memoryLog(), ledMode: "silent", onUpdateEvent: (e) => events.push(e) });
  sim.device.start();
  await waitFor(() => events.some((e) => e.type === "done"), "the first look for jobs");
});
afterAll(async () => {
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function publish(jobId: string, version: string, opts: { signWith?: crypto.KeyObject; tamper?: boolean } = {}) {
  const image = crypto.randomBytes(40_000);
  const release = signRelease({ image, version, target: "esp32", key: opts.signWith ?? key });
  const store = JobStore.open(jobsDir);
  try {
    store.createJob({ jobId, release, image, things: [THING] });
    if (opts.tamper) {
      const file = store.imagePath(release.sha256)!;
      const bytes = fs.readFileSync(file);
      bytes[1234] ^= 0xff;
      fs.writeFileSync(file, bytes);
    }
  } finally {
    store.close();
  }
}

function execution(jobId: string) {
  const store = JobStore.open(jobsDir);
  try {
    return store.execution(jobId, THING);
  } finally {
    store.close();
  }
}

/**
 * Waits for an event after `from` (taken before the job was published). A look for jobs that began after
 * the publish is sure to see the job; one under way may or may not (then it ends and ours starts).
 */
async function lookForJobs(from: number, until: (e: VirtualUpdateEvent) => boolean, what: string) {
  await waitFor(() => !sim.updates.updates.busy, "the updater idle");
  sim.updates.updates.check();
  await waitFor(() => events.slice(from).some(until), what, 20_000).catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(events.slice(from))}`); });
}

describe("firmware updates in the simulator", () => {
  it("boots the factory version with no job pending", () => {
    expect(events[0]).toEqual({ type: "boot", version: "1.0.0", verdict: "none" });
    expect(events.find((e) => e.type === "done")).toEqual({ type: "done", reason: "no pending job" });
  });

  it("a signed newer version is downloaded, checked, applied, and reported SUCCEEDED after it reached the broker", async () => {
    const from = events.length;
    publish("fw-110", "1.1.0");
    await lookForJobs(from, (e) => e.type === "reported" && e.jobId === "fw-110", "the report of fw-110");
    expect(sim.updates.updates.version).toBe("1.1.0");
    expect(events.filter((e) => e.type !== "done").slice(-4)).toEqual([
      { type: "updating", jobId: "fw-110", version: "1.1.0" },
      { type: "activating", jobId: "fw-110", version: "1.1.0" },
      { type: "boot", version: "1.1.0", verdict: "probation" },
      { type: "reported", jobId: "fw-110", status: "SUCCEEDED" },
    ].slice(-4));
    await waitFor(() => execution("fw-110")?.status === "SUCCEEDED", "the job SUCCEEDED in the store");
    expect(execution("fw-110")?.statusDetails).toEqual({ version: "1.1.0" });
  });

  it.each([
    ["a tampered image", "fw-120-tampered", "1.2.0", { tamper: true }, "image SHA-256 does not match the job's"],
    ["a wrong signature", "fw-120-other-key", "1.2.0", { signWith: crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey }, "signature does not verify with the release key"],
    ["a downgrade", "fw-105", "1.0.5", {}, "version 1.0.5 is not newer than the running 1.1.0 (no downgrade)"],
  ])("%s is REJECTED with the reason and the running version stays", async (_name, jobId, version, opts, reason) => {
    const from = events.length;
    publish(jobId, version, opts);
    await lookForJobs(from, (e) => e.type === "reported" && e.jobId === jobId, `the report of ${jobId}`);
    expect(events.slice(from).find((e) => e.type === "reported" && e.jobId === jobId), JSON.stringify(events.slice(from))).toEqual({ type: "reported", jobId, status: "REJECTED", reason });
    expect(sim.updates.updates.version).toBe("1.1.0");
    await waitFor(() => execution(jobId)?.status === "REJECTED", `${jobId} REJECTED in the store`);
    expect(execution(jobId)?.statusDetails).toEqual({ reason });
  });
});
