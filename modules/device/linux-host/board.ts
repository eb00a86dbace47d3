// Board of the headless Linux build: the button is driven from stdin, the LED and status go to stdout,
// one line each, so a harness (host-test/test/firmware) can run the real firmware like a user would.
//
// stdin:  press | release            raw edges, now
//         single | double | long     a whole gesture, timed for the configured classifier
//         mem                        XS memory (bytes) → @mem {"chunksUsed","chunksPeak","slotsUsed","slotsPeak"};
//                                    peaks since the previous mem, which resets them
//         network down | network up      the Wi-Fi went away / came back (the core's Network port)
//         quit
// stdout: @led on|off · @pattern <name|off> · @event <json> · @click <type> · @ready <thing> · @identity partition|resources <thing> ·
//         @mem <json> · @network up|down · @sleep (deep sleep: the process ends) · @halt <why> · @error <text>      (other lines are the firmware's own trace output)
// argv:   key=value ...              settings that override mc/config (e.g. mqtt.port=8884), and
//         wake.button=<epoch ms>     "woken from deep sleep by a press at that time" (sleep.ts)
//         esp_secure_cert=<file>     the board's esp_secure_cert partition image (secure_cert_partition.c)
//         wifi.sim=<ssid>:<password> the Wi-Fi stand-in: the one access point this host can join (joining
//                                    takes WIFI_SIM_JOIN_MS; a wrong name or password fails). Without it
//                                    the host counts as wired: no Wi-Fi settings needed, no join.
//         setup.port=<port>          the setup page's port on loopback (setup mode; default 8080)
//         boot.held=1                the button was held through power-on (setup mode)
// stdout (setup mode): @setup <reason> · @setup-page <url> · @restart <why> (the process re-executes itself)

/// <reference path="./hostio.d.ts" />
import { args, exit, mem, onLine, restart, write } from "hostio";
import Timer from "timer";
import type { Board } from "device/board-types";
import type { WifiStation } from "core/ports";
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

/** Host arguments that are not settings (board state and stand-ins). */
const HOST_ARGS = ["wake.button", "esp_secure_cert", "wifi.sim", "setup.port", "boot.held"];

function hostArg(name: string): string | undefined {
  const prefix = `${name}=`;
  const found = args().find((arg) => arg.startsWith(prefix));
  return found === undefined ? undefined : found.slice(prefix.length);
}

const WIFI_SIM_JOIN_MS = 200;

/** The Wi-Fi stand-in: joins only the access point of wifi.sim, with its password. */
function simulatedStation(spec: string): WifiStation {
  const colon = spec.indexOf(":");
  const ap = { ssid: colon < 0 ? spec : spec.slice(0, colon), password: colon < 0 ? "" : spec.slice(colon + 1) };
  let timer: ReturnType<typeof Timer.set> | undefined;
  return {
    join({ ssid, password }, onChange) {
      if (timer !== undefined) Timer.clear(timer);
      timer = Timer.set(() => {
        timer = undefined;
        const ok = ssid === ap.ssid && password === ap.password;
        report("wifi", ok ? `joined ${ssid}` : `join ${JSON.stringify(ssid)} failed`);
        onChange(ok ? "up" : "down");
      }, WIFI_SIM_JOIN_MS);
    },
    leave() {
      if (timer !== undefined) Timer.clear(timer);
      timer = undefined;
    },
  };
}

const wifiSim = hostArg("wifi.sim");

export const board: Board = {
  network,
  ...(wifiSim !== undefined ? { wifiStation: simulatedStation(wifiSim) } : {}),

  openSetup() {
    const port = Number(hostArg("setup.port") ?? 8080);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, reason: `setup.port=${hostArg("setup.port")} is not a port` };
    // No access point here, so no password: the host's listener (socket.c) binds 127.0.0.1 only, and the
    // page answers only to loopback Host names.
    return { ok: true, port, allowedHosts: ["127.0.0.1", "localhost"], where: `http://127.0.0.1:${port}/` };
  },

  heldAtBoot({ done }) {
    done(hostArg("boot.held") === "1");
  },

  restart() {
    restart();
  },

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
      if (HOST_ARGS.indexOf(arg.slice(0, eq)) >= 0) continue; // board state and stand-ins, not settings
      overrides[arg.slice(0, eq)] = arg.slice(eq + 1);
    }
    return overrides as RawConfig;
  },
};
