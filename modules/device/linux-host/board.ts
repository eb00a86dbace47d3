// Board of the headless Linux build: the button is driven from stdin, the LED and status go to stdout,
// one line each, so a harness (host-test/test/firmware) can run the real firmware like a user would.
//
// stdin:  press | release            raw edges, now
//         single | double | long     a whole gesture, timed for the configured classifier
//         mem                        XS memory (bytes) → @mem {"chunksUsed","chunksPeak","slotsUsed","slotsPeak"};
//                                    peaks since the previous mem, which resets them
//         network down | network up      the Wi-Fi went away / came back (the core's Network port)
//         quit
// stdout: @led on|off · @pattern <name|off> · @event <json> · @click <type> · @ready <thing> ·
//         @mem <json> · @network up|down · @sleep (deep sleep: the process ends) · @halt <why> · @error <text>      (other lines are the firmware's own trace output)
// argv:   key=value ...              settings that override mc/config (e.g. mqtt.port=8884), and
//         wake.button=<epoch ms>     "woken from deep sleep by a press at that time" (sleep.ts)

/// <reference path="./hostio.d.ts" />
import { args, exit, mem, onLine, write } from "hostio";
import Timer from "timer";
import type { Board } from "device/board-types";
import type { RawConfig } from "device/settings";
import { monotonicMs } from "device/timers";
import { NetworkState } from "core/network";

const TAP_MS = 80; // how long a synthesized click holds the button

function report(tag: string, text: string): void {
  write(`@${tag} ${text}\n`);
}

/** Edges at offsets (ms from now): [pressed, atOffset][]; each delivered when its time comes. */
function gesture(onEdge: (pressed: boolean, atMs: number) => void, steps: [boolean, number][]): void {
  for (const [pressed, offset] of steps) {
    Timer.set(() => onEdge(pressed, monotonicMs()), offset);
  }
}

/** The headless host has loopback only: the network is up until a `network down` command says otherwise. */
const network = new NetworkState({ up: true });

export const board: Board = {
  network,

  startButton({ doubleClickMs, longPressMs, onEdge }) {
    const gap = Math.max(1, Math.min(TAP_MS, Math.floor(doubleClickMs / 3)));
    onLine((line) => {
      const command = line.trim();
      switch (command) {
        case "press":
          return onEdge(true, monotonicMs());
        case "release":
          return onEdge(false, monotonicMs());
        case "single":
          return gesture(onEdge, [[true, 0], [false, TAP_MS]]);
        case "double":
          return gesture(onEdge, [[true, 0], [false, TAP_MS], [true, TAP_MS + gap], [false, 2 * TAP_MS + gap]]);
        case "long":
          return gesture(onEdge, [[true, 0], [false, longPressMs + TAP_MS]]);
        case "network down":
        case "network up":
          network.set(command === "network up");
          return report("network", network.up ? "up" : "down");
        case "mem":
          return report("mem", JSON.stringify(mem()));
        case "quit":
          return exit(0);
        case "":
          return;
        default:
          report("error", `unknown command ${JSON.stringify(command)}`);
      }
    });
  },

  createLed() {
    return { set: (on) => report("led", on ? "on" : "off") };
  },

  report,

  configOverrides() {
    const overrides: { [key: string]: string } = {};
    for (const arg of args()) {
      const eq = arg.indexOf("=");
      if (eq <= 0) {
        report("error", `ignored argument ${JSON.stringify(arg)} (expected key=value)`);
        continue;
      }
      if (arg.slice(0, eq) === "wake.button") continue; // boot state, not a setting: sleep.ts reads it
      overrides[arg.slice(0, eq)] = arg.slice(eq + 1);
    }
    return overrides as RawConfig;
  },
};
