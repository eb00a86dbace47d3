// Faults between a press and its ack. Each case runs the real parts — a virtual button (the core's
// OrderFlow on the Node adapters), a broker, the restaurant with SQLite, real TLS on loopback — breaks one
// thing at an exact moment, and ends with EXACTLY ONE order row in the restaurant's database and the
// right LED sequence. Faults are injected at events, not after sleeps, so they hit the intended window:
// the restaurant's "received" event fires after its commit and before its ack is published.
// Short timings (ack timeout 1.5 s, backoff 200 ms → 1 s) keep each case a few seconds.
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RestaurantEvent } from "../../../services/restaurant/restaurant";
import { makeButton, type TestButton } from "../support/button";
import { startKitchen, type Kitchen } from "../support/kitchen";
import { sleep, waitFor } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";
import { BROKER_KINDS, startTestBroker, type BrokerKind, type TestBroker } from "../support/test-brokers";

const A = "pizza-button-01";

let pki: SecurityPki;
let device: Credentials;
let restaurantId: Credentials;
let n = 0;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  pki = await createSecurityPki("faults");
  device = await pki.thing(A);
  restaurantId = await pki.thing("restaurant");
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

afterAll(() => pki?.remove());

async function broker(kind: BrokerKind = "embedded"): Promise<TestBroker> {
  const b = await startTestBroker(kind, pki);
  cleanups.push(() => b.close());
  return b;
}

async function kitchen(target: { url: string }, opts: { dbPath?: string; onEvent?: (e: RestaurantEvent, k: Kitchen) => void } = {}): Promise<Kitchen> {
  const k = await startKitchen({
    url: target.url,
    credentials: restaurantId,
    dbPath: opts.dbPath ?? path.join(pki.dir, `orders-${++n}.sqlite`),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
  });
  cleanups.push(() => k.close());
  return k;
}

function button(target: { host: string; port: number }, opts: { storePath?: string; config?: object; random?: () => number } = {}): TestButton {
  const b = makeButton({ thingName: A, credentials: device, broker: { host: target.host, port: target.port }, dir: pki.dir, ...opts });
  cleanups.push(() => b.device.stop());
  return b;
}

async function proxyTo(target: { host: string; port: number }): Promise<TcpProxy> {
  const p = await startTcpProxy(target);
  cleanups.push(() => p.close());
  return p;
}

/** Runs `fault` once, at the first "received" event of the restaurant (after its commit, before its ack). */
function onFirstReceipt(fault: (k: Kitchen) => void): (e: RestaurantEvent, k: Kitchen) => void {
  let done = false;
  return (event, k) => {
    if (event.type !== "received" || done) return;
    done = true;
    fault(k);
  };
}

/** Exactly one row, for this orderId, accepted. */
async function expectOneOrder(k: Kitchen, orderId: string | undefined): Promise<void> {
  expect(orderId).toBeDefined();
  const rows = (await k.restaurant.orders());
  expect(rows.map((r) => [r.orderId, r.thing, r.action, r.status])).toEqual([[orderId, A, "order", "accepted"]]);
}

const publishesOf = (b: TestButton, orderId: string | undefined) =>
  b.events.filter((e) => e.type === "publish" && e.orderId === orderId).length;

describe.each(BROKER_KINDS)("%s broker restarts", (kind: BrokerKind) => {
  it("broker down at the press and back 5 s later (same port) → one order, LED working → ok", async () => {
    const b = await broker(kind);
    const k = await kitchen(b);
    // 5 s outage + reconnects + maybe one ack timeout: give up later than the default fast 8 s.
    const press = button(b, { config: { giveUpMs: 12_000 } });
    press.device.start();
    await b.stop();
    const result = press.device.click("SINGLE");
    await sleep(5_000);
    await b.start();
    const outcome = await result;

    expect(outcome).toMatchObject({ outcome: "ok", resent: false });
    expect(outcome.attempts).toBeGreaterThan(1);
    expect(press.events.some((e) => e.type === "retry" && e.why === "network")).toBe(true);
    await expectOneOrder(k, outcome.orderId);
    expect(press.leds).toEqual(["working", "ok"]);
    expect(press.device.flow.pendingOrderId).toBeUndefined();
  }, 30_000);

  it("broker restarted while a persistent-mode device is idle → reconnects with backoff (no storm), then orders once", async () => {
    const b = await broker(kind);
    const k = await kitchen(b);
    // Jitter fixed at 0.5: reconnect delays 100, 200, 400, 500, 500, ... ms (base 200, cap 1 s).
    const idle = button(b, { config: { connectionMode: "persistent" }, random: () => 0.5 });
    idle.device.start();
    const ready = () => idle.events.filter((e) => e.type === "connection" && e.phase === "ready").length;
    await waitFor(() => ready() === 1, "the link");
    expect(idle.connections).toBe(1);

    const downMs = 2_000;
    await b.stop();
    await sleep(downMs);
    await b.start();
    await waitFor(() => ready() === 2, "the link back", 10_000);
    const reconnects = idle.connections - 1;
    // Delays 100+200+400+500+500 ≈ 1.7 s: about 5-6 refused attempts and the one that works. A device
    // without backoff would have made hundreds in 2 s.
    expect(reconnects).toBeGreaterThanOrEqual(2);
    expect(reconnects).toBeLessThanOrEqual(9);
    await sleep(1_000);
    expect(idle.connections - 1).toBe(reconnects); // quiet once connected

    const outcome = await idle.device.click("SINGLE");
    expect(outcome).toMatchObject({ outcome: "ok", attempts: 1 });
    expect(idle.connections - 1).toBe(reconnects); // published on the live link
    await waitFor(async () => (await k.restaurant.orders()).length === 1, "the order row");
    await expectOneOrder(k, outcome.orderId);
    expect(idle.leds).toEqual(["working", "ok"]);
  }, 30_000);
});

describe("faults between publish and ack (embedded broker)", () => {
  it("connection dropped after the publish, before the ack → same orderId resent, restaurant dedupes", async () => {
    const b = await broker();
    const proxy = await proxyTo(b);
    const k = await kitchen(b, { onEvent: onFirstReceipt(() => proxy.cutAll()) });
    const press = button(proxy);
    press.device.start();
    const outcome = await press.device.click("SINGLE");

    expect(outcome).toMatchObject({ outcome: "ok", resent: false });
    expect(outcome.attempts).toBeGreaterThanOrEqual(2);
    expect(publishesOf(press, outcome.orderId)).toBeGreaterThanOrEqual(2); // the same orderId, twice or more
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
    await expectOneOrder(k, outcome.orderId);
    expect(k.log.lines.some((l) => l.message.includes(`${outcome.orderId} repeated: original ack (accepted) sent again`))).toBe(true);
    expect(press.leds).toEqual(["working", "ok"]);
  });

  it("restaurant restarted between receiving and acking → the ack comes from the new process, one order", async () => {
    const b = await broker();
    const dbPath = path.join(pki.dir, "restart-before-ack.sqlite");
    // close() from inside the event = the process dies after the commit, before publishing the ack.
    const first = await kitchen(b, { dbPath, onEvent: onFirstReceipt((k) => void k.close()) });
    const press = button(b);
    press.device.start();
    const result = press.device.click("SINGLE");
    await waitFor(() => first.events.some((e) => e.type === "received"), "the first receipt");
    expect(first.events.some((e) => e.type === "ack-published")).toBe(false);
    await sleep(1_000);
    const second = await kitchen(b, { dbPath });
    const outcome = await result;

    expect(outcome).toMatchObject({ outcome: "ok", resent: false });
    // The first process never acked; the second one did (at start-up, for its committed-but-unacked row,
    // or in answer to the button's resend of the same orderId).
    expect(first.events.some((e) => e.type === "ack-published")).toBe(false);
    expect(second.events).toContainEqual(expect.objectContaining({ type: "ack-published", orderId: outcome.orderId, repeat: true }));
    await expectOneOrder(second, outcome.orderId);
    await waitFor(async () => (await second.restaurant.order(outcome.orderId!))!.ackedAt !== null, "the ack confirmed by the broker");
    expect(press.leds).toEqual(["working", "ok"]);
  });

  it("device power cycle with a pending order → the new device resends it at boot, one order", async () => {
    const b = await broker();
    let before: TestButton | undefined;
    // Power cut the moment the order is in the restaurant's database: the ack never reaches the device.
    const k = await kitchen(b, { onEvent: onFirstReceipt(() => void before!.device.stop()) });
    before = button(b);
    before.device.start();
    before.device.click("SINGLE").catch(() => {});
    await waitFor(() => k.events.some((e) => e.type === "received"), "the first receipt");
    await sleep(200);
    const pending = before.device.flow.pendingOrderId;
    expect(pending).toBeDefined();
    expect(before.leds).toEqual(["working"]);

    const after = button(b, { storePath: before.storePath });
    after.device.start(); // boot: resends the pending order
    await waitFor(() => after.outcomes().length === 1, "the boot resend's outcome");
    expect(after.outcomes()[0]).toMatchObject({ outcome: "ok", orderId: pending, trigger: "boot", resent: true });
    await expectOneOrder(k, pending);
    expect(after.leds).toEqual(["working", "ok"]);
    expect(after.device.flow.pendingOrderId).toBeUndefined();
    // The next press is a new order with the next seq, never a reused orderId.
    const next = await after.device.click("SINGLE");
    expect(next.orderId).not.toBe(pending);
    expect((await k.restaurant.orders())).toHaveLength(2);
  });

  it("ack lost, button gives up → the next click resends the pending order (same orderId), not a new one", async () => {
    const b = await broker();
    const proxy = await proxyTo(b);
    // The restaurant commits and acks; the network to the button goes down before the ack arrives.
    const k = await kitchen(b, { onEvent: onFirstReceipt(() => void proxy.down()) });
    const press = button(proxy, { config: { giveUpMs: 3_000 } });
    press.device.start();
    const failed = await press.device.click("SINGLE");
    expect(failed.outcome).toBe("failed");
    expect(press.device.flow.pendingOrderId).toBe(failed.orderId);
    expect((await k.restaurant.orders())).toHaveLength(1); // it was ordered; only the answer was lost

    await proxy.up();
    const again = await press.device.click("DOUBLE"); // any click resends the pending order
    expect(again).toMatchObject({ outcome: "ok", orderId: failed.orderId, resent: true });
    await expectOneOrder(k, failed.orderId);
    expect((await k.restaurant.order(failed.orderId!))!.item).toBe("margherita"); // the original SINGLE, not DOUBLE's item
    expect(press.leds).toEqual(["working", "failed", "working", "ok"]);
    expect(press.device.flow.pendingOrderId).toBeUndefined();
  });
});
