// The ESP32's Wi-Fi through the SDK's WiFi module (modules/network/wifi): the station main joins with the
// saved settings (core/wifi-join.ts decides tries, the fast rejoin of a battery wake and setup mode), and the
// setup access point. A join to a remembered access point and a static IP go through device/wifi-rejoin
// (fast-wake/esp32): the SDK's connect scans every channel and has no static IP.
// Module names, not relative paths: the importer is "board".
import WiFi from "wifi";
import Net from "net";
import type { WifiStation } from "core/ports";
import type { SetupAccess } from "device/board-types";
import { accessPoint, connectTo, useDhcp, useStaticIp } from "device/wifi-rejoin";

let station: WiFi | undefined; // referenced, or the GC would close it and its notifications

export const wifiStation: WifiStation = {
  join({ ssid, password, accessPoint: target, staticIp }, onChange) {
    station?.close();
    station = new WiFi(undefined, (message) => {
      if (message === WiFi.gotIP) onChange("up");
      else if (message === WiFi.disconnected || message === WiFi.lostIP) onChange("down");
    });
    WiFi.mode = WiFi.Mode.station; // starts Wi-Fi (the natives below need it); a no-op once started
    if (staticIp) useStaticIp(staticIp);
    else useDhcp();
    if (target) connectTo(ssid, password, target.bssid, target.channel);
    else WiFi.connect(password === "" ? { ssid } : { ssid, password });
  },
  leave() {
    station?.close();
    station = undefined;
    WiFi.disconnect();
  },
  joinedAccessPoint: () => accessPoint(),
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
