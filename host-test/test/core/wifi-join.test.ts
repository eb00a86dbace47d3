// Joining the Wi-Fi: N failed tries before the first join → setup mode; a loss after it → offline and rejoin.
// Battery wakes: the remembered access point first (no scan), a scan at once when it fails.
import { describe, expect, it } from "vitest";
import { NetworkState } from "../../../modules/core/network";
import type { WifiNetwork, WifiStation } from "../../../modules/core/ports";
import { WifiJoin, WIFI_JOIN_TIMEOUT_MS, WIFI_RETRY_MS } from "../../../modules/core/wifi-join";
import { RememberedAccessPoint, STORED_AP_TIMEOUT_MS } from "../../../modules/core/wifi-rejoin";
import { FakeTimers, MemoryLog, MemorySlot } from "./fakes";

const KITCHEN_AP = { bssid: Uint8Array.from([0x24, 0x0a, 0xc4, 0x11, 0x22, 0x33]), channel: 6 };

/**
 * An access point with a password, at KITCHEN_AP unless moved: a scanning join takes 100 ms (the scan), a
 * join to a BSSID and channel 20 ms if the AP is there; at another BSSID or channel nothing answers.
 */
class FakeStation implements WifiStation {
  joins = 0;
  networks: WifiNetwork[] = [];
  ap = KITCHEN_AP;
  joined: { bssid: Uint8Array; channel: number } | undefined;
  listener: ((state: "up" | "down") => void) | undefined;
  constructor(private readonly timers: FakeTimers, public password: string | undefined) {}
  join(network: WifiNetwork, onChange: (state: "up" | "down") => void): void {
    this.joins++;
    this.networks.push(network);
    this.listener = onChange;
    const ok = this.password !== undefined && network.password === this.password;
    if (this.password === undefined) return; // the AP is away: nothing ever answers
    const target = network.accessPoint;
    if (target && (target.channel !== this.ap.channel || target.bssid.join() !== this.ap.bssid.join())) return;
    this.timers.set(() => {
      if (this.listener !== onChange) return;
      if (ok) this.joined = this.ap;
      onChange(ok ? "up" : "down");
    }, target ? 20 : 100);
  }
  leave(): void {
    this.listener = undefined;
    this.joined = undefined;
  }
  joinedAccessPoint() {
    return this.joined;
  }
}

function join(apPassword: string | undefined, password: string, options: { rtc?: MemorySlot; staticIp?: WifiNetwork["staticIp"]; ap?: FakeStation["ap"] } = {}) {
  const { rtc, staticIp } = options;
  const timers = new FakeTimers(0);
  const station = new FakeStation(timers, apPassword);
  if (options.ap) station.ap = options.ap;
  const network = new NetworkState({ up: false });
  const seen: string[] = [];
  const log = new MemoryLog();
  const w = new WifiJoin({
    station,
    network,
    timers,
    log,
    ssid: "kitchen",
    password,
    ...(rtc ? { accessPoints: new RememberedAccessPoint({ slot: rtc, ssid: "kitchen" }) } : {}),
    ...(staticIp ? { staticIp } : {}),
    onJoined: () => seen.push(`joined ${timers.now()}`),
    onGiveUp: (n) => seen.push(`setup ${n}`),
  });
  w.start();
  return { timers, station, network, seen, w, log };
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

  describe("battery wakes: the access point kept in RTC memory", () => {
    it("power-on scans and remembers the AP; the next wake joins it directly, without a scan", () => {
      const rtc = new MemorySlot();
      const first = join("correct-horse", "correct-horse", { rtc });
      first.timers.advance(1000);
      expect(first.seen).toEqual(["joined 100"]);
      expect(first.station.networks[0]!.accessPoint).toBeUndefined();
      expect(rtc.bytes).toBeDefined();

      const wake = join("correct-horse", "correct-horse", { rtc });
      wake.timers.advance(1000);
      expect(wake.seen).toEqual(["joined 20"]);
      expect(wake.station.networks.map((n) => n.accessPoint)).toEqual([KITCHEN_AP]);
      expect(rtc.writes).toBe(1); // the same AP: not written again
    });

    it("the AP moved: the remembered one gets no answer, the scan starts at once after rejoinTimeoutMs, the new AP is remembered", () => {
      const rtc = new MemorySlot();
      join("correct-horse", "correct-horse", { rtc }).timers.advance(1000);
      const moved = { bssid: Uint8Array.from([1, 2, 3, 4, 5, 6]), channel: 11 };
      const wake = join("correct-horse", "correct-horse", { rtc, ap: moved });
      wake.timers.advance(1000 + STORED_AP_TIMEOUT_MS);
      expect(wake.seen).toEqual([`joined ${STORED_AP_TIMEOUT_MS + 100}`]);
      expect(wake.station.networks.map((n) => n.accessPoint)).toEqual([KITCHEN_AP, undefined]);
      expect(wake.log.lines.some((l) => /remembered access point failed \(no address after 2000 ms\); scanning/.test(l))).toBe(true);

      const next = join("correct-horse", "correct-horse", { rtc, ap: moved });
      next.timers.advance(1000);
      expect(next.seen).toEqual(["joined 20"]);
      expect(next.station.networks.map((n) => n.accessPoint)).toEqual([moved]);
    });

    it("the remembered AP refuses (down): scan at once; that fallback is not one of the tries before setup mode", () => {
      const rtc = new MemorySlot();
      join("correct-horse", "correct-horse", { rtc }).timers.advance(1000);
      const wake = join("correct-horse", "wrong-password", { rtc });
      wake.timers.advance(10 * 60_000);
      // the remembered AP (down after 20 ms), then three scanning tries: setup mode after those three
      expect(wake.station.networks.map((n) => n.accessPoint === undefined)).toEqual([false, true, true, true]);
      expect(wake.seen).toEqual(["setup 3"]);
      expect(rtc.bytes).toBeUndefined(); // forgotten: the next wake scans
    });

    it("a static IP goes with every join, remembered AP or scan", () => {
      const rtc = new MemorySlot();
      const staticIp = { address: "192.168.1.60", netmask: "255.255.255.0", gateway: "192.168.1.1", dns: "192.168.1.1" };
      join("correct-horse", "correct-horse", { rtc, staticIp }).timers.advance(1000);
      const wake = join("correct-horse", "correct-horse", { rtc, staticIp });
      wake.timers.advance(1000);
      expect(wake.station.networks.map((n) => n.staticIp)).toEqual([staticIp]);
      expect(wake.station.networks[0]!.accessPoint).toEqual(KITCHEN_AP);
    });

    it("a station that cannot tell the AP it joined leaves RTC memory as it was", () => {
      const rtc = new MemorySlot();
      const t = join("correct-horse", "correct-horse", { rtc });
      (t.station as { joinedAccessPoint?: unknown }).joinedAccessPoint = undefined;
      t.timers.advance(1000);
      expect(t.seen).toEqual(["joined 100"]);
      expect(rtc.bytes).toBeUndefined();
    });
  });
});
