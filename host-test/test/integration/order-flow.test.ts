// The whole order flow over real TLS on loopback: embedded broker, restaurant with SQLite, and a virtual
// button running the core (classifier, flow, LED player) on the Node adapters. Small timings keep it fast.
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningBroker } from "../../../services/broker/broker";
import { defaultConfig, type ButtonConfig } from "../../../modules/core/config";
import type { FlowEvent } from "../../../modules/core/flow";
import { memoryLog } from "../../device/log";
import { VirtualDevice } from "../../device/virtual-device";
import { startRestaurant, type Restaurant } from "../../../services/restaurant/restaurant";
import type { DevPki } from "../../../tools/pki/dev";
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
} from "./fixtures";
import type { BrokerEvent } from "../../../services/broker/broker";
import { acksOf, ordersOf } from "../support/topics";

const THING = "pizza-button-01";

let dir: string;
let dev: DevPki;
let broker: RunningBroker;
const brokerEvents: BrokerEvent[] = [];
let deviceCreds: Credentials;
let restaurantCreds: Credentials;
let n = 0;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  dir = tempDir("flow");
  dev = await devPki(dir);
  broker = await startTestBroker(dev, { events: brokerEvents });
  deviceCreds = credentialsOf(dev.device);
  restaurantCreds = credentialsOf(dev.restaurant);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await broker?.close();
  removeDir(dir);
});

function config(overrides: Partial<ButtonConfig> = {}): ButtonConfig {
  return {
    ...defaultConfig,
    thingName: THING,
    ackTimeoutMs: 1_500,
    backoffBaseMs: 100,
    backoffCapMs: 400,
    giveUpMs: 5_000,
    ...overrides,
  };
}

function device(options: { config?: Partial<ButtonConfig>; credentials?: Credentials; storePath?: string } = {}) {
  const events: FlowEvent[] = [];
  const log = memoryLog();
  const button = new VirtualDevice({
    config: config(options.config),
    broker: { host: broker.host, port: broker.port },
    credentials: options.credentials ?? deviceCreds,
    storePath: options.storePath ?? path.join(dir, `device-${++n}.json`),
    log,
    onEvent: (event) => events.push(event),
  });
  cleanups.push(() => button.stop());
  return { button, events, log };
}

async function restaurant(dbPath = path.join(dir, `orders-${++n}.sqlite`)): Promise<Restaurant> {
  const r = await startRestaurant({ brokerUrl: broker.url, ...restaurantCreds, dbPath });
  cleanups.push(() => r.close());
  return r;
}

describe("order flow over TLS", () => {
  it("SINGLE and DOUBLE order, LONG cancels the last accepted order (gestures through the click classifier)", async () => {
    const kitchen = await restaurant();
    const { button } = device();
    button.start();

    const single = await button.press("SINGLE");
    expect(single).toMatchObject({ clickType: "SINGLE", outcome: "ok", resent: false, ack: { status: "accepted" } });
    const double = await button.press("DOUBLE");
    expect(double).toMatchObject({ clickType: "DOUBLE", outcome: "ok", ack: { status: "accepted" } });
    const long = await button.press("LONG");
    expect(long).toMatchObject({ clickType: "LONG", outcome: "cancelled", ack: { status: "cancelled" } });

    const rows = (await kitchen.orders());
    expect(rows.map((r) => [r.orderId, r.action, r.item, r.status])).toEqual([
      [single.orderId, "order", "margherita", "accepted"],
      [double.orderId, "order", "pepperoni", "accepted"],
      [long.orderId, "cancel", null, "cancelled"],
    ]);
    expect((await kitchen.order(double.orderId!))!.cancelledBy).toBe(long.orderId);
    expect((await kitchen.order(single.orderId!))!.cancelledBy).toBeNull();
    expect(button.flow.pendingOrderId).toBeUndefined();
    expect(button.led.pattern).toBe("cancelled");
  });

  it("persistent mode: one connection serves several clicks", async () => {
    await restaurant();
    const { button, events } = device({ config: { connectionMode: "persistent" } });
    button.start();
    await waitFor(() => events.some((e) => e.type === "connection" && e.phase === "ready"), "the link");
    expect((await button.click("SINGLE")).outcome).toBe("ok");
    expect((await button.click("DOUBLE")).outcome).toBe("ok");
    expect(button.connector.connectionCount).toBe(1);
  });

  it("ack timeout → retry → ok when the restaurant starts late; one order in SQLite", async () => {
    const dbPath = path.join(dir, "late.sqlite");
    const { button, events } = device();
    button.start();
    let late: Promise<Restaurant> | undefined;
    const result = button.click("SINGLE");
    // The first publish goes to a broker with no restaurant subscribed: it is lost, no ack comes. (It is
    // handed over at the click and leaves with CONNECT: wait until the broker has taken it.)
    const publishesBefore = broker.stats.publishes;
    await waitFor(() => events.some((e) => e.type === "publish") && broker.stats.publishes > publishesBefore, "the first publish at the broker");
    late = restaurant(dbPath);
    const outcome = await result;
    const kitchen = await late;
    expect(outcome.outcome).toBe("ok");
    expect(outcome.attempts).toBeGreaterThan(1);
    expect(events.some((e) => e.type === "retry" && e.why === "timeout")).toBe(true);
    expect((await kitchen.orders()).map((o) => o.orderId)).toEqual([outcome.orderId]);
  });

  it("restaurant down → failed, order still pending; the next click resends it (same orderId) → exactly one order", async () => {
    const { button, events } = device({ config: { ackTimeoutMs: 800, giveUpMs: 3_000 } });
    button.start();
    const failed = await button.click("SINGLE");
    expect(failed.outcome).toBe("failed");
    expect(button.led.pattern).toBe("failed");
    expect(button.flow.pendingOrderId).toBe(failed.orderId);
    const publishes = events.filter((e) => e.type === "publish" && e.orderId === failed.orderId).length;
    expect(publishes).toBeGreaterThan(1);

    const kitchen = await restaurant();
    const resent = await button.click("DOUBLE"); // any click resends the pending order
    expect(resent).toMatchObject({ outcome: "ok", orderId: failed.orderId, resent: true });
    expect(button.flow.pendingOrderId).toBeUndefined();
    const rows = (await kitchen.orders());
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ orderId: failed.orderId, item: "margherita", status: "accepted" });
  });

  it("a pending order survives a device restart and is resent at boot with its orderId", async () => {
    const storePath = path.join(dir, "power-cycle.json");
    const first = device({ storePath, config: { ackTimeoutMs: 500, giveUpMs: 1_200 } });
    first.button.start();
    const failed = await first.button.click("SINGLE");
    expect(failed.outcome).toBe("failed");
    await first.button.stop();

    const kitchen = await restaurant();
    const second = device({ storePath });
    second.button.start(); // boot resend
    await waitFor(() => second.events.some((e) => e.type === "outcome" && e.trigger === "boot"), "the boot resend");
    expect(second.events.find((e) => e.type === "outcome")).toMatchObject({ outcome: "ok", orderId: failed.orderId, trigger: "boot" });
    expect((await kitchen.orders()).map((o) => o.orderId)).toEqual([failed.orderId]);
    // The next order gets the next seq, never a reused orderId.
    const next = await second.button.click("SINGLE");
    expect(next.orderId).not.toBe(failed.orderId);
    expect((await kitchen.orders())).toHaveLength(2);
  });

  it("a wiped device store (flash erase) numbers new orders above the old ones: new pizzas, not old acks", async () => {
    const storePath = path.join(dir, "erased.json");
    const seqOf = (orderId: string | undefined) => Number(/-(\d+)$/.exec(orderId ?? "")![1]);
    const kitchen = await restaurant();
    const first = device({ storePath });
    first.button.start();
    const before = [await first.button.click("SINGLE"), await first.button.click("DOUBLE")];
    expect(before.map((o) => o.outcome)).toEqual(["ok", "ok"]);
    await first.button.stop();

    fs.rmSync(storePath); // the erase: the device forgets its seq; the restaurant keeps its orders
    const lastSeq = Math.max(...before.map((o) => seqOf(o.orderId)));
    // A real erase and reflash take far longer than a second: let the wall clock's seconds pass the old seqs.
    await waitFor(() => Math.floor(Date.now() / 1000) > lastSeq, "the wall clock to pass the old seqs");
    const second = device({ storePath });
    second.button.start();
    const after = await second.button.click("SINGLE");
    expect(after).toMatchObject({ outcome: "ok", resent: false, ack: { status: "accepted" } });
    expect(seqOf(after.orderId)).toBeGreaterThan(lastSeq);
    // A third row: the restaurant took it as a new order instead of answering an old orderId's ack.
    expect((await kitchen.orders()).map((o) => o.orderId)).toEqual([...before.map((o) => o.orderId), after.orderId]);
  });
});

describe("identity and authorization", () => {
  it("a device certificate from an untrusted CA → auth-error, without a retry loop", async () => {
    const strangerDir = tempDir("stranger");
    cleanups.push(async () => removeDir(strangerDir));
    const stranger = await devPki(strangerDir); // another installation: same thing name, other CA
    const { button, events } = device({ credentials: { ...credentialsOf(stranger.device), ca: deviceCreds.ca } });
    button.start();
    const outcome = await button.click("SINGLE");
    expect(outcome).toMatchObject({ outcome: "auth-error", attempts: 1 });
    expect(button.led.pattern).toBe("auth-error");
    expect(events.filter((e) => e.type === "retry")).toHaveLength(0);
    const closed = events.find((e) => e.type === "connection" && e.phase === "closed");
    expect(closed).toMatchObject({ kind: "auth" });
  });

  it("a broker certificate the device does not trust → auth-error", async () => {
    const otherDir = tempDir("other-ca");
    cleanups.push(async () => removeDir(otherDir));
    const other = await devPki(otherDir);
    const { button, events } = device({ credentials: { ...deviceCreds, ca: credentialsOf(other.device).ca } });
    button.start();
    expect((await button.click("SINGLE")).outcome).toBe("auth-error");
    const closed = events.find((e) => e.type === "connection" && e.phase === "closed") as { detail: string };
    expect(closed.detail).toMatch(/certificate/);
  });

  it("a certificate used under another thing's name (client id ≠ CN) → auth-error", async () => {
    const { button } = device({ config: { thingName: "pizza-button-99" } });
    button.start();
    expect((await button.click("SINGLE")).outcome).toBe("auth-error");
  });

  it("a device publishing to another thing's orders topic is disconnected, and nothing is ordered", async () => {
    const kitchen = await restaurant();
    const client = await connectRaw(broker.url, THING, deviceCreds);
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    const payload = JSON.stringify({
      serialNumber: "pizza-button-02",
      clickType: "SINGLE",
      v: 1,
      orderId: "pizza-button-02-1",
      seq: 1,
      action: "order",
      item: "margherita",
    });
    client.publish(ordersOf("pizza-button-02"), payload, { qos: 1 });
    await closed;
    await client.endAsync(true);
    expect(brokerEvents.some((e) => e.event === "publish-denied" && e.clientId === THING)).toBe(true);
    expect((await kitchen.orders())).toHaveLength(0);
  });

  it("a device subscribing to another thing's acks gets SUBACK failure and is disconnected", async () => {
    const client = await connectRaw(broker.url, THING, deviceCreds);
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    try {
      await client.subscribeAsync(acksOf(THING), { qos: 1 }); // its own: fine
      // The broker answers with SUBACK 128 (failure); mqtt.js turns that into a "Subscribe error".
      await expect(client.subscribeAsync(acksOf("pizza-button-02"), { qos: 1 })).rejects.toThrow(/Subscribe error/);
      await closed;
    } finally {
      await client.endAsync(true);
    }
    expect(brokerEvents.some((e) => e.event === "subscribe-denied" && e.clientId === THING)).toBe(true);
  });
});
