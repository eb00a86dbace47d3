// Board for devices. Button: an ECMA-419 digital input with pull-up (or pull-down when active-high) and
// interrupts on both edges when `button.pin` is set, else the target's Host.Button.Default (esp32/nodemcu:
// GPIO0). Raw edges go to the core's classifier: the SDK has no debounce on the ESP32. LED: a digital
// output on `led.pin`, else Host.LED.Default (esp32/nodemcu: GPIO2), else traced only. In battery mode the
// input was started before Wi-Fi by setup/button (early-button.ts), and is taken over here. Imports use
// module names: this module is "board", so "./timers" would name "timers", not device/timers.

import Digital from "embedded:io/digital";
import Timer from "timer";
import type { Board } from "device/board-types";
import { takeEarlyButton } from "device/early-button";
import { createHostLed, startHostButton } from "device/host-global";
import { monotonicMs } from "device/timers";
import { NetworkState } from "core/network";
import { openAccessPoint, wifiStation } from "device/wifi-station";

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

  network: new NetworkState({ up: false }), // main's Wi-Fi join sets it
  wifiStation,

  openSetup({ password }) {
    return openAccessPoint(password);
  },

  heldAtBoot({ pins, holdMs, done }) {
    // Needs button.pin: Host.Button.Default (GPIO0 on esp32/nodemcu) is also the bootloader strap.
    if (pins.button === undefined) return done(false);
    const input = new Digital({ pin: pins.button, mode: pins.buttonActiveLow ? Digital.InputPullUp : Digital.InputPullDown });
    const pressed = () => (pins.buttonActiveLow ? input.read() === 0 : input.read() === 1);
    const started = monotonicMs();
    const poll = () => {
      if (!pressed()) {
        input.close();
        return done(false);
      }
      if (monotonicMs() - started >= holdMs) {
        input.close();
        return done(true);
      }
      Timer.set(poll, 100);
    };
    poll();
  },

  restart() {
    (globalThis as { System?: { restart(): void } }).System?.restart();
  },
};
