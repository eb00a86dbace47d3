// Two `npm run restaurant` instances on one PostgreSQL (a throwaway cluster this file starts) and the
// embedded broker (`npm run broker`): an order held for staff shows up live on both kitchen pages whichever
// instance stored it; accepting it on the other instance's page publishes its ack once, and the button turns
// ok. /healthz answers 200 while the database and the broker are reachable, 503 once the broker is gone.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeDir, tempDir } from "../../integration/fixtures";
import type { TestButton } from "../../support/button";
import { collectFrames, type EventFrame } from "../../support/event-stream";
import { findPostgres, startPostgres, type TestPostgres } from "../../../load/postgres-cluster";
import { restaurantInstanceFiles } from "../../../load/instance-identity";
import { Pki } from "../../../../tools/pki/pki";
import { buttonFor, postDecision, startBrokerProcess, startRestaurantProcess, stopAll, type BrokerProcess, type RestaurantProcess } from "../processes";

const THING = "pizza-button-01";
const found = findPostgres();
if ("missing" in found) console.warn(`skipping the several-instances test: ${found.missing}`);

let dir: string;
let pkiDir: string;
let postgres: TestPostgres;
let broker: BrokerProcess;
const buttons: TestButton[] = [];

/** The kitchen page's event stream, its frames collected as they come. */
async function pageFrames(kitchenUrl: string, signal: AbortSignal): Promise<EventFrame[]> {
  const res = await fetch(new URL("api/events", kitchenUrl), { signal });
  expect(res.status).toBe(200);
  return collectFrames(res).frames;
}

const shows = (frames: EventFrame[], orderId: string, status: string | null) => frames.some((f) => f.event === "order" && f.data.orderId === orderId && f.data.status === status);

async function healthz(kitchenUrl: string): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL("healthz", kitchenUrl));
  return { status: res.status, body: await res.json() };
}

describe.skipIf("missing" in found)("several restaurant instances on one PostgreSQL", () => {
  beforeAll(async () => {
    dir = tempDir("instances");
    pkiDir = path.join(dir, "pki");
    postgres = await startPostgres((found as { bin: string }).bin);
    broker = await startBrokerProcess(pkiDir);
  }, 120_000);

  afterAll(async () => {
    for (const button of buttons) await button.device.stop();
    await stopAll();
    await postgres?.stop();
    removeDir(dir);
  });

  it("every page shows every order live; a decision on the other instance reaches the button once; healthz follows the broker", async () => {
    const db = await postgres.createDatabase("kitchen_pages");
    const instances: RestaurantProcess[] = [];
    // Each instance has its own certificate (service create restaurant --instance N) in the broker's PKI.
    const pki = await Pki.open(pkiDir);
    for (const n of [1, 2]) await restaurantInstanceFiles(pki, n);
    for (const n of [1, 2]) instances.push(await startRestaurantProcess({ brokerPort: broker.port, pkiDir, db, extra: ["--instance", String(n)] }));
    expect(instances.map((i) => i.lines.find((l) => l.event === "starting")!.clientId)).toEqual(["restaurant.1", "restaurant.2"]);
    for (const instance of instances) {
      expect(await healthz(instance.kitchenUrl)).toEqual({ status: 200, body: { ok: true, db: db, broker: `mqtts://127.0.0.1:${broker.port}` } });
    }

    const stop = new AbortController();
    const pages = await Promise.all(instances.map((instance) => pageFrames(instance.kitchenUrl, stop.signal)));
    try {
      const made = buttonFor({ pkiDir, thing: THING, brokerPort: broker.port, dir });
      buttons.push(made);
      const result = made.device.click("SINGLE");
      // The embedded broker gives the order to both instances; the database lets one store it.
      const stored = await Promise.race(instances.map((instance, index) => instance.waitFor((l) => l.event === "received", "the received line").then((line) => ({ index, orderId: line.orderId as string }))));
      await expect.poll(() => pages.map((frames) => shows(frames, stored.orderId, null)), { timeout: 10_000 }).toEqual([true, true]);

      const other = instances[1 - stored.index]!;
      expect((await postDecision(other.kitchenUrl, stored.orderId, "accept", { etaMin: 17 })).status).toBe(200);
      expect(await result).toMatchObject({ orderId: stored.orderId, outcome: "ok", ack: { status: "accepted", etaMin: 17 } });
      await expect.poll(() => pages.map((frames) => shows(frames, stored.orderId, "accepted")), { timeout: 10_000 }).toEqual([true, true]);
      // The second page's decision is refused: decided once.
      expect((await postDecision(instances[stored.index]!.kitchenUrl, stored.orderId, "reject", { reason: "late" })).status).toBe(409);
      const acks = instances.flatMap((instance) => instance.lines.filter((l) => l.event === "ack-published" && l.orderId === stored.orderId));
      expect(acks).toHaveLength(1);
      expect(acks[0]).toMatchObject({ repeat: false, status: "accepted" });
    } finally {
      stop.abort();
    }

    // The broker goes away: both instances say so to the load balancer.
    await broker.stop();
    for (const instance of instances) {
      await expect.poll(async () => (await healthz(instance.kitchenUrl)).status, { timeout: 15_000 }).toBe(503);
      expect((await healthz(instance.kitchenUrl)).body).toMatchObject({ ok: false, error: expect.stringMatching(/broker .* not connected/) });
    }
    for (const instance of instances) expect((await instance.stop("SIGTERM")).code).toBe(0);
  }, 120_000);
});
