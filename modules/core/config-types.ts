// The button's configuration as the core reads it. Types only, in their own module so the settings schema
// (settings.ts, which builds one) and config.ts (which holds the defaults it yields) do not import each other.

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
