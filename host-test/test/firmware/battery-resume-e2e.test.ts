// A battery button's TLS session across deep sleep, on the real firmware (x-cli-lin, the SDK's own TLS):
// every wake after the first press resumes the session on the wire (read from the TLS records through a
// relay, not from the firmware's word), against the embedded broker and mosquitto. RTC memory is the file
// the battery runner keeps across the restarts that stand for deep sleep; removing it is a power cut.
// Also: a corrupted, expired or re-bound session gives a full handshake, the master secret is in no
// file but that stand-in, and a resumed session does not get a refused thing's pipelined order through.
//
// Needs an installed Moddable SDK ($MODDABLE with its host tools built); skipped with the reason otherwise.
// Its own build folder: test files run in parallel, and two builds must not share one.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeTlsSession } from "../../../modules/core/tls-session";
import { startBroker, type RunningBroker } from "../../../services/broker/broker";
import { startRestaurant, type Restaurant } from "../../../services/restaurant/restaurant";
import { BatteryFirmware } from "../../../tools/firmware/battery";
import { buildFirmwareHost, type HostBuild } from "../../../tools/firmware/host-build";
import type { FirmwareProcess } from "../../../tools/firmware/process";
import { REPO_ROOT, findSdk } from "../../../tools/firmware/sdk";
import { ensureDevPki, type DevPki } from "../../../tools/pki/dev";
import { startTlsRelay, type TlsRelay } from "../../bench/tls-relay";
import { mosquittoUnavailableReason, startMosquitto, type RunningMosquitto } from "../../mosquitto/mosquitto";
import { removeDir, tempDir, waitFor } from "../integration/fixtures";

const sdk = findSdk();
if (!sdk.ok) console.log(`battery resume e2e skipped: ${sdk.reason}`);

const THING = "fw-battery-button";
/** Slot 0 of the RTC stand-in: 2-byte length, then the framed session record (fast-wake/file/rtc-store.ts). */
const SLOT_BYTES = 128;

function storedSession(rtcFile: string) {
  const image = new Uint8Array(readFileSync(rtcFile));
  const length = (image[0]! << 8) | image[1]!;
  return decodeTlsSession(image.subarray(2, 2 + Math.min(length, SLOT_BYTES)));
}

/** Every file under dir (the device's working folder), except the RTC stand-in. */
function filesOutsideRtc(dir: string, rtcFile: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === rtcFile) continue;
    if (statSync(path).isDirectory()) out.push(...filesOutsideRtc(path, rtcFile));
    else out.push(path);
  }
  return out;
}

describe.skipIf(!sdk.ok)("battery firmware: the TLS session survives deep sleep (RTC memory), resumed on the wire", () => {
  let dir: string;
  let dev: DevPki;
  let build: HostBuild;
  let broker: RunningBroker;
  let restaurant: Restaurant;
  const relays: TlsRelay[] = [];
  const devices: BatteryFirmware[] = [];

  beforeAll(async () => {
    if (!sdk.ok) return;
    dir = tempDir("fw-battery");
    dev = await ensureDevPki(join(dir, "pki"), { deviceName: THING });
    const certs = join(dir, "device-certs");
    await dev.pki.exportModdable(THING, { outDir: certs });
    build = await buildFirmwareHost({ sdk: sdk.sdk, certsDir: certs, outDir: join(REPO_ROOT, "build", "firmware-host-battery-test") });
    console.log(`firmware host build: ${(build.buildMs / 1000).toFixed(1)} s, binary ${build.binaryBytes} bytes`);
    const trust = dev.pki.trustMaterial();
    broker = await startBroker({
      host: "127.0.0.1",
      port: 0,
      key: readFileSync(dev.broker.keyPath, "utf8"),
      cert: readFileSync(dev.broker.certPath, "utf8"),
      ca: trust.ca,
      crl: trust.crl,
      topicPrefix: "pizza",
      identify: (fingerprint) => dev.pki.certificateBinding(fingerprint),
    });
    restaurant = await startRestaurant({
      brokerUrl: broker.url,
      ca: readFileSync(dev.restaurant.caPath, "utf8"),
      cert: readFileSync(dev.restaurant.chainPath, "utf8"),
      key: readFileSync(dev.restaurant.keyPath, "utf8"),
      clientId: "restaurant",
      dbPath: join(dir, "orders.sqlite"),
    });
  }, 20 * 60_000);

  afterAll(async () => {
    for (const device of devices) await device.stop();
    for (const relay of relays) await relay.close();
    await restaurant?.close();
    await broker?.close();
    if (dir) removeDir(dir);
  });

  async function relayTo(target: { host: string; port: number }): Promise<TlsRelay> {
    const relay = await startTlsRelay(target);
    relays.push(relay);
    return relay;
  }

  function device(name: string, relay: TlsRelay, settings: string[] = []): BatteryFirmware {
    const flash = join(dir, name);
    mkdirSync(flash, { recursive: true });
    const d = new BatteryFirmware({
      binary: build.binaryPath,
      cwd: flash,
      // A tap is released once the woken firmware listens; on a loaded machine its boot can take longer
      // than the default 1.5 s of a LONG press, so LONG is set out of reach (these presses are SINGLE).
      args: ["mqtt.host=127.0.0.1", `mqtt.port=${relay.port}`, "connection=battery", "longPressMs=10000", ...settings],
    });
    devices.push(d);
    return d;
  }

  /** Power-on: nothing pending, so the button goes to sleep at once. */
  async function powerOn(d: BatteryFirmware): Promise<void> {
    const boot = d.powerOn();
    await boot.waitForLine((t) => t === `@ready ${THING}`, "ready after power-on");
    await d.waitForSleep();
  }

  /** A tap that wakes the sleeping button: order → ack → LED → sleep. The wire's verdict on its handshake. */
  async function press(d: BatteryFirmware, relay: TlsRelay, extra: string[] = []): Promise<{ resumed: boolean; fw: FirmwareProcess; pressToAckMs: number; sessions: string[] }> {
    const before = relay.traces.length;
    const { fw } = d.press(extra);
    await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
    const { outcome } = await fw.nextOutcome(fw.send("release"));
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", clickType: "SINGLE" });
    expect(await restaurant.order(String(outcome.orderId))).toMatchObject({ status: "accepted" });
    // The order leaves in the first MQTT flight, without waiting for CONNACK or SUBACK (pipelined).
    expect(fw.tagged("mqtt")[0]).toBe(`out CONNECT + SUBSCRIBE pizza/acks/${THING} + PUBLISH pizza/orders/${THING}`);
    await d.waitForSleep();
    await waitFor(() => relay.traces.length > before && relay.traces.at(-1)!.closedAt !== undefined, "the connection to close");
    expect(relay.traces.length - before, "one connection per press").toBe(1);
    return { resumed: relay.traces.at(-1)!.resumed, fw, pressToAckMs: Number(outcome.pressToAckMs), sessions: fw.tagged("tls-session") };
  }

  it("embedded broker: first press a full handshake, every press after a sleep resumed; a power cut costs one full handshake", async () => {
    const relay = await relayTo({ host: broker.host, port: broker.port });
    const d = device("resume-embedded", relay);
    await powerOn(d);
    const seen: string[] = [];
    const first = await press(d, relay);
    expect(first.resumed, first.fw.transcript()).toBe(false);
    expect(first.sessions).toEqual([JSON.stringify({ action: "none", reason: "no stored session" }), JSON.stringify({ action: "saved", resumed: false })]);
    expect(existsSync(d.rtcMemoryPath)).toBe(true);
    seen.push(`full ${first.pressToAckMs} ms`);
    for (let i = 0; i < 3; i++) {
      const p = await press(d, relay);
      expect(p.resumed, p.fw.transcript()).toBe(true);
      expect(p.sessions[0]).toMatch(/^\{"action":"offered","ageMs":\d+\}$/);
      seen.push(`resumed ${p.pressToAckMs} ms`);
    }

    d.powerCut();
    expect(existsSync(d.rtcMemoryPath)).toBe(false);
    await powerOn(d);
    const afterCut = await press(d, relay);
    expect(afterCut.resumed).toBe(false);
    expect(afterCut.sessions[0]).toBe(JSON.stringify({ action: "none", reason: "no stored session" }));
    const again = await press(d, relay);
    expect(again.resumed).toBe(true);
    console.log(`battery resume (embedded broker, press→ack by the firmware): ${seen.join(", ")}; after a power cut: full ${afterCut.pressToAckMs} ms, then resumed ${again.pressToAckMs} ms`);
  });

  it("resumed and pipelined, a CONNECT the broker refuses is auth-error, never ok; once allowed again the same order goes through exactly once", async () => {
    const relay = await relayTo({ host: broker.host, port: broker.port });
    const d = device("refused", relay);
    await powerOn(d);
    await press(d, relay);
    expect((await press(d, relay)).resumed).toBe(true);

    await dev.pki.setThingState(THING, "INACTIVE");
    let refusedOrderId: string;
    try {
      const before = relay.traces.length;
      const { fw } = d.press();
      await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
      const { outcome } = await fw.nextOutcome(fw.send("release"));
      expect(outcome, fw.transcript()).toMatchObject({ outcome: "auth-error", clickType: "SINGLE" });
      // The order left in the first flight with the CONNECT, on a resumed session: the broker dropped it.
      expect(fw.tagged("mqtt")).toContain(`out CONNECT + SUBSCRIBE pizza/acks/${THING} + PUBLISH pizza/orders/${THING}`);
      expect(fw.tagged("mqtt").some((l) => /^in CONNACK \(rc=5\)/.test(l)), fw.transcript()).toBe(true);
      await d.waitForSleep();
      await waitFor(() => relay.traces.length > before && relay.traces.at(-1)!.closedAt !== undefined, "the connection to close");
      expect(relay.traces.at(-1)!.resumed).toBe(true);
      refusedOrderId = String(outcome.orderId);
      expect(await restaurant.order(refusedOrderId)).toBeUndefined();
    } finally {
      await dev.pki.setThingState(THING, "ACTIVE");
    }

    // Still pending: the next press resends it under the same orderId, and the restaurant has it once.
    const { fw } = d.press();
    await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
    const { outcome } = await fw.nextOutcome(fw.send("release"));
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", orderId: refusedOrderId, resent: true });
    expect(await restaurant.order(refusedOrderId)).toMatchObject({ status: "accepted" });
    await d.waitForSleep();
    const again = await press(d, relay); // a new order, a new orderId
    expect(again.fw.events().find((e) => e.type === "outcome")?.orderId).not.toBe(refusedOrderId);
  });

  it("the master secret is in the RTC stand-in and in no other file the firmware writes (Preference included)", async () => {
    const relay = await relayTo({ host: broker.host, port: broker.port });
    const d = device("secret", relay);
    await powerOn(d);
    await press(d, relay);
    const resumed = await press(d, relay); // this secret really is the session's: the broker resumed it
    expect(resumed.resumed).toBe(true);
    const stored = storedSession(d.rtcMemoryPath);
    expect(stored.ok).toBe(true);
    if (!stored.ok) return;
    const secret = Buffer.from(stored.session.secret);
    expect(secret.length).toBe(48);
    const forms = [secret, Buffer.from(secret.toString("hex")), Buffer.from(secret.toString("hex").toUpperCase()), Buffer.from(secret.toString("base64")), secret.subarray(0, 16)];
    const others = filesOutsideRtc(join(dir, "secret"), d.rtcMemoryPath);
    expect(others.map((f) => f.slice(join(dir, "secret").length + 1))).toContain("modpreferences.json");
    for (const file of others) {
      const content = readFileSync(file);
      for (const form of forms) expect(content.includes(form), `${file} holds the master secret`).toBe(false);
    }
    // Nor does the firmware print it.
    for (const line of resumed.fw.lines) for (const form of forms.slice(1, 4)) expect(line.text.includes(form.toString())).toBe(false);
  });

  it("a corrupted or expired stored session, or changed broker settings, give a full handshake (and the next press resumes again)", async () => {
    const relay = await relayTo({ host: broker.host, port: broker.port });
    const d = device("corrupt", relay);
    await powerOn(d);
    await press(d, relay);
    const image = readFileSync(d.rtcMemoryPath);
    image[2 + 40] ^= 0x5a; // a byte of the stored record
    writeFileSync(d.rtcMemoryPath, image);
    const corrupted = await press(d, relay);
    expect(corrupted.resumed).toBe(false);
    expect(corrupted.sessions[0]).toBe(JSON.stringify({ action: "dropped", reason: "stored session unreadable (bad CRC)" }));
    expect((await press(d, relay)).resumed).toBe(true);

    // Another broker address (a second relay to the same broker): the kept session is not offered there.
    const other = await relayTo({ host: broker.host, port: broker.port });
    const moved = await press(d, other, [`mqtt.port=${other.port}`]);
    expect(moved.resumed).toBe(false);
    expect(moved.sessions[0]).toBe(JSON.stringify({ action: "dropped", reason: "broker settings or client certificate changed" }));

    // A lifetime shorter than a sleep: the session has expired by the next wake.
    const short = device("expired", relay, ["mqtt.tlsSessionLifetimeSec=2"]);
    await powerOn(short);
    expect((await press(short, relay)).resumed).toBe(false); // the press → sleep cycle alone takes > 3 s
    const expired = await press(short, relay);
    expect(expired.resumed).toBe(false);
    expect(expired.sessions[0]).toMatch(/^\{"action":"dropped","reason":"expired \(\d+ s old, the broker keeps sessions 2 s\)"\}$/);
  });

  it.skipIf(!!mosquittoUnavailableReason())("mosquitto: every press after a sleep resumed on the wire too", async () => {
    const mosquitto: RunningMosquitto = await startMosquitto({ pkiDir: dev.pki.dir, quiet: true });
    const mosquittoRestaurant = await startRestaurant({
      brokerUrl: mosquitto.url,
      ca: readFileSync(dev.restaurant.caPath, "utf8"),
      cert: readFileSync(dev.restaurant.chainPath, "utf8"),
      key: readFileSync(dev.restaurant.keyPath, "utf8"),
      clientId: "restaurant",
      dbPath: join(dir, "orders-mosquitto.sqlite"),
      reconnectPeriodMs: 0,
    });
    try {
      const relay = await relayTo({ host: mosquitto.host, port: mosquitto.port });
      const d = device("resume-mosquitto", relay);
      await powerOn(d);
      const order = async () => {
        const before = relay.traces.length;
        const { fw } = d.press();
        await fw.waitForLine((t) => t === `@ready ${THING}`, "ready after the wake");
        const { outcome } = await fw.nextOutcome(fw.send("release"));
        expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", clickType: "SINGLE" });
        expect(await mosquittoRestaurant.order(String(outcome.orderId))).toMatchObject({ status: "accepted" });
        await d.waitForSleep();
        await waitFor(() => relay.traces.length > before && relay.traces.at(-1)!.closedAt !== undefined, "the connection to close");
        return relay.traces.at(-1)!.resumed;
      };
      expect(await order()).toBe(false);
      expect(await order()).toBe(true);
      expect(await order()).toBe(true);
    } finally {
      await mosquittoRestaurant.close();
      await mosquitto.close();
    }
  });
});
