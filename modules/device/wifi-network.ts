// The Network port (core/ports.ts) on the ESP32: the SDK's Wi-Fi notifications, "gotIP" → up, "lostIP" or
// "disconnect" → down. Only watches (new WiFi without options joins nothing): joining is the business of
// whoever joined at boot. Module names, not relative paths: the importer is "board".
import WiFi from "wifi";
import Net from "net";
import { NetworkState } from "core/network";

let watcher: WiFi | undefined; // referenced, or the GC would close it and its notifications

export function wifiNetwork(): NetworkState {
  const network = new NetworkState({ up: hasAddress() });
  watcher = new WiFi(undefined, (message) => {
    if (message === WiFi.gotIP) network.set(true);
    else if (message === WiFi.lostIP || message === WiFi.disconnected) network.set(false);
  });
  return network;
}

function hasAddress(): boolean {
  const ip = Net.get("IP");
  return typeof ip === "string" && ip !== "" && ip !== "0.0.0.0";
}
