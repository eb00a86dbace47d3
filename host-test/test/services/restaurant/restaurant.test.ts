// The restaurant over the real embedded broker and real TLS: a plain MQTT client with the device's
// certificate plays the button, so every byte the restaurant sees is chosen by the test.
import path from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningBroker } from "../../../../services/broker/broker";
import { memoryLog } from "../../../device/log";
import { OrderDb } from "../../../../services/restaurant/orders/order-db";
import { startRestaurant, type Restaurant, type RestaurantEvent, type RestaurantOptions } from "../../../../services/restaurant/restaurant";
import type { DevPki } from "../../../../tools/pki/dev";
import {
  collectMessages,
  connectRaw,
  credentialsOf,
  devPki,
  removeDir,
  startTestBroker,
  tempDir,
  waitFor,
  type Credentials,
} from "../../integration/fixtures";
import { acksOf, ordersOf } from "../../support/topics";

const THING = "pizza-button-01";
const ORDERS = ordersOf(THING);
const ACKS = acksOf(THING);

function order(seq: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    serialNumber: THING,
    clickType: "SINGLE",
    v: 1,
    orderId: `${THING}-${seq}`,
    seq,
    action: "order",
    item: "margherita",
    ...fields,
  });
}

function cancel(seq: number, cancels: string): string {
  return JSON.stringify({
    serialNumber: THING,
    clickType: "LONG",
    v: 1,
    orderId: `${THING}-${seq}`,
    seq,
    action: "cancel",
    cancels,
  });
}

let dir: string;
let dev: DevPki;
let broker: RunningBroker;
let restaurantCreds: Credentials;
let deviceCreds: Credentials;
let dbCount = 0;

beforeAll(async () => {
  dir = tempDir("restaurant");
  dev = await devPki(dir);
  broker = await startTestBroker(dev);
  restaurantCreds = credentialsOf(dev.restaurant);
  deviceCreds = credentialsOf(dev.device);
});

afterAll(async () => {
  await broker?.close();
  removeDir(dir);
});

/** A restaurant on a fresh database, a button client subscribed to its acks, and what each saw. */
async function setup(options: Partial<RestaurantOptions> = {}) {
  const log = memoryLog();
  const events: RestaurantEvent[] = [];
  const dbPath = options.dbPath ?? path.join(dir, `orders-${++dbCount}.sqlite`);
  const restaurant = await startRestaurant({
    brokerUrl: broker.url,
    ...restaurantCreds,
    dbPath,
    log,
    onEvent: (event) => events.push(event),
    ...options,
  });
  const button = await connectRaw(broker.url, THING, deviceCreds);
  await button.subscribeAsync(ACKS, { qos: 1 });
  const acks = collectMessages(button);
  open.push({ restaurant, button });
  return { restaurant, button, acks, log, events, dbPath };
}

const open: Array<{ restaurant: Restaurant; button: MqttClient }> = [];
afterEach(async () => {
  for (const { restaurant, button } of open.splice(0)) {
    await button.endAsync(true);
    await restaurant.close();
  }
});

describe("restaurant: orders", () => {
  it("accepts an order on the menu, stores it and acks with an ETA on the thing's ack topic", async () => {
    const { restaurant, button, acks } = await setup({ etaMin: 17 });
    await button.publishAsync(ORDERS, order(1), { qos: 1 });
    await waitFor(() => acks.length === 1, "the ack");
    expect(acks[0]!.topic).toBe(ACKS);
    expect(acks[0]!.json).toEqual({ v: 1, orderId: `${THING}-1`, status: "accepted", etaMin: 17 });
    const rows = (await restaurant.orders());
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ orderId: `${THING}-1`, thing: THING, item: "margherita", status: "accepted", etaMin: 17 });
    await waitFor(async () => (await restaurant.order(`${THING}-1`))!.ackedAt !== null, "the broker to confirm the ack");
  });

  it("rejects an item that is not on the menu, with a reason, and remembers the rejection", async () => {
    const { restaurant, button, acks } = await setup({ menu: ["margherita"] });
    await button.publishAsync(ORDERS, order(2, { item: "pineapple" }), { qos: 1 });
    await waitFor(() => acks.length === 1, "the ack");
    expect(acks[0]!.json).toMatchObject({ orderId: `${THING}-2`, status: "rejected" });
    expect(acks[0]!.json.reason).toContain("pineapple");
    expect((await restaurant.order(`${THING}-2`))).toMatchObject({ status: "rejected" });
  });

  it("dedupes by orderId: a repeat gets the original ack again and creates no second row", async () => {
    const { restaurant, button, acks, log } = await setup();
    await button.publishAsync(ORDERS, order(3), { qos: 1 });
    await waitFor(() => acks.length === 1, "the first ack");
    // The same order again, and once more with different content: still the original decision.
    await button.publishAsync(ORDERS, order(3), { qos: 1 });
    await button.publishAsync(ORDERS, order(3, { item: "pepperoni", clickType: "DOUBLE" }), { qos: 1 });
    await waitFor(() => acks.length === 3, "the repeated acks");
    expect(acks[1]!.text).toBe(acks[0]!.text);
    expect(acks[2]!.text).toBe(acks[0]!.text);
    expect((await restaurant.orders())).toHaveLength(1);
    expect((await restaurant.order(`${THING}-3`))!.item).toBe("margherita");
    expect(log.lines.some((l) => l.message.includes("different content"))).toBe(true);
  });
});

describe("restaurant: cancels", () => {
  it("cancels an accepted order once; a second cancel of it, and cancels of unknown orders, are refused", async () => {
    const { restaurant, button, acks } = await setup();
    await button.publishAsync(ORDERS, order(10), { qos: 1 });
    await waitFor(() => acks.length === 1, "the order's ack");

    await button.publishAsync(ORDERS, cancel(11, `${THING}-10`), { qos: 1 });
    await waitFor(() => acks.length === 2, "the cancel's ack");
    expect(acks[1]!.json).toEqual({ v: 1, orderId: `${THING}-11`, status: "cancelled" });
    expect((await restaurant.order(`${THING}-10`))).toMatchObject({ status: "accepted", cancelledBy: `${THING}-11` });

    await button.publishAsync(ORDERS, cancel(12, `${THING}-10`), { qos: 1 });
    await button.publishAsync(ORDERS, cancel(13, `${THING}-999`), { qos: 1 });
    await button.publishAsync(ORDERS, cancel(14, `${THING}-11`), { qos: 1 }); // a cancel is not an order
    await waitFor(() => acks.length === 5, "the refusals");
    const byId = new Map(acks.map((a) => [a.json.orderId, a.json]));
    expect(byId.get(`${THING}-12`)).toMatchObject({ status: "cancel-refused", reason: expect.stringContaining("already cancelled") });
    expect(byId.get(`${THING}-13`)).toMatchObject({ status: "cancel-refused", reason: expect.stringContaining("unknown order") });
    expect(byId.get(`${THING}-14`)).toMatchObject({ status: "cancel-refused", reason: expect.stringContaining("not an order") });
    expect((await restaurant.order(`${THING}-10`))!.cancelledBy).toBe(`${THING}-11`);
  });

  it("refuses to cancel a rejected order, and another thing's order looks unknown", async () => {
    const other = "pizza-button-02";
    const otherFiles = await dev.pki.createThing(other, { keyType: "ec" });
    const { restaurant, button, acks } = await setup({ menu: ["margherita"] });
    const otherButton = await connectRaw(broker.url, other, credentialsOf(otherFiles));
    try {
      await otherButton.publishAsync(
        ordersOf(other),
        JSON.stringify({ serialNumber: other, clickType: "SINGLE", v: 1, orderId: `${other}-1`, seq: 1, action: "order", item: "margherita" }),
        { qos: 1 },
      );
      await waitFor(async () => (await restaurant.order(`${other}-1`))?.status === "accepted", "the other thing's order");

      await button.publishAsync(ORDERS, order(20, { item: "pineapple" }), { qos: 1 });
      await waitFor(() => acks.length === 1, "the rejection");
      await button.publishAsync(ORDERS, cancel(21, `${THING}-20`), { qos: 1 });
      await button.publishAsync(ORDERS, cancel(22, `${other}-1`), { qos: 1 });
      await waitFor(() => acks.length === 3, "the cancel refusals");
      expect(acks[1]!.json).toMatchObject({ orderId: `${THING}-21`, status: "cancel-refused", reason: expect.stringContaining("rejected") });
      expect(acks[2]!.json).toMatchObject({ orderId: `${THING}-22`, status: "cancel-refused", reason: `unknown order ${other}-1` });
      expect((await restaurant.order(`${other}-1`))!.cancelledBy).toBeNull();
    } finally {
      await otherButton.endAsync(true);
    }
  });
});

describe("restaurant: bad input", () => {
  const bad: Array<[string, string | Buffer]> = [
    ["malformed JSON", "{not json"],
    ["non-UTF-8", Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
    ["oversized", order(30, { item: "x".repeat(600) })],
    ["wrong version", order(31, { v: 2 })],
    ["missing field", JSON.stringify({ serialNumber: THING, v: 1, orderId: `${THING}-32`, seq: 32, action: "order", item: "margherita" })],
    ["mistyped seq", order(33, { seq: "33" })],
    ["serialNumber of another thing", order(34, { serialNumber: "pizza-button-02", orderId: "pizza-button-02-34" })],
    ["orderId not thing-seq", order(35, { orderId: `${THING}-36` })],
    ["empty", ""],
    ["a JSON array", "[1,2,3]"],
  ];

  it("refuses each with a logged reason, creates no row and no ack, and keeps serving", async () => {
    const { restaurant, button, acks, log, events } = await setup();
    for (const [, payload] of bad) await button.publishAsync(ORDERS, payload, { qos: 1 });
    await waitFor(() => events.filter((e) => e.type === "input-refused").length === bad.length, "every refusal");
    const reasons = log.lines.filter((l) => l.level === "warn").map((l) => l.message);
    expect(reasons).toHaveLength(bad.length);
    for (const reason of reasons) expect(reason).toMatch(/refused message on "pizza\/orders\/pizza-button-01": from pizza-button-01: \S/);
    expect(reasons.some((r) => r.includes("does not match the topic's thing"))).toBe(true);
    expect(reasons.some((r) => r.includes("not valid UTF-8"))).toBe(true);
    expect(reasons.some((r) => r.includes("too large"))).toBe(true);

    await button.publishAsync(ORDERS, order(40), { qos: 1 });
    await waitFor(() => acks.length === 1, "the ack of a good order after the bad ones");
    expect(acks[0]!.json.orderId).toBe(`${THING}-40`);
    expect((await restaurant.orders()).map((o) => o.orderId)).toEqual([`${THING}-40`]);
  });
});

describe("restaurant: fairness and text safety", () => {
  it("past its per-thing limit a button gets 'rejected: too many orders' at once; a resend is not counted and gets its original ack", async () => {
    const { restaurant, button, acks } = await setup({ requestLimit: { burst: 2, perHour: 1 } });
    for (const seq of [90, 91, 92]) await button.publishAsync(ORDERS, order(seq), { qos: 1 });
    await waitFor(() => acks.length === 3, "three acks");
    expect(acks.map((a) => a.json.status)).toEqual(["accepted", "accepted", "rejected"]);
    expect(acks[2]!.json).toEqual({ v: 1, orderId: `${THING}-92`, status: "rejected", reason: "too many orders" });
    // Resends of known orderIds: their original acks, and no token taken (the next new one is still over).
    await button.publishAsync(ORDERS, order(90), { qos: 1 });
    await button.publishAsync(ORDERS, order(92), { qos: 1 });
    await waitFor(() => acks.length === 5, "the resent acks");
    expect(acks[3]!.text).toBe(acks[0]!.text);
    expect(acks[4]!.text).toBe(acks[2]!.text);
    expect((await restaurant.orders())).toHaveLength(3);
  });

  it("a thing deactivated or revoked after it connected gets its orders rejected with a reason", async () => {
    const other = "pizza-button-03";
    const files = await dev.pki.createThing(other, { keyType: "ec" });
    const { restaurant } = await setup({ thingState: (thing) => dev.pki.thingState(thing) });
    const otherButton = await connectRaw(broker.url, other, credentialsOf(files));
    try {
      await otherButton.subscribeAsync(acksOf(other), { qos: 1 });
      const otherAcks = collectMessages(otherButton);
      const send = (seq: number) =>
        otherButton.publishAsync(ordersOf(other), JSON.stringify({ serialNumber: other, clickType: "SINGLE", v: 1, orderId: `${other}-${seq}`, seq, action: "order", item: "margherita" }), { qos: 1 });
      await send(1);
      await waitFor(() => otherAcks.length === 1, "the first ack");
      expect(otherAcks[0]!.json.status).toBe("accepted");
      // The broker checks the registry at CONNECT; this connection is older than the deactivation.
      await dev.pki.setThingState(other, "INACTIVE");
      await send(2);
      await waitFor(() => otherAcks.length === 2, "the second ack");
      expect(otherAcks[1]!.json).toEqual({ v: 1, orderId: `${other}-2`, status: "rejected", reason: "this button is deactivated" });
      await dev.pki.setThingState(other, "REVOKED");
      await send(3);
      await waitFor(() => otherAcks.length === 3, "the third ack");
      expect(otherAcks[2]!.json).toMatchObject({ status: "rejected", reason: "this button is revoked" });
      expect(restaurant.thingState(other)).toBe("REVOKED");
    } finally {
      await otherButton.endAsync(true);
    }
  });

  it("cuts a refusal reason between characters (never inside an emoji) and drops bidi controls from it", async () => {
    const { button, acks } = await setup({ menu: ["margherita"] });
    // 80 pizzas: 320 bytes, a valid order; the reason quotes at most 40 characters of it.
    await button.publishAsync(ORDERS, order(95, { item: "\u{1F355}".repeat(80) }), { qos: 1 });
    await button.publishAsync(ORDERS, order(96, { item: "\u202eazzip" }), { qos: 1 });
    await button.publishAsync(ORDERS, order(97, { item: "a\u0301".repeat(45) }), { qos: 1 }); // a + combining accent
    await waitFor(() => acks.length === 3, "the rejections");
    const reasons = acks.map((a) => a.json.reason as string);
    for (const reason of reasons) {
      expect(reason).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/); // no lone surrogate
      expect(reason).not.toContain("\ufffd");
      expect(reason).not.toMatch(/\\u[dD][89a-fA-F]/); // nor one escaped as text by JSON.stringify
      expect(reason).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    }
    // At most 40 characters and 120 bytes of the item, ellipsis included: 29 four-byte pizzas and "…".
    expect(reasons[0]).toBe(`unknown item "${"\u{1F355}".repeat(29)}…"`);
    expect(reasons[1]).toBe('unknown item "azzip"');
    expect(reasons[2]).toBe(`unknown item "${"a\u0301".repeat(39)}…"`);
  });
});

describe("restaurant: persistence", () => {
  it("keeps orders across a restart: a repeat after the restart gets the original ack, still one row", async () => {
    const first = await setup({ etaMin: 30 });
    await first.button.publishAsync(ORDERS, order(50), { qos: 1 });
    await waitFor(() => first.acks.length === 1, "the ack");
    await waitFor(async () => (await first.restaurant.order(`${THING}-50`))!.ackedAt !== null, "the ack confirmed");
    const before = (await first.restaurant.orders());
    await first.restaurant.close();

    const second = await setup({ dbPath: first.dbPath, etaMin: 5 });
    expect((await second.restaurant.orders())).toEqual(before);
    await second.button.publishAsync(ORDERS, order(50), { qos: 1 });
    await waitFor(() => second.acks.length === 1, "the repeated ack");
    expect(second.acks[0]!.text).toBe(first.acks[0]!.text); // etaMin 30, the original, not 5
    expect((await second.restaurant.orders())).toHaveLength(1);
  });

  it("publishes, after a restart, the acks of orders that were decided but never acked", async () => {
    const dbPath = path.join(dir, "crashed-before-ack.sqlite");
    // The state a crash right after the commit leaves: decided, ack text stored, no PUBACK recorded.
    const db = new OrderDb({ path: dbPath });
    db.transaction(() => {
      db.insertReceived({ orderId: `${THING}-60`, thing: THING, seq: 60, action: "order", clickType: "SINGLE", item: "margherita", receivedAt: Date.now() });
      db.recordDecision(`${THING}-60`, {
        status: "accepted",
        etaMin: 12,
        ack: JSON.stringify({ v: 1, orderId: `${THING}-60`, status: "accepted", etaMin: 12 }),
        decidedAt: Date.now(),
      });
    });
    db.close();

    const button = await connectRaw(broker.url, THING, deviceCreds);
    try {
      await button.subscribeAsync(ACKS, { qos: 1 });
      const acks = collectMessages(button);
      const restaurant = await startRestaurant({ brokerUrl: broker.url, ...restaurantCreds, dbPath });
      try {
        await waitFor(() => acks.length === 1, "the ack published on restart");
        expect(acks[0]!.json).toEqual({ v: 1, orderId: `${THING}-60`, status: "accepted", etaMin: 12 });
        await waitFor(async () => (await restaurant.order(`${THING}-60`))!.ackedAt !== null, "the ack confirmed");
        expect((await restaurant.orders())).toHaveLength(1);
      } finally {
        await restaurant.close();
      }
    } finally {
      await button.endAsync(true);
    }
  });

  it("holds a request the policy leaves open; after a restart an auto-accepting restaurant decides and acks it", async () => {
    const held = await setup({ decide: () => undefined });
    await held.button.publishAsync(ORDERS, order(70), { qos: 1 });
    await waitFor(async () => (await held.restaurant.order(`${THING}-70`)) !== undefined, "the held order");
    expect((await held.restaurant.order(`${THING}-70`))).toMatchObject({ status: null, ack: null });
    // A resend while it is held gets nothing (yet) and creates nothing.
    await held.button.publishAsync(ORDERS, order(70), { qos: 1 });
    await held.restaurant.close();
    expect(held.acks).toHaveLength(0);

    // The button listens before the restaurant comes back (the ack is not retained).
    const button = await connectRaw(broker.url, THING, deviceCreds);
    try {
      await button.subscribeAsync(ACKS, { qos: 1 });
      const acks = collectMessages(button);
      const auto = await startRestaurant({ brokerUrl: broker.url, ...restaurantCreds, dbPath: held.dbPath });
      try {
        await waitFor(() => acks.length === 1, "the ack after the restart");
        expect(acks[0]!.json).toMatchObject({ orderId: `${THING}-70`, status: "accepted" });
        expect((await auto.orders())).toHaveLength(1);
      } finally {
        await auto.close();
      }
    } finally {
      await button.endAsync(true);
    }
  });

  it("settle() decides a held request and acks it; a second settle is refused", async () => {
    const { restaurant, button, acks } = await setup({ decide: () => undefined });
    await button.publishAsync(ORDERS, order(80), { qos: 1 });
    await waitFor(async () => (await restaurant.order(`${THING}-80`)) !== undefined, "the held order");
    await restaurant.settle(`${THING}-80`, { status: "rejected", reason: "oven broken" });
    await waitFor(() => acks.length === 1, "the ack");
    expect(acks[0]!.json).toEqual({ v: 1, orderId: `${THING}-80`, status: "rejected", reason: "oven broken" });
    await expect(restaurant.settle(`${THING}-80`, { status: "accepted" })).rejects.toThrow(/already rejected/);
    await expect(restaurant.settle(`${THING}-80x`, { status: "accepted" })).rejects.toThrow(/unknown order/);
  });
});

describe("restaurant: identity", () => {
  it("refuses to start with a certificate whose CN is not its client id", async () => {
    await expect(
      startRestaurant({ brokerUrl: broker.url, ...deviceCreds, dbPath: path.join(dir, "wrong-cert.sqlite"), reconnectPeriodMs: 0 }),
    ).rejects.toThrow(/refused/);
  });
});
