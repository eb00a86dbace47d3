// The button from the first moment of a battery boot (ESP32). The SDK's setup/network runs the app's main
// only once Wi-Fi is joined, 1–3 s after a wake: by then a tap that woke the board has long ended, and
// without its release time the classifier would count the whole boot as the press (a LONG, i.e. a
// cancel, for a tap). This setup module starts before Wi-Fi: it hands the wake pin back to normal IO,
// watches the button and records its edges with their times; board.ts takes the input over and replays
// them. It does nothing unless connection=battery with a usable button.pin (main reports the errors).
// ESP32 only (setup-button.ts runs it as setup/button); module names, not relative paths: the importers
// ("board", "setup/button") are not under device/.

import config from "mc/config";
import Digital from "embedded:io/digital";
import * as deepSleep from "device/sleep";
import type { EdgeHandler } from "device/board-types";
import { readSettings } from "device/settings";
import { readStoredSettings, withStored } from "core/setup-settings";
import { traceLog } from "device/log";
import { PreferenceStore } from "device/store";
import { monotonicMs } from "device/timers";

interface EarlyButton {
  pin: number;
  input: Digital;
  edges: [pressed: boolean, atMs: number][];
  onEdge: EdgeHandler | undefined;
}

let early: EarlyButton | undefined;

/** Starts watching the button (setup/button calls it at boot, before Wi-Fi). */
export function startEarlyButton(): void {
  try {
    // The same settings main reads: the build's, with what the setup page saved over them (a button set up
    // from a phone may have its broker only there, and the schema refuses a configuration without one).
    const stored = readStoredSettings(new PreferenceStore({ domain: "pizza" }), traceLog);
    const settings = readSettings(withStored(config as { readonly [key: string]: unknown }, stored));
    if (settings.ok && settings.value.core.connectionMode === "battery" && settings.value.pins.button !== undefined) {
      const { button: pin, buttonActiveLow: activeLow } = settings.value.pins;
      deepSleep.useWakePin(pin);
      const capture: EarlyButton = { pin, input: undefined as unknown as Digital, edges: [], onEdge: undefined };
      const deliver = (pressed: boolean, atMs: number) => {
        if (capture.onEdge) capture.onEdge(pressed, atMs);
        else capture.edges.push([pressed, atMs]);
      };
      capture.input = new Digital({
        pin,
        mode: activeLow ? Digital.InputPullUp : Digital.InputPullDown,
        edge: Digital.Rising | Digital.Falling,
        onReadable(this: Digital) {
          deliver(activeLow ? this.read() === 0 : this.read() === 1, monotonicMs());
        },
      });
      // Woken by this button: a tap may already be over. Its release is known from now on, not later.
      if (deepSleep.wokenByButton()) deliver(activeLow ? capture.input.read() === 0 : capture.input.read() === 1, monotonicMs());
      early = capture;
    }
  } catch (error) {
    trace(`early button: ${error instanceof Error ? error.message : String(error)} (main reports it)\n`);
  }
}

/** The input the setup started on `pin`, with the edges seen so far replayed into onEdge; then live. */
export function takeEarlyButton(pin: number, onEdge: EdgeHandler): Digital | undefined {
  if (!early || early.pin !== pin) return undefined;
  const capture = early;
  early = undefined;
  capture.onEdge = onEdge;
  for (const [pressed, atMs] of capture.edges.splice(0)) onEdge(pressed, atMs);
  return capture.input;
}
