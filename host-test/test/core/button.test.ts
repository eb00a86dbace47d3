// createButton (classifier + flow + LED view wired once) and the LED view on its own.
import { describe, expect, it } from "vitest";
import type { FlowEvent } from "../../../modules/core/flow";
import { LED_PATTERNS, LedPlayer } from "../../../modules/core/led";
import { createButton } from "../../../modules/core/button";
import { defaultConfig } from "../../../modules/core/config";
import { ledView } from "../../../modules/core/led-view";
import { FakeConnector, FakeTimers, MemoryLog, MemoryStore, RecordingLed } from "./fakes";
import { nth, setup, T0, THING } from "./flow-harness";

describe("createButton", () => {
  it("raw edges are debounced and classified, then ordered; the LED shows working, then ok", () => {
    const t = setup();
    const at = t.timers.now();
    t.button.edge(true, at);
    t.timers.advance(80);
    t.button.edge(false, at + 80);
    t.timers.advance(60_000);
    expect(t.lastOutcome()).toMatchObject({ clickType: "SINGLE", outcome: "ok", orderId: nth(1) });
    expect(t.patterns).toEqual(["working", "ok", "off"]);
  });

  it("the LED changes before observers see the event that caused it", () => {
    const t = setup();
    t.flow.click("SINGLE");
    t.timers.advance(60_000);
    expect(t.trace.indexOf("pattern working")).toBeGreaterThanOrEqual(0);
    expect(t.trace.indexOf("pattern working")).toBeLessThan(t.trace.indexOf("state connecting"));
    expect(t.trace.indexOf("pattern ok")).toBeLessThan(t.trace.indexOf("outcome ok"));
  });

  it("stop() also stops the classifier: no timer is left, even in the middle of a gesture", () => {
    const t = setup();
    t.button.edge(true, t.timers.now());
    t.timers.advance(100);
    t.button.stop();
    expect(t.timers.pendingCount).toBe(0);
    expect(t.led.on).toBe(false);
  });
});

describe("createButton in battery mode (deep sleep between presses)", () => {
  const OK_MS = LED_PATTERNS.ok.steps.reduce((a, b) => a + b, 0);
  const IDLE_MS = 1_000; // the SleepGate's default quiet time
  // FakeRestaurant: connected 20 ms after the attempt, ack 5 ms after the publish.

  /** Woken by a press 200 ms before this boot (T0); edges are released/pressed at the given virtual times. */
  function woken(store?: MemoryStore) {
    const t = setup({ mode: "battery", ...(store ? { store } : {}) });
    t.button.startWoken(T0 - 200, T0);
    return t;
  }
  const edgeAt = (t: ReturnType<typeof setup>, pressed: boolean, at: number) => {
    t.timers.advanceTo(at);
    t.button.edge(pressed, at);
  };

  it("woken by a tap: SINGLE → order → ack → the ok pattern plays out → deep sleep 1 s later, all stopped", () => {
    const t = woken();
    edgeAt(t, false, T0); // the board saw the button released at boot
    t.timers.advance(30_000);
    expect(t.outcomes().map((o) => [o.clickType, o.outcome, o.trigger])).toEqual([["SINGLE", "ok", "click"]]);
    expect(t.patterns).toEqual(["working", "ok", "off"]);
    // SINGLE when the double-click window closes (release + 400), + 25 ms to the ack, the ok pattern, then idle.
    expect(t.sleeps).toEqual([T0 + 400 + 25 + OK_MS + IDLE_MS]);
    expect(t.flow.state).toBe("stopped");
    expect(t.connector.openConnections).toEqual([]);
    expect(t.timers.pendingCount).toBe(0); // nothing left to wake the CPU
    expect(t.led.on).toBe(false);
  });

  it("a second press within the window from sleep is DOUBLE", () => {
    const t = woken();
    edgeAt(t, false, T0);
    edgeAt(t, true, T0 + 150);
    edgeAt(t, false, T0 + 250);
    t.timers.advance(30_000);
    expect(t.outcomes().map((o) => [o.clickType, o.outcome])).toEqual([["DOUBLE", "ok"]]);
    expect(t.restaurant.received.map((m) => m.action === "order" && m.item)).toEqual(["pepperoni"]);
    expect(t.sleeps).toHaveLength(1);
  });

  it("held from the wake: LONG at longPressMs from the wake edge; awake while held, asleep 1 s after the release", () => {
    const t = woken();
    t.timers.advanceTo(T0 + 10_000);
    expect(t.outcomes().map((o) => [o.clickType, o.outcome])).toEqual([["LONG", "nothing-to-cancel"]]);
    expect(t.outcomes()[0]!.at).toBe(T0 - 200 + 1_500);
    expect(t.sleeps).toEqual([]); // still held: an ext0 level wake would fire at once
    edgeAt(t, false, T0 + 10_000);
    t.timers.advance(10_000);
    expect(t.sleeps).toEqual([T0 + 10_000 + IDLE_MS]);
  });

  it("a press while awake keeps it awake and becomes the next order; it sleeps after that one's LED", () => {
    const t = woken();
    edgeAt(t, false, T0);
    edgeAt(t, true, T0 + 2_000); // the first ok is still on
    edgeAt(t, false, T0 + 2_100);
    t.timers.advance(30_000);
    expect(t.outcomes().map((o) => [o.clickType, o.outcome, o.orderId])).toEqual([
      ["SINGLE", "ok", nth(1)],
      ["SINGLE", "ok", nth(2)],
    ]);
    expect(t.sleeps).toEqual([T0 + 2_100 + 400 + 25 + OK_MS + IDLE_MS]);
  });

  it("no answer: awake while it retries; after failed it sleeps, the order pending; the next wake's press resends it once", () => {
    const store = new MemoryStore();
    const t = woken(store);
    t.restaurant.publishBehaviour = "silent";
    edgeAt(t, false, T0);
    t.timers.advance(5 * 60_000);
    expect(t.outcomes().map((o) => o.outcome)).toEqual(["failed"]);
    const failedAt = t.outcomes()[0]!.at;
    expect(failedAt).toBe(T0 + 400 + defaultConfig.giveUpMs);
    const failedMs = LED_PATTERNS.failed.steps.reduce((a, b) => a + b, 0);
    expect(t.sleeps).toEqual([failedAt + failedMs + IDLE_MS]);
    expect(t.pending()?.message.orderId).toBe(nth(1));

    const next = woken(store); // the same flash, a new boot woken by a press
    edgeAt(next, false, T0);
    next.timers.advance(30_000);
    expect(next.outcomes().map((o) => [o.orderId, o.outcome, o.trigger, o.resent])).toEqual([[nth(1), "ok", "click", true]]);
    expect(next.restaurant.received.map((m) => m.orderId)).toEqual([nth(1)]);
    expect(next.pending()).toBeUndefined();
    expect(next.sleeps).toHaveLength(1);
  });

  it("power-on (start): a pending order is resent by the boot itself, then it sleeps; with nothing to do it sleeps at once", () => {
    const store = new MemoryStore();
    const first = woken(store);
    first.restaurant.publishBehaviour = "silent";
    edgeAt(first, false, T0);
    first.timers.advance(5 * 60_000);
    const powerOn = setup({ mode: "battery", store });
    powerOn.button.start();
    powerOn.timers.advance(30_000);
    expect(powerOn.outcomes().map((o) => [o.orderId, o.outcome, o.trigger])).toEqual([[nth(1), "ok", "boot"]]);
    expect(powerOn.sleeps).toHaveLength(1);

    const idle = setup({ mode: "battery" });
    idle.button.start();
    idle.timers.advance(30_000);
    expect(idle.sleeps).toEqual([T0 + IDLE_MS]);
    expect(idle.connector.connections).toEqual([]);
  });

  it("is refused without a sleep port; startWoken only exists in battery mode", () => {
    const timers = new FakeTimers(T0);
    const ports = { timers, clock: timers, led: new RecordingLed(timers), store: new MemoryStore(), connector: new FakeConnector(), log: new MemoryLog() };
    expect(() => createButton({ ...defaultConfig, thingName: THING, connectionMode: "battery" }, ports)).toThrow(/sleep port/);
    const mains = createButton({ ...defaultConfig, thingName: THING }, ports);
    expect(() => mains.startWoken(T0 - 100, T0)).toThrow(/only a battery button/);
  });
});

describe("ledView", () => {
  function view() {
    const timers = new FakeTimers();
    const patterns: string[] = [];
    const player = new LedPlayer({ led: new RecordingLed(timers), timers, onPattern: (name) => patterns.push(name) });
    return { timers, patterns, player, show: ledView(player) };
  }
  const state = (s: "idle" | "connecting" | "awaiting-ack" | "retry-wait" | "stopped"): FlowEvent => ({ type: "state", state: s });
  const outcome = (o: "ok" | "busy" | "cancel-refused" | "nothing-to-cancel"): FlowEvent => ({
    type: "outcome",
    clickType: "SINGLE",
    orderId: undefined,
    outcome: o,
    attempts: 1,
    resent: false,
    trigger: "click",
  });
  const authClose: FlowEvent = { type: "connection", phase: "closed", kind: "auth", detail: "refused" };

  it("working starts once per message, however many attempts it takes", () => {
    const v = view();
    for (const e of [state("connecting"), state("retry-wait"), state("connecting"), state("awaiting-ack")]) v.show(e);
    expect(v.patterns).toEqual(["working"]);
    v.show(outcome("ok"));
    v.show(state("idle"));
    v.show({ type: "publish", orderId: "x-1", attempt: 1 }); // a click on a live link: publish comes first
    expect(v.patterns).toEqual(["working", "ok", "working"]);
  });

  it("busy blips over working; outcomes without their own pattern map to rejected", () => {
    const v = view();
    v.show(state("connecting"));
    v.show(outcome("busy"));
    expect(v.player.current).toBe("busy");
    v.timers.advance(1_000);
    expect(v.player.current).toBe("working"); // resumed after the blip
    v.show(outcome("cancel-refused"));
    expect(v.player.current).toBe("rejected");
    v.show(state("idle"));
    v.show(outcome("nothing-to-cancel"));
    expect(v.player.current).toBe("rejected");
  });

  it("a refused idle link shows auth-error; a refusal during a message waits for its outcome", () => {
    const v = view();
    v.show(authClose);
    expect(v.patterns).toEqual(["auth-error"]);
    v.show(state("connecting"));
    v.show(authClose);
    expect(v.patterns).toEqual(["auth-error", "working"]);
  });

  it("stopped switches the LED off", () => {
    const v = view();
    v.show(state("connecting"));
    v.show(state("stopped"));
    expect(v.player.current).toBeUndefined();
    expect(v.patterns.at(-1)).toBe("off");
  });
});
