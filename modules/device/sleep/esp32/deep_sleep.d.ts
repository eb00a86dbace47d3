// Deep sleep with the button as the wake source. One API, three implementations: the ESP32 natives
// (deep_sleep.js/.c), the headless Linux host (modules/device/linux-host/sleep.ts: the process ends and
// the harness restarts it) and a refusal for targets without deep sleep (../none/deep_sleep.ts).

/** False where the target cannot deep-sleep (battery mode is refused at boot there). */
export const supported: boolean;
/** This boot is a wake from deep sleep by the button. */
export function wokenByButton(): boolean;
/** Milliseconds since the press that woke the board, on this boot's clock (0 when not woken by it). */
export function msSinceWake(): number;
/**
 * Checks that the button's GPIO can wake the board, and after a wake hands it back to normal IO.
 * Throws a RangeError that says why not (no pin configured; not an RTC GPIO on the ESP32).
 */
export function useWakePin(pin: number | undefined): void;
/** Enters deep sleep until the button reaches its pressed level. Does not return on a device. */
export function deepSleep(pin: number | undefined, activeLow: boolean): void;
