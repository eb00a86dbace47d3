// The real firmware (x-cli-lin build of main.ts + modules) when its network goes away: the headless host's
// `network down` / `network up` commands drive the board's Network port. A press while offline keeps the
// order pending and shows the "offline" pattern, opens no connection and does not spend the give-up time;
// once the network is back the order goes out once, under its orderId, and is acked.
//
// Needs an installed Moddable SDK ($MODDABLE); skipped with the reason otherwise. Its own build folder,
// so it can run next to the other firmware suites (a fresh build compiles the XS engine: minutes).
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type BrokerEvent, type RunningBroker } from "../../../services/broker/broker";
import { startRestaurant, type Restaurant } from "../../../services/restaurant/restaurant";
import { ensureDevPki, type DevPki } from "../../../tools/pki/dev";
import { buildFirmwareHost, type HostBuild } from "../../../tools/firmware/host-build";
import { REPO_ROOT, findSdk } from "../../../tools/firmware/sdk";
import { FirmwareProcess } from "../../../tools/firmware/process";
import { removeDir, tempDir } from "../integration/fixtures";

const sdk = findSdk();
if (!sdk.ok) console.log(`firmware network e2e skipped: ${sdk.reason}`);

const THING = "fw-net-button";

describe.skipIf(!sdk.ok)("firmware on the Moddable runtime (x-cli-lin) when the network goes away", () => {
  let dir: string;
  let dev: DevPki;
  let build: HostBuild;
  let broker: RunningBroker;
  let restaurant: Restaurant;
  const brokerEvents: BrokerEvent[] = [];
  const running: FirmwareProcess[] = [];
  let runs = 0;

  const pem = (path: string) => readFileSync(path, "utf8");
  const connects = () => brokerEvents.filter((e) => e.event === "connect" && e.clientId === THING);

  async function startFirmware(settings: string[] = []): Promise<FirmwareProcess> {
    const cwd = join(dir, `run-${++runs}`);
    mkdirSync(cwd, { recursive: true });
    const fw = new FirmwareProcess({ binary: build.binaryPath, cwd, args: ["mqtt.host=127.0.0.1", `mqtt.port=${broker.port}`, ...settings] });
    running.push(fw);
    await fw.waitForLine((t) => t === `@ready ${THING}`, "the firmware to be ready");
    return fw;
  }

  beforeAll(async () => {
    if (!sdk.ok) return;
    dir = tempDir("fw-network");
    dev = await ensureDevPki(join(dir, "pki"), { deviceName: THING });
    const certs = join(dir, "device-certs");
    await dev.pki.exportModdable(THING, { outDir: certs });
    build = await buildFirmwareHost({ sdk: sdk.sdk, certsDir: certs, outDir: join(REPO_ROOT, "build", "firmware-host-network-test") });
    console.log(`firmware host build: ${(build.buildMs / 1000).toFixed(1)} s, binary ${build.binaryBytes} bytes`);
    const trust = dev.pki.trustMaterial();
    broker = await startBroker({
      host: "127.0.0.1",
      port: 0,
      key: pem(dev.broker.keyPath),
      cert: pem(dev.broker.certPath),
      ca: trust.ca,
      crl: trust.crl,
      topicPrefix: "pizza",
      identify: (fingerprint) => dev.pki.certificateBinding(fingerprint),
      log: (event) => brokerEvents.push(event),
    });
    restaurant = await startRestaurant({
      brokerUrl: broker.url,
      ca: pem(dev.restaurant.caPath),
      cert: pem(dev.restaurant.chainPath),
      key: pem(dev.restaurant.keyPath),
      clientId: "restaurant",
      dbPath: join(dir, "orders.sqlite"),
    });
  }, 20 * 60_000);

  afterAll(async () => {
    for (const fw of running) await fw.stop();
    await restaurant?.close();
    await broker?.close();
    if (dir) removeDir(dir);
  });

  it("network down → press → offline pattern, no connection, budget kept → network up → exactly one order, acked", async () => {
    // A short give-up time: waiting offline far beyond it must not fail the order.
    const fw = await startFirmware(["ackTimeoutMs=1000", "giveUpMs=2000"]);
    await fw.waitForLine((t) => t === "@network down", "the network to go down", { from: fw.send("network down") });
    const connectsBefore = connects().length;

    const from = fw.send("single");
    await fw.waitForLine((t) => t.startsWith("@event ") && t.includes('"state":"offline"'), "the offline state", { from });
    expect(fw.tagged("pattern")).toContain("offline");
    const offline = fw.events().find((e) => e.type === "state" && e.state === "offline");
    expect(offline, fw.transcript()).toBeDefined();
    const orderId = String(offline!.orderId);
    expect(orderId).toMatch(new RegExp(`^${THING}-\\d+$`));

    await new Promise((resolve) => setTimeout(resolve, 4_000)); // twice giveUpMs
    expect(fw.events().filter((e) => e.type === "outcome"), fw.transcript()).toEqual([]);
    expect(fw.events().filter((e) => e.type === "connection")).toEqual([]);
    expect(connects()).toHaveLength(connectsBefore);
    expect(restaurant.order(orderId)).toBeUndefined();

    const back = fw.send("network up");
    const { outcome, patterns } = await fw.nextOutcome(back);
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", orderId, clickType: "SINGLE", attempts: 1, resent: false, trigger: "click" });
    expect(patterns).toEqual(["working", "ok"]);
    expect(connects()).toHaveLength(connectsBefore + 1);
    expect(restaurant.orders().filter((o) => o.thing === THING)).toHaveLength(1);
    expect(restaurant.order(orderId)).toMatchObject({ thing: THING, action: "order", item: "margherita", status: "accepted" });
  });

  it("persistent: network down drops the link and nothing reconnects; network up brings it back and a press orders", async () => {
    const fw = await startFirmware(["connection=persistent"]);
    await fw.waitForLine((t) => t.includes('"phase":"ready"'), "the persistent link");
    const connectsBefore = connects().length;
    const disconnects = () => brokerEvents.filter((e) => e.event === "disconnect" && e.clientId === THING).length;
    const disconnectsBefore = disconnects();

    fw.send("network down");
    await waitUntil(() => disconnects() > disconnectsBefore, "the broker to see the link go", fw);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // several reconnect backoffs' worth
    expect(connects()).toHaveLength(connectsBefore);

    const from = fw.send("network up");
    await fw.waitForLine((t) => t.includes('"phase":"ready"'), "the link back", { from });
    expect(connects()).toHaveLength(connectsBefore + 1);
    const { outcome } = await fw.nextOutcome(fw.send("single"));
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", attempts: 1 });
  });
});

async function waitUntil(condition: () => boolean, what: string, fw: FirmwareProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${fw.transcript()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
