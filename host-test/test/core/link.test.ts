// The link through the flow: a persistent connection's lifetime (connect at start, publish on the live link,
// reconnect with backoff, refusal), and the link's timers.
import { describe, expect, it } from "vitest";
import { encodeAck } from "../../../modules/core/index";
import { Backoff } from "../../../modules/core/backoff";
import { Link, type LinkEvent } from "../../../modules/core/link";
import { FakeConnection, FakeConnector, FakeTimers, MemoryLog, MemoryStore } from "./fakes";
import { ACKS, T0, nth, recordIn, setup } from "./flow-harness";
import { ordersOf } from "../support/topics";

describe("Link: persistent mode", () => {
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
    expect(recordIn(t.store)?.lastAccepted).toBe(nth(1));
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

describe("Link: closes reported inside the transport's own calls", () => {
  it("the flow's retries never connect from inside a transport callback; a peer that closes under every publish ends in auth-error", () => {
    const t = setup();
    let insideTransport = 0;
    let connectsInsideTransport = 0;
    const connect = t.connector.connect.bind(t.connector);
    t.connector.connect = (request, handlers) => {
      if (insideTransport > 0) connectsInsideTransport++;
      return connect(request, handlers);
    };
    t.connector.onPublish = (c) => {
      insideTransport++;
      c.drop("network", "peer closed"); // synchronously, inside the core's publish
      insideTransport--;
    };
    t.flow.click("SINGLE");
    t.timers.advance(60_000);
    expect(connectsInsideTransport).toBe(0);
    expect(t.connector.connections).toHaveLength(3);
    expect(t.lastOutcome()).toMatchObject({ outcome: "auth-error", attempts: 3 });
    expect(t.events.filter((e) => e.type === "retry").map((e) => (e as { why: string }).why)).toEqual(["network", "network"]);
  });
});

describe("Link on its own", () => {
  function setupLink(mode: "on-demand" | "persistent") {
    const timers = new FakeTimers(T0);
    const connector = new FakeConnector();
    const log = new MemoryLog();
    const events: LinkEvent[] = [];
    const closes: string[] = [];
    const link = new Link({
      mode,
      connector,
      subscribe: ACKS,
      timers,
      clock: timers,
      log,
      connectTimeoutMs: 10_000,
      backoff: new Backoff({ baseMs: 1_000, capMs: 30_000, random: () => 0.5 }),
      stableAfterMs: 30_000,
      emit: (e) => events.push(e),
      handlers: { onReady: () => {}, onMessage: () => {}, onClose: (kind) => closes.push(kind) },
    });
    return { timers, connector, log, events, closes, link };
  }

  it("an idle link that never connects: connect timeout, then backoff delays from Backoff; one link timer at a time", () => {
    const { timers, connector, link } = setupLink("persistent"); // the fake broker never answers
    link.start();
    for (let i = 0; i < 8; i++) {
      expect(timers.pendingCount).toBe(1);
      timers.advance(timers.requested.at(-1)!); // to the running timer's deadline
    }
    // connect timeout (10 s) alternates with the reconnect wait: 1500, 2500, 4500, 8500 (base + half the window at 0.5)
    expect(timers.requested.slice(0, 8)).toEqual([10_000, 1_500, 10_000, 2_500, 10_000, 4_500, 10_000, 8_500]);
    expect(connector.connections.length).toBe(5);
    expect(connector.connections.slice(0, -1).every((c) => c.closedByCore)).toBe(true);
  });

  it("while a message holds the link, its closes go to the flow and the link sets no timer of its own", () => {
    const { timers, connector, closes, link } = setupLink("persistent");
    link.take();
    link.connect();
    connector.last!.drop("network", "reset");
    timers.advance(0); // the close is handled from a 0 ms timer, out of the transport's callback
    expect(closes).toEqual(["network"]);
    expect(timers.pendingCount).toBe(0);
  });

  it("suspend(): the idle persistent link goes down and stays down (no reconnect timer) until resume() or a message", () => {
    const { timers, connector, link } = setupLink("persistent");
    link.start();
    connector.last!.ready();
    expect(link.suspend()).toBe(true);
    expect(connector.last!.closedByCore).toBe(true);
    expect(timers.pendingCount).toBe(0);
    timers.advance(120_000);
    expect(connector.connections).toHaveLength(1);
    link.resume();
    expect(connector.connections).toHaveLength(2);
    expect(connector.last!.subscribe).toBe(ACKS);
    link.resume(); // not suspended any more: nothing
    expect(connector.connections).toHaveLength(2);

    // A message ends a suspension: the flow drives; after it the idle link keeps itself up again.
    connector.last!.ready();
    expect(link.suspend()).toBe(true);
    link.take();
    link.connect();
    expect(connector.connections).toHaveLength(3);
    link.release(false);
    link.idle();
    connector.last!.drop("network", "reset");
    timers.advance(0);
    timers.advance(10_000);
    expect(connector.connections).toHaveLength(4);
  });

  it("suspend() refuses while a message holds the link, in on-demand mode, and once the link was refused", () => {
    const held = setupLink("persistent");
    held.link.take();
    expect(held.link.suspend()).toBe(false);
    expect(setupLink("on-demand").link.suspend()).toBe(false);
    const refused = setupLink("persistent");
    refused.link.start();
    refused.connector.last!.drop("auth", "bad certificate");
    refused.timers.advance(0);
    expect(refused.link.suspend()).toBe(false);
    refused.link.resume();
    expect(refused.connector.connections).toHaveLength(1);
  });

  it("on-demand: release() closes the connection and idle() keeps nothing up", () => {
    const { timers, connector, link } = setupLink("on-demand");
    link.start();
    expect(connector.connections).toHaveLength(0);
    link.take();
    link.connect();
    connector.last!.ready();
    expect(link.ready).toBe(true);
    link.release(false);
    link.idle();
    expect(connector.last!.closedByCore).toBe(true);
    expect(timers.pendingCount).toBe(0);
  });

  // The firmware's transport (the SDK's MQTT client over SecureSocket) reports a close from inside its
  // socket's callback; with the flow's retry handling run from there, the headless firmware crashed
  // (SIGSEGV in the SDK socket's readable handler as that callback returned). The link takes every close
  // out of the transport's callback.
  it("a close reported inside connect() is handled after it returns, from a timer: the link never connects from inside the transport", () => {
    const { timers, connector, events, link } = setupLink("persistent");
    let insideTransport = 0;
    let connectsInsideTransport = 0;
    const connect = connector.connect.bind(connector);
    connector.connect = (request, handlers) => {
      if (insideTransport > 0) connectsInsideTransport++;
      return connect(request, handlers);
    };
    connector.onConnect = (c) => {
      insideTransport++;
      c.drop("network", "ECONNREFUSED"); // refused at once, before connect() returns
      insideTransport--;
    };
    link.start();
    expect(connector.connections).toHaveLength(1);
    expect(events.map((e) => e.phase)).toEqual(["connecting"]); // nothing handled yet
    expect(link.ready).toBe(false);
    timers.advance(0);
    expect(events.map((e) => e.phase)).toEqual(["connecting", "closed"]);
    timers.advance(60_000); // the backoff reconnects, each refused the same way
    expect(connector.connections.length).toBeGreaterThan(3);
    expect(connectsInsideTransport).toBe(0);
    expect(connector.connections.every((c) => c.ended)).toBe(true);
  });

  it("a close reported from inside a publish is handled after the caller's turn, and the link stops being ready at once", () => {
    const { timers, connector, closes, link } = setupLink("on-demand");
    connector.onPublish = (c) => c.drop("network", "peer closed"); // the connection dies under the publish
    link.take();
    link.connect();
    connector.last!.ready();
    link.publish(ordersOf("x"), new Uint8Array([1]));
    expect(closes).toEqual([]); // not from inside the transport's call
    expect(link.ready).toBe(false); // nothing publishes on it any more
    timers.advance(0);
    expect(closes).toEqual(["network"]);
  });

  it("a refused idle link stays down (no timer) until a message takes it and connects", () => {
    const { timers, connector, log, events, link } = setupLink("persistent");
    link.start();
    connector.last!.drop("auth", "certificate rejected");
    timers.advance(0);
    expect(events.at(-1)).toEqual({ type: "connection", phase: "closed", kind: "auth", detail: "certificate rejected" });
    expect(log.has(/link not authorized/)).toBe(true);
    timers.advance(600_000);
    expect(connector.connections).toHaveLength(1);
    link.take();
    link.connect();
    expect(connector.connections).toHaveLength(2);
  });
});
