// LED patterns: one table, played by both hosts through the Led port. Steps alternate ON and OFF
// durations in milliseconds, starting with ON. docs/ARCHITECTURE.md, "LED patterns", documents this table.

import type { Led, TimerHandle, Timers } from "./ports";

export type LedPatternName = "working" | "ok" | "rejected" | "failed" | "auth-error" | "busy" | "cancelled" | "updating" | "offline" | "setup";

export interface LedPattern {
  /** ON/OFF durations (ms), alternating, starting with ON. */
  readonly steps: readonly number[];
  /** Loop until replaced (true) or play once and leave the LED off (false). */
  readonly loop: boolean;
}

function times(n: number, steps: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(...steps);
  return out;
}

export const LED_PATTERNS: { readonly [K in LedPatternName]: LedPattern } = {
  working: { steps: [100, 900], loop: true },
  ok: { steps: [2000], loop: false },
  rejected: { steps: times(3, [600, 400]), loop: false },
  failed: { steps: times(10, [100, 100]), loop: false },
  "auth-error": { steps: times(2, [...times(3, [100, 100]), ...times(3, [500, 100])]), loop: false },
  busy: { steps: [50], loop: false },
  cancelled: { steps: times(2, [1000, 300]), loop: false },
  /** A firmware update is downloading and being checked: slow, even blinking, unlike "working". */
  updating: { steps: [500, 500], loop: true },
  // Two short flashes, a long pause: not "working" (one flash a second), so a person can tell "no Wi-Fi" apart.
  offline: { steps: [100, 200, 100, 1600], loop: true },
  // Setup mode (docs/setup.md): a slow, even breath, unlike every order pattern.
  setup: { steps: [1000, 1000], loop: true },
};

/** Gap before a looping pattern resumes after an interrupt, so a blip stays visible as its own flash. */
export const RESUME_GAP_MS = 200;

export interface LedPlayerOptions {
  led: Led;
  timers: Timers;
  /** Observer: a pattern started (its name) or the LED went idle ("off"). For hosts' status lines. */
  onPattern?: (name: LedPatternName | "off") => void;
}

export class LedPlayer {
  private readonly led: Led;
  private readonly timers: Timers;
  private readonly onPattern: ((name: LedPatternName | "off") => void) | undefined;
  private ledOn = false;
  private timer: TimerHandle | undefined;
  private playing: LedPatternName | undefined;
  private step = 0;
  private resumeAfter: LedPatternName | undefined; // looping pattern to return to after an interrupt

  constructor(options: LedPlayerOptions) {
    this.led = options.led;
    this.timers = options.timers;
    this.onPattern = options.onPattern;
    this.led.set(false); // start from a known state
  }

  /** The pattern now playing, if any. */
  get current(): LedPatternName | undefined {
    return this.playing;
  }

  /** Plays a pattern from its start, replacing whatever was playing. */
  play(name: LedPatternName): void {
    this.resumeAfter = undefined;
    this.start(name);
  }

  /**
   * Plays a one-shot pattern over the current one; a looping pattern that was playing resumes from its
   * start RESUME_GAP_MS after the interruption ends (e.g. the "busy" blip while "working").
   */
  interrupt(name: LedPatternName): void {
    const loop = this.playing !== undefined && LED_PATTERNS[this.playing].loop ? this.playing : this.resumeAfter;
    this.start(name);
    this.resumeAfter = LED_PATTERNS[name].loop ? undefined : loop;
  }

  /** Stops any pattern and switches the LED off. */
  off(): void {
    this.resumeAfter = undefined;
    this.cancel();
    const was = this.playing;
    this.playing = undefined;
    this.set(false);
    if (was !== undefined) this.onPattern?.("off");
  }

  private start(name: LedPatternName): void {
    this.cancel();
    this.playing = name;
    this.step = 0;
    this.onPattern?.(name);
    this.runStep();
  }

  private runStep(): void {
    const pattern = LED_PATTERNS[this.playing!];
    if (this.step >= pattern.steps.length) {
      if (pattern.loop) {
        this.step = 0;
      } else {
        this.finish();
        return;
      }
    }
    const duration = pattern.steps[this.step]!;
    this.set(this.step % 2 === 0);
    this.step++;
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      this.runStep();
    }, duration);
  }

  private finish(): void {
    this.playing = undefined;
    this.set(false);
    this.onPattern?.("off");
    const resume = this.resumeAfter;
    this.resumeAfter = undefined;
    if (resume !== undefined) {
      this.resumeAfter = resume; // still owed if another interrupt comes during the gap
      this.timer = this.timers.set(() => {
        this.timer = undefined;
        this.resumeAfter = undefined;
        this.start(resume);
      }, RESUME_GAP_MS);
    }
  }

  private cancel(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }

  private set(on: boolean): void {
    if (on === this.ledOn) return;
    this.ledOn = on;
    this.led.set(on);
  }
}
