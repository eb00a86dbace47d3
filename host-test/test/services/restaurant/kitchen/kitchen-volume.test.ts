// The kitchen page with a backlog of 10,000 waiting orders: `npm run broker` and `npm run restaurant` as
// child processes on a database that already holds them, the page in a real headless Chromium. The API
// returns one page (oldest first) and the total; the page shows that page and how many are not shown, and
// stays usable: deciding the oldest order brings the next one up. The render and refill times are printed
// for the report, not asserted (speed goals belong in `npm run bench`).
// Needs Debian's chromium (/usr/bin/chromium); skipped with a reason without it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderDb } from "../../../../../services/restaurant/orders/order-db";
import { removeDir, tempDir } from "../../../integration/fixtures";
import { startBrokerProcess, startRestaurantProcess, stopAll, type BrokerProcess, type RestaurantProcess } from "../../processes";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`kitchen-volume.test: skipped: ${CHROMIUM} not found (apt-get install chromium)`);

const WAITING = 10_000;
const PAGE = 50;
const THINGS = 500;

let dir: string;
let broker: BrokerProcess;
let restaurant: RestaurantProcess;
let browser: BrowserContext;
let profile: string;
let page: Page;
const pageErrors: string[] = [];

/** 10,000 orders from 500 things, all waiting for staff, received over the last hour (oldest first = seq 1). */
function fillBacklog(dbPath: string): void {
  const db = new OrderDb({ path: dbPath });
  const start = Date.now() - 3_600_000;
  db.transaction(() => {
    for (let i = 0; i < WAITING; i++) {
      const thing = `pizza-button-${String(i % THINGS).padStart(3, "0")}`;
      const seq = 1 + Math.floor(i / THINGS);
      db.insertReceived({ orderId: `${thing}-${seq}`, thing, seq, action: "order", clickType: "SINGLE", item: "margherita", receivedAt: start + i * 300 });
    }
  });
  db.close();
}

describe.skipIf(!HAVE_CHROMIUM)("kitchen page with 10,000 waiting orders", () => {
  beforeAll(async () => {
    dir = tempDir("kitchen-volume");
    const pkiDir = path.join(dir, "pki");
    const dbPath = path.join(dir, "restaurant.db");
    fillBacklog(dbPath);
    broker = await startBrokerProcess(pkiDir);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), "pizza-chromium-"));
    [restaurant, browser] = await Promise.all([
      startRestaurantProcess({ brokerPort: broker.port, pkiDir, db: dbPath }),
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        viewport: { width: 1000, height: 800 },
      }),
    ]);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(30_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });

  afterAll(async () => {
    await browser?.close();
    await stopAll();
    if (dir) removeDir(dir);
    if (profile) fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it("the API returns one page, oldest first, with the total; a larger page is refused", async () => {
    const res = await fetch(new URL("api/orders", restaurant.kitchenUrl));
    const text = await res.text();
    const body = JSON.parse(text) as { orders: Array<{ orderId: string; status: string | null; receivedAt: number }>; waiting: { total: number; offset: number; limit: number } };
    expect(body.waiting).toEqual({ total: WAITING, offset: 0, limit: PAGE });
    expect(body.orders).toHaveLength(PAGE);
    expect(body.orders[0]!.orderId).toBe("pizza-button-000-1");
    expect(body.orders.map((o) => o.receivedAt)).toEqual([...body.orders.map((o) => o.receivedAt)].sort((a, b) => a - b));
    const next = (await (await fetch(new URL("api/orders?offset=50&limit=200", restaurant.kitchenUrl))).json()) as typeof body;
    expect(next.orders).toHaveLength(200);
    expect(next.orders[0]!.orderId).toBe(`pizza-button-050-1`);
    expect((await fetch(new URL("api/orders?limit=201", restaurant.kitchenUrl))).status).toBe(400);
    expect((await fetch(new URL("api/orders?offset=-1", restaurant.kitchenUrl))).status).toBe(400);
    console.log(JSON.stringify({ kitchenVolume: "api", waiting: WAITING, bytes: Buffer.byteLength(text), orders: body.orders.length }));
  });

  it("renders the oldest page and the count of the rest; deciding the oldest brings the next one up", async () => {
    const started = Date.now();
    await page.goto(restaurant.kitchenUrl);
    await page.locator(`#waiting-more[data-hidden="${WAITING - PAGE}"]`).waitFor();
    const renderMs = Date.now() - started;
    expect(await page.locator("#waiting li").count()).toBe(PAGE);
    expect(await page.locator("#waiting-count").textContent()).toBe(String(WAITING));
    expect(await page.locator("#waiting-more").textContent()).toBe("9,950 more waiting, not shown: decide the oldest first and the next ones move up.");
    expect(await page.locator("#waiting li").first().getAttribute("data-order-id")).toBe("pizza-button-000-1");
    // An hour old: far past the button's wait, so marked.
    expect(await page.locator('#waiting li[data-overdue="true"]').count()).toBe(PAGE);

    const clicked = Date.now();
    await page.locator('#waiting li[data-order-id="pizza-button-000-1"] button[data-decision="accept"]').click();
    await page.locator('#done li[data-order-id="pizza-button-000-1"][data-status="accepted"]').waitFor();
    await page.locator(`#waiting li:nth-child(${PAGE})[data-order-id="pizza-button-050-1"]`).waitFor();
    const refillMs = Date.now() - clicked;
    expect(await page.locator("#waiting li").count()).toBe(PAGE);
    expect(await page.locator("#waiting-count").textContent()).toBe(String(WAITING - 1));
    expect(await page.locator("#waiting-more").getAttribute("data-hidden")).toBe(String(WAITING - 1 - PAGE));
    const domNodes = await page.locator("*").count();
    console.log(JSON.stringify({ kitchenVolume: "page", waiting: WAITING, renderMs, acceptToRefillMs: refillMs, domNodes }));
    expect(pageErrors).toEqual([]);
  });
});
