// Timers port on the SDK's Timer, and the monotonic millisecond clock the click classifier wants.

import Timer from "timer";
import Time from "time";
import type { TimerHandle, Timers } from "../core/ports";

export const sdkTimers: Timers = {
  set(callback: () => void, delayMs: number): TimerHandle {
    return Timer.set(() => callback(), Math.max(0, delayMs));
  },
  clear(handle: TimerHandle): void {
    Timer.clear(handle as ReturnType<typeof Timer.set>);
  },
};

// Time.ticks is a 32-bit millisecond counter on the ESP32 (it wraps after ~49 days). Accumulating
// Time.delta keeps button timestamps increasing across the wrap on a mains-powered button.
let lastTicks = Time.ticks;
let elapsed = 0;

export function monotonicMs(): number {
  const now = Time.ticks;
  elapsed += Time.delta(lastTicks, now);
  lastTicks = now;
  return elapsed;
}
