// The whole product path with a person in it: `npm run broker` and `npm run restaurant` as child
// processes (temp PKI and database, free ports), a virtual button (the core's OrderFlow on the Node
// adapters) with a certificate from that PKI, and the kitchen page in a real headless Chromium. Each
// order waits, LED "working", until the test clicks in the page; only then does the LED answer.
// Needs Debian's chromium (/usr/bin/chromium; .ci/run installs it); skipped with a reason without it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRaw, removeDir, tempDir } from "../../../integration/fixtures";
import type { TestButton } from "../../../support/button";
import { buttonFor, pkiTool, startBrokerProcess, startRestaurantProcess, stopAll, thingCredentials, type BrokerProcess, type RestaurantProcess } from "../../processes";
import { ordersOf } from "../../../support/topics";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`kitchen-page.test: skipped: ${CHROMIUM} not found (apt-get install chromium)`);

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let dir: string;
let pkiDir: string;
let broker: BrokerProcess;
let restaurant: RestaurantProcess;
let browser: BrowserContext;
let profile: string;
let page: Page;
let button: TestButton;
const pageErrors: string[] = [];

describe.skipIf(!HAVE_CHROMIUM)("kitchen page in a real browser", () => {
  beforeAll(async () => {
    dir = tempDir("kitchen-page");
    pkiDir = path.join(dir, "pki");
    broker = await startBrokerProcess(pkiDir);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), "pizza-chromium-")); // a fresh user-data-dir
    [restaurant, browser] = await Promise.all([
      // Five requests from one button in a minute: above the default per-button burst, so it is raised here.
      // --give-up-ms 3000: the page marks a waiting order once the button's own wait has passed.
      startRestaurantProcess({ brokerPort: broker.port, pkiDir, db: path.join(dir, "restaurant.db"), extra: ["--order-burst", "20", "--give-up-ms", "3000"] }),
      chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1000, height: 800 } }),
    ]);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      // The blank-reason case answers 400 on purpose; Chromium logs that response as a console error.
      if (message.type() === "error" && !message.text().includes("status of 400")) pageErrors.push(message.text());
    });
    button = buttonFor({ pkiDir, thing: "pizza-button-01", brokerPort: broker.port, dir });
    await page.goto(restaurant.kitchenUrl);
    await page.locator('#broker[data-state="connected"]').waitFor();
  });

  afterAll(async () => {
    await button?.device.stop();
    await browser?.close();
    await stopAll();
    if (dir) removeDir(dir);
    // Chromium's helpers may still be flushing the profile for a moment after close.
    if (profile) fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  /** The one card waiting for a decision, once the order has reached the page. */
  async function waitingCard(action: "order" | "cancel"): Promise<{ card: Locator; orderId: string }> {
    const card = page.locator(`#waiting li[data-action="${action}"]`);
    await card.waitFor();
    return { card, orderId: (await card.getAttribute("data-order-id"))! };
  }

  /** Nothing has answered the button yet: no outcome, the LED still shows "working". */
  function expectStillWaiting(): void {
    expect(button.outcomes().filter((o) => o.trigger === "click")).toHaveLength(outcomesSoFar);
    expect(button.device.flow.state).toBe("awaiting-ack");
    expect(button.leds.at(-1)).toBe("working");
  }
  let outcomesSoFar = 0;

  async function decided(orderId: string, status: string): Promise<string> {
    const card = page.locator(`#done li[data-order-id="${orderId}"][data-status="${status}"]`);
    await card.waitFor();
    return (await card.locator(".status").textContent()) ?? "";
  }

  it("Accept with an ETA: the LED turns ok only after the click", async () => {
    const result = button.device.click("SINGLE");
    const { card, orderId } = await waitingCard("order");
    expect(await card.locator(".what").textContent()).toBe("margherita");
    expect(await card.locator(".meta").textContent()).toContain("pizza-button-01");
    expect(await card.locator(".meta").textContent()).toContain("SINGLE");
    // Sound and the title-bar count are off until staff turn them on (browsers only allow sound after a click).
    expect(await page.title()).toBe("Kitchen · pizza orders");
    await page.locator("#alerts").click();
    expect(await page.locator("#alerts").getAttribute("aria-pressed")).toBe("true");
    expect(await page.title()).toBe("(1) Kitchen · pizza orders");
    expectStillWaiting();

    await card.locator('input[name="etaMin"]').fill("17");
    await card.locator('button[data-decision="accept"]').click();
    const outcome = await result;
    outcomesSoFar++;
    expect(outcome).toMatchObject({ orderId, outcome: "ok", ack: { status: "accepted", etaMin: 17 } });
    expect(button.leds.at(-1)).toBe("ok");
    expect(await decided(orderId, "accepted")).toBe("accepted · ETA 17 min");
    expect(await page.locator("#waiting li").count()).toBe(0);
  });

  it("Reject with a reason (a blank one is refused in the page): the LED shows rejected", async () => {
    const result = button.device.click("DOUBLE");
    const { card, orderId } = await waitingCard("order");
    expect(await card.locator(".what").textContent()).toBe("pepperoni");
    expect(await page.locator('#alerts[data-played="1"]').count()).toBe(1); // alerts on: the new order chimed
    expect(await page.title()).toBe("(1) Kitchen · pizza orders");
    expectStillWaiting();

    // Whitespace passes the browser's `required` but not the server: the page shows why.
    await card.locator('input[name="reason"]').fill("   ");
    await card.locator('button[data-decision="reject"]').click();
    await card.locator(".error", { hasText: "reason must not be empty" }).waitFor();
    expectStillWaiting();

    await card.locator('input[name="reason"]').fill("out of dough");
    await card.locator('button[data-decision="reject"]').click();
    const outcome = await result;
    outcomesSoFar++;
    expect(outcome).toMatchObject({ orderId, outcome: "rejected", ack: { status: "rejected", reason: "out of dough" } });
    expect(button.leds.at(-1)).toBe("rejected");
    expect(await decided(orderId, "rejected")).toBe("rejected · out of dough");
  });

  it("a cancel request shows up and is granted: the LED shows cancelled", async () => {
    const accepted = button.outcomes().find((o) => o.outcome === "ok")!.orderId!;
    const result = button.device.click("LONG");
    const { card, orderId } = await waitingCard("cancel");
    expect(await card.locator(".what").textContent()).toBe(`Cancel margherita (${accepted})`);
    expectStillWaiting();

    await card.locator('button[data-decision="cancel-grant"]').click();
    const outcome = await result;
    outcomesSoFar++;
    expect(outcome).toMatchObject({ orderId, outcome: "cancelled", ack: { status: "cancelled" } });
    expect(button.leds.at(-1)).toBe("cancelled");
    expect(await decided(orderId, "cancelled")).toBe("cancel granted");
    expect(await decided(accepted, "accepted")).toBe("accepted · ETA 17 min · then cancelled");
  });

  it("a cancel request is refused with a reason: the LED shows the refusal", async () => {
    const ordered = button.device.click("SINGLE");
    const order = await waitingCard("order");
    await order.card.locator('button[data-decision="accept"]').click(); // the page's default ETA
    expect(await ordered).toMatchObject({ outcome: "ok", ack: { status: "accepted", etaMin: 25 } });
    outcomesSoFar++;

    const result = button.device.click("LONG");
    const { card, orderId } = await waitingCard("cancel");
    expectStillWaiting();
    if (process.env.KITCHEN_SCREENSHOT) await page.screenshot({ path: process.env.KITCHEN_SCREENSHOT, fullPage: true });

    await card.locator('input[name="reason"]').fill("already in the oven");
    await card.locator('button[data-decision="cancel-refuse"]').click();
    const outcome = await result;
    outcomesSoFar++;
    expect(outcome).toMatchObject({ orderId, outcome: "cancel-refused", ack: { status: "cancel-refused", reason: "already in the oven" } });
    expect(button.leds.at(-1)).toBe("rejected"); // the LED table plays "rejected" for a refused cancel
    expect(await decided(orderId, "cancel-refused")).toBe("cancel refused · already in the oven");
    expect(pageErrors).toEqual([]);
  });

  it("staff see each waiting order's live age, a mark once the button gave up, user text isolated, and a warning for a deactivated button", async () => {
    const THING = "pizza-button-01";
    const raw = await connectRaw(broker.url, THING, thingCredentials(pkiDir, THING));
    const played = Number((await page.locator("#alerts").getAttribute("data-played")) ?? 0);
    try {
      const send = (seq: number, fields: Record<string, unknown>) =>
        raw.publishAsync(ordersOf(THING), JSON.stringify({ serialNumber: THING, clickType: "SINGLE", v: 1, orderId: `${THING}-${seq}`, seq, action: "order", item: "margherita", ...fields }), { qos: 1 });
      const seq = Math.floor(Date.now() / 1000) + 1_000;
      // A right-to-left override in a field would reverse the text after it.
      await send(seq, { batteryVoltage: "\u202e3012mV" });
      const card = page.locator(`#waiting li[data-order-id="${THING}-${seq}"]`);
      await card.waitFor();
      await page.locator(`#alerts[data-played="${played + 1}"]`).waitFor();
      const battery = card.locator("dd bdi", { hasText: "3012mV" });
      expect(await battery.textContent()).toBe("3012mV");
      const firstAge = await card.locator(".age").textContent();
      expect(firstAge).toMatch(/^\d+ s$/);
      expect(await card.getAttribute("data-overdue")).toBe("false");
      expect(await card.locator(".overdue-note").isHidden()).toBe(true);
      // --give-up-ms 3000: past it the card is marked, and the age has kept counting.
      await page.locator(`#waiting li[data-order-id="${THING}-${seq}"][data-overdue="true"]`).waitFor();
      expect(await card.locator(".overdue-note").isVisible()).toBe(true);
      expect(Number((await card.locator(".age").textContent())!.split(" ")[0])).toBeGreaterThanOrEqual(3);

      // An item off the menu is rejected by the house rules; its reversed name shows without the override.
      await send(seq + 1, { item: "\u202eazzip-evil" });
      const rejected = page.locator(`#done li[data-order-id="${THING}-${seq + 1}"]`);
      await rejected.waitFor();
      expect(await rejected.locator(".what").textContent()).toBe("azzip-evil");
      expect(await rejected.locator(".what bdi").count()).toBe(1);
      expect(await rejected.locator(".status").textContent()).toBe('rejected · unknown item "azzip-evil"');

      // The thing is deactivated while its order waits: the page warns and the restaurant refuses to accept.
      await pkiTool(pkiDir, "thing", "deactivate", THING);
      await page.reload();
      await page.locator(`#waiting li[data-order-id="${THING}-${seq}"][data-thing-state="INACTIVE"]`).waitFor();
      expect(await card.locator(".thing-warning").textContent()).toContain("This button is INACTIVE in the registry");
      await card.locator('button[data-decision="accept"]').click();
      await card.locator(".error", { hasText: `${THING} is INACTIVE: its orders cannot be accepted; reject it instead` }).waitFor();
      await card.locator('input[name="reason"]').fill("button deactivated");
      await card.locator('button[data-decision="reject"]').click();
      await page.locator(`#done li[data-order-id="${THING}-${seq}"][data-status="rejected"]`).waitFor();
    } finally {
      await raw.endAsync(true);
      await pkiTool(pkiDir, "thing", "activate", THING);
    }
    // The deliberate 409 above is logged by Chromium as a failed request.
    expect(pageErrors.filter((e) => !e.includes("status of 409"))).toEqual([]);
  });
});
