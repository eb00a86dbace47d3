// Wall clock (Clock port) and the SNTP step before the first TLS connection: the SDK's TLS rejects any
// certificate whose validity does not include Date.now(), and an ESP32 boots in 1970.

import SNTP from "sntp";
import Time from "time";
import Timer from "timer";
import type { Clock, Log } from "../core/ports";
import { isWallClockSet } from "../core/wall-clock";

export const wallClock: Clock = {
  now: () => Date.now(),
};

const RETRY_MS = 10_000;

export function clockIsSet(): boolean {
  return isWallClockSet(Date.now());
}

/** Calls onSet once the wall clock is plausible, asking `host` by SNTP (retrying) if needed. */
export function ensureWallClock(options: { host: string; log: Log; onSet(): void }): void {
  if (clockIsSet()) {
    options.onSet();
    return;
  }
  const attempt = (): void => {
    options.log.info(`clock unknown, asking ${options.host} (SNTP)`);
    new SNTP({ host: options.host }, (message, value) => {
      if (message === SNTP.time && value !== undefined) {
        Time.set(value);
        options.log.info(`clock set: ${new Date(value * 1000).toISOString()}`);
        options.onSet();
      } else if (message === SNTP.error) {
        options.log.warn(`SNTP failed; retrying in ${RETRY_MS / 1000} s`);
        Timer.set(attempt, RETRY_MS);
      }
      // SNTP.retry: the module tries again by itself.
    });
  };
  attempt();
}
