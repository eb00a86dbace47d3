// The real firmware (x-cli-lin builds of main.ts + modules) updates itself through the jobs service: three
// images built once (v1 1.0.0, v2 1.1.0, and a 1.2.0 built with a broker port nothing listens on), each
// signed with a release key made here. The headless host's update API is files in the board's folder, and
// its start-up boots what the boot record names, like ESP-IDF's bootloader with app rollback.
//   (a) v1 finds the job, downloads v2 over HTTPS (mutual TLS, Range), checks it, restarts into it; v2
//       reaches the broker on probation, marks itself valid and reports SUCCEEDED with its version;
//   (b) a tampered image and a wrong signature: both REJECTED with the reason, v1 keeps running, nothing
//       is left to boot;
//   (c) the 1.2.0 cannot reach the broker: its probation runs out, it goes back to v1, which reports the
//       job FAILED with the reason.
//
// Needs an installed Moddable SDK ($MODDABLE); skipped with the reason otherwise. Its own build folder
// (one full build, then each image relinks with other build settings).
import crypto from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import type { RunningBroker } from "../../../services/broker/broker";
import { startJobs } from "../../../services/jobs/service";
import type { JobsService } from "../../../services/jobs/jobs";
import { JobStore } from "../../../tools/release/job-store";
import { signRelease } from "../../../tools/release/sign";
import { Pki } from "../../../tools/pki/pki";
import { startPkiBroker } from "../support/local-stack";
import { buildFirmwareHost } from "../../../tools/firmware/host-build";
import { REPO_ROOT, findSdk } from "../../../tools/firmware/sdk";
import { FirmwareProcess } from "../../../tools/firmware/process";
import { removeDir, tempDir } from "../integration/fixtures";

const sdk = findSdk();
if (!sdk.ok) console.log(`firmware update e2e skipped: ${sdk.reason}`);

const THING = "fw-update-button";
const TARGET = "x-cli-lin";
const PROBATION_MS = 15_000;
const CASE_TIMEOUT_MS = 5 * 60_000;

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(!sdk.ok)("firmware updates on the Moddable runtime (x-cli-lin)", () => {
  let dir: string;
  let broker: RunningBroker;
  let jobs: JobsService;
  let store: JobStore;
  const images: Record<"v1" | "v2" | "unreachable", { path: string; bytes: Buffer }> = {} as never;
  const releaseKey = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const otherKey = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const running: FirmwareProcess[] = [];

  beforeAll(async () => {
    if (!sdk.ok) return;
    dir = tempDir("fw-update");
    const pkiDir = join(dir, "pki");
    const pki = await Pki.open(pkiDir);
    await pki.initCa();
    await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"] });
    await pki.createThing(THING, {}); // RSA-2048, as the SDK's TLS needs
    const certs = join(dir, "device-certs");
    await pki.exportModdable(THING, { outDir: certs });

    broker = await startPkiBroker(pki);
    const jobsDir = join(dir, "jobs");
    jobs = await startJobs({ brokerUrl: broker.url, servername: undefined, pkiDir, jobsDir, imagesHost: "127.0.0.1", imagesPort: 0, publicUrl: undefined }, () => {});
    store = JobStore.open(jobsDir);

    // Build settings, not command-line ones: a restarted image keeps its process's arguments.
    const common = {
      "mqtt.host": "127.0.0.1",
      "update.probationMs": String(PROBATION_MS),
      "release.key": (releaseKey.publicKey.export({ type: "spki", format: "der" }) as Buffer).toString("base64"),
    };
    const builds: [keyof typeof images, Record<string, string>][] = [
      ["v1", { ...common, "mqtt.port": String(broker.port), "firmware.version": "1.0.0" }],
      ["v2", { ...common, "mqtt.port": String(broker.port), "firmware.version": "1.1.0" }],
      ["unreachable", { ...common, "mqtt.port": String(await closedPort()), "firmware.version": "1.2.0" }],
    ];
    mkdirSync(join(dir, "images"));
    for (const [name, settings] of builds) {
      const build = await buildFirmwareHost({ sdk: sdk.sdk, certsDir: certs, settings, outDir: join(REPO_ROOT, "build", "firmware-host-update-test") });
      console.log(`firmware host build ${name}: ${(build.buildMs / 1000).toFixed(1)} s, ${build.binaryBytes} bytes`);
      const path = join(dir, "images", name);
      copyFileSync(build.binaryPath, path);
      images[name] = { path, bytes: readFileSync(path) };
    }
  }, 40 * 60_000);

  afterAll(async () => {
    for (const fw of running) await fw.stop();
    await jobs?.close();
    store?.close();
    await broker?.close();
    if (dir) removeDir(dir);
  });

  function startV1(board: string): FirmwareProcess {
    const cwd = join(dir, board);
    mkdirSync(cwd);
    const fw = new FirmwareProcess({ binary: images.v1.path, cwd, args: [] });
    running.push(fw);
    onTestFailed(() => console.log(`${board} transcript:\n${fw.transcript()}`));
    return fw;
  }

  const publish = (jobId: string, image: Buffer, version: string, key: crypto.KeyObject = releaseKey.privateKey) =>
    store.createJob({ jobId, release: signRelease({ image, version, target: TARGET, key }), image, things: [THING] });

  const reported = (fw: FirmwareProcess) =>
    fw.tagged("job").map((json) => JSON.parse(json) as { type: string; jobId: string; status?: string; reason?: string }).filter((e) => e.type === "reported");

  it("v1 downloads v2, checks it, boots it; v2 reaches the broker and reports SUCCEEDED with its version", async () => {
    publish("fw-1_1_0", images.v2.bytes, "1.1.0");
    const fw = startV1("board-a");
    await fw.waitForLine((t) => t.startsWith("@job ") && t.includes('"status":"SUCCEEDED"'), "the job SUCCEEDED", { timeoutMs: CASE_TIMEOUT_MS - 30_000 });
    expect(fw.tagged("firmware"), fw.transcript()).toEqual([`${TARGET} 1.0.0 none`, `${TARGET} 1.1.0 probation`]);
    expect(reported(fw)).toEqual([{ type: "reported", jobId: "fw-1_1_0", status: "SUCCEEDED" }]);
    await waitForStatus("fw-1_1_0", "SUCCEEDED");
    expect(store.execution("fw-1_1_0", THING)).toMatchObject({ status: "SUCCEEDED", statusDetails: { version: "1.1.0" } });
    // What boots now is the downloaded copy of v2, marked valid.
    const boot = readFileSync(join(dir, "board-a", "update-boot"), "utf8");
    expect(boot).toMatch(/^state valid$/m);
    const slot = /^boot (.+)$/m.exec(boot)![1]!;
    expect(readFileSync(slot).equals(images.v2.bytes)).toBe(true);
    // The same process (one pid: the host re-executes itself) is now v2, and it answers the button.
    const order = fw.send("single");
    await fw.waitForLine((t) => t.startsWith("@event ") && t.includes('"type":"state"'), "the click to reach the flow", { from: order });
    await fw.stop();
  }, CASE_TIMEOUT_MS);

  it("a tampered image and a wrong signature are REJECTED; v1 keeps running and nothing is left to boot", async () => {
    publish("fw-tampered", images.v2.bytes, "1.1.0");
    publish("fw-other-key", images.unreachable.bytes, "1.2.0", otherKey);
    // The image server's copy of v2 changes after publishing (a compromised server or storage): same size.
    const stored = join(store.dir, "images", `${crypto.createHash("sha256").update(images.v2.bytes).digest("hex")}.bin`);
    const tampered = Buffer.from(images.v2.bytes);
    tampered[tampered.length >> 1]! ^= 0x01;
    writeFileSync(stored, tampered);
    const fw = startV1("board-b");
    try {
      await fw.waitForLine(() => reported(fw).length === 2, "both jobs REJECTED", { timeoutMs: CASE_TIMEOUT_MS - 30_000 });
    } finally {
      writeFileSync(stored, images.v2.bytes);
    }
    expect(reported(fw).sort((x, y) => x.jobId.localeCompare(y.jobId)), fw.transcript()).toEqual([
      { type: "reported", jobId: "fw-other-key", status: "REJECTED", reason: "signature does not verify with the release key" },
      { type: "reported", jobId: "fw-tampered", status: "REJECTED", reason: "image SHA-256 does not match the job's" },
    ]);
    await waitForStatus("fw-other-key", "REJECTED");
    await waitForStatus("fw-tampered", "REJECTED");
    expect(store.execution("fw-tampered", THING)).toMatchObject({ statusDetails: { reason: "image SHA-256 does not match the job's" } });
    expect(fw.tagged("firmware")).toEqual([`${TARGET} 1.0.0 none`]); // never restarted
    expect(fw.running).toBe(true);
    for (const name of ["update-boot", "update-slot-a", "update-slot-b"]) expect(existsSync(join(dir, "board-b", name)), name).toBe(false);
    await fw.stop();
  }, CASE_TIMEOUT_MS);

  it("an image that cannot reach the broker goes back to v1 when its probation runs out; v1 reports FAILED", async () => {
    publish("fw-1_2_0", images.unreachable.bytes, "1.2.0");
    const fw = startV1("board-c");
    await fw.waitForLine((t) => t.startsWith("@job ") && t.includes('"status":"FAILED"'), "the job FAILED", { timeoutMs: CASE_TIMEOUT_MS - 30_000 });
    expect(fw.tagged("firmware"), fw.transcript()).toEqual([`${TARGET} 1.0.0 none`, `${TARGET} 1.2.0 probation`, `${TARGET} 1.0.0 report`]);
    const reason = `version 1.2.0 could not reach the broker within ${PROBATION_MS / 1000} s; rolled back to 1.0.0`;
    expect(reported(fw)).toEqual([{ type: "reported", jobId: "fw-1_2_0", status: "FAILED", reason }]);
    await waitForStatus("fw-1_2_0", "FAILED");
    expect(store.execution("fw-1_2_0", THING)).toMatchObject({ status: "FAILED", statusDetails: { reason, version: "1.0.0" } });
    expect(readFileSync(join(dir, "board-c", "update-boot"), "utf8")).toContain(`boot ${images.v1.path}\n`);
    await fw.stop();
  }, CASE_TIMEOUT_MS);

  async function waitForStatus(jobId: string, status: string): Promise<void> {
    const until = Date.now() + 15_000;
    while (store.execution(jobId, THING)?.status !== status) {
      if (Date.now() > until) throw new Error(`${jobId} is ${store.execution(jobId, THING)?.status}, not ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
});
