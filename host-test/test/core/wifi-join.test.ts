// Joining the Wi-Fi: N failed tries before the first join → setup mode; a loss after it → offline and rejoin.
import { describe, expect, it } from "vitest";
import { NetworkState } from "../../../modules/core/network";
import type { WifiStation } from "../../../modules/core/ports";
import { WifiJoin, WIFI_JOIN_TIMEOUT_MS, WIFI_RETRY_MS } from "../../../modules/core/wifi-join";
import { FakeTimers, MemoryLog } from "./fakes";

/** An access point with a password; joins take 100 ms. */
class FakeStation implements WifiStation {
  joins = 0;
  listener: ((state: "up" | "down") => void) | undefined;
  constructor(private readonly timers: FakeTimers, public password: string | undefined) {}
  join(network: { ssid: string; password: string }, onChange: (state: "up" | "down") => void): void {
    this.joins++;
    this.listener = onChange;
    const ok = this.password !== undefined && network.password === this.password;
    if (this.password === undefined) return; // the AP is away: nothing ever answers
    this.timers.set(() => onChange(ok ? "up" : "down"), 100);
  }
  leave(): void {
    this.listener = undefined;
  }
}

function join(apPassword: string | undefined, password: string) {
  const timers = new FakeTimers(0);
  const station = new FakeStation(timers, apPassword);
  const network = new NetworkState({ up: false });
  const seen: string[] = [];
  const w = new WifiJoin({ station, network, timers, log: new MemoryLog(), ssid: "kitchen", password, onJoined: () => seen.push(`joined ${timers.now()}`), onGiveUp: (n) => seen.push(`setup ${n}`) });
  w.start();
  return { timers, station, network, seen, w };
}

describe("WifiJoin", () => {
  it("joins: the network goes up, onJoined once", () => {
    const t = join("correct-horse", "correct-horse");
    t.timers.advance(1000);
    expect(t.seen).toEqual(["joined 100"]);
    expect(t.network.up).toBe(true);
  });

  it("a wrong password: three tries, then setup mode, and no more tries", () => {
    const t = join("correct-horse", "wrong-password");
    t.timers.advance(10 * 60_000);
    expect(t.station.joins).toBe(3);
    expect(t.seen).toEqual(["setup 3"]);
    expect(t.network.up).toBe(false);
  });

  it("an access point that never answers: each try times out, then setup mode", () => {
    const t = join(undefined, "correct-horse");
    t.timers.advance(3 * WIFI_JOIN_TIMEOUT_MS + 2 * WIFI_RETRY_MS - 1);
    expect(t.seen).toEqual([]);
    t.timers.advance(1);
    expect(t.seen).toEqual(["setup 3"]);
  });

  it("once joined, a loss takes the network down and it rejoins for as long as it takes: never setup mode", () => {
    const t = join("correct-horse", "correct-horse");
    t.timers.advance(1000);
    t.station.password = undefined; // the AP goes away
    t.station.listener!("down");
    expect(t.network.up).toBe(false);
    t.timers.advance(60 * 60_000);
    expect(t.station.joins).toBeGreaterThan(10);
    expect(t.seen).toEqual(["joined 100"]);
    t.station.password = "correct-horse"; // back
    t.timers.advance(WIFI_JOIN_TIMEOUT_MS + WIFI_RETRY_MS);
    expect(t.network.up).toBe(true);
    expect(t.seen).toEqual(["joined 100"]);
  });
});
