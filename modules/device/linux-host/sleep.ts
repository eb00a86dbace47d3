// Deep sleep of the headless Linux build (device/sleep, as on the ESP32): sleeping ends the process
// with the line "@sleep", and a harness plays the button that wakes it by starting the binary again
// with the setting wake.button=<epoch ms of the press>. The Preference file (the flash) stays in the
// working folder, so a pending order survives the "sleep" as it survives one on the board.

/// <reference path="./hostio.d.ts" />
import { args, exit, write } from "hostio";

/** The setting a harness adds when it restarts the binary for a button press (see board.ts). */
export const WAKE_SETTING = "wake.button";

function wakePressedAt(): number | undefined {
  for (const arg of args()) {
    if (!arg.startsWith(`${WAKE_SETTING}=`)) continue;
    const value = arg.slice(WAKE_SETTING.length + 1);
    const at = /^[0-9]+$/.test(value) ? Number(value) : NaN;
    if (Number.isSafeInteger(at)) return at;
    write(`@error ignored ${WAKE_SETTING}=${JSON.stringify(value)} (expected the press time in epoch milliseconds)\n`);
  }
  return undefined;
}

const pressedAt = wakePressedAt();

export const supported = true;

export function wokenByButton(): boolean {
  return pressedAt !== undefined;
}

export function msSinceWake(): number {
  return pressedAt === undefined ? 0 : Math.max(0, Date.now() - pressedAt);
}

/** Any pin will do: the button here is stdin. */
export function useWakePin(pin: number | undefined): void {}

export function deepSleep(pin: number | undefined, activeLow: boolean): void {
  write("@sleep\n");
  exit(0);
}
