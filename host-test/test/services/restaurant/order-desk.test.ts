// The order desk without a broker: messages in, decisions and stored rows out, on an in-memory SQLite
// order book and a clock the test moves.
import { afterEach, describe, expect, it } from "vitest";
import { memoryLog } from "../../../device/log";
import { OrderDb } from "../../../../services/restaurant/order-db";
import { OrderDesk, SettleError, TOO_MANY_ORDERS, parseIncoming, type OrderDeskOptions, type ThingState } from "../../../../services/restaurant/order-desk";
import { acksOf, ordersOf } from "../../support/topics";

const THING = "pizza-button-01";
const TOPIC = ordersOf(THING);
const bytes = (text: string) => new TextEncoder().encode(text);

function order(seq: number, fields: Record<string, unknown> = {}, thing = THING): Uint8Array {
  return bytes(JSON.stringify({ serialNumber: thing, clickType: "SINGLE", v: 1, orderId: `${thing}-${seq}`, seq, action: "order", item: "margherita", ...fields }));
}
function cancel(seq: number, cancels: string): Uint8Array {
  return bytes(JSON.stringify({ serialNumber: THING, clickType: "LONG", v: 1, orderId: `${THING}-${seq}`, seq, action: "cancel", cancels }));
}

const dbs: OrderDb[] = [];
afterEach(() => dbs.splice(0).forEach((db) => db.close()));

function openDesk(options: Partial<OrderDeskOptions> = {}) {
  const db = new OrderDb({ path: ":memory:" });
  dbs.push(db);
  const clock = { now: 1_000_000 };
  const log = memoryLog();
  return { desk: new OrderDesk({ db, log, now: () => clock.now, ...options }), db, clock, log };
}

describe("parseIncoming", () => {
  it("takes the thing from the topic and refuses payloads that claim another thing", () => {
    expect(parseIncoming("pizza", TOPIC, order(1))).toMatchObject({ ok: true, thing: THING, order: { orderId: `${THING}-1` } });
    expect(parseIncoming("pizza", acksOf("x"), order(1))).toEqual({ ok: false, reason: "not an orders topic of a valid thing name" });
    expect(parseIncoming("pizza", "pizza/orders/a+b", order(1))).toEqual({ ok: false, reason: "not an orders topic of a valid thing name" });
    expect(parseIncoming("pizza", TOPIC, order(1, { serialNumber: "pizza-button-02", orderId: "pizza-button-02-1" }))).toMatchObject({ ok: false, reason: expect.stringContaining("does not match the topic's thing") });
    expect(parseIncoming("pizza", TOPIC, bytes("{nope"))).toMatchObject({ ok: false });
  });
});

describe("OrderDesk", () => {
  it("accepts a new order on the menu, rejects one off it, and answers a resend with the stored row", () => {
    const { desk, db } = openDesk({ etaMin: 17, menu: ["margherita"] });
    const first = desk.receive(TOPIC, order(1));
    expect(first).toMatchObject({ type: "new", order: { orderId: `${THING}-1`, status: "accepted", etaMin: 17 } });
    expect(JSON.parse((first as { order: { ack: string } }).order.ack)).toEqual({ v: 1, orderId: `${THING}-1`, status: "accepted", etaMin: 17 });
    expect(desk.receive(TOPIC, order(2, { item: "pineapple" }))).toMatchObject({ type: "new", order: { status: "rejected", reason: 'unknown item "pineapple"' } });
    expect(desk.receive(TOPIC, order(1, { item: "pepperoni" }))).toMatchObject({ type: "repeat", resend: true, order: { item: "margherita", status: "accepted" } });
    expect(db.all()).toHaveLength(2);
  });

  it("holds what the policy leaves open; settle decides it once and refuses a second decision", () => {
    const { desk } = openDesk({ decide: () => undefined });
    expect(desk.receive(TOPIC, order(1))).toMatchObject({ type: "new", order: { status: null, ack: null } });
    expect(desk.receive(TOPIC, order(1))).toMatchObject({ type: "repeat", resend: false });
    expect(desk.settle(`${THING}-1`, { status: "rejected", reason: "oven broken" })).toMatchObject({ status: "rejected", reason: "oven broken" });
    expect(() => desk.settle(`${THING}-1`, { status: "accepted" })).toThrow(SettleError);
    expect(() => desk.settle(`${THING}-1`, { status: "accepted" })).toThrow(/already rejected/);
    expect(() => desk.settle(`${THING}-9`, { status: "accepted" })).toThrow(/unknown order/);
  });

  it("applies the cancel rules: once, only of an accepted order of the same thing", () => {
    const { desk } = openDesk();
    desk.receive(TOPIC, order(1));
    expect(desk.receive(TOPIC, cancel(2, `${THING}-1`))).toMatchObject({ order: { status: "cancelled" } });
    expect(desk.receive(TOPIC, cancel(3, `${THING}-1`))).toMatchObject({ order: { status: "cancel-refused", reason: `${THING}-1 is already cancelled` } });
    expect(desk.receive(TOPIC, cancel(4, "pizza-button-02-1"))).toMatchObject({ order: { status: "cancel-refused", reason: "unknown order pizza-button-02-1" } });
  });

  it("refuses bad input with a reason and stores nothing", () => {
    const { desk, db } = openDesk();
    expect(desk.receive(TOPIC, bytes("[1]"))).toMatchObject({ type: "refused" });
    expect(desk.receive(TOPIC, new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({ type: "refused", reason: expect.stringContaining("UTF-8") });
    expect(db.all()).toEqual([]);
  });
});

describe("OrderDesk: per-thing request limit", () => {
  it("past the burst a new order is rejected at once with 'too many orders'; the bucket refills over the hour", () => {
    const { desk, clock, db, log } = openDesk({ requestLimit: { burst: 3, perHour: 10 } });
    for (let seq = 1; seq <= 3; seq++) expect(desk.receive(TOPIC, order(seq))).toMatchObject({ order: { status: "accepted" } });
    const over = desk.receive(TOPIC, order(4));
    expect(over).toMatchObject({ type: "new", order: { status: "rejected", reason: TOO_MANY_ORDERS } });
    expect(JSON.parse((over as { order: { ack: string } }).order.ack)).toEqual({ v: 1, orderId: `${THING}-4`, status: "rejected", reason: "too many orders" });
    // Another button is not affected.
    expect(desk.receive(ordersOf("pizza-button-02"), order(1, {}, "pizza-button-02"))).toMatchObject({ order: { status: "accepted" } });
    // 10 per hour: one more after 6 minutes, not before.
    clock.now += 5 * 60_000;
    expect(desk.receive(TOPIC, order(5))).toMatchObject({ order: { status: "rejected", reason: TOO_MANY_ORDERS } });
    clock.now += 60_000;
    expect(desk.receive(TOPIC, order(6))).toMatchObject({ order: { status: "accepted" } });
    expect(desk.receive(TOPIC, order(7))).toMatchObject({ order: { status: "rejected", reason: TOO_MANY_ORDERS } });
    expect(db.all()).toHaveLength(8); // every request has its row and its answer: a resend gets the same
    // One warning per episode over the limit, not one per refused request.
    expect(log.lines.filter((l) => l.message.includes("over its limit"))).toHaveLength(2);
  });

  it("a resend of a known orderId is not counted and gets its original ack, even past the limit", () => {
    const { desk } = openDesk({ requestLimit: { burst: 1, perHour: 1 } });
    expect(desk.receive(TOPIC, order(1))).toMatchObject({ order: { status: "accepted" } });
    for (let i = 0; i < 5; i++) expect(desk.receive(TOPIC, order(1))).toMatchObject({ type: "repeat", resend: true, order: { status: "accepted" } });
    expect(desk.receive(TOPIC, order(2))).toMatchObject({ order: { status: "rejected", reason: TOO_MANY_ORDERS } });
    expect(desk.receive(TOPIC, order(2))).toMatchObject({ type: "repeat", resend: true, order: { status: "rejected", reason: TOO_MANY_ORDERS } });
  });

  it("refuses a limit that makes no sense", () => {
    expect(() => openDesk({ requestLimit: { burst: 0, perHour: 10 } })).toThrow(/burst/);
    expect(() => openDesk({ requestLimit: { burst: 3, perHour: 0 } })).toThrow(/perHour/);
  });
});

describe("OrderDesk: things the registry deactivated or revoked", () => {
  it("rejects their new orders with a reason and refuses to accept a held one", () => {
    const states = new Map<string, ThingState>();
    const { desk } = openDesk({ decide: () => undefined, thingState: (thing) => states.get(thing) });
    expect(desk.receive(TOPIC, order(1))).toMatchObject({ order: { status: null } });
    states.set(THING, "REVOKED");
    expect(desk.thingState(THING)).toBe("REVOKED");
    expect(() => desk.settle(`${THING}-1`, { status: "accepted" })).toThrow(/pizza-button-01 is REVOKED: its orders cannot be accepted/);
    expect(desk.settle(`${THING}-1`, { status: "rejected", reason: "button revoked" })).toMatchObject({ status: "rejected" });
    expect(desk.receive(TOPIC, order(2))).toMatchObject({ order: { status: "rejected", reason: "this button is revoked" } });
    states.set(THING, "INACTIVE");
    expect(desk.receive(TOPIC, order(3))).toMatchObject({ order: { status: "rejected", reason: "this button is deactivated" } });
  });

  it("a registry that fails is logged and does not block orders", () => {
    const { desk, log } = openDesk({ thingState: () => { throw new Error("registry.json unreadable"); } });
    expect(desk.receive(TOPIC, order(1))).toMatchObject({ order: { status: "accepted" } });
    expect(log.lines.some((l) => l.message.includes("registry.json unreadable"))).toBe(true);
  });
});
