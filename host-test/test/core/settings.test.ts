import { describe, expect, it } from "vitest";
import { defaultConfig } from "../../../modules/core/config";
import {
  BUTTON_SETTINGS,
  defaultsOf,
  validateButtonSettings,
  validateSettings,
  type SettingsSchema,
} from "../../../modules/core/settings";

const errorsOf = (result: { ok: boolean; errors?: string[] }) => (result.ok ? [] : result.errors!);

describe("settings validator", () => {
  const schema: SettingsSchema = {
    settings: [
      { key: "name", type: "text", default: "x", help: "" },
      { key: "count", type: "integer", default: 2, min: 1, max: 9, help: "" },
      { key: "on", type: "boolean", default: false, help: "" },
      { key: "mode", type: "choice", default: "a", choices: ["a", "b"], help: "" },
      { key: "tags", type: "list", help: "" },
      { key: "low", type: "integer", default: 1, min: 0, max: 100, help: "" },
      { key: "high", type: "integer", default: 5, min: 0, max: 100, help: "" },
    ],
    rules: [{ keys: ["low", "high"], check: (v) => ((v.low as number) <= (v.high as number) ? undefined : "low must not exceed high") }],
  };

  it("reads JSON values and their text form (mcconfig overrides and flags are strings) the same way", () => {
    const fromJson = validateSettings(schema, { name: " y ", count: 3, on: true, mode: "b", tags: ["p", "q"] });
    const fromText = validateSettings(schema, { name: "y", count: "3", on: "1", mode: "b", tags: "p, q" });
    expect(fromJson).toEqual(fromText);
    expect(fromJson).toEqual({ ok: true, values: { name: "y", count: 3, on: true, mode: "b", tags: ["p", "q"], low: 1, high: 5 } });
  });

  it("missing keys take their defaults; optional ones stay undefined", () => {
    expect(validateSettings(schema, {})).toEqual({ ok: true, values: defaultsOf(schema) });
    expect(defaultsOf(schema).tags).toBeUndefined();
  });

  it("returns every error, each naming its key and the value given", () => {
    const errors = errorsOf(validateSettings(schema, { name: 5, count: "3x", on: "maybe", mode: "c", tags: "a,,b", colour: "red" }));
    expect(errors).toEqual([
      "name must be text (got 5)",
      'count must be a whole number from 1 to 9 (got "3x")',
      'on must be true/false or 1/0 (got "maybe")',
      'mode must be one of a, b (got "c")',
      'tags must not have empty or non-text entries (got "a,,b")',
      "colour is not a setting",
    ]);
  });

  it("cross rules run once each of their keys is valid, and not on a key already refused", () => {
    expect(errorsOf(validateSettings(schema, { low: 9, high: 3 }))).toEqual(["low must not exceed high"]);
    expect(errorsOf(validateSettings(schema, { low: 9, high: "x" }))).toEqual(['high must be a whole number from 0 to 100 (got "x")']);
  });

  it("unknown keys: refused by default (a typo must not run with a default), ignored on request (mc/config holds the SDK's keys)", () => {
    expect(errorsOf(validateSettings(schema, { cuont: 3, Count: 3 }))).toEqual(["cuont is not a setting", "Count is not a setting (did you mean count?)"]);
    expect(validateSettings(schema, { cuont: 3 }, { unknownKeys: "ignore" }).ok).toBe(true);
  });

});

describe("the button's settings (the manifest's config keys)", () => {
  it("the defaults are the product's documented values, and the core's defaultConfig is them", () => {
    // Written out here (not derived from the schema) so a changed default fails this test.
    const documented = {
      topicPrefix: "pizza",
      items: { SINGLE: "margherita", DOUBLE: "pepperoni" },
      connectionMode: "on-demand",
      debounceMs: 30,
      doubleClickMs: 400,
      longPressMs: 1_500,
      ackTimeoutMs: 10_000,
      backoffBaseMs: 1_000,
      backoffCapMs: 30_000,
      giveUpMs: 120_000,
      pendingExpiryMs: 1_800_000,
    };
    const result = validateButtonSettings({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.core).toEqual(documented);
    expect(defaultConfig).toEqual(documented);
    expect(result.value.thingName).toBeUndefined();
    expect(result.value.mqtt).toEqual({ host: "", port: 8883, alpn: "", serverName: "", keepaliveMs: 60_000 });
    expect(result.value.pins).toEqual({ button: -1, buttonActiveLow: true, led: -1, ledActiveLow: false });
    expect(result.value.sntp).toBe("pool.ntp.org");
    expect(result.value.tls).toEqual({ DHE_RSA: false, ECDHE_RSA: true });
  });

  it.each([
    ["debounceMs", 0, 100],
    ["doubleClickMs", 100, 1_000],
    ["longPressMs", 500, 10_000],
    ["ackTimeoutMs", 1_000, 600_000],
    ["backoffBaseMs", 100, 600_000],
    ["giveUpMs", 1_000, 86_400_000],
    ["mqtt.port", 1, 65_535],
    ["mqtt.keepaliveMs", 0, 65_535_000],
  ])("%s is accepted from %d to %d and refused just outside", (key, min, max) => {
    // The cross rules are satisfied with room to spare, so only the range decides.
    const roomy = { debounceMs: 0, doubleClickMs: 1_000, longPressMs: 10_000, ackTimeoutMs: 1_000, giveUpMs: 86_400_000, pendingExpiryMs: 604_800_000, backoffCapMs: 3_600_000 };
    const base = key === "doubleClickMs" || key === "longPressMs" || key === "debounceMs" ? { debounceMs: 0, doubleClickMs: 100, longPressMs: 10_000 } : roomy;
    const check = (value: number) => validateButtonSettings({ ...base, ...(key === "debounceMs" ? { doubleClickMs: 1_000 } : {}), [key]: value });
    expect(errorsOf(check(min))).toEqual([]);
    expect(errorsOf(check(max))).toEqual([]);
    expect(errorsOf(check(min - 1))[0]).toMatch(new RegExp(`^${key.replace(".", "\\.")} must be a whole number from ${min} to ${max}`));
    expect(errorsOf(check(max + 1))[0]).toMatch(new RegExp(`^${key.replace(".", "\\.")} must be a whole number from ${min} to ${max}`));
  });

  it.each([
    [{ debounceMs: 100, doubleClickMs: 100 }, /doubleClickMs \(100\) must be greater than debounceMs \(100\)/],
    [{ doubleClickMs: 1_000, longPressMs: 1_000 }, /longPressMs \(1000\) must be greater than doubleClickMs \(1000\)/],
    [{ backoffBaseMs: 5_000, backoffCapMs: 4_000 }, /backoffCapMs \(4000\) must be at least backoffBaseMs \(5000\)/],
    [{ ackTimeoutMs: 10_000, giveUpMs: 9_999 }, /giveUpMs \(9999\) must be at least ackTimeoutMs \(10000\)/],
    [{ giveUpMs: 120_000, pendingExpiryMs: 60_000 }, /pendingExpiryMs \(60000\) must be at least giveUpMs \(120000\)/],
  ])("cross rule: %o is refused", (raw, message) => {
    const errors = errorsOf(validateButtonSettings(raw));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it("equal values where the rule allows them are accepted (giveUpMs = ackTimeoutMs, cap = base)", () => {
    expect(validateButtonSettings({ ackTimeoutMs: 5_000, giveUpMs: "5000", backoffBaseMs: 700, backoffCapMs: 700 }).ok).toBe(true);
  });

  it("thing and topicPrefix follow the topic contract", () => {
    expect(errorsOf(validateButtonSettings({ thing: "a b", topicPrefix: "pizza/+" }))).toEqual([
      'thing "a b" is not a valid thing name (1-128 of A-Z a-z 0-9 _ -)',
      'topicPrefix "pizza/+" must not contain the wildcards + or #',
    ]);
    const ok = validateButtonSettings({ thing: "kitchen-1", topicPrefix: "acme.pizza/eu" });
    expect(ok.ok && [ok.value.thingName, ok.value.core.topicPrefix]).toEqual(["kitchen-1", "acme.pizza/eu"]);
  });

  it("the tls switches take only the SDK's names, booleans, over the defaults", () => {
    const ok = validateButtonSettings({ tls: { DHE_RSA: true } });
    expect(ok.ok && ok.value.tls).toEqual({ DHE_RSA: true, ECDHE_RSA: true });
    expect(errorsOf(validateButtonSettings({ tls: { ECDHE_RSA: "yes" } }))[0]).toMatch(/^tls \.ECDHE_RSA must be true or false/);
    expect(errorsOf(validateButtonSettings({ tls: "on" }))[0]).toMatch(/^tls must be an object of DHE_RSA, ECDHE_RSA/);
  });
});
