// Click classifier: raw button edges in, SINGLE / DOUBLE / LONG out. Both hosts feed it raw edges
// (the ESP32 SDK has no debounce), so this is the one place that decides what a press meant.
//
// Decisions, and why:
// - Debounce: a change of level counts only once the new level has held for debounceMs; an edge that
//   reverses it sooner is bounce, and the pair is dropped. The accepted event keeps the time of the edge
//   that started the stable run, so press durations are not skewed by the debounce. This is stricter than
//   "accept the first edge, ignore reversals for debounceMs": with that rule a single 2 ms glitch on the
//   line is accepted as a press (and its release soon after), i.e. a pizza ordered by electrical noise.
//   Cost: every decision is known debounceMs later, imperceptible for a button.
// - LONG fires at the threshold while the button is still held (immediate feedback: the LED reacts and
//   the user can let go); the release that follows is consumed.
// - DOUBLE fires when the second press starts less than doubleClickMs after the first release (no need to
//   wait for the second release). The rest of that gesture is absorbed: further presses that each start
//   less than doubleClickMs after the previous release produce nothing, so a triple click is one DOUBLE,
//   never DOUBLE + SINGLE (two orders).
// - SINGLE is decided once doubleClickMs has passed after the release without a second press.
// Deadlines are in the edges' time base (atMs, host clock, ms); the Timers port only delivers them on
// time. Before an edge is handled, every deadline that its timestamp shows has passed is applied first,
// so the outcome depends only on the timestamps, even if edges arrive late or in a burst.
// Boundaries: a deadline is reached AT its instant (held exactly longPressMs = LONG; a press exactly
// doubleClickMs after the release starts a new click; a level held exactly debounceMs is accepted).
// - Wake press (wakePress): a board woken from deep sleep by the button boots with that press already
//   under way, and its edge happened before any code ran. The wake itself is the press edge (at the wake
//   time); it is not debounced, because software cannot see it: a noisy wake line needs a hardware filter.
//   From there it is an ordinary press: a release soon after is SINGLE once the double-click window
//   passes, a second press within it is DOUBLE, held to longPressMs (counted from the wake) is LONG.

import type { ClickType } from "./config";
import type { TimerHandle, Timers } from "./ports";

export interface ClickClassifierOptions {
  timers: Timers;
  debounceMs?: number;
  doubleClickMs?: number;
  longPressMs?: number;
  onClick(type: ClickType): void;
}

type Phase =
  | "idle"
  | "pressed" // first press of a gesture, LONG deadline pending
  | "released" // first release, waiting for a second press until the SINGLE deadline
  | "long-held" // LONG already fired, waiting for the release
  | "absorb-pressed" // DOUBLE already fired, button down
  | "absorb-released"; // DOUBLE already fired, button up; a quick further press is absorbed

interface Deadline {
  handle: TimerHandle;
  at: number;
}

export class ClickClassifier {
  readonly debounceMs: number;
  readonly doubleClickMs: number;
  readonly longPressMs: number;
  private readonly timers: Timers;
  private readonly onClick: (type: ClickType) => void;

  private level = false; // debounced level: true = pressed
  private raw = false; // level after the last raw edge
  private lastEdgeAt = -Infinity; // clamps a clock that steps back
  private settle: (Deadline & { since: number }) | undefined; // raw != level since `since`
  private long: Deadline | undefined;
  private window: Deadline | undefined;

  private phase: Phase = "idle";
  private pressAt = 0;
  private releaseAt = 0;

  constructor(options: ClickClassifierOptions) {
    this.timers = options.timers;
    this.onClick = options.onClick;
    this.debounceMs = options.debounceMs ?? 30;
    this.doubleClickMs = options.doubleClickMs ?? 400;
    this.longPressMs = options.longPressMs ?? 1500;
    if (!(this.debounceMs >= 0 && Number.isFinite(this.debounceMs))) throw new RangeError("debounceMs must be ≥ 0");
    if (!(this.doubleClickMs > this.debounceMs)) throw new RangeError("doubleClickMs must exceed debounceMs");
    if (!(this.longPressMs > this.debounceMs)) throw new RangeError("longPressMs must exceed debounceMs");
  }

  /** A raw edge: pressed = true on press, false on release; atMs from a monotonic millisecond clock. */
  edge(pressed: boolean, atMs: number): void {
    if (typeof atMs !== "number" || Number.isNaN(atMs)) return;
    const at = Math.max(atMs, this.lastEdgeAt);
    this.lastEdgeAt = at;
    this.catchUp(at);
    if (pressed === this.raw) return; // repeated edge: the level did not change
    this.raw = pressed;
    if (pressed === this.level) {
      // Reverted before it held for debounceMs: bounce or glitch, nothing happened.
      this.cancelSettle();
      this.afterGlitch(at);
      return;
    }
    if (this.debounceMs === 0) {
      this.accept(pressed, at, at);
      return;
    }
    const handle = this.timers.set(() => this.settleDue(), this.debounceMs);
    this.settle = { handle, at: at + this.debounceMs, since: at };
  }

  /**
   * The button was pressed at `pressedAtMs` (the wake edge) and woke the device: start with it held.
   * `nowMs` is the current time in the same time base (the LONG deadline is armed for the time left).
   * Only before the first edge: returns false and changes nothing otherwise (or with bad timestamps).
   * The board reports the button's level right after this; a release that happened while the device
   * booted is reported then, with the time it was seen.
   */
  wakePress(pressedAtMs: number, nowMs: number): boolean {
    if (!Number.isFinite(pressedAtMs) || !Number.isFinite(nowMs) || pressedAtMs > nowMs) return false;
    if (this.phase !== "idle" || this.level || this.raw || this.settle || this.lastEdgeAt !== -Infinity) return false;
    this.lastEdgeAt = nowMs;
    this.raw = true;
    this.accept(true, pressedAtMs, nowMs);
    return true;
  }

  /** True while a gesture is being classified (a press, or a release whose double-click window is open). */
  get busy(): boolean {
    if (this.settle || this.level || this.long || this.window) return true;
    return this.phase !== "idle" && this.phase !== "absorb-released";
  }

  /** Drops any gesture in progress and clears all timers (e.g. on shutdown). */
  dispose(): void {
    this.cancelSettle();
    this.clearLong();
    this.clearWindow();
    this.phase = "idle";
  }

  // --------------------------------------------------------------------------------------- deadlines

  /** Runs, in time order, every deadline at or before `at` (as the timers would have, had they run). */
  private catchUp(at: number): void {
    for (;;) {
      let next: "settle" | "long" | "window" | undefined;
      let nextAt = at;
      if (this.settle && this.settle.at <= nextAt) [next, nextAt] = ["settle", this.settle.at];
      if (this.long && this.long.at <= nextAt && !(next && this.long.at === nextAt)) [next, nextAt] = ["long", this.long.at];
      if (this.window && this.window.at <= nextAt && !(next && this.window.at === nextAt)) {
        [next, nextAt] = ["window", this.window.at];
      }
      if (next === undefined) return;
      if (next === "settle") {
        this.timers.clear(this.settle!.handle);
        this.settleDue();
      } else if (next === "long") {
        this.timers.clear(this.long!.handle);
        this.longDue();
      } else {
        this.timers.clear(this.window!.handle);
        this.windowDue();
      }
    }
  }

  private settleDue(): void {
    const settle = this.settle!;
    this.settle = undefined;
    if (this.raw !== this.level) this.accept(this.raw, settle.since, settle.at);
  }

  private longDue(): void {
    this.long = undefined;
    // A release is still settling: it began before the deadline, so this press was not LONG after all,
    // unless that release turns out to be a glitch (afterGlitch).
    if (this.phase === "pressed" && !this.settle) this.fireLong();
  }

  private windowDue(): void {
    this.window = undefined;
    // A second press is still settling: it began before the deadline (DOUBLE), unless it is a glitch.
    if (this.phase === "released" && !this.settle) this.fireSingle();
  }

  /** A settling change was a glitch: apply a deadline that passed while we waited for it. */
  private afterGlitch(now: number): void {
    if (this.phase === "pressed" && !this.long && now - this.pressAt >= this.longPressMs) this.fireLong();
    if (this.phase === "released" && !this.window && now - this.releaseAt >= this.doubleClickMs) this.fireSingle();
  }

  // ---------------------------------------------------------------------------------- classification

  /** A debounced change: it happened at `eventAt`, and is known at `now` (eventAt + debounceMs). */
  private accept(pressed: boolean, eventAt: number, now: number): void {
    this.level = pressed;
    if (pressed) this.onPress(eventAt, now);
    else this.onRelease(eventAt, now);
  }

  private onPress(at: number, now: number): void {
    if (this.phase === "released") {
      this.clearWindow();
      if (at - this.releaseAt < this.doubleClickMs) {
        this.phase = "absorb-pressed";
        this.onClick("DOUBLE");
        return;
      }
      this.fireSingle(); // cannot happen with timely deadlines; kept so no click is ever lost
    }
    if (this.phase === "absorb-released" && at - this.releaseAt < this.doubleClickMs) {
      this.phase = "absorb-pressed";
      return;
    }
    this.phase = "pressed";
    this.pressAt = at;
    this.clearLong();
    const deadline = at + this.longPressMs;
    this.long = { at: deadline, handle: this.timers.set(() => this.longDue(), Math.max(0, deadline - now)) };
  }

  private onRelease(at: number, now: number): void {
    switch (this.phase) {
      case "pressed": {
        this.clearLong();
        if (at - this.pressAt >= this.longPressMs) {
          this.phase = "idle"; // cannot happen with timely deadlines; kept so no click is ever lost
          this.onClick("LONG");
          return;
        }
        this.phase = "released";
        this.releaseAt = at;
        const deadline = at + this.doubleClickMs;
        this.window = { at: deadline, handle: this.timers.set(() => this.windowDue(), Math.max(0, deadline - now)) };
        return;
      }
      case "long-held":
        this.phase = "idle";
        return;
      case "absorb-pressed":
        this.phase = "absorb-released";
        this.releaseAt = at;
        return;
      default:
        return; // a release of a press we never saw (e.g. held at boot): nothing to classify
    }
  }

  private fireLong(): void {
    this.clearLong();
    this.phase = "long-held";
    this.onClick("LONG");
  }

  private fireSingle(): void {
    this.clearWindow();
    this.phase = "idle";
    this.onClick("SINGLE");
  }

  private cancelSettle(): void {
    if (this.settle) this.timers.clear(this.settle.handle);
    this.settle = undefined;
  }

  private clearLong(): void {
    if (this.long) this.timers.clear(this.long.handle);
    this.long = undefined;
  }

  private clearWindow(): void {
    if (this.window) this.timers.clear(this.window.handle);
    this.window = undefined;
  }
}
