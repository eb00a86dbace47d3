// The order desk's behaviour, written once and run on every order store (order-desk.test.ts: SQLite in
// memory; postgres-store.test.ts: a real PostgreSQL): messages in, decisions and stored rows out, with a
// clock the test moves.
import { afterEach, describe, expect, it } from "vitest";
import { memoryLog } from "../../../device/log";
import { OrderDesk, SettleError, TOO_MANY_ORDERS, type OrderDeskOptions, type ThingState } from "../../../../services/restaurant/order-desk";
import type { OrderStore } from "../../../../services/restaurant/orders/order-store";

export const THING = "pizza-button-01";
const TOPIC = `pizza/orders/${THING}`;
export const bytes = (text: string) => new TextEncoder().encode(text);

export function order(seq: number, fields: Record<string, unknown> = {}, thing = THING): Uint8Array {
  return bytes(JSON.stringify({ serialNumber: thing, clickType: "SINGLE", v: 1, orderId: `${thing}-${seq}`, seq, action: "order", item: "margherita", ...fields }));
}
function cancel(seq: number, cancels: string): Uint8Array {
  return bytes(JSON.stringify({ serialNumber: THING, clickType: "LONG", v: 1, orderId: `${THING}-${seq}`, seq, action: "cancel", cancels }));
}

/** Every describe below, on stores `openStore` gives (a new, empty one per call). */
export function orderDeskSuite(storeName: string, openStore: () => Promise<OrderStore>): void {
  const dbs: OrderStore[] = [];
  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.close();
  });

  async function openDesk(options: Partial<OrderDeskOptions> = {}) {
    const db = await openStore();
    dbs.push(db);
    const clock = { now: 1_000_000 };
    const log = memoryLog();
    return { desk: new OrderDesk({ db, log, now: () => clock.now, ...options }), db, clock, log };
  }

  describe(`${storeName}: OrderDesk`, () => {
    it("accepts a new order on the menu, rejects one off it, and answers a resend with the stored row", async () => {
      const { desk, db } = await openDesk({ etaMin: 17, menu: ["margherita"] });
      const first = await desk.receive(TOPIC, order(1));
      expect(first).toMatchObject({ type: "new", order: { orderId: `${THING}-1`, status: "accepted", etaMin: 17 } });
      expect(JSON.parse((first as { order: { ack: string } }).order.ack)).toEqual({ v: 1, orderId: `${THING}-1`, status: "accepted", etaMin: 17 });
      expect(await desk.receive(TOPIC, order(2, { item: "pineapple" }))).toMatchObject({ type: "new", order: { status: "rejected", reason: 'unknown item "pineapple"' } });
      expect(await desk.receive(TOPIC, order(1, { item: "pepperoni" }))).toMatchObject({ type: "repeat", resend: true, order: { item: "margherita", status: "accepted" } });
      expect((await db.all())).toHaveLength(2);
    });

    it("holds what the policy leaves open; settle decides it once and refuses a second decision", async () => {
      const { desk } = await openDesk({ decide: () => undefined });
      expect(await desk.receive(TOPIC, order(1))).toMatchObject({ type: "new", order: { status: null, ack: null } });
      expect(await desk.receive(TOPIC, order(1))).toMatchObject({ type: "repeat", resend: false });
      expect(await desk.settle(`${THING}-1`, { status: "rejected", reason: "oven broken" })).toMatchObject({ status: "rejected", reason: "oven broken" });
      await expect(desk.settle(`${THING}-1`, { status: "accepted" })).rejects.toThrow(SettleError);
      await expect(desk.settle(`${THING}-1`, { status: "accepted" })).rejects.toThrow(/already rejected/);
      await expect(desk.settle(`${THING}-9`, { status: "accepted" })).rejects.toThrow(/unknown order/);
    });

    it("applies the cancel rules: once, only of an accepted order of the same thing", async () => {
      const { desk } = await openDesk();
      await desk.receive(TOPIC, order(1));
      expect(await desk.receive(TOPIC, cancel(2, `${THING}-1`))).toMatchObject({ order: { status: "cancelled" } });
      expect(await desk.receive(TOPIC, cancel(3, `${THING}-1`))).toMatchObject({ order: { status: "cancel-refused", reason: `${THING}-1 is already cancelled` } });
      expect(await desk.receive(TOPIC, cancel(4, "pizza-button-02-1"))).toMatchObject({ order: { status: "cancel-refused", reason: "unknown order pizza-button-02-1" } });
    });

    it("refuses bad input with a reason and stores nothing", async () => {
      const { desk, db } = await openDesk();
      expect(await desk.receive(TOPIC, bytes("[1]"))).toMatchObject({ type: "refused" });
      expect(await desk.receive(TOPIC, new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({ type: "refused", reason: expect.stringContaining("UTF-8") });
      expect((await db.all())).toEqual([]);
    });
  });

  describe(`${storeName}: OrderDesk: per-thing request limit`, () => {
    it("past the burst a new order is rejected at once with 'too many orders'; the bucket refills over the hour", async () => {
      const { desk, clock, db, log } = await openDesk({ requestLimit: { burst: 3, perHour: 10 } });
      for (let seq = 1; seq <= 3; seq++) expect(await desk.receive(TOPIC, order(seq))).toMatchObject({ order: { status: "accepted" } });
      const over = await desk.receive(TOPIC, order(4));
      expect(over).toMatchObject({ type: "new", order: { status: "rejected", reason: TOO_MANY_ORDERS } });
      expect(JSON.parse((over as { order: { ack: string } }).order.ack)).toEqual({ v: 1, orderId: `${THING}-4`, status: "rejected", reason: "too many orders" });
      // Another button is not affected.
      expect(await desk.receive("pizza/orders/pizza-button-02", order(1, {}, "pizza-button-02"))).toMatchObject({ order: { status: "accepted" } });
      // 10 per hour: one more after 6 minutes, not before.
      clock.now += 5 * 60_000;
      expect(await desk.receive(TOPIC, order(5))).toMatchObject({ order: { status: "rejected", reason: TOO_MANY_ORDERS } });
      clock.now += 60_000;
      expect(await desk.receive(TOPIC, order(6))).toMatchObject({ order: { status: "accepted" } });
      expect(await desk.receive(TOPIC, order(7))).toMatchObject({ order: { status: "rejected", reason: TOO_MANY_ORDERS } });
      expect((await db.all())).toHaveLength(8); // every request has its row and its answer: a resend gets the same
      // One warning per episode over the limit, not one per refused request.
      expect(log.lines.filter((l) => l.message.includes("over its limit"))).toHaveLength(2);
    });

    it("a resend of a known orderId is not counted and gets its original ack, even past the limit", async () => {
      const { desk } = await openDesk({ requestLimit: { burst: 1, perHour: 1 } });
      expect(await desk.receive(TOPIC, order(1))).toMatchObject({ order: { status: "accepted" } });
      for (let i = 0; i < 5; i++) expect(await desk.receive(TOPIC, order(1))).toMatchObject({ type: "repeat", resend: true, order: { status: "accepted" } });
      expect(await desk.receive(TOPIC, order(2))).toMatchObject({ order: { status: "rejected", reason: TOO_MANY_ORDERS } });
      expect(await desk.receive(TOPIC, order(2))).toMatchObject({ type: "repeat", resend: true, order: { status: "rejected", reason: TOO_MANY_ORDERS } });
    });

    it("the limit lives in the database: two desks on it (two instances) count a thing's requests together, also at once", async () => {
      const limit = { burst: 3, perHour: 10 };
      const { desk, db, clock } = await openDesk({ requestLimit: limit });
      const other = new OrderDesk({ db, requestLimit: limit, now: () => clock.now });
      const results = await Promise.all([1, 2, 3, 4, 5, 6].map((seq) => (seq % 2 ? desk : other).receive(TOPIC, order(seq))));
      const statuses = results.map((r) => (r as { order: { status: string } }).order.status);
      expect(statuses.filter((s) => s === "accepted")).toHaveLength(3);
      expect(statuses.filter((s) => s === "rejected")).toHaveLength(3);
      // A desk started later (a restarted instance) sees the same bucket: still empty until it refills.
      const restarted = new OrderDesk({ db, requestLimit: limit, now: () => clock.now });
      expect(await restarted.receive(TOPIC, order(7))).toMatchObject({ order: { status: "rejected", reason: TOO_MANY_ORDERS } });
      clock.now += 6 * 60_000;
      expect(await other.receive(TOPIC, order(8))).toMatchObject({ order: { status: "accepted" } });
      expect(await desk.receive(TOPIC, order(9))).toMatchObject({ order: { status: "rejected", reason: TOO_MANY_ORDERS } });
    });

    it("refuses a limit that makes no sense", async () => {
      await expect(openDesk({ requestLimit: { burst: 0, perHour: 10 } })).rejects.toThrow(/burst/);
      await expect(openDesk({ requestLimit: { burst: 3, perHour: 0 } })).rejects.toThrow(/perHour/);
    });
  });

  describe(`${storeName}: OrderDesk: things the registry deactivated or revoked`, () => {
    it("rejects their new orders with a reason and refuses to accept a held one", async () => {
      const states = new Map<string, ThingState>();
      const { desk } = await openDesk({ decide: () => undefined, thingState: (thing) => states.get(thing) });
      expect(await desk.receive(TOPIC, order(1))).toMatchObject({ order: { status: null } });
      states.set(THING, "REVOKED");
      expect(desk.thingState(THING)).toBe("REVOKED");
      await expect(desk.settle(`${THING}-1`, { status: "accepted" })).rejects.toThrow(/pizza-button-01 is REVOKED: its orders cannot be accepted/);
      expect(await desk.settle(`${THING}-1`, { status: "rejected", reason: "button revoked" })).toMatchObject({ status: "rejected" });
      expect(await desk.receive(TOPIC, order(2))).toMatchObject({ order: { status: "rejected", reason: "this button is revoked" } });
      states.set(THING, "INACTIVE");
      expect(await desk.receive(TOPIC, order(3))).toMatchObject({ order: { status: "rejected", reason: "this button is deactivated" } });
    });

    it("a registry that fails is logged and does not block orders", async () => {
      const { desk, log } = await openDesk({ thingState: () => { throw new Error("registry.json unreadable"); } });
      expect(await desk.receive(TOPIC, order(1))).toMatchObject({ order: { status: "accepted" } });
      expect(log.lines.some((l) => l.message.includes("registry.json unreadable"))).toBe(true);
    });
  });
}
