// Wi-Fi fast rejoin (core/wifi-rejoin): the remembered access point first, a full scan when it fails, the
// AP that works remembered for the next wake; static IP settings checked as a whole.
import { describe, expect, it } from "vitest";
import { MemorySlot } from "./fakes";
import { ACCESS_POINT_RECORD_BYTES, RememberedAccessPoint, decodeAccessPoint, encodeAccessPoint, parseBssid, parseIpv4, staticIpFrom } from "../../../modules/core/wifi-rejoin";
import { validateButtonSettings } from "../../../modules/core/settings";

const AP = { bssid: Uint8Array.from([0x24, 0x0a, 0xc4, 0x11, 0x22, 0x33]), channel: 6 };

describe("RememberedAccessPoint", () => {
  it("power-on (empty RTC memory): scans; the AP joined is remembered for the next wake", () => {
    const slot = new MemorySlot();
    const join = new RememberedAccessPoint({ slot, ssid: "pizzeria" });
    expect(join.first()).toEqual({ kind: "scan" });
    expect(join.noStoredReason).toBe("empty");
    join.joined(AP);
    expect(slot.bytes!.length).toBeLessThanOrEqual(ACCESS_POINT_RECORD_BYTES);

    const wake = new RememberedAccessPoint({ slot, ssid: "pizzeria" });
    expect(wake.first()).toEqual({ kind: "stored", bssid: AP.bssid, channel: 6 });
    wake.joined(AP); // the same AP: nothing written
    expect(slot.writes).toBe(1);
  });

  it("the remembered AP fails: it is forgotten and the join scans; a scan that fails has no next step", () => {
    const slot = new MemorySlot();
    new RememberedAccessPoint({ slot, ssid: "pizzeria" }).joined(AP);
    const wake = new RememberedAccessPoint({ slot, ssid: "pizzeria" });
    const first = wake.first();
    expect(first.kind).toBe("stored");
    expect(wake.failed(first)).toEqual({ kind: "scan" });
    expect(slot.bytes).toBeUndefined();
    expect(wake.failed({ kind: "scan" })).toBeUndefined();
    wake.joined({ bssid: Uint8Array.from([1, 2, 3, 4, 5, 6]), channel: 11 }); // the AP the scan found
    expect(new RememberedAccessPoint({ slot, ssid: "pizzeria" }).first()).toEqual({ kind: "stored", bssid: Uint8Array.from([1, 2, 3, 4, 5, 6]), channel: 11 });
  });

  it("an AP of another network, or a corrupted record, is not tried (and a bad record is wiped)", () => {
    const slot = new MemorySlot();
    new RememberedAccessPoint({ slot, ssid: "pizzeria" }).joined(AP);
    const other = new RememberedAccessPoint({ slot, ssid: "home" });
    expect(other.first()).toEqual({ kind: "scan" });
    expect(other.noStoredReason).toBe("another network");

    new RememberedAccessPoint({ slot, ssid: "pizzeria" }).joined(AP);
    slot.bytes![8] ^= 1;
    const corrupted = new RememberedAccessPoint({ slot, ssid: "pizzeria" });
    expect(corrupted.first()).toEqual({ kind: "scan" });
    expect(corrupted.noStoredReason).toBe("bad CRC");
    expect(slot.bytes).toBeUndefined();
  });

  it("records round-trip; impossible channels and BSSIDs are refused", () => {
    expect(decodeAccessPoint(encodeAccessPoint("n", AP), "n")).toEqual({ ok: true, ap: AP });
    expect(decodeAccessPoint(encodeAccessPoint("n", { ...AP, channel: 14 }), "n")).toEqual({ ok: false, reason: "channel 14" });
    expect(() => encodeAccessPoint("n", { bssid: new Uint8Array(5), channel: 1 })).toThrow(/6 bytes/);
    const slot = new MemorySlot();
    new RememberedAccessPoint({ slot, ssid: "n" }).joined({ bssid: AP.bssid, channel: 0 });
    expect(slot.bytes).toBeUndefined();
  });

  it("parses the SDK's BSSID text", () => {
    expect([...parseBssid("24:0a:C4:11:22:33")!]).toEqual([...AP.bssid]);
    expect(parseBssid("24:0a:c4:11:22")).toBeUndefined();
    expect(parseBssid(undefined)).toBeUndefined();
  });
});

describe("static IP settings", () => {
  const none = { address: "", netmask: "", gateway: "", dns: "" };

  it("no address: DHCP; an address with netmask and gateway on its subnet: static, DNS defaulting to the gateway", () => {
    expect(staticIpFrom(none)).toEqual({ ok: true, value: undefined });
    expect(staticIpFrom({ address: "192.168.1.50", netmask: "255.255.255.0", gateway: "192.168.1.1", dns: "" })).toEqual({
      ok: true,
      value: { address: "192.168.1.50", netmask: "255.255.255.0", gateway: "192.168.1.1", dns: "192.168.1.1" },
    });
  });

  it("refuses partial, malformed or inconsistent static IPs with the reason", () => {
    const base = { address: "192.168.1.50", netmask: "255.255.255.0", gateway: "192.168.1.1", dns: "" };
    const problem = (v: typeof base) => {
      const r = staticIpFrom(v);
      return r.ok ? undefined : r.problem;
    };
    expect(problem({ ...none, gateway: "192.168.1.1" })).toMatch(/need wifi.address/);
    expect(problem({ ...base, netmask: "" })).toMatch(/needs wifi.netmask and wifi.gateway/);
    expect(problem({ ...base, netmask: "255.0.255.0" })).toMatch(/not a netmask/);
    expect(problem({ ...base, gateway: "10.0.0.1" })).toMatch(/not on the subnet/);
    expect(problem({ ...base, gateway: base.address })).toMatch(/same address/);
    expect(problem({ ...base, dns: "1.1.1" })).toMatch(/wifi.dns: "1.1.1" is not an IPv4 address/);
    expect(parseIpv4("256.1.1.1")).toBeUndefined();
    expect(parseIpv4("01.1.1.1")).toBeUndefined();
  });

  it("the settings schema carries them (and the TLS session lifetime) and reports a bad combination", () => {
    const ok = validateButtonSettings({ "wifi.address": "10.0.0.9", "wifi.netmask": "255.255.255.0", "wifi.gateway": "10.0.0.1" });
    expect(ok.ok && ok.value.staticIp).toEqual({ address: "10.0.0.9", netmask: "255.255.255.0", gateway: "10.0.0.1", dns: "10.0.0.1" });
    expect(ok.ok && ok.value.tlsSessionLifetimeSec).toBe(3600);
    const bad = validateButtonSettings({ "wifi.address": "10.0.0.9", "mqtt.tlsSessionLifetimeSec": -1 });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors.join("\n")).toMatch(/tlsSessionLifetimeSec/);
    expect(!bad.ok && bad.errors.join("\n")).toMatch(/needs wifi.netmask and wifi.gateway/);
  });
});
