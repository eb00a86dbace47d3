// Wi-Fi fast rejoin after deep sleep: which join to try, and what to remember for the next wake.
//
// A join without a known access point scans every channel (13 × ~100 ms active scan) before it
// associates. After a wake the access point is almost always the one of the last join, so its BSSID and
// channel are kept in an RTC slot (survives deep sleep, lost on power-off) and the next join goes straight
// to it. If that fails (the AP moved channel, another AP serves the network now), the slot is cleared and the
// join falls back to a full scan; the AP of the join that works is remembered again.
//
// An optional static IP (address, netmask, gateway, DNS) skips DHCP (a DISCOVER/OFFER/REQUEST/ACK exchange).
//
// Pure ECMAScript: core/wifi-join follows this plan on the firmware; the tests check it on Node and XS.

import { ByteReader, ByteWriter, crc32, frameRtcRecord, unframeRtcRecord, type RtcSlot } from "./rtc-record";

/** The RTC slot bytes a remembered access point needs. */
export const ACCESS_POINT_RECORD_BYTES = 32;
/** How long a join to the remembered AP may take before the full scan is tried instead. */
export const STORED_AP_TIMEOUT_MS = 2_000;

const MAGIC = "PWA1";

export interface AccessPoint {
  /** 6 bytes. */
  bssid: Uint8Array;
  /** 2.4 GHz channel, 1–13. */
  channel: number;
}

export type JoinStep = { kind: "stored"; bssid: Uint8Array; channel: number } | { kind: "scan" };

export interface StaticIp {
  address: string;
  netmask: string;
  gateway: string;
  /** DNS server; the gateway when not set. */
  dns: string;
}

function textBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    out[2 * i] = text.charCodeAt(i) >> 8;
    out[2 * i + 1] = text.charCodeAt(i) & 0xff;
  }
  return out;
}

export function encodeAccessPoint(ssid: string, ap: AccessPoint): Uint8Array {
  if (ap.bssid.length !== 6) throw new RangeError(`a BSSID is 6 bytes, got ${ap.bssid.length}`);
  const ssidCrc = crc32(textBytes(ssid));
  return frameRtcRecord(MAGIC, new ByteWriter().u16(ssidCrc >>> 16).u16(ssidCrc & 0xffff).bytes(ap.bssid).u8(ap.channel).done());
}

/** The access point remembered for this network, or why there is none. */
export function decodeAccessPoint(bytes: Uint8Array | undefined, ssid: string): { ok: true; ap: AccessPoint } | { ok: false; reason: string } {
  const framed = unframeRtcRecord(MAGIC, bytes);
  if (!framed.ok) return framed;
  try {
    const r = new ByteReader(framed.payload);
    const ssidCrc = ((r.u16() << 16) | r.u16()) >>> 0;
    const bssid = r.bytes();
    const channel = r.u8();
    if (!r.atEnd || bssid.length !== 6) return { ok: false, reason: "malformed" };
    if (channel < 1 || channel > 13) return { ok: false, reason: `channel ${channel}` };
    if (ssidCrc !== crc32(textBytes(ssid))) return { ok: false, reason: "another network" };
    return { ok: true, ap: { bssid, channel } };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** "aa:bb:cc:dd:ee:ff" (as the SDK's WiFi reports it) → 6 bytes; undefined if it is not a MAC address. */
export function parseBssid(text: string | undefined): Uint8Array | undefined {
  if (typeof text !== "string" || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  return Uint8Array.from(text.split(":").map((h) => parseInt(h, 16)));
}

function sameAp(a: AccessPoint, b: AccessPoint): boolean {
  if (a.channel !== b.channel) return false;
  for (let i = 0; i < 6; i++) if (a.bssid[i] !== b.bssid[i]) return false;
  return true;
}

/** One wake's join: the remembered AP first if there is one, then a full scan; remembers the AP that works. */
export class RememberedAccessPoint {
  private readonly slot: RtcSlot;
  private readonly ssid: string;
  private remembered: AccessPoint | undefined;
  /** Why no remembered AP is tried (for the log). */
  readonly noStoredReason: string | undefined;

  constructor(options: { slot: RtcSlot; ssid: string }) {
    this.slot = options.slot;
    this.ssid = options.ssid;
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.slot.read();
    } catch {
      bytes = undefined;
    }
    const decoded = decodeAccessPoint(bytes, this.ssid);
    if (decoded.ok) this.remembered = decoded.ap;
    else {
      this.noStoredReason = decoded.reason;
      if (bytes && bytes.length > 0) this.slot.clear();
    }
  }

  first(): JoinStep {
    return this.remembered ? { kind: "stored", bssid: this.remembered.bssid, channel: this.remembered.channel } : { kind: "scan" };
  }

  /** The step failed (no association in STORED_AP_TIMEOUT_MS, or refused): the next one, if any. */
  failed(step: JoinStep): JoinStep | undefined {
    if (step.kind === "scan") return undefined; // the platform's own retries take over
    this.remembered = undefined;
    this.slot.clear();
    return { kind: "scan" };
  }

  /** Joined: remember this AP for the next wake (written only when it changed). */
  joined(ap: AccessPoint): void {
    if (ap.bssid.length !== 6 || ap.channel < 1 || ap.channel > 13) return;
    if (this.remembered && sameAp(this.remembered, ap)) return;
    this.remembered = { bssid: ap.bssid.slice(), channel: ap.channel };
    this.slot.write(encodeAccessPoint(this.ssid, this.remembered));
  }
}

// Static IP settings.

/** Dotted-quad IPv4 → 32-bit number, or undefined. */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = Number(m[i]);
    if (part > 255 || (m[i]!.length > 1 && m[i]![0] === "0")) return undefined;
    value = value * 256 + part;
  }
  return value;
}

export function ipv4Problem(text: string): string | undefined {
  return text === "" || parseIpv4(text) !== undefined ? undefined : `${JSON.stringify(text)} is not an IPv4 address (a.b.c.d)`;
}

function isNetmask(value: number): boolean {
  const inverted = ~value >>> 0;
  return value !== 0 && (inverted & (inverted + 1)) === 0;
}

/**
 * The static IP from its four settings ("" = not set), or the problem. No address: DHCP (undefined).
 * An address needs a netmask and a gateway on its subnet; DNS defaults to the gateway.
 */
export function staticIpFrom(values: StaticIp): { ok: true; value: StaticIp | undefined } | { ok: false; problem: string } {
  const { address, netmask, gateway, dns } = values;
  if (address === "") {
    if (netmask !== "" || gateway !== "" || dns !== "") return { ok: false, problem: "wifi.netmask, wifi.gateway and wifi.dns need wifi.address (a static IP); leave all empty for DHCP" };
    return { ok: true, value: undefined };
  }
  for (const [key, text] of [["wifi.address", address], ["wifi.netmask", netmask], ["wifi.gateway", gateway], ["wifi.dns", dns]] as const) {
    const problem = ipv4Problem(text);
    if (problem) return { ok: false, problem: `${key}: ${problem}` };
  }
  if (netmask === "" || gateway === "") return { ok: false, problem: "a static IP (wifi.address) needs wifi.netmask and wifi.gateway" };
  const a = parseIpv4(address)!;
  const m = parseIpv4(netmask)!;
  const g = parseIpv4(gateway)!;
  if (!isNetmask(m)) return { ok: false, problem: `wifi.netmask ${netmask} is not a netmask (ones, then zeros)` };
  if (((a & m) >>> 0) !== ((g & m) >>> 0)) return { ok: false, problem: `wifi.gateway ${gateway} is not on the subnet of wifi.address ${address}/${netmask}` };
  if (a === g) return { ok: false, problem: "wifi.address and wifi.gateway are the same address" };
  return { ok: true, value: { address, netmask, gateway, dns: dns === "" ? gateway : dns } };
}
