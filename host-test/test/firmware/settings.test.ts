import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultConfig } from "../../../modules/core/config";
import { BUTTON_SETTINGS, defaultsOf } from "../../../modules/core/settings";
import { mergeConfig, readSettings, SETTING_KEYS } from "../../../modules/device/settings";

const manifestConfig = JSON.parse(readFileSync(new URL("../../../manifest.json", import.meta.url), "utf8")).config as Record<string, unknown>;

function settingsOf(raw: Record<string, unknown>) {
  const result = readSettings(raw);
  if (!result.ok) throw new Error(result.errors.join("; "));
  return result.value;
}

describe("firmware settings (mc/config)", () => {
  it("the manifest's config holds exactly the keys of the core's schema, with the schema's defaults", () => {
    expect(Object.keys(manifestConfig).sort()).toEqual([...SETTING_KEYS].sort());
    expect(manifestConfig).toEqual(defaultsOf(BUTTON_SETTINGS));
  });

  it("the manifest's defaults are the core's defaults; only mqtt.host must be given", () => {
    expect(readSettings(manifestConfig)).toEqual({ ok: false, errors: [expect.stringMatching(/mqtt\.host is not set/)] });
    const s = settingsOf({ ...manifestConfig, "mqtt.host": "broker.example" });
    expect(s.core).toEqual(defaultConfig);
    expect(s.mqtt).toEqual({ host: "broker.example", port: 8883, alpn: undefined, serverName: "broker.example", keepaliveMs: 60_000, tlsSessionLifetimeSec: 3600 });
    expect(s.staticIp).toBeUndefined(); // DHCP
    expect(s.thingName).toBeUndefined(); // taken from the certificate
    expect(s.pins).toEqual({ button: undefined, buttonActiveLow: true, led: undefined, ledActiveLow: false });
  });

  it("reads command-line strings (mcconfig key=value) like JSON values", () => {
    const s = settingsOf({
      ...manifestConfig,
      "mqtt.host": "abc-ats.iot.eu-west-1.amazonaws.com",
      "mqtt.port": "443",
      "mqtt.alpn": "x-amzn-mqtt-ca",
      thing: "kitchen-button",
      "button.pin": "4",
      "button.activeLow": "0",
      "led.pin": "2",
      "led.activeLow": "true",
      connection: "persistent",
      longPressMs: "2000",
      "item.single": "funghi",
    });
    expect(s.mqtt.port).toBe(443);
    expect(s.mqtt.alpn).toBe("x-amzn-mqtt-ca");
    expect(s.thingName).toBe("kitchen-button");
    expect(s.pins).toEqual({ button: 4, buttonActiveLow: false, led: 2, ledActiveLow: true });
    expect(s.core.connectionMode).toBe("persistent");
    expect(s.core.longPressMs).toBe(2000);
    expect(s.core.items.SINGLE).toBe("funghi");
  });

  it("refuses bad values with one clear message each, instead of starting half-configured", () => {
    const result = readSettings({
      ...manifestConfig,
      "mqtt.host": "h",
      "mqtt.port": "88x",
      thing: "bad name",
      topicPrefix: "pizza/#",
      connection: "sometimes",
      "button.pin": "-5",
      "led.activeLow": "maybe",
      debounceMs: 500,
      doubleClickMs: 400,
    });
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    for (const key of ["mqtt.port", "thing", "topicPrefix", "connection", "button.pin", "led.activeLow", "debounceMs"]) {
      expect(errors.some((e) => e.includes(key)), `an error names ${key}: ${errors.join(" | ")}`).toBe(true);
    }
  });

  // Where the firmware and the harness could disagree: the one schema decides for both.
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ["doubleClickMs=2000 (every SINGLE would wait 2 s)", { doubleClickMs: "2000" }, /doubleClickMs must be a whole number from 100 to 1000 ms/],
    ["ackTimeoutMs=50 (shorter than a TLS connect)", { ackTimeoutMs: "50" }, /ackTimeoutMs must be a whole number from 1000 to 600000 ms/],
    ["giveUpMs below ackTimeoutMs", { ackTimeoutMs: 20_000, giveUpMs: "15000" }, /giveUpMs \(15000\) must be at least ackTimeoutMs \(20000\)/],
    ["topicPrefix $aws (reserved by AWS IoT)", { topicPrefix: "$aws" }, /topicPrefix "\$aws" must not start with \$/],
    ["thing=restaurant (the restaurant's identity)", { thing: "restaurant" }, /thing "restaurant" is reserved/],
    ["an unknown tls switch", { tls: { RSA: true } }, /tls has no switch RSA/],
  ];
  it.each(refused)("refuses %s", (_name, raw, message) => {
    const result = readSettings({ ...manifestConfig, "mqtt.host": "h", ...raw });
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.errors.join("\n")).toMatch(message);
  });

  it("reports every error at once, the missing broker included", () => {
    const result = readSettings({ ...manifestConfig, doubleClickMs: "2000", topicPrefix: "$aws" });
    expect(result.ok ? [] : result.errors).toEqual([
      expect.stringMatching(/^topicPrefix /),
      expect.stringMatching(/^doubleClickMs /),
      expect.stringMatching(/^mqtt\.host is not set/),
    ]);
  });

  it("accepts topicPrefix acme.pizza (a dot is a plain topic character), and keys of the SDK's own in mc/config", () => {
    const s = settingsOf({ ...manifestConfig, "mqtt.host": "h", topicPrefix: "acme.pizza", someSdkKey: 1 });
    expect(s.core.topicPrefix).toBe("acme.pizza");
  });

  it("later sources override earlier ones (mc/config, then the Linux host's argv)", () => {
    const merged = mergeConfig({ "mqtt.host": "a", "mqtt.port": 8883 }, { "mqtt.port": "18883" });
    expect(merged).toEqual({ "mqtt.host": "a", "mqtt.port": "18883" });
    expect(settingsOf({ ...manifestConfig, ...merged }).mqtt.port).toBe(18883);
  });
});
