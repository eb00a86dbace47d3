// Button configuration with the product's defaults (docs/ARCHITECTURE.md). Both hosts build one from their own sources
// (firmware: mc/config; harness: CLI flags / JSON file) and pass it to the core.

import { BUTTON_SETTINGS, buttonSettingsFrom, defaultsOf } from "./settings";

export type ClickType = "SINGLE" | "DOUBLE" | "LONG";
/**
 * on-demand: connect per press, stay awake. persistent: stay connected (mains). battery: connect per press
 * and deep-sleep between presses, woken by the button (sleep.ts decides when).
 */
export type ConnectionMode = "on-demand" | "persistent" | "battery";

export interface ButtonConfig {
  /** Thing name = certificate CN = MQTT client id. */
  thingName: string;
  /** Topic prefix; orders go to `<prefix>/orders/<thing>`, acks come on `<prefix>/acks/<thing>`. */
  topicPrefix: string;
  /** Item ordered by a SINGLE and by a DOUBLE click. LONG cancels the last accepted order. */
  items: { SINGLE: string; DOUBLE: string };
  connectionMode: ConnectionMode;
  /** Click classifier. */
  debounceMs: number;
  doubleClickMs: number;
  longPressMs: number;
  /** Flow timings. */
  ackTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  giveUpMs: number;
  /** A pending (unacknowledged) order older than this is dropped instead of resent. */
  pendingExpiryMs: number;
}

/** The defaults of the settings schema (modules/core/settings.ts), the one place they are written. */
export const defaultConfig: Omit<ButtonConfig, "thingName"> = buttonSettingsFrom(defaultsOf(BUTTON_SETTINGS)).core;

// The topic contract lives in ./topics; re-exported so the config's users need one import for a button.
export { acksTopic, isValidThingName, ordersTopic } from "./topics";
