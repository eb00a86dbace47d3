// Board for Moddable's simulator (sim/nodemcu): the simulator has no ECMA-419 digital IO, so the button
// and LED are the simulated ones behind Host (the Delete key presses the button).

import type { Board } from "./board-types";
import { createHostLed, startHostButton } from "./host-global";
import type { PinSettings } from "./settings";

function noPins(pins: PinSettings): void {
  if (pins.button !== undefined || pins.led !== undefined) {
    trace("warn: button.pin/led.pin are ignored in this build (no digital IO); using Host\n");
  }
}

export const board: Board = {
  startButton({ pins, onEdge }) {
    noPins(pins);
    startHostButton(onEdge);
  },
  createLed(pins) {
    return createHostLed();
  },
  report(tag, text) {
    trace(`${tag} ${text}\n`);
  },
  configOverrides() {
    return {};
  },
};
