// Sleep decision for a battery button: when may the device enter deep sleep? It sleeps once nothing
// needs it awake and it has stayed so for idleMs, counted from the last activity:
// - the parts that must finish first are asked through `busy` probes: the flow (a connection attempt,
//   an awaited ack, a retry wait), the click classifier (a press being classified: a button held, or a
//   double-click window open) and the LED (the outcome's pattern still playing);
// - the host calls activity() on every button edge and on every change of those parts (a flow event, an LED
//   pattern starting or ending), which restarts the countdown: a press while awake keeps it awake;
// - when the countdown ends and a probe is still busy, it checks again idleMs later (an event the host
//   did not report cannot put the device to sleep early, or keep it awake for good).
// A pending order (no ack yet) does not keep it awake: it stays in the store, and the next wake resends it.
// One gate per awake period: after onSleep it is spent (a woken device boots, or a host builds a new one).

import type { TimerHandle, Timers } from "./ports";

export interface SleepGateOptions {
  timers: Timers;
  /** Quiet time after the last activity, with nothing busy, before sleeping. Default 1000 ms. */
  idleMs?: number;
  /** Each returns true while its part needs the device awake; e.g. { flow: () => flow.state !== "idle" }. */
  busy: { readonly [part: string]: () => boolean };
  /** Called once, when the device should sleep now. */
  onSleep(): void;
}

export class SleepGate {
  readonly idleMs: number;
  private readonly timers: Timers;
  private readonly busy: SleepGateOptions["busy"];
  private readonly onSleep: () => void;
  private timer: TimerHandle | undefined;
  private state: "stopped" | "awake" | "asleep" = "stopped";

  constructor(options: SleepGateOptions) {
    this.timers = options.timers;
    this.busy = options.busy;
    this.onSleep = options.onSleep;
    this.idleMs = options.idleMs ?? 1000;
    if (!(this.idleMs >= 0 && Number.isFinite(this.idleMs))) throw new RangeError("idleMs must be a finite number ≥ 0");
  }

  /** Starts counting (at boot, once the parts exist). */
  start(): void {
    if (this.state !== "stopped") return;
    this.state = "awake";
    this.arm();
  }

  /** A button edge, or a change in one of the parts: the countdown starts again. */
  activity(): void {
    if (this.state === "awake") this.arm();
  }

  /** The parts that keep the device awake right now (empty: it may sleep). */
  busyParts(): string[] {
    return Object.keys(this.busy).filter((part) => {
      try {
        return this.busy[part]!();
      } catch {
        return true; // a probe that cannot answer must not put the device to sleep mid-order
      }
    });
  }

  /** True once onSleep was called. */
  get asleep(): boolean {
    return this.state === "asleep";
  }

  /** Cancels the countdown (shutdown); the gate never calls onSleep afterwards. */
  stop(): void {
    this.cancel();
    if (this.state === "awake") this.state = "stopped";
  }

  private arm(): void {
    this.cancel();
    this.timer = this.timers.set(() => this.due(), this.idleMs);
  }

  private due(): void {
    this.timer = undefined;
    if (this.state !== "awake") return;
    if (this.busyParts().length > 0) {
      this.arm();
      return;
    }
    this.state = "asleep";
    this.onSleep();
  }

  private cancel(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }
}
