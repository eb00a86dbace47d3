// Button configuration with the product's defaults (docs/ARCHITECTURE.md). Both hosts build one from their own sources
// (firmware: mc/config; harness: CLI flags / JSON file) and pass it to the core.

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

export const defaultConfig: Omit<ButtonConfig, "thingName"> = {
  topicPrefix: "pizza",
  items: { SINGLE: "margherita", DOUBLE: "pepperoni" },
  connectionMode: "on-demand",
  debounceMs: 30,
  doubleClickMs: 400,
  longPressMs: 1500,
  ackTimeoutMs: 10_000,
  backoffBaseMs: 1_000,
  backoffCapMs: 30_000,
  giveUpMs: 120_000,
  pendingExpiryMs: 30 * 60_000,
};

export function ordersTopic(prefix: string, thing: string): string {
  return `${prefix}/orders/${thing}`;
}

export function acksTopic(prefix: string, thing: string): string {
  return `${prefix}/acks/${thing}`;
}

/** AWS IoT thing names: 1–128 of [a-zA-Z0-9:_-]. We also forbid ':' so a name is always a safe topic level. */
export function isValidThingName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(name);
}
