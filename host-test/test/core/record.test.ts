// The message record through the flow: seq seeding and recovery, unreadable or failing stores.
import { describe, expect, it } from "vitest";
import type { OrderMessage } from "../../../modules/core/messages";
import { LEGACY_STORE_KEYS, MessageRecord, STORE_KEY } from "../../../modules/core/record";
import { FakeClock, MemoryLog, MemoryStore } from "./fakes";
import { SEQ0, T0, THING, nth, recordIn, seqIn, setup } from "./flow-harness";
import { CLOCK_SET_AFTER_MS } from "../../../modules/core/wall-clock";

describe("MessageRecord: seq seeded from the wall clock (no orderId reuse after a flash erase)", () => {
  const seqOf = (orderId: string | undefined) => Number(/-(\d+)$/.exec(orderId ?? "")![1]);

  it("a fresh store starts at the wall clock in seconds, not at 1", () => {
    const start = T0 + 123_456; // mid-second: floor, not round
    const t = setup({ start });
    const outcome = t.click("SINGLE");
    expect(outcome).toMatchObject({ outcome: "ok", orderId: `${THING}-${Math.floor(start / 1000)}` });
    expect(t.restaurant.received[0]).toMatchObject({ seq: SEQ0 + 123 });
    expect(seqIn(t.store)).toBe(String(SEQ0 + 123));
    expect(t.log.has(new RegExp(`no stored seq: starting at ${SEQ0 + 123}`))).toBe(true);
    expect(t.click("DOUBLE")).toMatchObject({ outcome: "ok", orderId: `${THING}-${SEQ0 + 124}` }); // then +1 per order
  });

  it("a store wiped after orders: the next orderId is new and above all earlier ones, and it is a new order", () => {
    const t = setup();
    const before = [t.click("SINGLE", 1_000), t.click("DOUBLE", 1_000), t.click("LONG", 1_000)];
    expect(before.map((o) => o!.outcome)).toEqual(["ok", "ok", "cancelled"]);
    const earlier = before.map((o) => o!.orderId!);

    t.store.data.clear(); // flash erase / NVS wipe / new state dir; the restaurant keeps its orders
    t.timers.advance(2_000);
    const after = t.click("SINGLE");

    expect(after).toMatchObject({ outcome: "ok", resent: false, ack: { status: "accepted" } });
    expect(earlier).not.toContain(after!.orderId);
    expect(seqOf(after!.orderId)).toBeGreaterThan(Math.max(...earlier.map(seqOf)));
    expect(t.restaurant.acks.size).toBe(4); // the restaurant saw a new order, not a repeat of an old one
    expect(t.restaurant.acks.get(after!.orderId!)!.orderId).toBe(after!.orderId);
  });

  it.each([
    ["0 (epoch)", 0],
    ["a day after boot in 1970", 86_400_000],
    ["one second before the cutoff (2025)", CLOCK_SET_AFTER_MS - 1_000],
    ["late 2024 (a wrong clock that still looks plausible)", Date.UTC(2024, 11, 31)],
  ])("clock unset (%s): no order is created, outcome failed, reason logged", (_name, start) => {
    const t = setup({ start });
    const outcome = t.click("SINGLE");
    expect(outcome).toMatchObject({ outcome: "failed", clickType: "SINGLE", orderId: undefined, attempts: 0, resent: false });
    expect(t.log.has(/cannot create SINGLE message: wall clock not set/)).toBe(true);
    expect(t.connector.connections).toHaveLength(0);
    expect((seqIn(t.store) !== undefined)).toBe(false);
    expect(t.pending()).toBeUndefined();
    expect(t.patterns).toEqual(["failed", "off"]);

    t.timers.jump(T0 - t.timers.now()); // SNTP sets the clock: the next click orders
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok", orderId: nth(1) });
  });
});

describe("MessageRecord through the flow: unreadable or failing store", () => {
  it("(old per-key store) an unreadable pending record is dropped with an error; an unreadable seq never restarts low", () => {
    const store = new MemoryStore();
    store.data.set("pending", "{garbage");
    store.data.set("seq", "banana");
    const t = setup({ store });
    t.flow.start();
    const outcome = t.click("SINGLE");
    expect(t.log.has(/unreadable pending message dropped/)).toBe(true);
    expect(t.log.has(/stored seq unreadable \("banana"\): not migrated/)).toBe(true);
    expect(t.log.has(new RegExp(`stored seq unreadable \\(missing\\): continuing from ${SEQ0 + 1}`))).toBe(true);
    expect(outcome).toMatchObject({ outcome: "ok", orderId: `${THING}-${SEQ0 + 1}` }); // one above the clock's seconds
    expect(seqIn(t.store)).toBe(String(SEQ0 + 1));
  });

  it("a seq corrupted right after an order, within the same second: the recovered seq is still above it", () => {
    const t = setup();
    const first = t.click("SINGLE", 100);
    t.store.data.set(STORE_KEY, JSON.stringify({ ...recordIn(t.store), seq: "\u0000\u0000" })); // flash corruption
    const second = t.click("DOUBLE", 100);
    expect(Math.floor(t.timers.now() / 1000)).toBe(SEQ0); // both clicks in the second that seeded seq
    expect(first).toMatchObject({ outcome: "ok", orderId: nth(1) });
    expect(second).toMatchObject({ outcome: "ok", orderId: nth(2), resent: false });
    expect(t.restaurant.acks.size).toBe(2); // two orders, not the first one's ack again
  });

  it("an unreadable record (not JSON): the seq recovers above the clock's seconds, nothing is resent", () => {
    const t = setup();
    t.click("SINGLE", 100);
    t.store.data.set(STORE_KEY, '{"seq":17000'); // torn or corrupted
    const second = t.click("DOUBLE", 100);
    expect(t.log.has(/unreadable record dropped/)).toBe(true);
    expect(second).toMatchObject({ outcome: "ok", orderId: nth(2), resent: false });
    expect(t.restaurant.acks.size).toBe(2);
  });

  it("a pending record that fails validation is dropped", () => {
    const store = new MemoryStore();
    store.data.set("pending", JSON.stringify({ message: { serialNumber: THING, v: 1, orderId: "x", seq: 1 }, createdAt: T0 }));
    const t = setup({ store });
    t.flow.start();
    t.timers.advance(1000);
    expect(t.connector.connections).toHaveLength(0);
    expect((recordIn(t.store)?.pending !== undefined)).toBe(false);
  });

  it("a store that cannot persist: the click fails without sending anything", () => {
    const store = new MemoryStore();
    store.write = () => {
      throw new Error("NVS full");
    };
    const t = setup({ store });
    expect(t.click("SINGLE")).toMatchObject({ outcome: "failed", orderId: undefined, attempts: 0 });
    expect(t.connector.connections).toHaveLength(0);
    expect(t.log.has(/NVS full/)).toBe(true);
  });

});

describe("MessageRecord on its own", () => {
  const order = (seq: number): OrderMessage => ({
    v: 1,
    serialNumber: THING,
    clickType: "SINGLE",
    orderId: `${THING}-${seq}`,
    seq,
    action: "order",
    item: "margherita",
  });
  const setupRecord = (now = T0) => {
    const clock = new FakeClock(now);
    const store = new MemoryStore();
    const log = new MemoryLog();
    const record = new MessageRecord({ store, clock, log, pendingExpiryMs: 60_000 });
    return { clock, store, log, record };
  };

  it("create() persists the advanced seq and the message as pending in ONE write, before it returns", () => {
    const { store, record } = setupRecord();
    const first = record.create(order);
    expect(first.seq).toBe(SEQ0);
    expect(store.writes.map(([key]) => key)).toEqual([STORE_KEY]);
    expect(JSON.parse(store.data.get(STORE_KEY)!)).toEqual({ seq: SEQ0, pending: { message: first, createdAt: T0 } });
    expect(record.pending()).toEqual({ message: first, createdAt: T0 });
    expect(record.create(order).seq).toBe(SEQ0 + 1);
  });

  it("create() with the wall clock unset throws and writes nothing", () => {
    const { store, record } = setupRecord(1_000);
    expect(() => record.create(order)).toThrow(/wall clock not set/);
    expect(store.writes).toEqual([]);
  });

  it("create() of a message the codec refuses throws before the seq is persisted", () => {
    const { store, record } = setupRecord();
    expect(() => record.create((seq) => ({ ...order(seq), item: "x".repeat(600) }))).toThrow();
    expect(store.writes).toEqual([]);
  });

  it("settle(): an accepted order is no longer pending and becomes what LONG cancels; its cancel clears that", () => {
    const { record } = setupRecord();
    const placed = record.create(order);
    record.settle(placed, { v: 1, orderId: placed.orderId, status: "accepted" });
    expect(record.pending()).toBeUndefined();
    expect(record.lastAccepted()).toBe(placed.orderId);
    const cancel = record.create((seq) => ({
      v: 1,
      serialNumber: THING,
      clickType: "LONG",
      orderId: `${THING}-${seq}`,
      seq,
      action: "cancel",
      cancels: placed.orderId,
    }));
    record.settle(cancel, { v: 1, orderId: cancel.orderId, status: "cancelled" });
    expect(record.pending()).toBeUndefined();
    expect(record.lastAccepted()).toBeUndefined();
  });

  it("live() drops a pending message older than the expiry; pending() still reads an old one", () => {
    const { clock, record, log } = setupRecord();
    record.create(order);
    clock.time = T0 + 60_000;
    expect(record.live()?.message.seq).toBe(SEQ0);
    clock.time = T0 + 60_001;
    expect(record.pending()?.message.seq).toBe(SEQ0);
    expect(record.live()).toBeUndefined();
    expect(record.pending()).toBeUndefined();
    expect(log.has(/expired/)).toBe(true);
  });

  it("settle() is one write too: the last accepted order and no pending message", () => {
    const { store, record } = setupRecord();
    const placed = record.create(order);
    store.writes.length = 0;
    record.settle(placed, { v: 1, orderId: placed.orderId, status: "accepted" });
    expect(store.writes.map(([key]) => key)).toEqual([STORE_KEY]);
    expect(JSON.parse(store.data.get(STORE_KEY)!)).toEqual({ seq: SEQ0, lastAccepted: placed.orderId });
  });
});

describe("MessageRecord: a store in the one-key-each layout is migrated", () => {
  it("an installed button's pending order survives the update: resent at boot with its orderId, seq goes on", () => {
    const store = new MemoryStore();
    const oldSeq = SEQ0 - 500;
    const pendingOrder: OrderMessage = { v: 1, serialNumber: THING, clickType: "SINGLE", orderId: `${THING}-${oldSeq}`, seq: oldSeq, action: "order", item: "margherita" };
    store.data.set(LEGACY_STORE_KEYS.seq, String(oldSeq));
    store.data.set(LEGACY_STORE_KEYS.pending, JSON.stringify({ message: pendingOrder, createdAt: T0 - 60_000 }));
    store.data.set(LEGACY_STORE_KEYS.lastAccepted, `${THING}-${oldSeq - 1}`);
    const t = setup({ store });
    t.flow.start(); // boot after the update
    t.timers.advance(60_000);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", orderId: pendingOrder.orderId, resent: true, trigger: "boot" });
    expect(t.restaurant.received).toEqual([pendingOrder]);
    expect([...store.data.keys()]).toEqual([STORE_KEY]); // the old keys are gone
    expect(recordIn(store)).toEqual({ seq: oldSeq, lastAccepted: pendingOrder.orderId });
    expect(t.click("DOUBLE")).toMatchObject({ outcome: "ok", orderId: `${THING}-${oldSeq + 1}` });
    expect(t.log.has(/migrated/)).toBe(true);
  });

  it("a migration whose write fails keeps the old keys (nothing lost) and is tried again on the next read", () => {
    const store = new MemoryStore();
    store.data.set(LEGACY_STORE_KEYS.seq, String(SEQ0));
    const write = store.write.bind(store);
    let failures = 1;
    store.write = (key, value) => {
      if (failures-- > 0) throw new Error("NVS busy");
      write(key, value);
    };
    const record = new MessageRecord({ store, clock: new FakeClock(T0), log: new MemoryLog(), pendingExpiryMs: 60_000 });
    expect(record.pending()).toBeUndefined();
    expect(store.data.get(LEGACY_STORE_KEYS.seq)).toBe(String(SEQ0));
    const next = record.create((seq) => ({ v: 1, serialNumber: THING, clickType: "SINGLE", orderId: `${THING}-${seq}`, seq, action: "order", item: "margherita" }));
    expect(next.seq).toBe(SEQ0 + 1); // migrated now, then numbered from the old seq
    expect(store.data.has(LEGACY_STORE_KEYS.seq)).toBe(false);
  });
});
