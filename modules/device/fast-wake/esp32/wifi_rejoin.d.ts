// device/wifi-rejoin on the ESP32 (wifi_rejoin.js / wifi_rejoin.c).
/** Joins the access point `bssid` (6 bytes) on `channel` (1–13) without an all-channel scan. */
export function connectTo(ssid: string, password: string | undefined, bssid: Uint8Array, channel: number): void;
/** The joined access point, or undefined when not joined. */
export function accessPoint(): { bssid: Uint8Array; channel: number } | undefined;
/** The DNS server of a static IP. */
export function useDns(address: string): void;
