// Board for devices. Button: an ECMA-419 digital input with pull-up (or pull-down when active-high) and
// interrupts on both edges when `button.pin` is set, else the target's Host.Button.Default (esp32/nodemcu:
// GPIO0). Raw edges go to the core's classifier: the SDK has no debounce on the ESP32. LED: a digital
// output on `led.pin`, else Host.LED.Default (esp32/nodemcu: GPIO2), else traced only.

import Digital from "embedded:io/digital";
import type { Board } from "./board-types";
import { createHostLed, startHostButton } from "./host-global";
import { monotonicMs } from "./timers";

const keep: object[] = []; // inputs/outputs must stay referenced or the GC closes them

export const board: Board = {
  startButton({ pins, onEdge }) {
    if (pins.button === undefined) {
      startHostButton(onEdge);
      return;
    }
    const activeLow = pins.buttonActiveLow;
    keep.push(
      new Digital({
        pin: pins.button,
        mode: activeLow ? Digital.InputPullUp : Digital.InputPullDown,
        edge: Digital.Rising | Digital.Falling,
        onReadable(this: Digital) {
          const level = this.read();
          onEdge(activeLow ? level === 0 : level === 1, monotonicMs());
        },
      }),
    );
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
};
