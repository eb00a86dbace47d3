import { describe, expect, it } from "vitest";
import { LED_PATTERNS, LedPlayer, RESUME_GAP_MS, type LedPatternName } from "../../../modules/core/led";
import { FakeTimers, RecordingLed } from "./fakes";

function setup() {
  const timers = new FakeTimers();
  const led = new RecordingLed(timers);
  const observed: { name: string; at: number }[] = [];
  const player = new LedPlayer({ led, timers, onPattern: (name) => observed.push({ name, at: timers.now() }) });
  led.changes.length = 0; // drop the constructor's initial "off"
  return { timers, led, player, observed };
}

/** Expected LED changes for on/off steps starting at t0 (ON first). */
function expand(steps: number[], t0 = 0): { at: number; on: boolean }[] {
  const out: { at: number; on: boolean }[] = [];
  let t = t0;
  steps.forEach((d, i) => {
    out.push({ at: t, on: i % 2 === 0 });
    t += d;
  });
  if (steps.length % 2 === 1) out.push({ at: t, on: false });
  return out;
}

describe("LedPlayer", () => {
  it("switches the LED off at construction", () => {
    const timers = new FakeTimers();
    const led = new RecordingLed(timers);
    led.on = true;
    new LedPlayer({ led, timers });
    expect(led.on).toBe(false);
  });

  it.each<LedPatternName>(["ok", "rejected", "failed", "auth-error", "busy", "cancelled"])(
    "plays %s exactly once and leaves the LED off",
    (name) => {
      const { timers, led, player, observed } = setup();
      player.play(name);
      expect(player.current).toBe(name);
      timers.advance(20_000);
      expect(led.changes).toEqual(expand([...LED_PATTERNS[name].steps]));
      expect(led.on).toBe(false);
      expect(player.current).toBeUndefined();
      expect(observed).toEqual([
        { name, at: 0 },
        { name: "off", at: LED_PATTERNS[name].steps.reduce((a, b) => a + b, 0) },
      ]);
      expect(timers.pendingCount).toBe(0);
    },
  );

  it("loops working until replaced", () => {
    const { timers, led, player } = setup();
    player.play("working");
    timers.advance(3050);
    expect(led.changes).toEqual([
      ...expand([100, 900]),
      ...expand([100, 900], 1000),
      ...expand([100, 900], 2000),
      { at: 3000, on: true },
    ]);
    expect(player.current).toBe("working");
    expect(led.on).toBe(true);
  });

  it("a new pattern replaces the current one at once", () => {
    const { timers, led, player, observed } = setup();
    player.play("working");
    timers.advance(500); // working is in its off phase
    player.play("ok");
    timers.advance(10_000);
    expect(led.changes).toEqual([
      { at: 0, on: true },
      { at: 100, on: false },
      { at: 500, on: true },
      { at: 2500, on: false },
    ]);
    expect(observed.map((o) => o.name)).toEqual(["working", "ok", "off"]);
  });

  it("replacing while the LED is on does not emit a redundant change", () => {
    const { timers, led, player } = setup();
    player.play("rejected");
    timers.advance(100);
    player.play("ok");
    timers.advance(5000);
    expect(led.changes).toEqual([
      { at: 0, on: true },
      { at: 2100, on: false },
    ]);
  });

  it("interrupt blips over working, then working resumes after a gap", () => {
    const { timers, led, player, observed } = setup();
    player.play("working");
    timers.advance(300);
    player.interrupt("busy");
    timers.advance(50 + RESUME_GAP_MS + 150);
    expect(led.changes).toEqual([
      { at: 0, on: true },
      { at: 100, on: false },
      { at: 300, on: true },
      { at: 350, on: false },
      { at: 350 + RESUME_GAP_MS, on: true },
      { at: 450 + RESUME_GAP_MS, on: false },
    ]);
    expect(player.current).toBe("working");
    expect(observed.map((o) => o.name)).toEqual(["working", "busy", "off", "working"]);
  });

  it("interrupt with nothing looping just plays the blip", () => {
    const { timers, led, player } = setup();
    player.interrupt("busy");
    timers.advance(5000);
    expect(led.changes).toEqual(expand([50]));
    expect(player.current).toBeUndefined();
  });

  it("interrupts in a row (and during the resume gap) still resume the loop once", () => {
    const { timers, player, observed } = setup();
    player.play("working");
    player.interrupt("busy");
    timers.advance(20);
    player.interrupt("busy"); // during the first blip
    timers.advance(60); // second blip over, in the gap
    player.interrupt("busy"); // during the gap
    timers.advance(1000);
    expect(player.current).toBe("working");
    expect(observed.filter((o) => o.name === "working").length).toBe(2);
  });

  it("play during the resume gap cancels the resume", () => {
    const { timers, player } = setup();
    player.play("working");
    player.interrupt("busy");
    timers.advance(100);
    player.play("ok");
    timers.advance(10_000);
    expect(player.current).toBeUndefined();
    expect(timers.pendingCount).toBe(0);
  });

  it("off() stops a looping pattern and the LED", () => {
    const { timers, led, player, observed } = setup();
    player.play("working");
    timers.advance(50);
    player.off();
    timers.advance(5000);
    expect(led.changes).toEqual([
      { at: 0, on: true },
      { at: 50, on: false },
    ]);
    expect(observed.map((o) => o.name)).toEqual(["working", "off"]);
    expect(timers.pendingCount).toBe(0);
  });
});
