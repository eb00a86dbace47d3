// device/wifi-rejoin on the ESP32 (wifi_rejoin.js / wifi_rejoin.c). Wi-Fi must be started (WiFi.mode).
/** Joins the access point `bssid` (6 bytes) on `channel` (1–13) without an all-channel scan. */
export function connectTo(ssid: string, password: string | undefined, bssid: Uint8Array, channel: number): void;
/** The joined access point, or undefined when not joined. */
export function accessPoint(): { bssid: Uint8Array; channel: number } | undefined;
/** No DHCP: this address, netmask, gateway and DNS server (set before the join). */
export function useStaticIp(ip: { address: string; netmask: string; gateway: string; dns: string }): void;
/** DHCP (the default). */
export function useDhcp(): void;
