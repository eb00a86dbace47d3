// setup/button (ESP32): the SDK runs every setup/* module at boot before the app's main, and main only
// after setup/network has joined Wi-Fi. Watching the button from here keeps the timing of the press that
// woke the board (early-button.ts).
import { startEarlyButton } from "device/early-button";

export default function (done: () => void): void {
  startEarlyButton();
  done();
}
