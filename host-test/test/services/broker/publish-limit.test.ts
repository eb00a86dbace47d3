// The embedded broker's per-connection publish limit: the limiter alone (a clock the test moves), then over
// the real broker and TLS, where one client publishing as fast as it can is slowed down while another
// client's publish goes through at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrokerEvent, RunningBroker } from "../../../../services/broker/broker";
import { PublishLimiter } from "../../../../services/broker/publish-limit";
import { collectMessages, connectRaw, credentialsOf, devPki, removeDir, startTestBroker, tempDir, waitFor } from "../../integration/fixtures";
import type { DevPki } from "../../../../tools/pki/dev";
import { ALL_ORDERS, ordersOf } from "../../support/topics";

describe("PublishLimiter", () => {
  it("lets a burst through, then spaces a connection's publishes at the rate; exempt ids and other connections are not held", () => {
    const clock = { now: 0 };
    const limiter = new PublishLimiter({ burst: 3, perSecond: 10, exempt: ["restaurant"] }, () => clock.now);
    const flooder = {};
    const waits = Array.from({ length: 6 }, () => limiter.delay(flooder, "pizza-button-01"));
    expect(waits.map((w) => w.waitMs)).toEqual([0, 0, 0, 100, 200, 300]);
    expect(waits.map((w) => w.started)).toEqual([false, false, false, true, false, false]);
    expect(limiter.delay({}, "pizza-button-02")).toEqual({ waitMs: 0, started: false });
    const restaurant = {};
    for (let i = 0; i < 100; i++) expect(limiter.delay(restaurant, "restaurant").waitMs).toBe(0);
    clock.now += 10_000; // refilled: the burst is available again, and a new episode is reported again
    expect(limiter.delay(flooder, "pizza-button-01").waitMs).toBe(0);
  });

  it("refuses a limit that makes no sense", () => {
    expect(() => new PublishLimiter({ burst: 0, perSecond: 1, exempt: [] })).toThrow(/burst/);
    expect(() => new PublishLimiter({ burst: 1, perSecond: 0, exempt: [] })).toThrow(/perSecond/);
  });
});

describe("embedded broker: one connection cannot monopolise it", () => {
  let dir: string;
  let dev: DevPki;
  let broker: RunningBroker;
  const events: BrokerEvent[] = [];

  beforeAll(async () => {
    dir = tempDir("publish-limit");
    dev = await devPki(dir);
    broker = await startTestBroker(dev, { events });
  });
  afterAll(async () => {
    await broker?.close();
    removeDir(dir);
  });

  it("holds a flooding client's publishes back while another client's publish is delivered at once", async () => {
    const other = await dev.pki.createThing("pizza-button-02", { keyType: "ec" });
    const restaurant = await connectRaw(broker.url, "restaurant", credentialsOf(dev.restaurant));
    const flooder = await connectRaw(broker.url, dev.device.name, credentialsOf(dev.device));
    const calm = await connectRaw(broker.url, "pizza-button-02", credentialsOf(other));
    try {
      await restaurant.subscribeAsync(ALL_ORDERS, { qos: 1 });
      const received = collectMessages(restaurant);
      const FLOOD = 200;
      const flood = Array.from({ length: FLOOD }, (_, i) => flooder.publishAsync(ordersOf(dev.device.name), `flood ${i}`, { qos: 1 }));
      for (const publish of flood) publish.catch(() => undefined); // the rest is cut off when the test ends it
      await waitFor(() => events.some((e) => e.event === "publish-throttled" && e.clientId === dev.device.name), "the flooder to be throttled");
      await calm.publishAsync(ordersOf("pizza-button-02"), "one order", { qos: 1 });
      await waitFor(() => received.some((m) => m.text === "one order"), "the calm client's message");
      const floodSeen = received.filter((m) => m.text.startsWith("flood ")).length;
      console.log(JSON.stringify({ publishLimit: "calm client delivered", floodDeliveredBefore: floodSeen, flood: FLOOD }));
      // The default limit (burst 20, 10/s) lets only a fraction of the flood through in that time.
      expect(floodSeen).toBeLessThan(FLOOD);
      // Slowed, not cut off: the flood keeps arriving at the limited rate, on the same connection.
      const floodCount = () => received.filter((m) => m.text.startsWith("flood ")).length;
      await waitFor(() => floodCount() >= floodSeen + 5, "more of the flood, at the limited rate");
      expect(received.filter((m) => m.text.startsWith("flood ")).map((m) => m.text)).toEqual(Array.from({ length: floodCount() }, (_, i) => `flood ${i}`));
      expect(events.filter((e) => e.event === "publish-throttled")).toHaveLength(1);
    } finally {
      await Promise.all([restaurant.endAsync(true), calm.endAsync(true), flooder.endAsync(true)]);
    }
  });
});
