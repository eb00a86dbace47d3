// The ESP32's Wi-Fi through the SDK's WiFi module (modules/network/wifi): the station main joins with the
// saved settings (core/wifi-join.ts decides tries and setup mode), and the setup access point.
// Module names, not relative paths: the importer is "board".
import WiFi from "wifi";
import Net from "net";
import type { WifiStation } from "core/ports";
import type { SetupAccess } from "device/board-types";

let station: WiFi | undefined; // referenced, or the GC would close it and its notifications

export const wifiStation: WifiStation = {
  join({ ssid, password }, onChange) {
    station?.close();
    station = new WiFi(password === "" ? { ssid } : { ssid, password }, (message) => {
      if (message === WiFi.gotIP) onChange("up");
      else if (message === WiFi.disconnected || message === WiFi.lostIP) onChange("down");
    });
  },
  leave() {
    station?.close();
    station = undefined;
    WiFi.disconnect();
  },
};

/** The ESP32's own address on its access point (ESP-IDF's default soft-AP network). */
export const ACCESS_POINT_ADDRESS = "192.168.4.1";

/** Opens the WPA2 setup access point pizza-setup-<last 4 hex digits of the MAC>; never an open one. */
export function openAccessPoint(password: string | undefined): SetupAccess {
  if (password === undefined) {
    return { ok: false, reason: "no setup password for this board (its identity carries none): the setup access point stays closed rather than open to anyone" };
  }
  const get = Net.get as (what: string, mode?: string) => string | undefined;
  const mac = String(get("MAC", "ap") ?? get("MAC") ?? "").replace(/[^0-9a-fA-F]/g, "");
  const ssid = `pizza-setup-${mac.slice(-4).toLowerCase() || "0000"}`;
  WiFi.accessPoint({ ssid, password });
  return { ok: true, port: 80, allowedHosts: [ACCESS_POINT_ADDRESS], where: `Wi-Fi ${ssid}, then http://${ACCESS_POINT_ADDRESS}/` };
}
