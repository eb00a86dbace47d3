// The settings schema (docs/ARCHITECTURE.md, "Settings"): every setting of the button, and the machinery
// the services and the harness use for theirs, as data: key, type, default, range or choices, help text.
// One validator reads them from any source and returns every error at once.
//
// Sources: the firmware's mc/config (manifest JSON values) with mcconfig command-line overrides (always
// strings: `mcconfig … debounceMs=40`), the simulator's --config JSON file and --flags (strings), the
// services' --flags. So every reader accepts a JSON value or its text form.
//
// Key names are the manifest's `config` keys, flat and dotted ("mqtt.host", "item.single"): mcconfig sets
// "mqtt.host" literally, it does not reach into a nested object. The Node hosts derive a command-line flag
// from a key (flagOf and the help text are theirs, services/settings-cli.ts: the firmware has no command line).
//
// Pure ECMAScript: this file runs on XS in the firmware.

import type { ButtonConfig, ConnectionMode } from "./config-types";
import { buttonThingNameProblem, DEFAULT_TOPIC_PREFIX, topicPrefixProblem } from "./topics";
import { ipv4Problem, staticIpFrom, type StaticIp } from "./wifi-rejoin";

export type SwitchSet = { [name: string]: boolean };
export type SettingValue = string | number | boolean | readonly string[] | SwitchSet;

interface SettingBase {
  /** The key in the manifest's `config`, the --config file and (as its flag) the command line. */
  key: string;
  help: string;
  /** Other flags that mean this key (kept for existing command lines), without the leading dashes. */
  aliases?: readonly string[];
}

export type Setting =
  | (SettingBase & {
      /** Text; trimmed. "path" is text a Node host resolves against the directory it came from. */
      type: "text" | "path";
      /** undefined: optional, no value unless given. */
      default?: string;
      /** "" is a value (e.g. mqtt.host, where "" means "not set"); otherwise "" is refused. */
      allowEmpty?: boolean;
      check?: (value: string) => string | undefined;
    })
  | (SettingBase & { type: "integer"; default?: number; min: number; max: number; unit?: "ms" | "min" | "bytes" })
  | (SettingBase & { type: "boolean"; default: boolean })
  | (SettingBase & { type: "choice"; default: string; choices: readonly string[] })
  | (SettingBase & {
      /** A comma-separated list on the command line, a JSON array (or the same text) in a file. */
      type: "list";
      default?: readonly string[];
      /** Maps and checks one entry; returns the entry or throws nothing: an error text in `problem`. */
      item?: (entry: string) => { value: string } | { problem: string };
    })
  | (SettingBase & {
      /** A JSON object of named on/off switches, e.g. the SDK's `tls` cipher-suite families. */
      type: "switches";
      default: SwitchSet;
      names: readonly string[];
    });

/** A rule over several keys: checked only when each of its keys has a valid value. */
export interface CrossRule {
  keys: readonly string[];
  /** The error, or undefined when the values agree. */
  check(values: SettingValues): string | undefined;
}

export interface SettingsSchema {
  settings: readonly Setting[];
  rules: readonly CrossRule[];
}

export type RawSettings = { readonly [key: string]: unknown };
export type SettingValues = { readonly [key: string]: SettingValue | undefined };

export type ValidationResult = { ok: true; values: SettingValues } | { ok: false; errors: string[] };

export interface ValidateOptions {
  /** "refuse" (default): an unknown key is an error, so a typo never runs silently with a default. "ignore": for mc/config, which holds the SDK's keys too. */
  unknownKeys?: "refuse" | "ignore";
}

/**
 * Validates `raw` against `schema`: every given key is read (JSON value or its text form), every missing
 * key takes its default, then the cross rules run. Returns every error found, each naming its key.
 */
export function validateSettings(schema: SettingsSchema, raw: RawSettings, options: ValidateOptions = {}): ValidationResult {
  const errors: string[] = [];
  const values: { [key: string]: SettingValue | undefined } = {};
  const bad: { [key: string]: true } = {};
  const known: { [key: string]: true } = {};
  for (const setting of schema.settings) {
    known[setting.key] = true;
    const given = Object.prototype.hasOwnProperty.call(raw, setting.key) ? raw[setting.key] : undefined;
    if (given === undefined || given === null) {
      values[setting.key] = setting.default;
      continue;
    }
    const read = readValue(setting, given);
    if ("problem" in read) {
      const got = describe(given);
      errors.push(`${setting.key} ${read.problem}${read.problem.indexOf(got) >= 0 ? "" : ` (got ${got})`}`);
      bad[setting.key] = true;
    } else {
      values[setting.key] = read.value;
    }
  }
  if (options.unknownKeys !== "ignore") {
    for (const key of Object.keys(raw)) {
      if (!known[key]) errors.push(`${key} is not a setting${suggestion(key, schema.settings.map((s) => s.key))}`);
    }
  }
  for (const rule of schema.rules) {
    if (rule.keys.some((key) => bad[key] || values[key] === undefined)) continue;
    const problem = rule.check(values);
    if (problem !== undefined) errors.push(problem);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values };
}

type Read = { value: SettingValue } | { problem: string };

function readValue(setting: Setting, given: unknown): Read {
  switch (setting.type) {
    case "text":
    case "path": {
      if (typeof given !== "string") return { problem: "must be text" };
      const text = given.trim();
      if (text === "" && !setting.allowEmpty) return { problem: "must not be empty" };
      const problem = setting.type === "text" && text !== "" && setting.check ? setting.check(text) : undefined;
      return problem !== undefined ? { problem } : { value: text };
    }
    case "integer": {
      const n = typeof given === "number" ? given : typeof given === "string" && /^\s*-?[0-9]+\s*$/.test(given) ? Number(given) : NaN;
      const unit = setting.unit ? ` ${setting.unit}` : "";
      if (!Number.isSafeInteger(n) || n < setting.min || n > setting.max) {
        return { problem: `must be a whole number from ${setting.min} to ${setting.max}${unit}` };
      }
      return { value: n };
    }
    case "boolean": {
      if (given === true || given === 1 || given === "1" || given === "true") return { value: true };
      if (given === false || given === 0 || given === "0" || given === "false") return { value: false };
      return { problem: "must be true/false or 1/0" };
    }
    case "choice": {
      const text = typeof given === "string" ? given.trim() : undefined;
      if (text === undefined || setting.choices.indexOf(text) < 0) return { problem: `must be one of ${setting.choices.join(", ")}` };
      return { value: text };
    }
    case "list": {
      const entries = Array.isArray(given) ? given : typeof given === "string" ? given.split(",") : undefined;
      if (entries === undefined) return { problem: "must be a comma-separated list or an array of text" };
      const out: string[] = [];
      for (const entry of entries) {
        const text = typeof entry === "string" ? entry.trim() : "";
        if (text === "") return { problem: "must not have empty or non-text entries" };
        if (setting.item) {
          const item = setting.item(text);
          if ("problem" in item) return item;
          out.push(item.value);
        } else {
          out.push(text);
        }
      }
      if (out.length === 0) return { problem: "must not be empty" };
      return { value: out };
    }
    case "switches": {
      if (typeof given !== "object" || Array.isArray(given)) return { problem: `must be an object of ${setting.names.join(", ")} set to true/false` };
      const out: SwitchSet = {};
      for (const name of setting.names) out[name] = setting.default[name] === true;
      for (const name of Object.keys(given as object)) {
        const v = (given as { [name: string]: unknown })[name];
        if (setting.names.indexOf(name) < 0) return { problem: `has no switch ${name} (known: ${setting.names.join(", ")})` };
        if (typeof v !== "boolean") return { problem: `.${name} must be true or false` };
        out[name] = v;
      }
      return { value: out };
    }
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** " (did you mean X?)" for a near miss (same letters ignoring case and separators, or one a prefix of the other), else "". */
export function suggestion(name: string, known: readonly string[]): string {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
  const target = norm(name);
  const close =
    known.find((k) => norm(k) === target) ??
    known.find((k) => norm(k).indexOf(target) === 0 && target.length >= 3) ??
    known.find((k) => target.indexOf(norm(k)) === 0 && norm(k).length >= 4);
  return close !== undefined ? ` (did you mean ${close}?)` : "";
}

/** The settings of a schema that `keys` name, in that order: how another schema shares a setting. */
export function pickSettings(schema: SettingsSchema, keys: readonly string[]): Setting[] {
  return keys.map((key) => {
    const setting = schema.settings.find((s) => s.key === key);
    if (!setting) throw new Error(`no setting ${key}`);
    return setting;
  });
}

/** The defaults of a schema, as validated values. */
export function defaultsOf(schema: SettingsSchema): SettingValues {
  const out: { [key: string]: SettingValue | undefined } = {};
  for (const s of schema.settings) out[s.key] = s.default;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The button's settings: exactly the manifest's `config` keys.

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const prefixCheck = (prefix: string) => {
  const problem = topicPrefixProblem(prefix);
  return problem === undefined ? undefined : `${JSON.stringify(prefix)} ${problem}`;
};

const greater = (a: string, b: string, why: string): CrossRule => ({
  keys: [a, b],
  check: (v) => ((v[a] as number) > (v[b] as number) ? undefined : `${a} (${v[a]}) must be greater than ${b} (${v[b]}): ${why}`),
});
const atLeast = (a: string, b: string, why: string): CrossRule => ({
  keys: [a, b],
  check: (v) => ((v[a] as number) >= (v[b] as number) ? undefined : `${a} (${v[a]}) must be at least ${b} (${v[b]}): ${why}`),
});

// A WPA2 passphrase is 8-63 printable ASCII characters (IEEE 802.11i); an SSID is at most 32 bytes.
const wpaPasswordCheck = (text: string) => (/^[\x20-\x7e]{8,63}$/.test(text) ? undefined : "must be 8-63 printable ASCII characters (WPA2)");
const ssidCheck = (text: string) => (text.length <= 32 && !/[\u0000-\u001f\u007f]/.test(text) ? undefined : "must be at most 32 characters, no control characters");

export const MQTT_KEEPALIVE_MAX_MS = 65_535 * SECOND; // MQTT's keepalive is 16-bit seconds

export const BUTTON_SETTINGS: SettingsSchema = {
  settings: [
    { key: "thing", type: "text", default: "", allowEmpty: true, check: buttonThingNameProblem, help: "thing name = certificate CN = MQTT client id (empty: the CN of the device certificate)" },
    { key: "topicPrefix", type: "text", default: DEFAULT_TOPIC_PREFIX, check: prefixCheck, help: "topic prefix: orders go to <prefix>/orders/<thing>, acks come on <prefix>/acks/<thing>; topic levels, no wildcards, not starting with $" },
    { key: "item.single", type: "text", default: "margherita", help: "item a SINGLE click orders" },
    { key: "item.double", type: "text", default: "pepperoni", help: "item a DOUBLE click orders" },
    { key: "connection", type: "choice", default: "on-demand", choices: ["on-demand", "persistent", "battery"], aliases: ["mode"], help: "on-demand: connect per press; persistent: stay connected (mains); battery: on-demand, deep sleep between presses" },
    { key: "mqtt.host", type: "text", default: "", allowEmpty: true, help: "broker name or address (the firmware needs one; the simulator: empty = its embedded broker)" },
    { key: "mqtt.port", type: "integer", default: 8883, min: 1, max: 65_535, help: "broker port (AWS IoT Core: 8883, or 443 with mqtt.alpn=x-amzn-mqtt-ca)" },
    { key: "mqtt.alpn", type: "text", default: "", allowEmpty: true, help: "TLS ALPN protocol (AWS IoT Core on port 443: x-amzn-mqtt-ca)" },
    { key: "mqtt.serverName", type: "text", default: "", allowEmpty: true, help: "name the broker certificate must carry, if not mqtt.host" },
    { key: "mqtt.keepaliveMs", type: "integer", default: 60_000, min: 0, max: MQTT_KEEPALIVE_MAX_MS, unit: "ms", help: "MQTT keepalive (0 = none; persistent connections)" },
    { key: "button.pin", type: "integer", default: -1, min: -1, max: 255, help: "button GPIO (-1: the board's default button; firmware only)" },
    { key: "button.activeLow", type: "boolean", default: true, help: "button reads 0 when pressed (firmware only)" },
    { key: "led.pin", type: "integer", default: -1, min: -1, max: 255, help: "LED GPIO (-1: the board's default LED; firmware only)" },
    { key: "led.activeLow", type: "boolean", default: false, help: "LED lights on 0 (firmware only)" },
    // Click timings are for a person pressing a physical button. Contacts bounce for a few ms; a debounce
    // beyond 100 ms swallows quick presses. A double click faster than 100 ms is not humanly possible, and
    // every SINGLE waits doubleClickMs before it is sent, so more than 1 s makes the button feel broken.
    // A LONG must be clearly longer than a double click's gap, or one gesture reads as the other.
    { key: "debounceMs", type: "integer", default: 30, min: 0, max: 100, unit: "ms", help: "contact debounce (0-100 ms)" },
    { key: "doubleClickMs", type: "integer", default: 400, min: 100, max: 1_000, unit: "ms", help: "a second press within this after a release makes a DOUBLE; a SINGLE is sent this long after its release (100-1000 ms)" },
    { key: "longPressMs", type: "integer", default: 1_500, min: 500, max: 10_000, unit: "ms", help: "held this long makes a LONG (cancel), 500-10000 ms, above doubleClickMs" },
    // Flow timings. An ack needs a TLS connect over Wi-Fi plus the restaurant's round trip: under 1 s the
    // button would resend orders that were only slow; over 10 min the person has long stopped watching.
    // Retries must not hammer the broker (backoff base ≥ 100 ms), and an attempt must be able to wait for
    // at least one ack before it gives up.
    { key: "ackTimeoutMs", type: "integer", default: 10 * SECOND, min: SECOND, max: 10 * MINUTE, unit: "ms", help: "wait this long for the restaurant's ack before retrying (1 s-10 min)" },
    { key: "backoffBaseMs", type: "integer", default: SECOND, min: 100, max: 10 * MINUTE, unit: "ms", help: "retry backoff base: no retry waits less (exponential, jittered)" },
    { key: "backoffCapMs", type: "integer", default: 30 * SECOND, min: 100, max: HOUR, unit: "ms", help: "retry backoff cap, at least backoffBaseMs" },
    { key: "giveUpMs", type: "integer", default: 2 * MINUTE, min: SECOND, max: DAY, unit: "ms", help: "stop retrying after this (LED failed, the order stays pending), at least ackTimeoutMs" },
    { key: "pendingExpiryMs", type: "integer", default: 30 * MINUTE, min: SECOND, max: 7 * DAY, unit: "ms", help: "an unacknowledged order older than this is dropped instead of resent, at least giveUpMs" },
    // Wi-Fi and the setup access point (docs/setup.md). Build-time values are developer defaults; what the
    // setup page saves in Preference overrides them. WPA2 takes 8-63 characters.
    { key: "wifi.ssid", type: "text", default: "", allowEmpty: true, check: ssidCheck, help: "Wi-Fi network name (empty: the button starts in setup mode; firmware only)" },
    { key: "wifi.password", type: "text", default: "", allowEmpty: true, check: wpaPasswordCheck, help: "Wi-Fi password, 8-63 characters (empty: an open network; firmware only)" },
    { key: "setup.password", type: "text", default: "", allowEmpty: true, check: wpaPasswordCheck, help: "WPA2 password of the setup access point until the board's identity carries one (firmware only)" },
    { key: "sntp", type: "text", default: "pool.ntp.org", help: "SNTP server for the wall clock at boot (firmware only)" },
    { key: "tls", type: "switches", default: { DHE_RSA: false, ECDHE_RSA: true }, names: ["DHE_RSA", "ECDHE_RSA"], help: "the SDK's TLS cipher-suite families (firmware only; manifest/--config file only)" },
    // Battery wake: the TLS session kept across deep sleep is offered only while the broker still has it
    // (the embedded broker: 1 h; mosquitto/OpenSSL: 300 s unless configured); a static IP skips DHCP.
    { key: "mqtt.tlsSessionLifetimeSec", type: "integer", default: 3_600, min: 0, max: 86_400, help: "how long the broker resumes a TLS session, seconds: the button offers its kept session only while younger (0: never keep one; firmware only)" },
    { key: "wifi.address", type: "text", default: "", allowEmpty: true, check: ipv4Problem, help: "static IPv4 address (skips DHCP; empty: DHCP; firmware only)" },
    { key: "wifi.netmask", type: "text", default: "", allowEmpty: true, check: ipv4Problem, help: "netmask of the static IP, e.g. 255.255.255.0 (firmware only)" },
    { key: "wifi.gateway", type: "text", default: "", allowEmpty: true, check: ipv4Problem, help: "gateway of the static IP (firmware only)" },
    { key: "wifi.dns", type: "text", default: "", allowEmpty: true, check: ipv4Problem, help: "DNS server with a static IP (empty: the gateway; firmware only)" },
  ],
  rules: [
    greater("doubleClickMs", "debounceMs", "a bounce would otherwise start a second click"),
    greater("longPressMs", "doubleClickMs", "a LONG must be longer than a double click's gap"),
    atLeast("backoffCapMs", "backoffBaseMs", "the cap bounds the backoff"),
    atLeast("giveUpMs", "ackTimeoutMs", "an attempt must wait for at least one ack before giving up"),
    atLeast("pendingExpiryMs", "giveUpMs", "an order must not expire while it is still being retried"),
    { keys: ["wifi.address", "wifi.netmask", "wifi.gateway", "wifi.dns"], check: (v) => { const r = staticIpFrom(staticIpValues(v)); return r.ok ? undefined : r.problem; } },
  ],
};

/** The button keys' names. */
export const BUTTON_SETTING_KEYS: readonly string[] = BUTTON_SETTINGS.settings.map((s) => s.key);

/** The button's settings after validation: the core's ButtonConfig and what the hosts need besides. */
export interface ButtonSettings {
  /** Configured thing name; undefined = "take the CN of the certificate". */
  thingName: string | undefined;
  core: Omit<ButtonConfig, "thingName">;
  mqtt: { host: string; port: number; alpn: string; serverName: string; keepaliveMs: number };
  pins: { button: number; buttonActiveLow: boolean; led: number; ledActiveLow: boolean };
  sntp: string;
  tls: SwitchSet;
  /** Seconds the broker resumes a TLS session (the kept session is offered only while younger). */
  tlsSessionLifetimeSec: number;
  /** Static IP instead of DHCP. */
  staticIp: StaticIp | undefined;
}

function staticIpValues(v: SettingValues): StaticIp {
  return { address: v["wifi.address"] as string, netmask: v["wifi.netmask"] as string, gateway: v["wifi.gateway"] as string, dns: v["wifi.dns"] as string };
}

/** Typed view of validated BUTTON_SETTINGS values. */
export function buttonSettingsFrom(v: SettingValues): ButtonSettings {
  const text = (key: string) => v[key] as string;
  const int = (key: string) => v[key] as number;
  const thing = text("thing");
  return {
    thingName: thing === "" ? undefined : thing,
    core: {
      topicPrefix: text("topicPrefix"),
      items: { SINGLE: text("item.single"), DOUBLE: text("item.double") },
      connectionMode: text("connection") as ConnectionMode,
      debounceMs: int("debounceMs"),
      doubleClickMs: int("doubleClickMs"),
      longPressMs: int("longPressMs"),
      ackTimeoutMs: int("ackTimeoutMs"),
      backoffBaseMs: int("backoffBaseMs"),
      backoffCapMs: int("backoffCapMs"),
      giveUpMs: int("giveUpMs"),
      pendingExpiryMs: int("pendingExpiryMs"),
    },
    mqtt: { host: text("mqtt.host"), port: int("mqtt.port"), alpn: text("mqtt.alpn"), serverName: text("mqtt.serverName"), keepaliveMs: int("mqtt.keepaliveMs") },
    pins: { button: int("button.pin"), buttonActiveLow: v["button.activeLow"] as boolean, led: int("led.pin"), ledActiveLow: v["led.activeLow"] as boolean },
    sntp: text("sntp"),
    tls: v.tls as SwitchSet,
    tlsSessionLifetimeSec: int("mqtt.tlsSessionLifetimeSec"),
    staticIp: (() => { const r = staticIpFrom(staticIpValues(v)); return r.ok ? r.value : undefined; })(),
  };
}

/** The button's settings from any mix of sources (already merged): every error, or the typed settings. */
export function validateButtonSettings(raw: RawSettings, options: ValidateOptions = {}): { ok: true; value: ButtonSettings } | { ok: false; errors: string[] } {
  const result = validateSettings(BUTTON_SETTINGS, raw, options);
  return result.ok ? { ok: true, value: buttonSettingsFrom(result.values) } : result;
}
