import { describe, expect, it } from "vitest";
import { defaultConfig, type ButtonConfig, type ClickType } from "../../../modules/core/config";
import { OrderFlow, STORE_KEYS, type FlowEvent } from "../../../modules/core/flow";
import { LedPlayer } from "../../../modules/core/led";
import { decodeOrder, encodeAck, utf8Encode, type AckMessage, type OrderMessage } from "../../../modules/core/index";
import { FakeConnection, FakeConnector, FakeTimers, MemoryLog, MemoryStore, RecordingLed } from "./fakes";

const THING = "pizza-button-01";
const ORDERS = `pizza/orders/${THING}`;
const ACKS = `pizza/acks/${THING}`;
const T0 = 1_700_000_000_000; // virtual wall clock at the start of every test
/** A fresh store's first seq: the wall clock in seconds at the first click (every test clicks first at T0). */
const SEQ0 = Math.floor(T0 / 1000);
/** The orderId of the n-th message a fresh device makes (n = 1, 2, …). */
const nth = (n: number) => `${THING}-${SEQ0 + n - 1}`;

type Outcome = Extract<FlowEvent, { type: "outcome" }>;

/** The broker + restaurant side, played over the fake connector with fixed latencies. */
class FakeRestaurant {
  connectMs = 20;
  ackMs = 5;
  connectBehaviour: "ready" | "auth" | "refuse" | "hang" = "ready";
  publishBehaviour: "ack" | "silent" | "drop" = "ack";
  decide: (m: OrderMessage) => AckMessage["status"] = (m) => (m.action === "order" ? "accepted" : "cancelled");
  readonly received: OrderMessage[] = [];
  readonly acks = new Map<string, AckMessage>();
  readonly connectTimes: number[] = [];

  constructor(timers: FakeTimers, connector: FakeConnector) {
    connector.onConnect = (c) => {
      this.connectTimes.push(timers.now());
      const behaviour = this.connectBehaviour;
      if (behaviour === "hang") return;
      timers.set(() => {
        if (behaviour === "ready") c.ready();
        else if (behaviour === "auth") c.drop("auth", "certificate rejected");
        else c.drop("network", "ECONNREFUSED");
      }, this.connectMs);
    };
    connector.onPublish = (c, topic, payload) => {
      expect(topic).toBe(ORDERS);
      const decoded = decodeOrder(payload);
      if (!decoded.ok) throw new Error(`device sent an invalid order: ${decoded.reason}`);
      this.received.push(decoded.value);
      if (this.publishBehaviour === "drop") {
        timers.set(() => c.drop("network", "peer closed"), 1);
        return;
      }
      if (this.publishBehaviour === "silent") return;
      // Idempotent like the real restaurant: a repeated orderId gets the original ack.
      const m = decoded.value;
      let ack = this.acks.get(m.orderId);
      if (!ack) {
        const status = this.decide(m);
        ack = { v: 1, orderId: m.orderId, status, ...(status === "accepted" ? { etaMin: 25 } : {}) };
        this.acks.set(m.orderId, ack);
      }
      const bytes = encodeAck(ack);
      timers.set(() => c.deliver(ACKS, bytes), this.ackMs);
    };
  }
}

function setup(
  options: {
    mode?: ButtonConfig["connectionMode"];
    config?: Partial<ButtonConfig>;
    store?: MemoryStore;
    random?: () => number;
    start?: number;
    batteryVoltage?: () => string | undefined;
  } = {},
) {
  const timers = new FakeTimers(options.start ?? T0);
  const store = options.store ?? new MemoryStore();
  const log = new MemoryLog();
  const led = new RecordingLed(timers);
  const patterns: string[] = [];
  const player = new LedPlayer({ led, timers, onPattern: (n) => patterns.push(n) });
  const connector = new FakeConnector();
  const restaurant = new FakeRestaurant(timers, connector);
  const events: (FlowEvent & { at: number })[] = [];
  const config: ButtonConfig = {
    ...defaultConfig,
    thingName: THING,
    connectionMode: options.mode ?? "on-demand",
    ...options.config,
  };
  const flow = new OrderFlow({
    config,
    timers,
    clock: timers,
    led: player,
    store,
    connector,
    log,
    random: options.random ?? (() => 0.5),
    batteryVoltage: options.batteryVoltage ?? (() => "3012mV"),
    onEvent: (e) => events.push({ ...e, at: timers.now() }),
  });
  const outcomes = () => events.filter((e): e is Outcome & { at: number } => e.type === "outcome");
  const lastOutcome = () => outcomes()[outcomes().length - 1];
  const states = () => events.filter((e) => e.type === "state").map((e) => (e as { state: string }).state);
  const retries = () => events.filter((e) => e.type === "retry") as Extract<FlowEvent, { type: "retry" }>[];
  const pending = () => {
    const raw = store.data.get(STORE_KEYS.pending);
    return raw === undefined ? undefined : (JSON.parse(raw) as { message: OrderMessage; createdAt: number });
  };
  /** Click, then let virtual time run. */
  const click = (type: ClickType, runMs = 60_000) => {
    flow.click(type);
    timers.advance(runMs);
    return lastOutcome();
  };
  return { timers, store, log, led, player, patterns, connector, restaurant, events, flow, config, outcomes, lastOutcome, states, retries, pending, click };
}

describe("OrderFlow on-demand: happy paths", () => {
  it("SINGLE: order persisted before sending, published, acked → ok; connection closed after the ack", () => {
    const t = setup();
    t.flow.start();
    expect(t.connector.connections).toHaveLength(0); // on-demand: nothing at boot

    // At the moment of publishing, seq and the pending order must already be durable.
    const atPublish: (string | undefined)[] = [];
    const restaurantPublish = t.connector.onPublish!;
    t.connector.onPublish = (c, topic, payload) => {
      atPublish.push(t.store.data.get("seq"), t.store.data.get("pending"));
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
    expect(JSON.parse(atPublish[1]!)).toEqual({ message: order, createdAt: T0 });
    expect(t.store.writes.map(([k]) => k).slice(0, 2)).toEqual(["seq", "pending"]); // seq first
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
    expect(t.store.data.get("lastAccepted")).toBe(nth(1));
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
    expect(t.store.data.get("seq")).toBe(String(SEQ0 + 1));
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
    expect(t.store.data.has("lastAccepted")).toBe(false);
    expect(t.click("LONG")).toMatchObject({ outcome: "nothing-to-cancel", orderId: undefined });
    expect(t.connector.connections).toHaveLength(2);
  });

  it("LONG refused by the restaurant → cancel-refused, rejected pattern, last accepted kept", () => {
    const t = setup();
    t.click("SINGLE");
    t.restaurant.decide = () => "cancel-refused";
    expect(t.click("LONG")).toMatchObject({ outcome: "cancel-refused" });
    expect(t.patterns.slice(-2)).toEqual(["rejected", "off"]);
    expect(t.store.data.get("lastAccepted")).toBe(nth(1));
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
    expect(t.store.data.has("seq")).toBe(false);
    expect(t.patterns).toEqual(["rejected", "off"]);
  });

  it("a rejected order ends it (no longer pending, nothing to cancel)", () => {
    const t = setup();
    t.restaurant.decide = () => "rejected";
    expect(t.click("SINGLE")).toMatchObject({ outcome: "rejected", ack: { status: "rejected" } });
    expect(t.pending()).toBeUndefined();
    expect(t.store.data.has("lastAccepted")).toBe(false);
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
    expect(t.store.data.get("seq")).toBe(String(SEQ0));
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
    expect(t.store.data.get("seq")).toBe(String(SEQ0));
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
    expect(t.store.data.get("seq")).toBe(String(SEQ0));
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
    c.deliver("pizza/acks/someone-else", encodeAck({ v: 1, orderId: nth(1), status: "accepted" }));
    expect(t.flow.state).toBe("awaiting-ack");
    expect(t.outcomes()).toHaveLength(0);
    const ignored = t.events.filter((e) => e.type === "ignored").map((e) => (e as { reason: string }).reason);
    expect(ignored).toEqual([
      "ack for pizza-button-01-99, not the pending message",
      "ack for other-thing-1, not the pending message",
      "malformed ack: unknown status",
      "malformed ack: malformed JSON",
      "malformed ack: too large: 600 bytes > 512",
      "message on unexpected topic pizza/acks/someone-else",
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
      led: new RecordingLed(timers), // a bare Led: the flow makes its own player
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

describe("OrderFlow persistent mode", () => {
  it("connects at start, publishes clicks on the live link, stays connected", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(100);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.events.filter((e) => e.type === "connection").map((e) => (e as { phase: string }).phase)).toEqual([
      "connecting",
      "ready",
    ]);
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok", pressToAckMs: 5, attempts: 1 });
    expect(t.click("DOUBLE")).toMatchObject({ outcome: "ok", pressToAckMs: 5 });
    expect(t.states()).toEqual(["awaiting-ack", "idle", "awaiting-ack", "idle"]);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.connector.last!.open).toBe(true);
  });

  it("reconnects with growing, jittered backoff while the broker is down; no storm", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(100);
    t.restaurant.connectBehaviour = "refuse";
    t.connector.last!.drop("network", "broker restarted");
    t.timers.advance(60_000);
    const gaps = t.restaurant.connectTimes.slice(1).map((at, i, all) => at - (i === 0 ? T0 + 100 : all[i - 1]! + 20));
    expect(gaps).toEqual([1500, 2500, 4500, 8500, 15500, 15500]); // base + half of each window (random 0.5)
    expect(t.connector.connections.length).toBeLessThanOrEqual(9);
    // Broker back: the link comes up at the next attempt and clicks work.
    t.restaurant.connectBehaviour = "ready";
    t.timers.advance(20_000);
    expect(t.connector.openConnections).toHaveLength(1);
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok" });
  });

  it("a link that flaps (ready, then dropped at once) keeps backing off; a stable one earns a reset", () => {
    const t = setup({ mode: "persistent" });
    let flapping = true;
    const restaurantConnect = t.connector.onConnect!;
    t.connector.onConnect = (c: FakeConnection) => {
      restaurantConnect(c); // ready after 20 ms
      if (flapping) t.timers.set(() => c.drop("network", "flap"), 21);
    };
    t.flow.start();
    t.timers.advance(40_000);
    const gaps = t.restaurant.connectTimes.slice(1).map((at, i) => at - (t.restaurant.connectTimes[i]! + 21));
    expect(gaps).toEqual([1500, 2500, 4500, 8500, 15500]);
    // Stop flapping: the link stays up for longer than the backoff cap; the next drop starts over.
    flapping = false;
    t.timers.advance(60_000);
    expect(t.connector.openConnections).toHaveLength(1);
    const dropAt = t.timers.now();
    t.connector.last!.drop();
    t.timers.advance(10_000);
    expect(t.restaurant.connectTimes.at(-1)! - dropAt).toBe(1500);
  });

  it("a click while the link is down connects and publishes", () => {
    const t = setup({ mode: "persistent" });
    t.restaurant.connectBehaviour = "refuse";
    t.flow.start();
    t.timers.advance(100);
    t.restaurant.connectBehaviour = "ready";
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok", pressToAckMs: 25 });
    expect(t.connector.last!.open).toBe(true);
  });

  it("a click while the link is still connecting waits for it and publishes on it", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(5);
    t.flow.click("SINGLE");
    expect(t.flow.state).toBe("connecting");
    t.timers.advance(1000);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", attempts: 1, pressToAckMs: 20 });
    expect(t.connector.connections).toHaveLength(1);
  });

  it("a slow ack arriving while waiting to retry still completes the message", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(100);
    t.restaurant.ackMs = 10_200;
    t.flow.click("SINGLE");
    t.timers.advance(10_100);
    expect(t.flow.state).toBe("retry-wait");
    t.timers.advance(200);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", attempts: 1, pressToAckMs: 10_200 });
    t.timers.advance(60_000);
    expect(t.connector.last!.published).toHaveLength(1); // the scheduled retry was cancelled
  });

  it("an ack timeout republishes on the same live link", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(100);
    t.restaurant.publishBehaviour = "silent";
    t.flow.click("SINGLE");
    t.timers.advance(10_000);
    t.restaurant.publishBehaviour = "ack";
    t.timers.advance(60_000);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", attempts: 2 });
    expect(t.connector.connections).toHaveLength(1);
    expect(t.connector.connections[0]!.published).toHaveLength(2);
  });

  it("the link dropping while awaiting the ack: the message reconnects and resends", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(100);
    t.restaurant.publishBehaviour = "silent";
    t.flow.click("SINGLE");
    t.connector.last!.drop("network", "wifi lost");
    t.restaurant.publishBehaviour = "ack";
    t.timers.advance(60_000);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", attempts: 2, orderId: nth(1) });
    expect(t.connector.connections).toHaveLength(2);
  });

  it("auth failure of the link at start: auth-error LED, no reconnect loop; a click tries again", () => {
    const t = setup({ mode: "persistent" });
    t.restaurant.connectBehaviour = "auth";
    t.flow.start();
    t.timers.advance(600_000);
    expect(t.connector.connections).toHaveLength(1);
    expect(t.patterns).toEqual(["auth-error", "off"]);
    t.restaurant.connectBehaviour = "ready";
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok" });
    t.connector.last!.drop();
    t.timers.advance(10_000);
    expect(t.connector.connections).toHaveLength(3); // reconnecting again once authorized
  });

  it("a late ack for a message given up on still settles it", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(100);
    t.restaurant.publishBehaviour = "silent";
    t.click("SINGLE", 130_000);
    expect(t.lastOutcome()!.outcome).toBe("failed");
    t.connector.last!.deliver(ACKS, encodeAck({ v: 1, orderId: nth(1), status: "accepted" }));
    expect(t.events.at(-1)).toMatchObject({ type: "late-ack", orderId: nth(1), status: "accepted" });
    expect(t.pending()).toBeUndefined();
    expect(t.store.data.get("lastAccepted")).toBe(nth(1));
  });

  it("a boot resend in persistent mode keeps the link afterwards", () => {
    const store = new MemoryStore();
    const before = setup({ store });
    before.restaurant.connectBehaviour = "refuse";
    before.flow.click("SINGLE");
    before.flow.stop();
    const t = setup({ store, mode: "persistent" });
    t.flow.start();
    t.timers.advance(1000);
    expect(t.lastOutcome()).toMatchObject({ outcome: "ok", trigger: "boot" });
    expect(t.connector.connections).toHaveLength(1);
    expect(t.connector.last!.open).toBe(true);
  });
});

describe("OrderFlow: seq seeded from the wall clock (no orderId reuse after a flash erase)", () => {
  const seqOf = (orderId: string | undefined) => Number(/-(\d+)$/.exec(orderId ?? "")![1]);

  it("a fresh store starts at the wall clock in seconds, not at 1", () => {
    const start = T0 + 123_456; // mid-second: floor, not round
    const t = setup({ start });
    const outcome = t.click("SINGLE");
    expect(outcome).toMatchObject({ outcome: "ok", orderId: `${THING}-${Math.floor(start / 1000)}` });
    expect(t.restaurant.received[0]).toMatchObject({ seq: SEQ0 + 123 });
    expect(t.store.data.get("seq")).toBe(String(SEQ0 + 123));
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
    ["one second before 2020", Date.UTC(2020, 0, 1) - 1_000],
  ])("clock unset (%s): no order is created, outcome failed, reason logged", (_name, start) => {
    const t = setup({ start });
    const outcome = t.click("SINGLE");
    expect(outcome).toMatchObject({ outcome: "failed", clickType: "SINGLE", orderId: undefined, attempts: 0, resent: false });
    expect(t.log.has(/cannot create SINGLE message: wall clock not set/)).toBe(true);
    expect(t.connector.connections).toHaveLength(0);
    expect(t.store.data.has("seq")).toBe(false);
    expect(t.pending()).toBeUndefined();
    expect(t.patterns).toEqual(["failed", "off"]);

    t.timers.jump(T0 - t.timers.now()); // SNTP sets the clock: the next click orders
    expect(t.click("SINGLE")).toMatchObject({ outcome: "ok", orderId: nth(1) });
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

  it("an unreadable pending record is dropped with an error; an unreadable seq never restarts low", () => {
    const store = new MemoryStore();
    store.data.set("pending", "{garbage");
    store.data.set("seq", "banana");
    const t = setup({ store });
    t.flow.start();
    const outcome = t.click("SINGLE");
    expect(t.log.has(/unreadable pending message dropped/)).toBe(true);
    expect(t.log.has(new RegExp(`stored seq unreadable \\("banana"\\): continuing from ${SEQ0 + 1}`))).toBe(true);
    expect(outcome).toMatchObject({ outcome: "ok", orderId: `${THING}-${SEQ0 + 1}` }); // one above the clock's seconds
    expect(t.store.data.get("seq")).toBe(String(SEQ0 + 1));
  });

  it("a seq corrupted right after an order, within the same second: the recovered seq is still above it", () => {
    const t = setup();
    const first = t.click("SINGLE", 100);
    t.store.data.set("seq", "\u0000\u0000"); // flash corruption
    const second = t.click("DOUBLE", 100);
    expect(Math.floor(t.timers.now() / 1000)).toBe(SEQ0); // both clicks in the second that seeded seq
    expect(first).toMatchObject({ outcome: "ok", orderId: nth(1) });
    expect(second).toMatchObject({ outcome: "ok", orderId: nth(2), resent: false });
    expect(t.restaurant.acks.size).toBe(2); // two orders, not the first one's ack again
  });

  it("a pending record that fails validation is dropped", () => {
    const store = new MemoryStore();
    store.data.set("pending", JSON.stringify({ message: { serialNumber: THING, v: 1, orderId: "x", seq: 1 }, createdAt: T0 }));
    const t = setup({ store });
    t.flow.start();
    t.timers.advance(1000);
    expect(t.connector.connections).toHaveLength(0);
    expect(t.store.data.has("pending")).toBe(false);
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
      led: new RecordingLed(timers),
      store,
      connector,
      log,
      onEvent: () => {
        throw new Error("observer bug");
      },
    });
    flow.click("SINGLE");
    timers.advance(1000);
    expect(store.data.get("lastAccepted")).toBe(nth(1));
    expect(log.has(/onEvent handler threw/)).toBe(true);
  });

  it("refuses at construction a config whose item cannot fit in 512 bytes, or a bad thing name", () => {
    expect(() => setup({ config: { items: { SINGLE: "x".repeat(400), DOUBLE: "y" } } })).toThrow(/too large/);
    expect(() => setup({ config: { thingName: "bad/thing" } })).toThrow(/invalid thing name/);
  });

  it("every store key fits the 15-character NVS limit", () => {
    for (const key of Object.values(STORE_KEYS)) expect(key.length).toBeLessThanOrEqual(15);
  });
});
