// The sleep decision on its own; with the real classifier, flow and LED in button.test.ts (battery mode).
import { describe, expect, it } from "vitest";
import { SleepGate } from "../../../modules/core/sleep";
import { FakeTimers } from "./fakes";

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
