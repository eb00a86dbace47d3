// The Clock port on Node: wall-clock epoch milliseconds (the firmware gets the same after SNTP).
import type { Clock } from "../../modules/core/ports";

export const systemClock: Clock = {
  now: () => Date.now(),
};
