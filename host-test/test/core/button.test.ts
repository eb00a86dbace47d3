// createButton (classifier + flow + LED view wired once) and the LED view on its own.
import { describe, expect, it } from "vitest";
import type { FlowEvent } from "../../../modules/core/flow";
import { LedPlayer } from "../../../modules/core/led";
import { ledView } from "../../../modules/core/led-view";
import { FakeTimers, RecordingLed } from "./fakes";
import { nth, setup } from "./flow-harness";

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
