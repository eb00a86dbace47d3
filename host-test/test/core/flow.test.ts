// The flow: click → attempt → outcome (on-demand unless a test says otherwise), on the harness button.
import { describe, expect, it } from "vitest";
import { defaultConfig } from "../../../modules/core/config";
import { OrderFlow } from "../../../modules/core/flow";
import { encodeAck, utf8Encode, type OrderMessage } from "../../../modules/core/index";
import { FakeConnector, FakeTimers, MemoryLog, MemoryStore } from "./fakes";
import { ACKS, FakeRestaurant, SEQ0, T0, THING, nth, recordIn, seqIn, setup } from "./flow-harness";
import { acksOf } from "../support/topics";

describe("OrderFlow on-demand: happy paths", () => {
  it("SINGLE: order persisted before sending, published, acked → ok; connection closed after the ack", () => {
    const t = setup();
    t.flow.start();
    expect(t.connector.connections).toHaveLength(0); // on-demand: nothing at boot

    // At the moment of publishing, seq and the pending order must already be durable.
    const atPublish: unknown[] = [];
    const restaurantPublish = t.connector.onPublish!;
    t.connector.onPublish = (c, topic, payload) => {
      atPublish.push(seqIn(t.store), recordIn(t.store)?.pending);
      restaurantPublish(c, topic, payload);
    };

    const outcome = t.click("SINGLE");
    const order: OrderMessage = {
      serialNumber: THING,
      clickType: "SINGLE",
      batteryVoltage: "3012mV",
      v: 1,
      orderId: nth(1),
      seq: SEQ0,
      action: "order",
      item: "margherita",
    };
    expect(t.restaurant.received).toEqual([order]);
    expect(atPublish[0]).toBe(String(SEQ0));
    expect(atPublish[1]).toEqual({ message: order, createdAt: T0 });
    // One atomic write per change of state: seq + pending at the click, lastAccepted + no pending at the ack.
    expect(t.store.writes.map(([k]) => k)).toEqual(["record", "record"]);
    expect(outcome).toEqual({
      type: "outcome",
      at: T0 + 25,
      clickType: "SINGLE",
      orderId: nth(1),
      outcome: "ok",
      pressToAckMs: 25,
      publishToAckMs: 5,
      ack: { v: 1, orderId: nth(1), status: "accepted", etaMin: 25 },
      attempts: 1,
      resent: false,
      trigger: "click",
    });
    expect(t.states()).toEqual(["connecting", "awaiting-ack", "idle"]);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.connector.connections[0]!.subscribe).toBe(ACKS);
    expect(t.connector.connections[0]!.closedByCore).toBe(true);
    expect(t.pending()).toBeUndefined();
    expect(recordIn(t.store)?.lastAccepted).toBe(nth(1));
    expect(t.patterns).toEqual(["working", "ok", "off"]);
    expect(t.flow.state).toBe("idle");
    expect(t.timers.pendingCount).toBe(0);
  });

  it("DOUBLE orders the alternative item with the next seq", () => {
    const t = setup();
    t.click("SINGLE");
    const outcome = t.click("DOUBLE");
    expect(outcome).toMatchObject({ clickType: "DOUBLE", orderId: nth(2), outcome: "ok" });
    expect(t.restaurant.received[1]).toMatchObject({ clickType: "DOUBLE", seq: SEQ0 + 1, action: "order", item: "pepperoni" });
    expect(seqIn(t.store)).toBe(String(SEQ0 + 1));
  });

  it("LONG cancels the last accepted order → cancelled, and it cannot be cancelled twice", () => {
    const t = setup();
    t.click("SINGLE");
    const outcome = t.click("LONG");
    expect(t.restaurant.received[1]).toEqual({
      serialNumber: THING,
      clickType: "LONG",
      batteryVoltage: "3012mV",
      v: 1,
      orderId: nth(2),
      seq: SEQ0 + 1,
      action: "cancel",
      cancels: nth(1),
    });
    expect(outcome).toMatchObject({ clickType: "LONG", orderId: nth(2), outcome: "cancelled", attempts: 1 });
    expect(t.patterns.slice(-2)).toEqual(["cancelled", "off"]);
    expect((recordIn(t.store)?.lastAccepted !== undefined)).toBe(false);
    expect(t.click("LONG")).toMatchObject({ outcome: "nothing-to-cancel", orderId: undefined });
    expect(t.connector.connections).toHaveLength(2);
  });

  it("LONG refused by the restaurant → cancel-refused, rejected pattern, last accepted kept", () => {
    const t = setup();
    t.click("SINGLE");
    t.restaurant.decide = () => "cancel-refused";
    expect(t.click("LONG")).toMatchObject({ outcome: "cancel-refused" });
    expect(t.patterns.slice(-2)).toEqual(["rejected", "off"]);
    expect(recordIn(t.store)?.lastAccepted).toBe(nth(1));
    expect(t.pending()).toBeUndefined();
  });

  it("LONG with nothing to cancel: no network, no seq, rejected pattern", () => {
    const t = setup();
    expect(t.click("LONG")).toEqual({
      type: "outcome",
      at: T0,
      clickType: "LONG",
      orderId: undefined,
      outcome: "nothing-to-cancel",
      attempts: 0,
      resent: false,
      trigger: "click",
    });
    expect(t.connector.connections).toHaveLength(0);
    expect((seqIn(t.store) !== undefined)).toBe(false);
    expect(t.patterns).toEqual(["rejected", "off"]);
  });

  it("a rejected order ends it (no longer pending, nothing to cancel)", () => {
    const t = setup();
    t.restaurant.decide = () => "rejected";
    expect(t.click("SINGLE")).toMatchObject({ outcome: "rejected", ack: { status: "rejected" } });
    expect(t.pending()).toBeUndefined();
    expect((recordIn(t.store)?.lastAccepted !== undefined)).toBe(false);
    expect(t.patterns.slice(-2)).toEqual(["rejected", "off"]);
    expect(t.click("SINGLE")).toMatchObject({ orderId: nth(2) }); // a fresh order, not a resend
  });

  it("an ack status of the wrong kind still ends the message, mapped conservatively", () => {
    const t = setup();
    t.restaurant.decide = () => "cancelled";
    expect(t.click("SINGLE")).toMatchObject({ outcome: "rejected" });
    expect(t.log.has(/ack status cancelled for an order/)).toBe(true);
  });

  it("omits batteryVoltage when not measurable, or when the host returns junk", () => {
    for (const bv of [() => undefined, () => "", () => "x".repeat(100), () => "3\n0", () => { throw new Error("adc"); }]) {
      const t = setup({ batteryVoltage: bv as () => string | undefined });
      expect(t.click("SINGLE")).toMatchObject({ outcome: "ok" });
      expect(t.restaurant.received[0]).not.toHaveProperty("batteryVoltage");
    }
  });
});

describe("OrderFlow: retries, give-up and resends", () => {
  it("ack timeout → retry after a jittered backoff with the SAME orderId → ok", () => {
    const t = setup();
    t.restaurant.publishBehaviour = "silent";
    t.flow.click("SINGLE");
    t.timers.advance(20 + 10_000 - 1);
    expect(t.flow.state).toBe("awaiting-ack");
    t.restaurant.publishBehaviour = "ack";
    t.timers.advance(1); // ack timeout
    expect(t.flow.state).toBe("retry-wait");
    expect(t.connector.connections[0]!.closedByCore).toBe(true);
    expect(t.retries()).toEqual([{ type: "retry", at: T0 + 10_020, orderId: nth(1), attempt: 2, delayMs: 1500, why: "timeout" }]);
    t.timers.advance(60_000);
    expect(t.lastOutcome()).toMatchObject({
      outcome: "ok",
      orderId: nth(1),
      attempts: 2,
      pressToAckMs: 10_020 + 1500 + 25,
      publishToAckMs: 5,
    });
    expect(t.restaurant.received.map((m) => m.orderId)).toEqual([nth(1), nth(1)]);
    const [first, second] = t.connector.allPublished;
    expect(second!.payload).toEqual(first!.payload); // byte-identical resend
    expect(t.connector.connections).toHaveLength(2);
    expect(seqIn(t.store)).toBe(String(SEQ0));
  });

  it("connection refused → retry → ok", () => {
    const t = setup();
    t.restaurant.connectBehaviour = "refuse";
    t.flow.click("SINGLE");
    t.timers.advance(20);
    expect(t.retries()).toMatchObject([{ why: "network", delayMs: 1500 }]);
    t.restaurant.connectBehaviour = "ready";
    t.timers.advance(60_000);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", attempts: 2 });
  });

  it("a connect that hangs times out after ackTimeoutMs and is retried on a fresh connection", () => {
    const t = setup();
    t.restaurant.connectBehaviour = "hang";
    t.flow.click("SINGLE");
    t.timers.advance(10_000);
    expect(t.log.has(/connect timeout/)).toBe(true);
    expect(t.connector.connections[0]!.closedByCore).toBe(true);
    t.restaurant.connectBehaviour = "ready";
    t.timers.advance(60_000);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", attempts: 2 });
  });

  it("backoff delays stay within the jitter window [base, base·2^(n+1)); give-up at giveUpMs → failed, order still pending", () => {
    let r = 0;
    const randoms = [0.999, 0.0, 0.5, 0.25, 0.75, 0.999, 0.1, 0.9];
    const t = setup({ random: () => randoms[r++ % randoms.length]! });
    t.restaurant.publishBehaviour = "silent";
    t.flow.click("SINGLE");
    t.timers.advance(120_000 - 1);
    expect(t.lastOutcome()).toBeUndefined();
    t.timers.advance(1);
    const outcome = t.lastOutcome();
    expect(outcome).toMatchObject({ outcome: "failed", orderId: nth(1), at: T0 + 120_000 });
    expect(outcome).not.toHaveProperty("pressToAckMs");
    const delays = t.retries().map((e) => e.delayMs);
    expect(delays.length).toBeGreaterThanOrEqual(5);
    delays.forEach((d, i) => {
      const ceiling = Math.min(30_000, 1000 * 2 ** (i + 1));
      expect(d).toBeGreaterThanOrEqual(1000); // never under backoffBaseMs
      expect(d).toBeLessThan(ceiling);
      expect(d).toBe(Math.floor(1000 + randoms[i % randoms.length]! * (ceiling - 1000)));
    });
    // Give-up lands either during an attempt or while waiting for the next one.
    expect([delays.length, delays.length + 1]).toContain(outcome!.attempts);
    expect(t.connector.connections.length).toBe(outcome!.attempts);
    expect(t.pending()?.message.orderId).toBe(nth(1));
    expect(t.patterns.slice(-2)).toEqual(["working", "failed"]);
    expect(t.connector.openConnections).toHaveLength(0);
    expect(new Set(t.restaurant.received.map((m) => m.orderId))).toEqual(new Set([nth(1)]));
    t.timers.advance(600_000);
    expect(t.patterns.slice(-2)).toEqual(["failed", "off"]);
    expect(t.connector.connections.length).toBe(outcome!.attempts); // nothing more after giving up
    expect(t.timers.pendingCount).toBe(0);
  });

  it("the next click after 'failed' resends the pending order with the same orderId", () => {
    const t = setup();
    t.restaurant.publishBehaviour = "silent";
    t.click("SINGLE", 130_000);
    expect(t.lastOutcome()!.outcome).toBe("failed");
    t.restaurant.publishBehaviour = "ack";
    const outcome = t.click("DOUBLE"); // a different click type still resends THE pending order
    expect(outcome).toMatchObject({ outcome: "ok", orderId: nth(1), clickType: "DOUBLE", resent: true, attempts: 1 });
    expect(t.restaurant.received.at(-1)).toMatchObject({ orderId: nth(1), clickType: "SINGLE", item: "margherita" });
    expect(seqIn(t.store)).toBe(String(SEQ0));
    expect(t.pending()).toBeUndefined();
    expect(t.restaurant.acks.size).toBe(1); // one pizza
  });

  it("boot: a pending order left by a previous run is resent by start() with the same orderId", () => {
    const store = new MemoryStore();
    const before = setup({ store });
    before.restaurant.connectBehaviour = "refuse";
    before.flow.click("SINGLE");
    before.timers.advance(5_000);
    before.flow.stop(); // power loss while retrying
    expect(before.flow.state).toBe("stopped");
    expect(before.timers.pendingCount).toBe(0);

    const after = setup({ store, start: T0 + 60_000 });
    after.flow.start();
    after.timers.advance(1_000);
    expect(after.lastOutcome()).toMatchObject({
      outcome: "ok",
      orderId: nth(1),
      clickType: "SINGLE",
      trigger: "boot",
      resent: true,
      pressToAckMs: 25,
    });
    expect(after.click("SINGLE")).toMatchObject({ orderId: nth(2), resent: false });
  });

  it("pending expiry: an order older than pendingExpiryMs is dropped, the click makes a new one", () => {
    const t = setup({ config: { pendingExpiryMs: 60_000 } });
    t.restaurant.publishBehaviour = "silent";
    t.click("SINGLE", 130_000); // failed, pending since T0
    t.restaurant.publishBehaviour = "ack";
    expect(t.click("SINGLE")).toMatchObject({ orderId: nth(2), resent: false, outcome: "ok" });
    expect(t.log.has(new RegExp(`pending ${nth(1)} expired`))).toBe(true);
    expect(t.restaurant.received.filter((m) => m.orderId === nth(1)).length).toBeGreaterThan(0);
    expect(t.pending()).toBeUndefined();
  });

  it("pending not yet expired at exactly pendingExpiryMs: resent", () => {
    const store = new MemoryStore();
    const before = setup({ store });
    before.restaurant.connectBehaviour = "refuse";
    before.flow.click("SINGLE");
    before.flow.stop();
    const after = setup({ store, start: T0 + defaultConfig.pendingExpiryMs });
    after.flow.start();
    after.timers.advance(1000);
    expect(after.lastOutcome()).toMatchObject({ orderId: nth(1), trigger: "boot" });
  });

  it("boot with an expired pending order: dropped, nothing sent", () => {
    const store = new MemoryStore();
    const before = setup({ store });
    before.restaurant.connectBehaviour = "refuse";
    before.flow.click("SINGLE");
    before.flow.stop();
    const after = setup({ store, start: T0 + defaultConfig.pendingExpiryMs + 1 });
    after.flow.start();
    after.timers.advance(60_000);
    expect(after.connector.connections).toHaveLength(0);
    expect(after.pending()).toBeUndefined();
    expect(after.outcomes()).toHaveLength(0);
  });

  it("LONG while an order is pending cancels THAT order; the order is never resent afterwards", () => {
    const t = setup();
    t.restaurant.publishBehaviour = "silent";
    t.click("SINGLE", 130_000); // failed: the first order pending (maybe received, ack lost)
    t.restaurant.publishBehaviour = "ack";
    expect(t.click("LONG")).toMatchObject({ outcome: "cancelled", orderId: nth(2), resent: false });
    expect(t.restaurant.received.at(-1)).toMatchObject({ action: "cancel", cancels: nth(1) });
    expect(t.pending()).toBeUndefined();
    expect(t.click("SINGLE")).toMatchObject({ orderId: nth(3), resent: false });
  });

  it("a pending cancel is resent by the next click, whatever its type", () => {
    const t = setup();
    t.click("SINGLE");
    t.restaurant.publishBehaviour = "silent";
    t.click("LONG", 130_000);
    expect(t.lastOutcome()!.outcome).toBe("failed");
    t.restaurant.publishBehaviour = "ack";
    expect(t.click("SINGLE")).toMatchObject({ outcome: "cancelled", orderId: nth(2), resent: true });
  });
});

describe("OrderFlow: busy, stray messages, auth", () => {
  it.each([
    ["connecting", 10],
    ["awaiting-ack", 22],
  ])("a click while %s is busy: blip, no new message, the first one completes", (state, atMs) => {
    const t = setup();
    t.restaurant.ackMs = 50;
    t.flow.click("SINGLE");
    t.timers.advance(atMs);
    expect(t.flow.state).toBe(state);
    t.flow.click("DOUBLE");
    expect(t.lastOutcome()).toEqual({
      type: "outcome",
      at: T0 + atMs,
      clickType: "DOUBLE",
      orderId: undefined,
      outcome: "busy",
      attempts: 0,
      resent: false,
      trigger: "click",
    });
    expect(t.patterns).toEqual(["working", "busy"]);
    t.timers.advance(60_000);
    expect(t.outcomes().map((o) => o.outcome)).toEqual(["busy", "ok"]);
    expect(t.connector.connections).toHaveLength(1);
    expect(seqIn(t.store)).toBe(String(SEQ0));
  });

  it("a click while waiting to retry is busy too", () => {
    const t = setup();
    t.restaurant.connectBehaviour = "refuse";
    t.flow.click("SINGLE");
    t.timers.advance(21);
    expect(t.flow.state).toBe("retry-wait");
    t.flow.click("SINGLE");
    expect(t.lastOutcome()!.outcome).toBe("busy");
  });

  it("ignores acks for other orders, malformed acks and other topics, then takes the right ack", () => {
    const t = setup();
    t.restaurant.publishBehaviour = "silent";
    t.flow.click("SINGLE");
    t.timers.advance(20);
    const c = t.connector.last!;
    c.deliver(ACKS, encodeAck({ v: 1, orderId: `${THING}-99`, status: "accepted" }));
    c.deliver(ACKS, encodeAck({ v: 1, orderId: `other-thing-1`, status: "accepted" }));
    c.deliver(ACKS, utf8Encode(`{"v":1,"orderId":"${nth(1)}","status":"maybe"}`));
    c.deliver(ACKS, utf8Encode("not json"));
    c.deliver(ACKS, new Uint8Array(600));
    c.deliver(acksOf("someone-else"), encodeAck({ v: 1, orderId: nth(1), status: "accepted" }));
    expect(t.flow.state).toBe("awaiting-ack");
    expect(t.outcomes()).toHaveLength(0);
    const ignored = t.events.filter((e) => e.type === "ignored").map((e) => (e as { reason: string }).reason);
    expect(ignored).toEqual([
      "ack for pizza-button-01-99, not the pending message",
      "ack for other-thing-1, not the pending message",
      "malformed ack: unknown status",
      "malformed ack: malformed JSON",
      "malformed ack: too large: 600 bytes > 512",
      `message on unexpected topic ${acksOf("someone-else")}`,
    ]);
    expect(t.log.lines.filter((l) => l.startsWith("warn: ignored")).length).toBe(6);
    c.deliver(ACKS, encodeAck({ v: 1, orderId: nth(1), status: "accepted" }));
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", pressToAckMs: 20 });
  });

  it("auth failure (certificate rejected): auth-error at once, no retry loop, order stays pending", () => {
    const t = setup();
    t.restaurant.connectBehaviour = "auth";
    const outcome = t.click("SINGLE", 600_000);
    expect(outcome).toMatchObject({ outcome: "auth-error", attempts: 1, orderId: nth(1) });
    expect(t.connector.connections).toHaveLength(1);
    expect(t.retries()).toHaveLength(0);
    expect(t.patterns).toEqual(["working", "auth-error", "off"]);
    expect(t.pending()?.message.orderId).toBe(nth(1));
    expect(t.log.has(/not authorized: certificate rejected/)).toBe(true);
  });

  it("peer closing right after each publish (AWS IoT on an unauthorized publish) → auth-error after 3", () => {
    const t = setup();
    t.restaurant.publishBehaviour = "drop";
    const outcome = t.click("SINGLE", 600_000);
    expect(outcome).toMatchObject({ outcome: "auth-error", attempts: 3 });
    expect(t.restaurant.received.map((m) => m.orderId)).toEqual(Array(3).fill(nth(1)));
    expect(t.retries().map((r) => r.why)).toEqual(["network", "network"]);
    expect(t.pending()?.message.orderId).toBe(nth(1));
    expect(t.connector.connections).toHaveLength(3);
  });

  it("the threshold counts consecutive closes only: an ack timeout in between resets it", () => {
    const t = setup({ config: { giveUpMs: 600_000 } });
    const plan: ("drop" | "silent" | "ack")[] = ["drop", "drop", "silent", "drop", "drop", "ack"];
    let n = 0;
    const restaurantPublish = t.connector.onPublish!;
    t.connector.onPublish = (c, topic, payload) => {
      t.restaurant.publishBehaviour = plan[n++]!;
      restaurantPublish(c, topic, payload);
    };
    expect(t.click("SINGLE", 600_000)).toMatchObject({ outcome: "ok", attempts: 6 });
  });

  it("connection failures before any publish never count as auth: they end in 'failed'", () => {
    const t = setup();
    t.restaurant.connectBehaviour = "refuse";
    expect(t.click("SINGLE", 200_000)).toMatchObject({ outcome: "failed" });
  });

  it("a custom authCloseThreshold is honoured", () => {
    const timers = new FakeTimers(T0);
    const connector = new FakeConnector();
    const restaurant = new FakeRestaurant(timers, connector);
    restaurant.publishBehaviour = "drop";
    const outcomes: string[] = [];
    const flow = new OrderFlow({
      config: { ...defaultConfig, thingName: THING },
      timers,
      clock: timers,
      store: new MemoryStore(),
      connector,
      log: new MemoryLog(),
      authCloseThreshold: 1,
      onEvent: (e) => e.type === "outcome" && outcomes.push(e.outcome),
    });
    flow.click("SINGLE");
    timers.advance(100_000);
    expect(outcomes).toEqual(["auth-error"]);
    expect(restaurant.received).toHaveLength(1);
  });
});

describe("OrderFlow robustness", () => {
  it("stop() closes the connection, clears timers, switches the LED off; clicks after stop do nothing", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(100);
    t.restaurant.publishBehaviour = "silent"; // so that only the flow's own timers could be left
    t.flow.click("SINGLE");
    t.flow.stop();
    expect(t.connector.last!.closedByCore).toBe(true);
    expect(t.timers.pendingCount).toBe(0);
    expect(t.led.on).toBe(false);
    t.flow.click("SINGLE");
    t.timers.advance(60_000);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.pending()?.message.orderId).toBe(nth(1)); // survives for the next boot
  });

  it("a connector that throws is a network failure (one retry scheduled, not two)", () => {
    const t = setup();
    const connect = t.connector.connect.bind(t.connector);
    let calls = 0;
    t.connector.connect = (req, handlers) => {
      if (calls++ === 0) throw new Error("no wifi");
      return connect(req, handlers);
    };
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok", attempts: 2 });
    expect(t.retries()).toHaveLength(1);
  });

  it("a connector reporting ready or close synchronously inside connect() is handled", () => {
    const t = setup();
    t.connector.onConnect = (c) => c.ready();
    const restaurantPublish = t.connector.onPublish!;
    t.connector.onPublish = restaurantPublish;
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok", attempts: 1 });

    const u = setup();
    let first = true;
    const orig = u.connector.onConnect!;
    u.connector.onConnect = (c) => {
      if (first) {
        first = false;
        c.drop("network", "sync refuse");
      } else orig(c);
    };
    expect(u.click("SINGLE")).toMatchObject({ outcome: "ok", attempts: 2 });
    expect(u.retries()).toHaveLength(1);
  });

  it("an observer that throws does not break the flow", () => {
    const timers = new FakeTimers(T0);
    const connector = new FakeConnector();
    new FakeRestaurant(timers, connector);
    const log = new MemoryLog();
    const store = new MemoryStore();
    const flow = new OrderFlow({
      config: { ...defaultConfig, thingName: THING },
      timers,
      clock: timers,
      store,
      connector,
      log,
      onEvent: () => {
        throw new Error("observer bug");
      },
    });
    flow.click("SINGLE");
    timers.advance(1000);
    expect(recordIn(store)?.lastAccepted).toBe(nth(1));
    expect(log.has(/onEvent handler threw/)).toBe(true);
  });

  it("refuses at construction a config whose item cannot fit in 512 bytes, or a bad thing name", () => {
    expect(() => setup({ config: { items: { SINGLE: "x".repeat(400), DOUBLE: "y" } } })).toThrow(/too large/);
    expect(() => setup({ config: { thingName: "bad/thing" } })).toThrow(/invalid thing name/);
  });
});
