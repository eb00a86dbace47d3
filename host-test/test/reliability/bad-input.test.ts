// Bad input to the restaurant and to the device, on both brokers. Raw payloads come from a client the
// broker allows on the topic: the device's own certificate for its own orders topic (→ restaurant), the
// restaurant's certificate for a device's acks topic (→ device). Each bad message must be refused with a
// logged reason, crash nothing, create no order and lose none: a good message right after it still works
// and the database holds exactly the good rows.
import path from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeButton, type TestButton } from "../support/button";
import { startKitchen, type Kitchen } from "../support/kitchen";
import { ackJson, closedOf, collect, connectClient, orderJson, waitFor, type Received } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { BROKER_KINDS, startTestBroker, type BrokerKind, type TestBroker } from "../support/test-brokers";
import { ALL_ORDERS, acksOf, ordersOf } from "../support/topics";

const A = "pizza-button-01";
const B = "pizza-button-02";
const ORDERS_A = ordersOf(A);
const ACKS_A = acksOf(A);
const HUGE = Buffer.alloc(256 * 1024, 0x7b); // 256 KiB: over both brokers' 64 KiB packet limit

let pki: SecurityPki;
const id: Record<string, Credentials> = {};

beforeAll(async () => {
  pki = await createSecurityPki("bad-input");
  id.a = await pki.thing(A);
  id.b = await pki.thing(B);
  id.restaurant = await pki.thing("restaurant");
});

afterAll(() => pki?.remove());

/** [what, payload, reason the restaurant logs] — everything a device's certificate can put on its topic. */
const BAD_ORDERS: Array<[string, string | Buffer, RegExp]> = [
  ["malformed JSON", '{"serialNumber":"pizza-button-01",', /malformed JSON/],
  ["non-UTF-8 bytes", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), /not valid UTF-8/],
  ["invalid UTF-8 inside a string (overlong encoding)", Buffer.concat([Buffer.from('{"v":1,"item":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), /not valid UTF-8/],
  ["oversized (600 bytes > 512)", orderJson(A, 101, { item: "x".repeat(600) }), /too large: \d+ bytes > 512/],
  ["empty payload", "", /empty payload/],
  ["a JSON array", "[1,2,3]", /not a JSON object/],
  ["JSON null", "null", /not a JSON object/],
  ["wrong v (2)", orderJson(A, 102, { v: 2 }), /unsupported version/],
  ["v as a string", orderJson(A, 103, { v: "1" }), /unsupported version/],
  ["missing v", JSON.stringify({ serialNumber: A, clickType: "SINGLE", orderId: `${A}-104`, seq: 104, action: "order", item: "margherita" }), /missing v/],
  ["missing clickType", JSON.stringify({ serialNumber: A, v: 1, orderId: `${A}-105`, seq: 105, action: "order", item: "margherita" }), /missing clickType/],
  ["missing item", JSON.stringify({ serialNumber: A, clickType: "SINGLE", v: 1, orderId: `${A}-106`, seq: 106, action: "order" }), /missing item/],
  ["seq as a string", orderJson(A, 107, { seq: "107" }), /seq must be a number/],
  ["negative seq", orderJson(A, 108, { seq: -1, orderId: `${A}--1` }), /seq must be a non-negative integer/],
  ["item as a number", orderJson(A, 109, { item: 42 }), /item must be a string/],
  ["item with control characters", orderJson(A, 110, { item: "marg\u0000herita" }), /control characters/],
  ["unknown clickType", orderJson(A, 111, { clickType: "TRIPLE" }), /unknown clickType/],
  ["unknown action", orderJson(A, 112, { action: "refund" }), /unknown action/],
  ["orderId that is not serialNumber-seq", orderJson(A, 113, { orderId: `${A}-999` }), /orderId does not match serialNumber-seq/],
  ["serialNumber claiming another thing", orderJson(B, 114), /serialNumber "pizza-button-02" does not match the topic's thing/],
];

describe.each(BROKER_KINDS)("%s broker", (kind: BrokerKind) => {
  let broker: TestBroker;
  const clients: MqttClient[] = [];
  const kitchens: Kitchen[] = [];
  const buttons: TestButton[] = [];
  let seq = 1_000;

  beforeAll(async () => {
    broker = await startTestBroker(kind, pki);
  });
  afterAll(async () => {
    await broker?.close();
  });
  afterEach(async () => {
    await Promise.all(buttons.splice(0).map((b) => b.device.stop()));
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await Promise.all(kitchens.splice(0).map((k) => k.close()));
  });

  async function client(credentials: Credentials, clientId: string): Promise<MqttClient> {
    const c = await connectClient(broker.url, { credentials, clientId });
    clients.push(c);
    return c;
  }

  async function kitchen(dbPath = path.join(pki.dir, `${kind}-orders-${++seq}.sqlite`)): Promise<Kitchen> {
    const k = await startKitchen({ url: broker.url, credentials: id.restaurant!, dbPath });
    kitchens.push(k);
    return k;
  }

  /** Device A as a raw client: publishes on its own orders topic, listens on its own acks topic. */
  async function rawDevice(): Promise<{ device: MqttClient; acks: Received[] }> {
    const device = await client(id.a!, A);
    await device.subscribeAsync(ACKS_A, { qos: 1 });
    return { device, acks: collect(device) };
  }

  describe("to the restaurant", () => {
    let k: Kitchen;
    let device: MqttClient;
    let acks: Received[];

    beforeAll(async () => {
      // One restaurant and one device connection for the whole table: it must survive all of it.
      k = await startKitchen({ url: broker.url, credentials: id.restaurant!, dbPath: path.join(pki.dir, `${kind}-table.sqlite`) });
      device = await connectClient(broker.url, { credentials: id.a!, clientId: A });
      await device.subscribeAsync(ACKS_A, { qos: 1 });
      acks = collect(device);
    });
    afterAll(async () => {
      await device?.endAsync(true);
      await k?.close();
    });

    it.each(BAD_ORDERS)("%s: refused with a logged reason, no row, no ack; the next good order works", async (_what, payload, reason) => {
      const refusedFrom = k.events.filter((e) => e.type === "input-refused").length;
      const rowsBefore = (await k.restaurant.orders()).length;
      const acksBefore = acks.length;
      await device.publishAsync(ORDERS_A, payload, { qos: 1 });
      const good = ++seq;
      await device.publishAsync(ORDERS_A, orderJson(A, good), { qos: 1 });
      await waitFor(() => acks.length > acksBefore, "the ack of the good order after the bad one");

      const refused = k.events.filter((e) => e.type === "input-refused").slice(refusedFrom);
      const newAcks = acks.slice(acksBefore).map((m) => JSON.parse(m.text) as unknown);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({ type: "input-refused", topic: ORDERS_A });
      expect((refused[0] as { reason: string }).reason).toMatch(reason);
      expect(k.log.lines.some((l) => l.level === "warn" && l.message.startsWith(`refused message on "${ORDERS_A}"`) && reason.test(l.message))).toBe(true);
      expect(newAcks).toEqual([{ v: 1, orderId: `${A}-${good}`, status: "accepted", etaMin: 25 }]);
      expect((await k.restaurant.orders()).length).toBe(rowsBefore + 1);
      expect((await k.restaurant.order(`${A}-${good}`))).toMatchObject({ thing: A, status: "accepted" });
    });

    it("a well-formed cancel of another thing's order is answered cancel-refused and cancels nothing", async () => {
      const acksBefore = acks.length;
      const cancel = ++seq;
      await device.publishAsync(
        ORDERS_A,
        JSON.stringify({ serialNumber: A, clickType: "LONG", v: 1, orderId: `${A}-${cancel}`, seq: cancel, action: "cancel", cancels: `${B}-1` }),
        { qos: 1 },
      );
      await waitFor(() => acks.length === acksBefore + 1, "the cancel's ack");
      expect(JSON.parse(acks[acksBefore]!.text)).toEqual({ v: 1, orderId: `${A}-${cancel}`, status: "cancel-refused", reason: `unknown order ${B}-1` });
      expect((await k.restaurant.orders()).filter((r) => r.cancelledBy !== null)).toEqual([]);
    });

    it("a replayed order gets the original ack again and creates no second row, even with other content", async () => {
      const replay = ++seq;
      const acksBefore = acks.length;
      await device.publishAsync(ORDERS_A, orderJson(A, replay), { qos: 1 });
      await waitFor(() => acks.length === acksBefore + 1, "the first ack");
      await device.publishAsync(ORDERS_A, orderJson(A, replay), { qos: 1 });
      await device.publishAsync(ORDERS_A, orderJson(A, replay, { item: "pepperoni", clickType: "DOUBLE" }), { qos: 1 });
      await waitFor(() => acks.length === acksBefore + 3, "the repeated acks");
      const texts = acks.slice(acksBefore).map((m) => m.text);
      expect(new Set(texts).size).toBe(1); // byte-identical: the stored ack
      expect((await k.restaurant.orders()).filter((r) => r.orderId === `${A}-${replay}`)).toEqual([
        expect.objectContaining({ item: "margherita", clickType: "SINGLE", status: "accepted" }),
      ]);
      expect(k.log.lines.some((l) => l.message.includes(`${A}-${replay} from ${A} repeats an orderId with different content; original kept`))).toBe(true);
    });
  });

  it("a replayed order after a restaurant restart gets the original ack, still one row", async () => {
    const { device, acks } = await rawDevice();
    const dbPath = path.join(pki.dir, `${kind}-replay-restart.sqlite`);
    const first = await kitchen(dbPath);
    await device.publishAsync(ORDERS_A, orderJson(A, 7), { qos: 1 });
    await waitFor(() => acks.length === 1, "the ack");
    await waitFor(async () => (await first.restaurant.order(`${A}-7`))?.ackedAt != null, "the ack confirmed");
    await first.close();
    kitchens.splice(kitchens.indexOf(first), 1);
    const second = await kitchen(dbPath);
    await device.publishAsync(ORDERS_A, orderJson(A, 7), { qos: 1 });
    await waitFor(() => acks.length === 2, "the replayed ack");
    expect(acks[1]!.text).toBe(acks[0]!.text);
    expect((await second.restaurant.orders())).toHaveLength(1);
  });

  it("a 256 KiB publish is refused by the broker (sender disconnected): the restaurant never sees it", async () => {
    const k = await kitchen();
    const { device } = await rawDevice();
    const closed = closedOf(device);
    const logFrom = broker.mosquitto?.mark() ?? 0;
    device.publish(ORDERS_A, HUGE, { qos: 1 });
    await closed;
    if (kind === "embedded") {
      expect(broker.events.some((e) => e.event === "packet-too-large" && e.clientId === A)).toBe(true);
    } else {
      await broker.mosquitto!.waitForLog(new RegExp(`Client ${A} disconnected`), logFrom);
    }
    // The restaurant is still there and serving; the oversized message left no trace.
    const again = await rawDevice();
    await again.device.publishAsync(ORDERS_A, orderJson(A, 1), { qos: 1 });
    await waitFor(() => again.acks.length === 1, "the ack of a good order");
    expect((await k.restaurant.orders()).map((r) => r.orderId)).toEqual([`${A}-1`]);
    expect(k.events.filter((e) => e.type === "input-refused")).toEqual([]);
  });

  describe("to the device", () => {
    /** A restaurant stand-in (the restaurant's certificate) that answers the first order with `bad`, then the real ack. */
    async function answering(bad: Array<string | Buffer>) {
      const fake = await client(id.restaurant!, "restaurant");
      await fake.subscribeAsync(ALL_ORDERS, { qos: 1 });
      fake.on("message", (_topic, payload) => {
        const order = JSON.parse(payload.toString()) as { orderId: string };
        void (async () => {
          for (const ack of bad) await fake.publishAsync(ACKS_A, ack, { qos: 1 });
          await fake.publishAsync(ACKS_A, ackJson(order.orderId), { qos: 1 });
        })();
      });
      return fake;
    }

    function pressButton(): TestButton {
      const b = makeButton({ thingName: A, credentials: id.a!, broker: { host: broker.host, port: broker.port }, dir: pki.dir });
      buttons.push(b);
      b.device.start();
      return b;
    }

    const BAD_ACKS: Array<[string, string | Buffer, RegExp]> = [
      ["malformed JSON", '{"v":1,"orderId":', /malformed ack: malformed JSON/],
      ["non-UTF-8 bytes", Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), /malformed ack: not valid UTF-8/],
      ["oversized (600 bytes > 512)", ackJson(`${A}-1`, { reason: "r".repeat(600) }), /malformed ack: too large/],
      ["empty payload", "", /malformed ack: empty payload/],
      ["wrong v", ackJson(`${A}-1`, { v: 2 }), /malformed ack: unsupported version/],
      ["missing status", JSON.stringify({ v: 1, orderId: `${A}-1` }), /malformed ack: missing status/],
      ["unknown status", ackJson(`${A}-1`, { status: "maybe" }), /malformed ack: unknown status/],
      ["etaMin as a string", ackJson(`${A}-1`, { etaMin: "25" }), /malformed ack: etaMin must be a number/],
      ["orderId that is not thing-seq", ackJson("garbage"), /malformed ack: orderId is not thing-seq/],
      ["an unknown orderId of this device", ackJson(`${A}-999`), /ack for pizza-button-01-999, not the pending message/],
      ["an ack for another device's order", ackJson(`${B}-1`), /ack for pizza-button-02-1, not the pending message/],
    ];

    it("ignores every bad ack with a logged reason while it waits; the real ack still ends the order", async () => {
      await answering(BAD_ACKS.map(([, payload]) => payload));
      const b = pressButton();
      const outcome = await b.device.click("SINGLE");
      expect(outcome).toMatchObject({ outcome: "ok", orderId: expect.stringMatching(new RegExp(`^${A}-\\d+$`)), attempts: 1 }); // seq seeded from the clock
      const ignored = b.events.filter((e): e is { type: "ignored"; reason: string } => e.type === "ignored").map((e) => e.reason);
      expect(ignored).toHaveLength(BAD_ACKS.length);
      BAD_ACKS.forEach(([, , reason], i) => expect(ignored[i]).toMatch(reason));
      const warnings = b.log.lines.filter((l) => l.level === "warn" && l.message.startsWith("ignored: "));
      expect(warnings).toHaveLength(BAD_ACKS.length);
      expect(b.leds).toEqual(["working", "ok"]);
      expect(b.device.flow.pendingOrderId).toBeUndefined();
    });

    it("a 256 KiB ack never reaches the device (the broker disconnects the sender); the real ack does", async () => {
      const fake = await client(id.restaurant!, "restaurant");
      await fake.subscribeAsync(ALL_ORDERS, { qos: 1 });
      const orders = collect(fake);
      const b = pressButton();
      const result = b.device.click("SINGLE");
      await waitFor(() => orders.length === 1, "the order at the stand-in restaurant");
      const closed = closedOf(fake);
      fake.publish(ACKS_A, HUGE, { qos: 1 });
      await closed;
      const again = await client(id.restaurant!, "restaurant");
      const orderId = (JSON.parse(orders[0]!.text) as { orderId: string }).orderId;
      await again.publishAsync(ACKS_A, ackJson(orderId), { qos: 1 });
      expect(await result).toMatchObject({ outcome: "ok", orderId });
      expect(b.events.filter((e) => e.type === "ignored")).toEqual([]);
      expect(b.leds).toEqual(["working", "ok"]);
    });
  });
});
