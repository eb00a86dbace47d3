// The board: where button edges come from and where LED levels go. main.ts imports it as "board" and the
// manifest picks the file: board.ts on devices (pins or Host), board-sim.ts in Moddable's simulator (Host
// only: the simulator has no ECMA-419 digital IO), modules/device/linux-host/board.ts in the headless Linux
// build (stdin/stdout).

import type { Led, WifiStation } from "../core/ports";
import type { NetworkState } from "../core/network";
import type { PinSettings, RawConfig } from "./settings";

export type EdgeHandler = (pressed: boolean, atMs: number) => void;

export interface ButtonOptions {
  pins: PinSettings;
  /** Click timings, for boards that synthesize gestures (the headless host's "long" command). */
  doubleClickMs: number;
  longPressMs: number;
  /**
   * The device woke from deep sleep by this button (the classifier already holds that press): report the
   * button's level at once if it differs (a release while the board booted).
   */
  woken?: boolean;
  onEdge: EdgeHandler;
}

export interface Board {
  /** Starts delivering raw button edges (pressed = true on press) with monotonic timestamps. */
  startButton(options: ButtonOptions): void;
  createLed(pins: PinSettings): Led;
  /** A status line for people and harnesses, e.g. report("pattern", "ok"). */
  report(tag: string, text: string): void;
  /** Settings that override mc/config at run time; devices have none. */
  configOverrides(): RawConfig;
  /** Wi-Fi up/down, where the board knows it; without one the network counts as always up. */
  readonly network?: NetworkState;
  /** The Wi-Fi station main joins with the settings (none: a wired host, Wi-Fi settings unused). */
  readonly wifiStation?: WifiStation;
  /**
   * Setup mode: makes the setup page reachable (ESP32: opens the WPA2 access point with `password`) and
   * says where it listens, or why it cannot (no password: no open access point).
   */
  openSetup?(options: { password: string | undefined }): SetupAccess;
  /** Whether the button is held through power-on for holdMs (setup mode); calls back once. */
  heldAtBoot?(options: { pins: PinSettings; holdMs: number; done: (held: boolean) => void }): void;
  /** Restarts the firmware (after the setup page saved). */
  restart?(): void;
}

export type SetupAccess =
  | { ok: true; port: number; allowedHosts: string[]; where: string }
  | { ok: false; reason: string };
