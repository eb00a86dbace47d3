// The real firmware (x-cli-lin build of main.ts + modules) renews its certificate: its identity is issued
// for 5 days (inside the 60-day window), so after its first order it asks the renewal service on its own
// topic, checks the answer and stores the DER in Preference; its next connection — and, after a restart,
// its first — presents the renewed certificate instead of the Resource: the broker sees the new fingerprint.
//
// Needs an installed Moddable SDK ($MODDABLE); skipped with the reason otherwise. Its own build folder,
// so it can run next to firmware-e2e (a fresh build compiles the XS engine: minutes).
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrokerEvent, RunningBroker } from "../../../services/broker/broker";
import { startRestaurant, type Restaurant } from "../../../services/restaurant/restaurant";
import { startRenewal } from "../../../services/renewal/service";
import type { RenewalService } from "../../../services/renewal/renewal";
import { Pki } from "../../../tools/pki/pki";
import { startPkiBroker } from "../support/local-stack";
import { readRegistry } from "../../../tools/pki/registry";
import { buildFirmwareHost, type HostBuild } from "../../../tools/firmware/host-build";
import { REPO_ROOT, findSdk } from "../../../tools/firmware/sdk";
import { FirmwareProcess } from "../../../tools/firmware/process";
import { removeDir, tempDir } from "../integration/fixtures";

const sdk = findSdk();
if (!sdk.ok) console.log(`firmware renewal e2e skipped: ${sdk.reason}`);

const THING = "fw-renew-button";

describe.skipIf(!sdk.ok)("firmware certificate renewal on the Moddable runtime (x-cli-lin)", () => {
  let dir: string;
  let pki: Pki;
  let build: HostBuild;
  let broker: RunningBroker;
  let restaurant: Restaurant;
  let renewal: RenewalService;
  const brokerEvents: BrokerEvent[] = [];
  const running: FirmwareProcess[] = [];

  const read = (path: string) => readFileSync(path, "utf8");
  const connects = () => brokerEvents.filter((e) => e.event === "connect" && e.clientId === THING);

  async function startFirmware(flash: string): Promise<FirmwareProcess> {
    mkdirSync(flash, { recursive: true });
    const fw = new FirmwareProcess({ binary: build.binaryPath, cwd: flash, args: ["mqtt.host=127.0.0.1", `mqtt.port=${broker.port}`] });
    running.push(fw);
    await fw.waitForLine((t) => t === `@ready ${THING}`, "the firmware to be ready");
    return fw;
  }

  beforeAll(async () => {
    if (!sdk.ok) return;
    dir = tempDir("fw-renewal");
    const pkiDir = join(dir, "pki");
    pki = await Pki.open(pkiDir);
    await pki.initCa();
    await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"] });
    const restaurantFiles = await pki.createService("restaurant", { keyType: "ec" });
    await pki.createThing(THING, { validDays: 5 }); // RSA-2048, as the SDK's TLS needs
    // A renewal keeps the held lifetime unless the operator sets one (thing lifetime): 2 years here, so the
    // renewed certificate is far from the renewal window and the button renews exactly once.
    await pki.setRenewalLifetime(THING, 730);
    const certs = join(dir, "device-certs");
    await pki.exportModdable(THING, { outDir: certs });
    build = await buildFirmwareHost({ sdk: sdk.sdk, certsDir: certs, outDir: join(REPO_ROOT, "build", "firmware-host-renewal-test") });
    console.log(`firmware host build: ${(build.buildMs / 1000).toFixed(1)} s`);

    broker = await startPkiBroker(pki, (event) => brokerEvents.push(event));
    restaurant = await startRestaurant({
      brokerUrl: broker.url,
      ca: read(restaurantFiles.caPath),
      cert: read(restaurantFiles.chainPath),
      key: read(restaurantFiles.keyPath),
      clientId: "restaurant",
      dbPath: join(dir, "orders.sqlite"),
    });
    renewal = await startRenewal({ brokerUrl: broker.url, servername: undefined, pkiDir, topicPrefix: "pizza" }, () => {});
  }, 20 * 60_000);

  afterAll(async () => {
    for (const fw of running) await fw.stop();
    await renewal?.close();
    await restaurant?.close();
    await broker?.close();
    if (dir) removeDir(dir);
  });

  it("renews after its first order, then connects with the renewed certificate, also after a restart", async () => {
    const flash = join(dir, "flash");
    const provisioned = readRegistry(pki.dir).certificates.find((c) => c.thing === THING)!;
    const fw = await startFirmware(flash);
    const first = await fw.nextOutcome(fw.send("single"));
    expect(first.outcome, fw.transcript()).toMatchObject({ outcome: "ok" });
    expect(connects()[0]!.fingerprint256).toBe(provisioned.fingerprint256);

    await fw.waitForLine((t) => t.startsWith("@renewal ") && t.includes('"step":"renewed"'), "the renewal", { timeoutMs: 60_000 });
    const renewed = readRegistry(pki.dir).certificates.filter((c) => c.thing === THING && c.issuedBy === "renewal");
    expect(renewed).toHaveLength(1);
    expect(Date.parse(renewed[0]!.notAfter)).toBeGreaterThan(Date.parse(provisioned.notAfter));

    const before = connects().length;
    const second = await fw.nextOutcome(fw.send("single"));
    expect(second.outcome, fw.transcript()).toMatchObject({ outcome: "ok" });
    expect(connects().slice(before).map((e) => e.fingerprint256)).toEqual([renewed[0]!.fingerprint256]);
    await fw.stop();

    // Power cycle: the renewed certificate comes from Preference, not from the Resource baked in the build.
    const again = await startFirmware(flash);
    const mark = connects().length;
    const third = await again.nextOutcome(again.send("single"));
    expect(third.outcome, again.transcript()).toMatchObject({ outcome: "ok" });
    expect(connects().slice(mark).map((e) => e.fingerprint256)).toEqual([renewed[0]!.fingerprint256]);
    expect(again.tagged("renewal")).toEqual([]); // far from its end now: no new request
  });
});
