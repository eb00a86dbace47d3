// The real firmware on the real Moddable runtime: main.ts + modules/core + modules/device compiled by the
// SDK (tsc + xsc) for x-cli-lin, its TLS (the SDK's own stack, TLS 1.2, RSA client certificate) under the
// core's MQTT session, against the embedded broker and the restaurant over loopback. The button is pressed
// through the headless host's stdin; the LED is read from its stdout.
//
// Needs an installed Moddable SDK ($MODDABLE with its host tools built); skipped with the reason otherwise.
// The first build compiles the XS engine (minutes); later runs only rebake the identity and relink.
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type BrokerEvent, type RunningBroker } from "../../../services/broker/broker";
import type { Restaurant } from "../../../services/restaurant/restaurant";
import { buildDevFirmware, startLocalStack } from "../support/local-stack";
import type { DevPki } from "../../../tools/pki/dev";
import { Pki } from "../../../tools/pki/pki";
import type { HostBuild } from "../../../tools/firmware/host-build";
import { findSdk } from "../../../tools/firmware/sdk";
import { credentialsOf, removeDir, tempDir, waitFor } from "../integration/fixtures";
import { FirmwareProcess } from "../../../tools/firmware/process";
import { BatteryFirmware } from "../../../tools/firmware/battery";
import { createServer, type Socket } from "node:net";
import { comparable, expectedColdClick, firmwarePacketLines, virtualClickPackets } from "../support/packet-trace";

const sdk = findSdk();
if (!sdk.ok) console.log(`firmware e2e skipped: ${sdk.reason}`);

const THING = "fw-e2e-button";

describe.skipIf(!sdk.ok)("firmware on the Moddable runtime (x-cli-lin) against broker + restaurant", () => {
  let dir: string;
  let dev: DevPki;
  let build: HostBuild;
  let broker: RunningBroker;
  let restaurant: Restaurant;
  const brokerEvents: BrokerEvent[] = [];
  const running: FirmwareProcess[] = [];
  const batteries: BatteryFirmware[] = [];
  let runs = 0;
  /** The seq of the device's first order: a factory-fresh flash seeds it from the wall clock (seconds). */
  let firstSeq = NaN;
  const orderId = (seq: number) => `${THING}-${seq}`;

  function pem(path: string): string {
    return readFileSync(path, "utf8");
  }

  /** state: the folder of the device's Preference file (its flash); default a new one (factory-fresh). */
  async function startFirmware(port: number, settings: string[] = [], state?: string): Promise<FirmwareProcess> {
    const cwd = state ?? join(dir, `run-${++runs}`);
    mkdirSync(cwd, { recursive: true });
    const args = ["mqtt.host=127.0.0.1", `mqtt.port=${port}`, ...settings];
    const fw = new FirmwareProcess({ binary: build.binaryPath, cwd, args });
    running.push(fw);
    await fw.waitForLine((t) => t === `@ready ${THING}`, "the firmware to be ready");
    return fw;
  }

  /** The firmware's reason for its auth-error, as its connector classified the close. */
  function closeDetail(fw: FirmwareProcess): unknown {
    const closed = fw.events().find((e) => e.type === "connection" && e.phase === "closed");
    console.log(`firmware close: ${JSON.stringify(closed)}`);
    return closed;
  }

  beforeAll(async () => {
    if (!sdk.ok) return;
    dir = tempDir("fw-e2e");
    ({ dev, build } = await buildDevFirmware(sdk.sdk, { dir, thing: THING, buildName: "firmware-host-test" }));

    ({ broker, restaurant } = await startLocalStack(dev, { dir, onBrokerEvent: (event) => brokerEvents.push(event) }));
  }, 20 * 60_000);

  afterAll(async () => {
    for (const fw of running) await fw.stop();
    for (const device of batteries) await device.stop();
    await restaurant?.close();
    await broker?.close();
    if (dir) removeDir(dir);
  });

  it("baked the identity: the binary's device certificate is the thing's", () => {
    expect(build.thingName).toBe(THING);
  });

  it("single, double and long clicks: two orders in the restaurant's database, then a cancel; LED ok, ok, cancelled", async () => {
    const fw = await startFirmware(broker.port, [], join(dir, "device-flash"));

    const pressedAt = Date.now();
    const single = await fw.nextOutcome(fw.send("single"));
    const seenOkMs = Date.now() - pressedAt;
    expect(single.outcome, fw.transcript()).toMatchObject({ outcome: "ok", clickType: "SINGLE", attempts: 1, resent: false });
    // Fresh flash: seq starts at the wall clock's seconds at the press (not 1, which an erased device
    // would reuse), so between the seconds of sending the press and of seeing its outcome.
    firstSeq = Number(/^fw-e2e-button-(\d+)$/.exec(String(single.outcome.orderId))?.[1]);
    expect(firstSeq, fw.transcript()).toBeGreaterThanOrEqual(Math.floor(pressedAt / 1000));
    expect(firstSeq).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(single.patterns).toEqual(["working", "ok"]);
    // ok = the LED lit for 2 s: on when the outcome is reported (a fast ack finds it still on from "working",
    // and the player switches the LED only when its state changes).
    const ledBefore = fw.lines.slice(0, single.index).filter((l) => l.text.startsWith("@led ")).at(-1);
    expect(ledBefore?.text, fw.transcript()).toBe("@led on");
    expect((await restaurant.order(orderId(firstSeq)))).toMatchObject({ thing: THING, action: "order", item: "margherita", status: "accepted", clickType: "SINGLE" });
    // Proof of the TLS 1.2 mutual-auth path: the broker accepted the client certificate's CN as the client id.
    expect(brokerEvents.some((e) => e.event === "connect" && e.clientId === THING && e.cn === THING)).toBe(true);
    console.log(
      `press→ack on the real runtime: ${String(single.outcome.pressToAckMs)} ms (firmware clock, click→ack incl. TLS handshake), ` +
        `${seenOkMs} ms stdin "single"→outcome (adds the 80 ms tap and the 400 ms double-click window); ` +
        `connect ${String(fw.events().find((e) => e.type === "connection" && e.phase === "ready")?.connectMs)} ms; ` +
        `process RSS ${rssKb(fw.pid)} kB`,
    );

    await fw.waitForLine((t) => t.includes('"state":"idle"'), "idle after the first order", { from: single.index });
    const double = await fw.nextOutcome(fw.send("double"));
    expect(double.outcome, fw.transcript()).toMatchObject({ outcome: "ok", clickType: "DOUBLE", orderId: orderId(firstSeq + 1) });
    expect(double.patterns).toContain("ok");
    expect((await restaurant.order(orderId(firstSeq + 1)))).toMatchObject({ item: "pepperoni", status: "accepted", clickType: "DOUBLE" });

    await fw.waitForLine((t) => t.includes('"state":"idle"'), "idle after the second order", { from: double.index });
    // A press within doubleClickMs of the double click's last release would belong to that gesture (a
    // triple click is one DOUBLE): let the window pass, as a person would.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const long = await fw.nextOutcome(fw.send("long"));
    expect(long.outcome, fw.transcript()).toMatchObject({ outcome: "cancelled", clickType: "LONG", orderId: orderId(firstSeq + 2) });
    expect(long.patterns).toContain("cancelled");
    expect((await restaurant.order(orderId(firstSeq + 2)))).toMatchObject({ action: "cancel", cancels: orderId(firstSeq + 1) });

    const mine = (await restaurant.orders()).filter((o) => o.thing === THING);
    expect(mine.map((o) => o.orderId)).toEqual([orderId(firstSeq), orderId(firstSeq + 1), orderId(firstSeq + 2)]); // one row per press
    await fw.stop();
  });

  it("rebooted in persistent mode: connects at boot, stays connected, and continues its order numbers", async () => {
    // The same device as above (same flash): seq must continue after its first three orders, or the
    // restaurant would answer a reused orderId with the old ack.
    const fw = await startFirmware(broker.port, ["connection=persistent", "item.single=funghi"], join(dir, "device-flash"));
    await fw.waitForLine((t) => t.includes('"phase":"ready"'), "the link to come up at boot");
    const connects = brokerEvents.filter((e) => e.event === "connect" && e.clientId === THING).length;
    const { outcome, patterns } = await fw.nextOutcome(fw.send("single"));
    expect(patterns).toContain("ok");
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", clickType: "SINGLE", attempts: 1, orderId: orderId(firstSeq + 3) });
    expect((await restaurant.order(orderId(firstSeq + 3)))).toMatchObject({ item: "funghi", status: "accepted" });
    expect(brokerEvents.filter((e) => e.event === "connect" && e.clientId === THING).length).toBe(connects); // no new connection
    console.log(`press→ack on a live link (persistent): ${String(outcome.pressToAckMs)} ms`);
    await fw.stop(); // the flash is the next test's
  });

  it("mem: XS memory in bytes, with the high-water mark of a click, reset by each mem", async () => {
    const fw = await startFirmware(broker.port, [], join(dir, "device-flash"));
    const before = await readMem(fw); // resets the peaks
    const { outcome, index } = await fw.nextOutcome(fw.send("single"));
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", orderId: orderId(firstSeq + 4) });
    await fw.waitForLine((t) => t.includes('"state":"idle"'), "idle after the order", { from: index });
    const click = await readMem(fw);
    const idle = await readMem(fw); // only the previous mem's own allocations since the reset
    console.log(`XS memory: before ${JSON.stringify(before)}, click ${JSON.stringify(click)}, idle ${JSON.stringify(idle)}`);

    for (const m of [before, click, idle]) {
      expect(m.chunksUsed).toBeLessThanOrEqual(m.chunksPeak);
      expect(m.slotsUsed).toBeLessThanOrEqual(m.slotsPeak);
      // Slots are reported in bytes: count × sizeof(txSlot) (16 on 32-bit, 32 on 64-bit hosts).
      expect(m.slotsUsed % 16).toBe(0);
      expect(m.slotsPeak % 16).toBe(0);
    }
    // The TLS handshake and the MQTT exchange need memory beyond the idle firmware's...
    expect(click.chunksPeak).toBeGreaterThan(before.chunksUsed);
    expect(click.slotsPeak).toBeGreaterThan(before.slotsUsed);
    // ...and each mem resets the peaks to what is in use: since the previous mem only that mem's answer
    // (and an idle timer or two) allocated, so the peak is bounded by its in-use figure plus a little,
    // whatever the garbage collector did; without the reset it would still be the click's.
    expect(idle.chunksPeak).toBeLessThanOrEqual(click.chunksUsed + 2048);
    expect(idle.slotsPeak).toBeLessThanOrEqual(click.slotsUsed + 128 * 32);
  });

  // Battery mode on the real runtime: the binary's deep sleep ends the process with "@sleep"; a press of
  // the sleeping button starts it again with wake.button=<press time> (BatteryFirmware), in the same
  // folder, whose Preference file is the device's flash.
  function batteryDevice(flash: string, settings: string[] = []): BatteryFirmware {
    mkdirSync(flash, { recursive: true });
    const device = new BatteryFirmware({
      binary: build.binaryPath,
      cwd: flash,
      args: ["mqtt.host=127.0.0.1", `mqtt.port=${broker.port}`, "connection=battery", ...settings],
    });
    batteries.push(device);
    return device;
  }

  /** ms from the harness's press to a line, on the harness's clock. */
  const sincePress = (fw: FirmwareProcess, pressedAt: number, index: number) => fw.startedAt + fw.lines[index]!.at - pressedAt;

  it("battery: powered on it sleeps; a press wakes it → order → ack → LED ok played out → sleep again", async () => {
    const device = batteryDevice(join(dir, "battery-flash"));
    const boot = device.powerOn();
    await boot.waitForLine((t) => t === `@ready ${THING}`, "ready after power-on");
    await device.waitForSleep();
    expect(boot.tagged("wake")).toEqual([]); // no button woke this boot
    expect(boot.events().filter((e) => e.type === "connection")).toEqual([]); // nothing to send: no network

    for (const round of [1, 2]) {
      const { fw, pressedAt } = device.press();
      const ready = await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
      const wakeMs = Number(fw.tagged("wake")[0]);
      expect(wakeMs, fw.transcript()).toBeGreaterThanOrEqual(0);
      const from = fw.send("release"); // a tap: released as soon as the firmware listens
      const { outcome, patterns, index } = await fw.nextOutcome(from);
      expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", clickType: "SINGLE", trigger: "click", resent: false, attempts: 1 });
      expect(patterns).toEqual(["working", "ok"]);
      expect(fw.tagged("click")).toEqual(["SINGLE"]);
      expect((await restaurant.order(String(outcome.orderId)))).toMatchObject({ status: "accepted", clickType: "SINGLE", item: "margherita" });
      await device.waitForSleep();
      // The ok pattern played out (2 s of LED) before the board slept, and the LED was off when it did.
      const texts = fw.lines.map((l) => l.text);
      const okAt = texts.indexOf("@pattern ok");
      const offAt = texts.indexOf("@pattern off", okAt);
      const sleepAt = texts.indexOf("@sleep");
      expect(okAt).toBeGreaterThan(0);
      expect(offAt).toBeGreaterThan(okAt);
      expect(sleepAt).toBeGreaterThan(offAt);
      expect(fw.lines[offAt]!.at - fw.lines[okAt]!.at).toBeGreaterThanOrEqual(1_900);
      expect(texts.slice(0, sleepAt).filter((t) => t.startsWith("@led ")).at(-1)).toBe("@led off");
      console.log(
        `battery cycle ${round} (harness clock, ms from the press): firmware holds the press ${wakeMs} (its own count), ` +
          `ready ${sincePress(fw, pressedAt, ready)}, click ${sincePress(fw, pressedAt, fw.lines.findIndex((l) => l.text.startsWith("@click ")))}, ` +
          `ack ${sincePress(fw, pressedAt, index)} (press→ack ${String(outcome.pressToAckMs)} by the firmware), ` +
          `LED off ${sincePress(fw, pressedAt, offAt)}, sleep ${sincePress(fw, pressedAt, sleepAt)}`,
      );
    }
  });

  it("battery: from sleep a quick second press is DOUBLE and a held press is LONG (cancels the last order)", async () => {
    const device = batteryDevice(join(dir, "battery-flash"));
    let { fw } = device.press();
    await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
    const pause = () => new Promise((resolve) => setTimeout(resolve, 100)); // longer than the 30 ms debounce
    fw.send("release");
    await pause();
    const secondPress = fw.send("press"); // DOUBLE from the second press: the order may be acked before its release
    await pause();
    fw.send("release");
    const double = await fw.nextOutcome(secondPress);
    expect(double.outcome, fw.transcript()).toMatchObject({ outcome: "ok", clickType: "DOUBLE" });
    expect((await restaurant.order(String(double.outcome.orderId)))).toMatchObject({ item: "pepperoni", status: "accepted" });
    await device.waitForSleep();

    ({ fw } = device.press());
    await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
    const long = await fw.nextOutcome(0); // held: LONG at longPressMs from the press, before any release
    expect(long.outcome, fw.transcript()).toMatchObject({ outcome: "cancelled", clickType: "LONG" });
    expect((await restaurant.order(String(long.outcome.orderId)))).toMatchObject({ action: "cancel", cancels: double.outcome.orderId });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(fw.running).toBe(true); // still held: the board stays awake (a level wake would fire at once)
    fw.send("release");
    await device.waitForSleep();
  });

  it("battery: an order the restaurant never answered stays in flash through a sleep and is resent at the next wake", async () => {
    // A broker that accepts TCP and never answers (a dead restaurant network): every attempt times out.
    const held: Socket[] = [];
    const silent = createServer((socket) => {
      held.push(socket.on("error", () => {}));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    const device = batteryDevice(join(dir, "battery-flash"));
    // This wake only: no answer, and the flow gives up quickly (later settings win).
    let { fw } = device.press([`mqtt.port=${silentPort}`, "ackTimeoutMs=1000", "backoffBaseMs=100", "backoffCapMs=200", "giveUpMs=2500"]);
    await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
    const failed = await fw.nextOutcome(fw.send("release"));
    expect(failed.outcome, fw.transcript()).toMatchObject({ outcome: "failed", clickType: "SINGLE" });
    const orderId = String(failed.outcome.orderId);
    expect((await restaurant.order(orderId))).toBeUndefined();
    await device.waitForSleep();
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));

    ({ fw } = device.press()); // the broker is back in reach
    await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
    const resent = await fw.nextOutcome(fw.send("release"));
    // The press that woke it resends the pending order (same orderId), as a press does while one is pending.
    expect(resent.outcome, fw.transcript()).toMatchObject({ outcome: "ok", orderId, resent: true, trigger: "click", clickType: "SINGLE" });
    expect((await restaurant.orders()).filter((o) => o.orderId === orderId)).toHaveLength(1);
    await device.waitForSleep();
    expect(fw.events().filter((e) => e.type === "outcome")).toHaveLength(1); // one press, one message
  });

  it("the same click puts the same MQTT packets on the wire as the virtual button (one flight out, then the answers)", async () => {
    // The device's own flash: its order numbers go on (a fresh flash would seed seq from the clock and
    // could repeat an orderId of this device's earlier orders within the same second).
    const fw = await startFirmware(broker.port, [], join(dir, "device-flash"));
    const from = fw.send("single");
    const { outcome } = await fw.nextOutcome(from);
    const seq = Number(/-(\d+)$/.exec(String(outcome.orderId))?.[1]);
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", attempts: 1 });
    await fw.waitForLine((t) => t === "@mqtt out DISCONNECT", "the DISCONNECT after the ack", { from });
    const firmware = firmwarePacketLines(fw.tagged("mqtt"));
    await fw.stop();

    const virtual = await virtualClickPackets({
      thingName: THING,
      broker: { host: "127.0.0.1", port: broker.port },
      credentials: credentialsOf(dev.device),
      storePath: join(dir, "virtual-store.json"),
      afterSeq: seq, // the same thing name: number after the firmware's order, never the same orderId
    });
    expect(virtual.outcome).toBe("ok");
    console.log(`packets of one cold click, firmware: ${JSON.stringify(firmware)}; virtual button: ${JSON.stringify(virtual.packets)}`);
    expect(comparable(firmware), fw.transcript()).toEqual(expectedColdClick(THING));
    expect(comparable(virtual.packets)).toEqual(comparable(firmware));
  });

  it("AWS IoT style port 443: the firmware offers ALPN x-amzn-mqtt-ca when mqtt.alpn is set", async () => {
    const offered: Array<string | false | null> = [];
    const server = tls.createServer(
      { key: pem(dev.broker.keyPath), cert: pem(dev.broker.certPath), ca: dev.pki.trustMaterial().ca, minVersion: "TLSv1.2", ALPNProtocols: ["x-amzn-mqtt-ca"] },
      (socket) => {
        offered.push(socket.alpnProtocol);
        socket.destroy(); // only the negotiation is under test
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const fw = await startFirmware(port, ["mqtt.alpn=x-amzn-mqtt-ca"]);
      fw.send("single");
      await waitFor(() => offered.length > 0, "a TLS connection from the firmware");
      expect(offered[0]).toBe("x-amzn-mqtt-ca");
      await fw.stop();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("a deactivated thing: the broker refuses CONNECT (CONNACK 5) and the LED shows auth-error, no retry", async () => {
    await dev.pki.setThingState(THING, "INACTIVE");
    try {
      const before = (await restaurant.orders()).length;
      const fw = await startFirmware(broker.port);
      const { outcome, patterns } = await fw.nextOutcome(fw.send("single"));
      expect(outcome, fw.transcript()).toMatchObject({ outcome: "auth-error", attempts: 1 });
      expect(patterns).toContain("auth-error");
      expect(closeDetail(fw)).toMatchObject({
        kind: "auth",
        detail: expect.stringContaining("CONNACK refused: 5"),
      });
      expect(brokerEvents.some((e) => e.event === "refused" && e.cn === THING)).toBe(true);
      expect((await restaurant.orders()).length).toBe(before);
    } finally {
      await dev.pki.setThingState(THING, "ACTIVE");
    }
  });

  it("a broker whose certificate the device does not trust: the firmware refuses it (auth-error), nothing is sent", async () => {
    const other = await Pki.open(join(dir, "other-pki"));
    await other.initCa();
    const impostorFiles = await other.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"] });
    const trust = dev.pki.trustMaterial(); // it would accept the device: only the device's check can stop it
    const impostorEvents: BrokerEvent[] = [];
    const impostor = await startBroker({
      host: "127.0.0.1",
      port: 0,
      key: pem(impostorFiles.keyPath),
      cert: pem(impostorFiles.certPath),
      ca: trust.ca,
      crl: trust.crl,
      topicPrefix: "pizza",
      log: (event) => impostorEvents.push(event),
    });
    try {
      expect(new X509Certificate(pem(impostorFiles.certPath)).checkIP("127.0.0.1")).toBe("127.0.0.1"); // only the CA differs
      const fw = await startFirmware(impostor.port);
      const { outcome, patterns } = await fw.nextOutcome(fw.send("single"));
      expect(outcome, fw.transcript()).toMatchObject({ outcome: "auth-error", attempts: 1 });
      expect(patterns).toContain("auth-error");
      expect(closeDetail(fw)).toMatchObject({
        kind: "auth",
        detail: expect.stringContaining("TLS handshake failed"),
      });
      expect(impostorEvents.some((e) => e.event === "connect" || e.event === "publish")).toBe(false);
    } finally {
      await impostor.close();
    }
  });

  it("a revoked device certificate: the broker's TLS refuses it (CRL) and the LED shows auth-error", async () => {
    await dev.pki.setThingState(THING, "REVOKED");
    broker.updateTrust(dev.pki.trustMaterial()); // the new CRL
    const before = (await restaurant.orders()).length;
    const refusedBefore = brokerEvents.filter((e) => e.event === "tls-refused").length;
    const fw = await startFirmware(broker.port);
    const { outcome, patterns } = await fw.nextOutcome(fw.send("single"));
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "auth-error", attempts: 1 });
    expect(patterns).toContain("auth-error");
    expect(closeDetail(fw)).toMatchObject({
      kind: "auth",
      detail: expect.stringContaining("TLS handshake failed"),
    });
    await waitFor(() => brokerEvents.filter((e) => e.event === "tls-refused").length > refusedBefore, "the broker's tls-refused event");
    expect((await restaurant.orders()).length).toBe(before);
  });
});

interface MemLine {
  chunksUsed: number;
  chunksPeak: number;
  slotsUsed: number;
  slotsPeak: number;
}

/** Sends `mem` and parses the firmware's `@mem {...}` answer (integers, bytes). */
async function readMem(fw: FirmwareProcess): Promise<MemLine> {
  const at = await fw.waitForLine((t) => t.startsWith("@mem "), "@mem", { from: fw.send("mem") });
  const m = JSON.parse(fw.lines[at]!.text.slice("@mem ".length)) as MemLine;
  for (const value of Object.values(m)) expect(Number.isInteger(value) && value > 0, fw.lines[at]!.text).toBe(true);
  expect(Object.keys(m).sort()).toEqual(["chunksPeak", "chunksUsed", "slotsPeak", "slotsUsed"]);
  return m;
}

function rssKb(pid: number | undefined): string {
  try {
    return /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "?";
  } catch {
    return "?";
  }
}
