import { describe, expect, it } from "vitest";
import { ClickClassifier } from "../../../modules/core/click";
import { defaultConfig } from "../../../modules/core/config";
import { OrderFlow, STORE_KEYS, type FlowEvent } from "../../../modules/core/flow";
import { LedPlayer, patternDurationMs } from "../../../modules/core/led";
import { decodeOrder, encodeAck } from "../../../modules/core/messages";
import { SleepGate } from "../../../modules/core/sleep";
import { FakeConnector, FakeTimers, MemoryLog, MemoryStore, RecordingLed } from "./fakes";

describe("SleepGate", () => {
  function gate(idleMs = 1000) {
    const timers = new FakeTimers();
    const parts = { flow: false, led: false };
    const sleeps: number[] = [];
    const g = new SleepGate({
      timers,
      idleMs,
      busy: { flow: () => parts.flow, led: () => parts.led },
      onSleep: () => sleeps.push(timers.now()),
    });
    return { timers, parts, sleeps, g };
  }

  it("sleeps idleMs after start when nothing is busy, once", () => {
    const { timers, sleeps, g } = gate();
    g.start();
    timers.advance(999);
    expect(sleeps).toEqual([]);
    timers.advance(1);
    expect(sleeps).toEqual([1000]);
    expect(g.asleep).toBe(true);
    g.activity(); // spent: nothing restarts it
    timers.advance(10_000);
    expect(sleeps).toEqual([1000]);
    expect(timers.pendingCount).toBe(0);
  });

  it("each activity (a press) restarts the countdown: presses while awake keep it awake", () => {
    const { timers, sleeps, g } = gate();
    g.start();
    for (let i = 0; i < 5; i++) {
      timers.advance(900);
      g.activity();
    }
    expect(sleeps).toEqual([]);
    timers.advance(1000);
    expect(sleeps).toEqual([5 * 900 + 1000]);
  });

  it("stays awake while a part is busy, and sleeps idleMs after the activity that ends it", () => {
    const { timers, parts, sleeps, g } = gate();
    parts.flow = true;
    g.start();
    timers.advance(5_500);
    expect(sleeps).toEqual([]);
    expect(g.busyParts()).toEqual(["flow"]);
    parts.flow = false;
    parts.led = true; // the outcome's pattern plays
    g.activity();
    timers.advance(3_000);
    expect(sleeps).toEqual([]);
    parts.led = false; // pattern over: the host reports it
    g.activity();
    timers.advance(999);
    expect(sleeps).toEqual([]);
    timers.advance(1);
    expect(sleeps).toEqual([9_500]);
  });

  it("an unreported change is caught by the next check (at most idleMs later)", () => {
    const { timers, parts, sleeps, g } = gate();
    parts.flow = true;
    g.start();
    timers.advance(1_500);
    parts.flow = false; // no activity() call
    timers.advance(500);
    expect(sleeps).toEqual([2_000]);
  });

  it("a probe that throws counts as busy (never sleeps mid-order on a broken probe)", () => {
    const timers = new FakeTimers();
    let broken = true;
    const sleeps: number[] = [];
    const g = new SleepGate({
      timers,
      busy: {
        flow: () => {
          if (broken) throw new Error("boom");
          return false;
        },
      },
      onSleep: () => sleeps.push(timers.now()),
    });
    g.start();
    timers.advance(5_000);
    expect(sleeps).toEqual([]);
    broken = false;
    timers.advance(1_000);
    expect(sleeps).toEqual([6_000]);
  });

  it("stop cancels the countdown; nothing sleeps afterwards", () => {
    const { timers, sleeps, g } = gate();
    g.start();
    timers.advance(500);
    g.stop();
    expect(timers.pendingCount).toBe(0);
    g.activity();
    timers.advance(5_000);
    expect(sleeps).toEqual([]);
  });

  it("refuses a negative or non-finite idleMs", () => {
    const timers = new FakeTimers();
    const onSleep = () => {};
    expect(() => new SleepGate({ timers, idleMs: -1, busy: {}, onSleep })).toThrow(RangeError);
    expect(() => new SleepGate({ timers, idleMs: Number.NaN, busy: {}, onSleep })).toThrow(RangeError);
  });
});

// ------------------------------------------------------------- with the real classifier, flow and LED

describe("SleepGate over the core's parts (a battery button's awake period)", () => {
  const THING = "pizza-button-01";
  const T0 = 1_700_000_000_000;

  /** Woken by a press at wakeAt; the restaurant answers after ackMs, or never when silent. */
  function wake(options: { store?: MemoryStore; silent?: boolean; wakeAt?: number } = {}) {
    const timers = new FakeTimers(T0);
    const store = options.store ?? new MemoryStore();
    const log = new MemoryLog();
    const patterns: string[] = [];
    const connector = new FakeConnector();
    connector.onConnect = (c) => timers.set(() => c.ready(), 50);
    connector.onPublish = (c, _topic, payload) => {
      const order = decodeOrder(payload);
      if (!order.ok || options.silent) return;
      const bytes = encodeAck({ v: 1, orderId: order.value.orderId, status: "accepted", etaMin: 20 });
      timers.set(() => c.deliver(`pizza/acks/${THING}`, bytes), 30);
    };
    const events: FlowEvent[] = [];
    let gate: SleepGate | undefined;
    const led = new LedPlayer({
      led: new RecordingLed(timers),
      timers,
      onPattern: (name) => {
        patterns.push(name);
        gate?.activity();
      },
    });
    const flow = new OrderFlow({
      config: { ...defaultConfig, thingName: THING, giveUpMs: 20_000 },
      timers,
      clock: timers,
      led,
      store,
      connector,
      log,
      random: () => 0.5,
      onEvent: (event) => {
        events.push(event);
        gate?.activity();
      },
    });
    const classifier = new ClickClassifier({ timers, onClick: (type) => flow.click(type) });
    const sleeps: number[] = [];
    gate = new SleepGate({
      timers,
      idleMs: 500,
      busy: { flow: () => flow.state !== "idle", click: () => classifier.busy, led: () => led.current !== undefined },
      onSleep: () => sleeps.push(timers.now() - T0),
    });
    const press = (pressed: boolean) => {
      gate!.activity(); // every button edge is activity
      classifier.edge(pressed, timers.now() - T0);
    };
    classifier.wakePress(options.wakeAt ?? 0, 200); // the classifier's time base: ms since the wake
    timers.advance(200);
    gate.start(); // no flow.start(): after a wake the press resends a pending message, not the boot

    return { timers, store, flow, patterns, events, sleeps, press, connector, gate };
  }

  const outcomes = (events: FlowEvent[]) => events.filter((e) => e.type === "outcome").map((e) => (e as { outcome: string }).outcome);

  it("wake press → order → ack → the ok pattern plays out → sleep idleMs after it, connection closed", () => {
    const w = wake();
    w.press(false); // released at 200 ms: SINGLE at 600
    w.timers.advance(30_000);
    expect(outcomes(w.events)).toEqual(["ok"]);
    expect(w.patterns).toEqual(["working", "ok", "off"]);
    const ack = w.events.find((e) => e.type === "outcome")!;
    expect(ack).toMatchObject({ clickType: "SINGLE", attempts: 1 });
    // SINGLE at 600, connect 50, ack 30 → ok from 680 for 2000 ms → off at 2680 → sleep at 3180.
    expect(w.sleeps).toEqual([600 + 50 + 30 + patternDurationMs("ok") + 500]);
    expect(w.connector.openConnections).toEqual([]);
    expect(w.store.data.has(STORE_KEYS.pending)).toBe(false);
  });

  it("a press while awake (after the outcome) keeps it awake and becomes a second order", () => {
    const w = wake();
    w.press(false);
    w.timers.advanceTo(T0 + 2_000); // ok is playing
    w.press(true);
    w.timers.advance(100);
    w.press(false);
    w.timers.advance(30_000);
    expect(outcomes(w.events)).toEqual(["ok", "ok"]);
    expect(w.sleeps).toHaveLength(1);
    // Second SINGLE at 2100 + 400, + 80 to the ack, 2000 of ok, then 500 idle.
    expect(w.sleeps[0]).toBe(2_500 + 80 + 2_000 + 500);
  });

  it("held from the wake: awake while held, LONG while held, sleeps only after the release", () => {
    const w = wake();
    w.timers.advanceTo(T0 + 10_000); // LONG at 1500; cancel → nothing to cancel (no accepted order)
    expect(outcomes(w.events)).toEqual(["nothing-to-cancel"]);
    expect(w.sleeps).toEqual([]); // the button is still down: sleeping would wake at once (level wake)
    w.press(false);
    w.timers.advance(10_000);
    expect(w.sleeps).toEqual([10_000 + 500]); // the release (settled at +30) restarted the countdown
  });

  it("no ack: awake while it retries; after 'failed' it sleeps with the order still pending for the next wake", () => {
    const store = new MemoryStore();
    const w = wake({ store, silent: true });
    w.press(false);
    w.timers.advance(60_000);
    expect(outcomes(w.events)).toEqual(["failed"]);
    expect(w.sleeps).toHaveLength(1);
    const failedAt = 600 + 20_000; // giveUpMs after the SINGLE
    expect(w.sleeps[0]).toBe(failedAt + patternDurationMs("failed") + 500);
    const pendingId = w.flow.pendingOrderId;
    expect(pendingId).toMatch(/^pizza-button-01-\d+$/);

    // Next wake: the same store (NVS); the wake press resends the pending order with its orderId (once).
    const next = wake({ store });
    next.press(false);
    next.timers.advance(30_000);
    const sent = next.events.filter((e) => e.type === "outcome");
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ orderId: pendingId, outcome: "ok", trigger: "click", resent: true, clickType: "SINGLE" });
    expect(next.store.data.has(STORE_KEYS.pending)).toBe(false);
    expect(next.sleeps).toHaveLength(1);
  });
});
