// The Timers port on Node.
import type { TimerHandle, Timers } from "../../modules/core/ports";

export const nodeTimers: Timers = {
  set(callback: () => void, delayMs: number): TimerHandle {
    return setTimeout(callback, delayMs);
  },
  clear(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
