// The firmware's identity from an esp_secure_cert partition, on the real Moddable runtime (x-cli-lin):
// the headless host reads the partition from a file (esp_secure_cert=<file>), through the same reader
// the ESP32 uses (modules/core/secure-cert.ts). The binary is built with another thing's identity baked
// in, so a boot that used the wrong one shows.
//
// Needs an installed Moddable SDK ($MODDABLE with its host tools built); skipped with the reason otherwise.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningBroker } from "../../../services/broker/broker";
import type { Restaurant } from "../../../services/restaurant/restaurant";
import { startLocalStack } from "../support/local-stack";
import { ensureDevPki, type DevPki } from "../../../tools/pki/dev";
import { runCli } from "../../../tools/pki/cli";
import { buildFirmwareHost, type HostBuild } from "../../../tools/firmware/host-build";
import { REPO_ROOT, findSdk } from "../../../tools/firmware/sdk";
import { FirmwareProcess } from "../../../tools/firmware/process";
import { removeDir, tempDir } from "../integration/fixtures";
import { espressifPemImage } from "../support/espressif-secure-cert";

const sdk = findSdk();
if (!sdk.ok) console.log(`firmware esp_secure_cert e2e skipped: ${sdk.reason}`);

const BAKED = "fw-baked-button"; // the identity in the image's resources
const BOARD = "fw-board-042"; // the identity in the partition (npm run pki -- export esp32)
const ESPRESSIF = "fw-espressif-7"; // an image in Espressif's own layout, PEM entries

describe.skipIf(!sdk.ok)("firmware identity from the esp_secure_cert partition (x-cli-lin)", () => {
  let dir: string;
  let dev: DevPki;
  let build: HostBuild;
  let broker: RunningBroker;
  let restaurant: Restaurant;
  let image: string;
  const running: FirmwareProcess[] = [];
  let runs = 0;

  function start(args: string[]): FirmwareProcess {
    const cwd = join(dir, `run-${++runs}`);
    mkdirSync(cwd, { recursive: true });
    const fw = new FirmwareProcess({ binary: build.binaryPath, cwd, args: ["mqtt.host=127.0.0.1", `mqtt.port=${broker.port}`, ...args] });
    running.push(fw);
    return fw;
  }

  async function exportEsp32(thing: string): Promise<{ file: string; setupPassword: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["--pki-dir", dev.pki.dir, "export", "esp32", thing, "--out", join(dir, "ids", thing), "--json"], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    expect(code, err.join("\n")).toBe(0);
    return JSON.parse(out.join("\n"));
  }

  async function expectHalt(fw: FirmwareProcess, reason: RegExp): Promise<void> {
    await fw.waitForLine((t) => t === "@halt identity", "the identity halt");
    await fw.waitForLine((t) => t === "@pattern auth-error", "the auth-error LED");
    expect(fw.lines.some((l) => reason.test(l.text)), fw.transcript()).toBe(true);
    expect(fw.tagged("identity")).toEqual([]);
    expect(fw.tagged("ready")).toEqual([]);
  }

  beforeAll(async () => {
    if (!sdk.ok) return;
    dir = tempDir("fw-secure-cert");
    dev = await ensureDevPki(join(dir, "pki"), { deviceName: BAKED });
    await dev.pki.createThing(BOARD);
    await dev.pki.createThing(ESPRESSIF);
    const certs = join(dir, "baked-certs");
    await dev.pki.exportModdable(BAKED, { outDir: certs });
    build = await buildFirmwareHost({ sdk: sdk.sdk, certsDir: certs, outDir: join(REPO_ROOT, "build", "firmware-host-identity") });
    console.log(`firmware host build: ${(build.buildMs / 1000).toFixed(1)} s, binary ${build.binaryBytes} bytes`);
    image = (await exportEsp32(BOARD)).file;

    ({ broker, restaurant } = await startLocalStack(dev, { dir }));
  }, 30 * 60_000);

  afterAll(async () => {
    for (const fw of running) await fw.stop();
    await restaurant?.close();
    await broker?.close();
    if (dir) removeDir(dir);
  });

  it("boots from the PKI's partition image as that thing, says so, and its order is accepted", async () => {
    expect(build.thingName).toBe(BAKED);
    const fw = start([`esp_secure_cert=${image}`]);
    await fw.waitForLine((t) => t === `@ready ${BOARD}`, "the firmware to be ready");
    expect(fw.tagged("identity")).toEqual([`partition ${BOARD}`]);
    expect(fw.lines.some((l) => l.text === `info: identity from the esp_secure_cert partition: thing ${BOARD}`)).toBe(true);
    const single = await fw.nextOutcome(fw.send("single"));
    expect(single.outcome, fw.transcript()).toMatchObject({ outcome: "ok", clickType: "SINGLE" });
    expect(await restaurant.order(String(single.outcome.orderId))).toMatchObject({ thing: BOARD, status: "accepted" });
  });

  it("refuses a corrupted copy (one flipped byte: bad CRC) with the reason, the identity halt and auth-error", async () => {
    const bytes = readFileSync(image);
    bytes[200] = bytes[200]! ^ 0x40; // inside the device certificate
    const corrupt = join(dir, "corrupt.bin");
    writeFileSync(corrupt, bytes);
    const fw = start([`esp_secure_cert=${corrupt}`]);
    await expectHalt(fw, /^error: esp_secure_cert partition refused: bad CRC in entry type 1 subtype 0 at offset 0/);
  });

  it("refuses a truncated image and a zeroed one (bad magic): never the baked identity instead", async () => {
    const truncated = join(dir, "truncated.bin");
    writeFileSync(truncated, readFileSync(image).subarray(0, 1500));
    const zeroed = join(dir, "zeroed.bin");
    writeFileSync(zeroed, Buffer.alloc(0x2000));
    const a = start([`esp_secure_cert=${truncated}`]);
    const b = start([`esp_secure_cert=${zeroed}`]);
    await expectHalt(a, /esp_secure_cert partition refused: truncated: entry type 2/);
    await expectHalt(b, /esp_secure_cert partition refused: not an esp_secure_cert TLV image: bad magic at offset 0 \(0x00000000/);
  });

  it("refuses a partition without its private key, and one that cannot be read", async () => {
    const bytes = readFileSync(image);
    // Cut the list after the certificate: the key's header no longer starts with the magic.
    const certEnd = 12 + bytes.readUInt16LE(10) + ((16 - (bytes.readUInt16LE(10) % 16)) % 16) + 4;
    bytes.fill(0xff, certEnd);
    const keyless = join(dir, "keyless.bin");
    writeFileSync(keyless, bytes);
    await expectHalt(start([`esp_secure_cert=${keyless}`]), /esp_secure_cert partition refused: no private key \(type 2\) entry/);
    await expectHalt(start([`esp_secure_cert=${join(dir, "missing.bin")}`]), /esp_secure_cert partition unreadable: cannot read .*missing\.bin/);
  });

  it("reads an image in Espressif's own layout with PEM entries (and a PKCS#1 key)", async () => {
    const files = dev.pki.thingFiles(ESPRESSIF)!;
    const { createPrivateKey } = await import("node:crypto");
    const pkcs1 = createPrivateKey(readFileSync(files.keyPath)).export({ format: "pem", type: "pkcs1" }).toString();
    const espressif = join(dir, "espressif.bin");
    writeFileSync(espressif, espressifPemImage({ deviceCert: readFileSync(files.certPath, "utf8"), caCert: readFileSync(files.caPath, "utf8"), privateKey: pkcs1 }));
    const fw = start([`esp_secure_cert=${espressif}`]);
    await fw.waitForLine((t) => t === `@ready ${ESPRESSIF}`, "the firmware to be ready");
    expect(fw.tagged("identity")).toEqual([`partition ${ESPRESSIF}`]);
    const single = await fw.nextOutcome(fw.send("single"));
    expect(single.outcome, fw.transcript()).toMatchObject({ outcome: "ok" });
    expect(await restaurant.order(String(single.outcome.orderId))).toMatchObject({ thing: ESPRESSIF, status: "accepted" });
  });

  it("an erased partition (never written) and no partition fall back to the image's identity, and say so", async () => {
    const erased = join(dir, "erased.bin");
    writeFileSync(erased, Buffer.alloc(0x2000, 0xff));
    const a = start([`esp_secure_cert=${erased}`]);
    const b = start([]);
    for (const fw of [a, b]) {
      await fw.waitForLine((t) => t === `@ready ${BAKED}`, "the firmware to be ready");
      expect(fw.tagged("identity")).toEqual([`resources ${BAKED}`]);
    }
  });
});
