// Board for devices. Button: an ECMA-419 digital input with pull-up (or pull-down when active-high) and
// interrupts on both edges when `button.pin` is set, else the target's Host.Button.Default (esp32/nodemcu:
// GPIO0). Raw edges go to the core's classifier: the SDK has no debounce on the ESP32. LED: a digital
// output on `led.pin`, else Host.LED.Default (esp32/nodemcu: GPIO2), else traced only. In battery mode the
// input was started before Wi-Fi by setup/button (early-button.ts), and is taken over here. Imports use
// module names: this module is "board", so "./timers" would name "timers", not device/timers.

import Digital from "embedded:io/digital";
import type { Board } from "device/board-types";
import { takeEarlyButton } from "device/early-button";
import { createHostLed, startHostButton } from "device/host-global";
import { monotonicMs } from "device/timers";
import { wifiNetwork } from "device/wifi-network";

const keep: object[] = []; // inputs/outputs must stay referenced or the GC closes them

export const board: Board = {
  startButton({ pins, woken, onEdge }) {
    if (pins.button === undefined) {
      startHostButton(onEdge);
      return;
    }
    // Battery mode: setup/button has watched the button since boot (early-button.ts).
    const early = takeEarlyButton(pins.button, onEdge);
    if (early) {
      keep.push(early);
      return;
    }
    const activeLow = pins.buttonActiveLow;
    const input = new Digital({
      pin: pins.button,
      mode: activeLow ? Digital.InputPullUp : Digital.InputPullDown,
      edge: Digital.Rising | Digital.Falling,
      onReadable(this: Digital) {
        const level = this.read();
        onEdge(activeLow ? level === 0 : level === 1, monotonicMs());
      },
    });
    keep.push(input);
    // Woken by this button: the classifier holds the wake press; a release during boot is reported now.
    if (woken) onEdge(activeLow ? input.read() === 0 : input.read() === 1, monotonicMs());
  },

  createLed(pins) {
    if (pins.led === undefined) return createHostLed();
    const output = new Digital({ pin: pins.led, mode: Digital.Output });
    keep.push(output);
    const on: 0 | 1 = pins.ledActiveLow ? 0 : 1;
    const off: 0 | 1 = pins.ledActiveLow ? 1 : 0;
    return { set: (lit) => output.write(lit ? on : off) };
  },

  report(tag, text) {
    trace(`${tag} ${text}\n`);
  },

  configOverrides() {
    return {};
  },

  network: wifiNetwork(),
};
