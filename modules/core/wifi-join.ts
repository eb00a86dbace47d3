// Joining the Wi-Fi at boot, and keeping it (docs/setup.md, "Setting up a button").
//
// - A join that does not bring an address within joinTimeoutMs, or that the station reports down first,
//   is a failed try. After maxTries failed tries in a row, before ever being up, the settings are taken as
//   wrong (a wrong password, a misspelt network): onGiveUp → setup mode, instead of trying for ever.
// - Once up, a loss is not a wrong setting: the Network port goes down (the flow waits, offline) and the
//   station rejoins after retryMs, for as long as it takes, never giving up into setup mode.

import type { NetworkState } from "./network";
import type { Log, TimerHandle, Timers, WifiStation } from "./ports";

export const WIFI_JOIN_TRIES = 3;
export const WIFI_JOIN_TIMEOUT_MS = 20_000;
export const WIFI_RETRY_MS = 5_000;

export interface WifiJoinOptions {
  station: WifiStation;
  network: NetworkState;
  timers: Timers;
  log: Log;
  ssid: string;
  password: string;
  maxTries?: number;
  joinTimeoutMs?: number;
  retryMs?: number;
  /** Called once, the first time the station is up. */
  onJoined(): void;
  /** maxTries failed before the first join: the settings are wrong. */
  onGiveUp(tries: number): void;
}

export class WifiJoin {
  private readonly o: WifiJoinOptions;
  private tries = 0;
  private joinedOnce = false;
  private done = false;
  private timer: TimerHandle | undefined;
  private attempt = 0;

  constructor(options: WifiJoinOptions) {
    this.o = options;
  }

  start(): void {
    this.tryJoin();
  }

  stop(): void {
    this.done = true;
    this.clear();
    this.o.station.leave();
  }

  private tryJoin(): void {
    if (this.done) return;
    const attempt = ++this.attempt;
    this.tries++;
    const { station, ssid, password, timers, log } = this.o;
    this.clear();
    this.timer = timers.set(() => {
      this.timer = undefined;
      if (attempt === this.attempt) this.failed(`no address after ${this.o.joinTimeoutMs ?? WIFI_JOIN_TIMEOUT_MS} ms`);
    }, this.o.joinTimeoutMs ?? WIFI_JOIN_TIMEOUT_MS);
    log.info(`wifi: joining ${JSON.stringify(ssid)} (try ${this.tries})`);
    try {
      station.join({ ssid, password }, (state) => {
        if (attempt !== this.attempt || this.done) return;
        if (state === "up") this.up();
        else this.failed("the station reported down");
      });
    } catch (e) {
      this.failed(`join threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private up(): void {
    this.clear();
    this.tries = 0;
    this.o.network.set(true);
    if (!this.joinedOnce) {
      this.joinedOnce = true;
      this.o.log.info(`wifi: joined ${JSON.stringify(this.o.ssid)}`);
      this.o.onJoined();
    }
  }

  private failed(why: string): void {
    if (this.done) return;
    this.clear();
    this.attempt++; // callbacks of this try no longer count
    this.o.network.set(false);
    try {
      this.o.station.leave();
    } catch {
      // a station that cannot leave is joined again below anyway
    }
    const max = this.o.maxTries ?? WIFI_JOIN_TRIES;
    if (!this.joinedOnce && this.tries >= max) {
      this.o.log.error(`wifi: could not join ${JSON.stringify(this.o.ssid)} in ${this.tries} tries (${why}): setup mode`);
      this.done = true;
      this.o.onGiveUp(this.tries);
      return;
    }
    this.o.log.warn(`wifi: ${why}; joining again in ${this.o.retryMs ?? WIFI_RETRY_MS} ms`);
    this.timer = this.o.timers.set(() => {
      this.timer = undefined;
      this.tryJoin();
    }, this.o.retryMs ?? WIFI_RETRY_MS);
  }

  private clear(): void {
    if (this.timer !== undefined) this.o.timers.clear(this.timer);
    this.timer = undefined;
  }
}
