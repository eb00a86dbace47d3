// Joining the Wi-Fi at boot, and keeping it (docs/setup.md, "Setting up a button").
//
// - A join that does not bring an address within joinTimeoutMs, or that the station reports down first,
//   is a failed try. After maxTries failed tries in a row, before ever being up, the settings are taken as
//   wrong (a wrong password, a misspelt network): onGiveUp → setup mode, instead of trying for ever.
// - Once up, a loss is not a wrong setting: the Network port goes down (the flow waits, offline) and the
//   station rejoins after retryMs, for as long as it takes, never giving up into setup mode.
// - Battery wakes (accessPoints, kept in RTC memory: core/wifi-rejoin): a join first goes straight to the
//   access point of the last join, without a scan. If that brings no address within rejoinTimeoutMs, or
//   the station reports it down, the AP is forgotten and a scanning join starts at once; that fallback is
//   not one of the maxTries (a moved AP is not a wrong setting). The AP a join ends on is remembered.
// - staticIp: passed to every join (no DHCP).

import type { NetworkState } from "./network";
import type { Log, TimerHandle, Timers, WifiNetwork, WifiStation } from "./ports";
import { STORED_AP_TIMEOUT_MS, type JoinStep, type RememberedAccessPoint, type StaticIp } from "./wifi-rejoin";

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
  /** The access point of the last join (RTC memory): tried first, without a scan. */
  accessPoints?: RememberedAccessPoint;
  /** How long the remembered access point may take to bring an address. Default STORED_AP_TIMEOUT_MS. */
  rejoinTimeoutMs?: number;
  /** A static IP (no DHCP); undefined: DHCP. */
  staticIp?: StaticIp;
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
    const step: JoinStep = this.o.accessPoints?.first() ?? { kind: "scan" };
    if (step.kind === "scan") this.tries++;
    const { station, ssid, password, timers, log } = this.o;
    this.clear();
    const timeoutMs = step.kind === "stored" ? (this.o.rejoinTimeoutMs ?? STORED_AP_TIMEOUT_MS) : (this.o.joinTimeoutMs ?? WIFI_JOIN_TIMEOUT_MS);
    this.timer = timers.set(() => {
      this.timer = undefined;
      if (attempt === this.attempt) this.failed(step, `no address after ${timeoutMs} ms`);
    }, timeoutMs);
    const network: WifiNetwork = { ssid, password };
    if (step.kind === "stored") network.accessPoint = { bssid: step.bssid, channel: step.channel };
    if (this.o.staticIp) network.staticIp = this.o.staticIp;
    log.info(step.kind === "stored" ? `wifi: joining ${JSON.stringify(ssid)} at the remembered access point ${bssidText(step.bssid)} on channel ${step.channel} (no scan)` : `wifi: joining ${JSON.stringify(ssid)} (try ${this.tries})`);
    try {
      station.join(network, (state) => {
        if (attempt !== this.attempt || this.done) return;
        if (state === "up") this.up();
        else this.failed(step, "the station reported down");
      });
    } catch (e) {
      this.failed(step, `join threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private up(): void {
    this.clear();
    this.tries = 0;
    this.remember();
    this.o.network.set(true);
    if (!this.joinedOnce) {
      this.joinedOnce = true;
      this.o.log.info(`wifi: joined ${JSON.stringify(this.o.ssid)}`);
      this.o.onJoined();
    }
  }

  /** The AP this join ended on, for the next wake's join. A station that cannot tell keeps the old one. */
  private remember(): void {
    const memory = this.o.accessPoints;
    if (!memory || !this.o.station.joinedAccessPoint) return;
    try {
      const ap = this.o.station.joinedAccessPoint();
      if (ap) memory.joined(ap);
    } catch (e) {
      this.o.log.warn(`wifi: cannot remember the access point: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private failed(step: JoinStep, why: string): void {
    if (this.done) return;
    this.clear();
    this.attempt++; // callbacks of this try no longer count
    this.o.network.set(false);
    try {
      this.o.station.leave();
    } catch {
      // a station that cannot leave is joined again below anyway
    }
    if (step.kind === "stored") {
      this.o.accessPoints?.failed(step);
      this.o.log.warn(`wifi: the remembered access point failed (${why}); scanning`);
      this.tryJoin();
      return;
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

function bssidText(bssid: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bssid.length; i++) text += (i ? ":" : "") + (bssid[i]! < 16 ? "0" : "") + bssid[i]!.toString(16);
  return text;
}
