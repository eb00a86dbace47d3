// Targets without deep sleep (Moddable's simulator, desktop builds): battery mode is refused at boot.

export const supported = false;

export function wokenByButton(): boolean {
  return false;
}

export function msSinceWake(): number {
  return 0;
}

export function useWakePin(pin: number | undefined): void {
  throw new RangeError("connection=battery needs deep sleep, which this target does not have (use on-demand here)");
}

export function deepSleep(pin: number | undefined, activeLow: boolean): void {
  throw new Error("deep sleep is not available on this target");
}
