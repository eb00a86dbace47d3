// When is the wall clock "set"? An ESP32 boots in 1970 and has no battery-backed clock, so before SNTP
// answers its Date.now() is a small number. One cutoff for every decision that needs a real date: the
// firmware asks SNTP below it (TLS checks certificate dates), and the flow refuses to seed an order's seq
// from it (a seq seeded from a wrong, early clock could reuse an orderId the restaurant already answered).
// The product did not exist before 2025, so no correct clock reads earlier: the later the cutoff, the
// fewer wrong clocks pass for right ones.

/** Date.UTC(2025, 0, 1). */
export const CLOCK_SET_AFTER_MS = 1_735_689_600_000;
export const CLOCK_SET_AFTER_YEAR = 2025;

export function isWallClockSet(nowMs: number): boolean {
  return nowMs >= CLOCK_SET_AFTER_MS;
}
