// Firmware settings from the manifest's `config` (read through mc/config). Keys are FLAT dotted names
// ("mqtt.host"), because that is what `mcconfig … mqtt.host=example.com` writes: the command line sets
// the key "mqtt.host" literally, it does not reach into a nested object. Command-line values arrive as
// strings, manifest values as JSON numbers/booleans, so every reader here accepts both.
//
// Pure TypeScript (no Moddable imports) so Node tests can check it.

import type { ButtonConfig, ConnectionMode } from "../core/config";
import { defaultConfig, isValidThingName } from "../core/config";

export type RawConfig = { readonly [key: string]: unknown };

export interface MqttSettings {
  host: string;
  port: number;
  /** TLS ALPN protocol, e.g. "x-amzn-mqtt-ca" for AWS IoT Core on port 443. */
  alpn: string | undefined;
  /** Name checked against the broker certificate's subjectAltName; defaults to host. */
  serverName: string;
  /** MQTT keepalive: the session pings after this much silence from our side. 0 = no keepalive. */
  keepaliveMs: number;
}

export interface PinSettings {
  /** GPIO of the button, or undefined to use the target's Host.Button.Default. */
  button: number | undefined;
  buttonActiveLow: boolean;
  /** GPIO of the LED, or undefined to use the target's Host.LED.Default. */
  led: number | undefined;
  ledActiveLow: boolean;
}

export interface DeviceSettings {
  /** Configured thing name; undefined means "take the CN of the device certificate". */
  thingName: string | undefined;
  core: Omit<ButtonConfig, "thingName">;
  mqtt: MqttSettings;
  /** SNTP server used when the wall clock is unknown at boot (TLS checks certificate dates). */
  sntpHost: string;
  pins: PinSettings;
}

export type SettingsResult = { ok: true; value: DeviceSettings } | { ok: false; errors: string[] };

/** The keys this firmware reads, with their defaults (the manifest's `config` repeats them). */
export const SETTING_KEYS = Object.freeze([
  "mqtt.host",
  "mqtt.port",
  "mqtt.alpn",
  "mqtt.serverName",
  "mqtt.keepaliveMs",
  "thing",
  "topicPrefix",
  "item.single",
  "item.double",
  "connection",
  "button.pin",
  "button.activeLow",
  "led.pin",
  "led.activeLow",
  "debounceMs",
  "doubleClickMs",
  "longPressMs",
  "ackTimeoutMs",
  "backoffBaseMs",
  "backoffCapMs",
  "giveUpMs",
  "pendingExpiryMs",
  "sntp",
] as const);

const TOPIC_LEVEL = /^[^#+/\u0000]+$/;

class Reader {
  readonly errors: string[] = [];
  constructor(private readonly raw: RawConfig) {}

  private value(key: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.raw, key) ? this.raw[key] : undefined;
  }

  text(key: string, fallback: string): string {
    const v = this.value(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "string") {
      this.errors.push(`${key} must be text`);
      return fallback;
    }
    return v.trim();
  }

  /** Integer in [min, max]; "" and undefined mean the fallback. */
  integer(key: string, fallback: number, min: number, max: number): number {
    const v = this.value(key);
    if (v === undefined || v === null || v === "") return fallback;
    const n = typeof v === "number" ? v : typeof v === "string" && /^-?[0-9]+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.errors.push(`${key} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
      return fallback;
    }
    return n;
  }

  /** Optional GPIO number: undefined, "" or -1 mean "none configured". */
  pin(key: string): number | undefined {
    const n = this.integer(key, -1, -1, 255);
    return n < 0 ? undefined : n;
  }

  flag(key: string, fallback: boolean): boolean {
    const v = this.value(key);
    if (v === undefined || v === null || v === "") return fallback;
    if (v === true || v === 1 || v === "1" || v === "true") return true;
    if (v === false || v === 0 || v === "0" || v === "false") return false;
    this.errors.push(`${key} must be true/false or 1/0 (got ${JSON.stringify(v)})`);
    return fallback;
  }
}

export function readSettings(raw: RawConfig): SettingsResult {
  const r = new Reader(raw);
  const d = defaultConfig;

  const host = r.text("mqtt.host", "");
  if (host === "") r.errors.push("mqtt.host is not set (build with mqtt.host=<broker name or address>)");
  const port = r.integer("mqtt.port", 8883, 1, 65535);
  const alpn = r.text("mqtt.alpn", "");
  const serverName = r.text("mqtt.serverName", "") || host;
  const keepaliveMs = r.integer("mqtt.keepaliveMs", 60_000, 0, 65_535_000);

  const thing = r.text("thing", "");
  if (thing !== "" && !isValidThingName(thing)) r.errors.push(`thing "${thing}" is not a valid thing name ([A-Za-z0-9_-], 1–128)`);

  const topicPrefix = r.text("topicPrefix", d.topicPrefix);
  // The prefix may have several levels ("acme/pizza") but no wildcards and no empty levels.
  if (!topicPrefix.split("/").every((level) => TOPIC_LEVEL.test(level))) {
    r.errors.push(`topicPrefix "${topicPrefix}" must be topic levels without wildcards`);
  }
  const single = r.text("item.single", d.items.SINGLE);
  const double = r.text("item.double", d.items.DOUBLE);
  if (single === "" || double === "") r.errors.push("item.single and item.double must not be empty");

  const connection = r.text("connection", d.connectionMode);
  if (connection !== "on-demand" && connection !== "persistent") {
    r.errors.push(`connection must be on-demand or persistent (got "${connection}")`);
  }

  const core: Omit<ButtonConfig, "thingName"> = {
    topicPrefix,
    items: { SINGLE: single, DOUBLE: double },
    connectionMode: (connection === "persistent" ? "persistent" : "on-demand") as ConnectionMode,
    debounceMs: r.integer("debounceMs", d.debounceMs, 0, 1_000),
    doubleClickMs: r.integer("doubleClickMs", d.doubleClickMs, 1, 10_000),
    longPressMs: r.integer("longPressMs", d.longPressMs, 1, 60_000),
    ackTimeoutMs: r.integer("ackTimeoutMs", d.ackTimeoutMs, 100, 600_000),
    backoffBaseMs: r.integer("backoffBaseMs", d.backoffBaseMs, 1, 600_000),
    backoffCapMs: r.integer("backoffCapMs", d.backoffCapMs, 1, 3_600_000),
    giveUpMs: r.integer("giveUpMs", d.giveUpMs, 1, 86_400_000),
    pendingExpiryMs: r.integer("pendingExpiryMs", d.pendingExpiryMs, 1, 7 * 86_400_000),
  };
  if (core.doubleClickMs <= core.debounceMs || core.longPressMs <= core.debounceMs) {
    r.errors.push("doubleClickMs and longPressMs must exceed debounceMs");
  }
  if (core.backoffCapMs < core.backoffBaseMs) r.errors.push("backoffCapMs must be at least backoffBaseMs");

  const pins: PinSettings = {
    button: r.pin("button.pin"),
    buttonActiveLow: r.flag("button.activeLow", true),
    led: r.pin("led.pin"),
    ledActiveLow: r.flag("led.activeLow", false),
  };
  const sntpHost = r.text("sntp", "pool.ntp.org");

  if (r.errors.length > 0) return { ok: false, errors: r.errors };
  return {
    ok: true,
    value: {
      thingName: thing === "" ? undefined : thing,
      core,
      mqtt: { host, port, alpn: alpn === "" ? undefined : alpn, serverName, keepaliveMs },
      sntpHost,
      pins,
    },
  };
}

/** Later sources win: e.g. mc/config first, then a host's command-line overrides. */
export function mergeConfig(...sources: RawConfig[]): RawConfig {
  const out: { [key: string]: unknown } = {};
  for (const source of sources) {
    for (const key of Object.keys(source)) out[key] = source[key];
  }
  return out;
}
