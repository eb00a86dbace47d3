// The real firmware (x-cli-lin build of main.ts + modules) when its network goes away: the headless host's
// `network down` / `network up` commands drive the board's Network port. A press while offline keeps the
// order pending and shows the "offline" pattern, opens no connection and does not spend the give-up time;
// once the network is back the order goes out once, under its orderId, and is acked.
// And setting it up (docs/setup.md): with no Wi-Fi configured it starts in setup mode and serves the setup
// page on loopback; the page in a real headless Chromium sets the Wi-Fi and a broker, the firmware restarts
// (the headless host re-executes itself), joins the Wi-Fi stand-in and orders through that broker. A wrong
// Wi-Fi password brings it back to setup mode after WIFI_JOIN_TRIES; the page refuses the web attacks the
// kitchen page refuses, over the firmware's own HTTP server.
//
// Needs an installed Moddable SDK ($MODDABLE); skipped with the reason otherwise. Its own build folder,
// so it can run next to the other firmware suites (a fresh build compiles the XS engine: minutes).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { request } from "node:http";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WIFI_JOIN_TRIES } from "../../../modules/core/wifi-join";
import type { BrokerEvent, RunningBroker } from "../../../services/broker/broker";
import type { Restaurant } from "../../../services/restaurant/restaurant";
import { buildDevFirmware, startLocalStack } from "../support/local-stack";
import type { DevPki } from "../../../tools/pki/dev";
import type { HostBuild } from "../../../tools/firmware/host-build";
import { findSdk } from "../../../tools/firmware/sdk";
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
    ({ dev, build } = await buildDevFirmware(sdk.sdk, { dir, thing: THING, buildName: "firmware-host-network-test" }));
    ({ broker, restaurant } = await startLocalStack(dev, { dir, onBrokerEvent: (event) => brokerEvents.push(event) }));
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
    expect(await restaurant.order(orderId)).toBeUndefined();

    const back = fw.send("network up");
    const { outcome, patterns } = await fw.nextOutcome(back);
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", orderId, clickType: "SINGLE", attempts: 1, resent: false, trigger: "click" });
    expect(patterns).toEqual(["working", "ok"]);
    expect(connects()).toHaveLength(connectsBefore + 1);
    expect((await restaurant.orders()).filter((o) => o.thing === THING)).toHaveLength(1);
    expect(await restaurant.order(orderId)).toMatchObject({ thing: THING, action: "order", item: "margherita", status: "accepted" });
  });

  it("a broker port where nothing listens: every try is a network failure at once (refused), then failed, order kept", async () => {
    const closed = await freePort();
    const cwd = join(dir, `run-${++runs}`);
    mkdirSync(cwd, { recursive: true });
    const fw = new FirmwareProcess({ binary: build.binaryPath, cwd, args: ["mqtt.host=127.0.0.1", `mqtt.port=${closed}`, "ackTimeoutMs=1000", "giveUpMs=2000"] });
    running.push(fw);
    await fw.waitForLine((t) => t === `@ready ${THING}`, "the firmware to be ready");
    const { outcome } = await fw.nextOutcome(fw.send("single"));
    expect(outcome, fw.transcript()).toMatchObject({ outcome: "failed", clickType: "SINGLE" });
    const closes = fw.events().filter((e) => e.type === "connection" && e.phase === "closed");
    // Refused in the TCP handshake: reported as a socket error before any TLS, never as a refusal by the broker.
    expect(closes.length, fw.transcript()).toBeGreaterThanOrEqual(2);
    for (const close of closes) expect(close).toMatchObject({ kind: "network", detail: "cannot reach the broker (socket error)" });
    expect(await restaurant.order(String(outcome.orderId))).toBeUndefined();
    await fw.stop();
  });

  describe("setup mode", () => {
    const AP = "kitchen-wifi:correct-horse-9";
    const CHROMIUM = "/usr/bin/chromium";
    let browser: Browser | undefined;

    afterAll(async () => {
      await browser?.close();
    });

    async function startSetup(settings: string[]): Promise<{ fw: FirmwareProcess; url: string; port: number }> {
      const port = await freePort();
      const cwd = join(dir, `run-${++runs}`);
      mkdirSync(cwd, { recursive: true });
      const fw = new FirmwareProcess({ binary: build.binaryPath, cwd, args: [`wifi.sim=${AP}`, `setup.port=${port}`, "mqtt.host=127.0.0.1", ...settings] });
      running.push(fw);
      await fw.waitForLine((t) => t.startsWith("@setup-page "), "the setup page", { timeoutMs: 40_000 });
      return { fw, url: `http://127.0.0.1:${port}/`, port };
    }

    it.skipIf(!existsSync(CHROMIUM))("no Wi-Fi → setup mode; the page in Chromium sets Wi-Fi and broker → restart → an order through that broker", async () => {
      const closed = await freePort(); // the build-time broker: nothing listens there
      const { fw, url } = await startSetup([`mqtt.port=${closed}`]);
      expect(fw.tagged("setup")).toEqual(["no-wifi"]);
      expect(fw.tagged("pattern")).toContain("setup");

      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await page.goto(url);
      await expect.poll(() => page.inputValue("#mqtt\\.port")).toBe(String(closed));
      expect(await page.inputValue("#wifi\\.password")).toBe("");
      expect(await page.textContent("#reason")).toContain("No Wi-Fi");

      await page.fill("#wifi\\.ssid", "kitchen-wifi");
      await page.fill("#wifi\\.password", "correct-horse-9");
      await page.fill("#mqtt\\.port", String(broker.port));
      const from = fw.lines.length;
      await page.click("#save");
      await expect.poll(() => page.textContent("#status")).toContain("Saved");
      expect(pageErrors).toEqual([]);

      await fw.waitForLine((t) => t === "@restart settings saved", "the restart", { from });
      const ready = await fw.waitForLine((t) => t === `@ready ${THING}`, "the firmware to be ready after the restart", { from });
      expect(fw.lines.slice(from, ready).map((l) => l.text)).toContain("@wifi joined kitchen-wifi");
      const { outcome } = await fw.nextOutcome(fw.send("single"));
      expect(outcome, fw.transcript()).toMatchObject({ outcome: "ok", attempts: 1 });
      expect(await restaurant.order(String(outcome.orderId))).toMatchObject({ thing: THING, status: "accepted" });
    });

    it(`a wrong Wi-Fi password: ${WIFI_JOIN_TRIES} failed joins, then setup mode`, async () => {
      const { fw } = await startSetup(["wifi.ssid=kitchen-wifi", "wifi.password=wrong-password", `mqtt.port=${broker.port}`]);
      expect(fw.tagged("wifi")).toEqual(Array(WIFI_JOIN_TRIES).fill('join "kitchen-wifi" failed'));
      expect(fw.tagged("setup")).toEqual(["wifi-failed"]);
      expect(fw.tagged("ready")).toEqual([]);
    }, 60_000);

    it("the setup server listens on 127.0.0.1 only: another address of this machine (127.0.0.2) is refused", async () => {
      const { port } = await startSetup([`mqtt.port=${broker.port}`]);
      expect((await http(port, "GET", "/settings", {})).status).toBe(200);
      const refused = await new Promise<string>((resolve) => {
        const socket = connect({ host: "127.0.0.2", port });
        socket.on("connect", () => {
          socket.destroy();
          resolve("connected");
        });
        socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
      expect(refused).toBe("ECONNREFUSED");
    });

    it("the page over the firmware's HTTP server refuses a foreign Host, cross-site POSTs and oversized bodies; saves nothing", async () => {
      const { port } = await startSetup([`mqtt.port=${broker.port}`]);
      const good = JSON.stringify({ "wifi.ssid": "evil-wifi" });
      const json = { "content-type": "application/json" };
      expect((await http(port, "GET", "/settings", { host: "evil.example" })).status).toBe(403);
      expect((await http(port, "POST", "/settings", { ...json, origin: "http://evil.example" }, good)).status).toBe(403);
      expect((await http(port, "POST", "/settings", { ...json, "sec-fetch-site": "cross-site" }, good)).status).toBe(403);
      const form = await http(port, "POST", "/settings", { "content-type": "application/x-www-form-urlencoded" }, "wifi.ssid=evil-wifi");
      expect(form.status, form.body).toBe(415);
      expect((await http(port, "POST", "/settings", json, JSON.stringify({ "wifi.ssid": "x".repeat(5000) }))).status).toBe(413);
      expect((await http(port, "POST", "/settings", json, JSON.stringify({ "wifi.ssid": "kitchen-wifi", "mqtt.serverName": "evil.example" }))).status).toBe(400);
      const shown = await http(port, "GET", "/settings", {});
      expect(shown.status).toBe(200);
      expect(JSON.parse(shown.body).values["wifi.ssid"]).toBe("");
      const page = await http(port, "GET", "/", {});
      expect(page.headers["content-security-policy"]).toContain("default-src 'none'");
      expect(page.headers["x-frame-options"]).toBe("DENY");
    });
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

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One request with exactly these headers (Host defaults to the loopback address). */
function http(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers, ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
