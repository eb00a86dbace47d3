// Firmware settings from the manifest's `config` (read through mc/config) and the host's command-line
// overrides, validated by the core's settings schema (modules/core/settings.ts: the same keys, ranges and
// rules as the simulator and the services). Keys are FLAT dotted names ("mqtt.host"), because that is what
// `mcconfig … mqtt.host=example.com` writes; command-line values arrive as strings, manifest values as JSON
// numbers/booleans, and the schema reads both.
//
// Pure TypeScript (no Moddable imports) so Node tests can check it.

import type { ButtonConfig } from "../core/config";
import { BUTTON_SETTING_KEYS, validateButtonSettings } from "../core/settings";
import type { StaticIp } from "../core/wifi-rejoin";

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
  /** How long the broker resumes a TLS session, seconds (0: keep none across connections). */
  tlsSessionLifetimeSec: number;
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
  /** Static IP instead of DHCP (the ESP32's network setup). */
  staticIp: StaticIp | undefined;
}

export type SettingsResult = { ok: true; value: DeviceSettings } | { ok: false; errors: string[] };

/** The keys this firmware reads: the schema's (modules/core/settings.ts), which the manifest's `config` repeats. */
export const SETTING_KEYS = BUTTON_SETTING_KEYS;

/**
 * Validates through the core's schema (every error at once). mc/config also holds keys of the SDK's own,
 * so unknown keys are not errors here; the firmware adds one rule of its own: it needs a broker.
 */
export function readSettings(raw: RawConfig): SettingsResult {
  const result = validateButtonSettings(raw, { unknownKeys: "ignore" });
  const errors = result.ok ? [] : result.errors.slice();
  const host = raw["mqtt.host"];
  if (host === undefined || host === null || (typeof host === "string" && host.trim() === "")) {
    errors.push("mqtt.host is not set (build with mqtt.host=<broker name or address>)");
  }
  if (!result.ok || errors.length > 0) return { ok: false, errors };
  const { thingName, core, mqtt, pins, sntp, tlsSessionLifetimeSec, staticIp } = result.value;
  return {
    ok: true,
    value: {
      thingName,
      core,
      mqtt: { host: mqtt.host, port: mqtt.port, alpn: mqtt.alpn === "" ? undefined : mqtt.alpn, serverName: mqtt.serverName || mqtt.host, keepaliveMs: mqtt.keepaliveMs, tlsSessionLifetimeSec },
      sntpHost: sntp,
      pins: {
        button: pins.button < 0 ? undefined : pins.button,
        buttonActiveLow: pins.buttonActiveLow,
        led: pins.led < 0 ? undefined : pins.led,
        ledActiveLow: pins.ledActiveLow,
      },
      staticIp,
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
