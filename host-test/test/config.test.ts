import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../../modules/core/config";
import { BUTTON_SETTING_KEYS } from "../../modules/core/settings";
import { ConfigError, parseSimulateArgs, SIMULATE_SETTINGS, usage } from "../config";
import { removeDir, tempDir } from "./integration/fixtures";

const dir = tempDir("config");
afterAll(() => removeDir(dir));

const parse = (...argv: string[]) => parseSimulateArgs(argv, { cwd: dir })!;
const manifestConfig = JSON.parse(fs.readFileSync(new URL("../../manifest.json", import.meta.url), "utf8")).config as Record<string, unknown>;

function writeJson(name: string, value: unknown): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

describe("simulate configuration", () => {
  it("defaults: embedded broker, restaurant on, the core's button defaults, state in .data, PKI in certs", () => {
    const config = parse();
    expect(config).toMatchObject({
      broker: undefined,
      restaurant: true,
      json: false,
      clicks: undefined,
      stateDir: path.join(dir, ".data"),
      pkiDir: path.join(dir, "certs"),
      keepaliveMs: 60_000,
    });
    expect(config.button).toEqual({ ...defaultConfig, thingName: undefined });
  });

  it("flags are the keys with dots and camel humps as dashes; --thing, --mode, --alpn, --servername, --flag=value and --no- work", () => {
    const config = parse("--clicks", "SINGLE,double,Long", "--json", "--mode=persistent", "--ack-timeout-ms", "1500",
      "--give-up-ms=5000", "--thing", "pizza-button-07", "--item-single", "funghi", "--no-restaurant", "--state-dir", "s",
      "--alpn", "x-amzn-mqtt-ca", "--servername", "iot.example");
    expect(config.clicks).toEqual(["SINGLE", "DOUBLE", "LONG"]);
    expect(config.json).toBe(true);
    expect(config.restaurant).toBe(false);
    expect(config.stateDir).toBe(path.join(dir, "s"));
    expect(config.alpn).toEqual(["x-amzn-mqtt-ca"]);
    expect(config.servername).toBe("iot.example");
    expect(config.button).toMatchObject({
      connectionMode: "persistent",
      ackTimeoutMs: 1500,
      giveUpMs: 5000,
      thingName: "pizza-button-07",
      items: { SINGLE: "funghi", DOUBLE: "pepperoni" },
    });
    const long = parse("--connection", "persistent", "--item-double", "marinara", "--mqtt-alpn", "a,b", "--mqtt-server-name", "n", "--mqtt-keepalive-ms", "0");
    expect(long.button.connectionMode).toBe("persistent");
    expect(long.button.items.DOUBLE).toBe("marinara");
    expect(long).toMatchObject({ alpn: ["a", "b"], servername: "n", keepaliveMs: 0 });
  });

  it("a file of exactly the manifest's config keys is a valid --config file, giving the firmware's defaults", () => {
    const config = parse("--config", writeJson("manifest-config.json", manifestConfig));
    expect(config.button).toEqual({ ...defaultConfig, thingName: undefined });
    expect(config.broker).toBeUndefined(); // mqtt.host "" = the embedded broker
  });

  it("and the other way round: the button keys the simulator reads are the manifest's config keys", () => {
    const simulatorKeys = new Set(SIMULATE_SETTINGS.settings.map((s) => s.key));
    expect([...BUTTON_SETTING_KEYS].sort()).toEqual(Object.keys(manifestConfig).sort());
    for (const key of Object.keys(manifestConfig)) expect(simulatorKeys.has(key), key).toBe(true);
  });

  it("ButtonConfig's field names (thingName, items.SINGLE, connectionMode) are not keys: one name per setting everywhere", () => {
    const file = writeJson("old-names.json", { thingName: "a", items: { SINGLE: "x" }, connectionMode: "persistent" });
    let message = "";
    try {
      parse("--config", file);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/unknown key "thingName"/);
    expect(message).toMatch(/unknown key "items"/);
    expect(message).toMatch(/unknown key "connectionMode" \(did you mean connection\?\)/);
    expect(() => parse("--thing-name", "x")).toThrow(/unknown option --thing-name/);
  });

  it("mqtt.host (and mqtt.port) name an external broker, like --broker", () => {
    const files = ["--ca", "a", "--cert", "b", "--key", "c", "--no-restaurant"];
    expect(parse("--mqtt-host", "broker.example", "--mqtt-port", "443", ...files).broker).toBe("mqtts://broker.example:443");
    const file = writeJson("aws.json", { ...manifestConfig, "mqtt.host": "abc-ats.iot.eu-west-1.amazonaws.com" });
    expect(parse("--config", file, ...files).broker).toBe("mqtts://abc-ats.iot.eu-west-1.amazonaws.com:8883");
    expect(() => parse("--mqtt-host", "h", "--broker", "mqtts://h:1", ...files)).toThrow(/--broker and --mqtt-host both name a broker/);
    expect(() => parse("--mqtt-host", "h")).toThrow(/external broker needs the device's --ca, --cert and --key/);
  });

  it("a --config file gives the same keys (paths relative to the file); flags win", () => {
    const file = writeJson("conf/sim.json", {
      broker: "mqtts://127.0.0.1:8883",
      ca: "ca.pem",
      cert: "dev.pem",
      key: "dev.key",
      restaurant: false,
      "item.double": "marinara",
      ackTimeoutMs: 2000,
      "mqtt.alpn": "x-amzn-mqtt-ca",
      clicks: ["single"],
    });
    const config = parse("--config", file, "--ack-timeout-ms", "3000");
    expect(config).toMatchObject({ broker: "mqtts://127.0.0.1:8883", ca: path.join(dir, "conf", "ca.pem"), restaurant: false, alpn: ["x-amzn-mqtt-ca"] });
    expect(config.button.ackTimeoutMs).toBe(3000);
    expect(config.button.items.DOUBLE).toBe("marinara");
  });

  const bad: Array<[string, string[], RegExp]> = [
    ["unknown flag", ["--ack-timeout", "5"], /unknown option --ack-timeout \(did you mean --ack-timeout-ms\?\)/],
    ["missing value", ["--give-up-ms"], /--give-up-ms needs a value/],
    ["not a number", ["--ack-timeout-ms", "fast"], /--ack-timeout-ms must be a whole number/],
    ["unknown click", ["--clicks", "single,triple"], /unknown click "triple"/],
    ["bad mode", ["--mode", "always"], /--mode must be one of on-demand, persistent, battery/],
    ["not mqtts", ["--broker", "mqtt://127.0.0.1:1883", "--ca", "a", "--cert", "b", "--key", "c", "--no-restaurant"], /must use mqtts/],
    ["external broker without device files", ["--broker", "mqtts://127.0.0.1:8883"], /external broker needs the device's --ca, --cert and --key/],
    ["external broker, restaurant without its files", ["--broker", "mqtts://h:1", "--ca", "a", "--cert", "b", "--key", "c"], /--restaurant-cert/],
    ["cert without key", ["--cert", "a.pem"], /--cert and --key go together/],
    ["bad thing name", ["--thing", "a/b"], /not a valid thing name/],
    ["the restaurant's identity as a button", ["--thing", "restaurant"], /reserved for the restaurant/],
    // Where the firmware and the simulator could disagree: one schema decides for both.
    ["doubleClickMs=2000 (beyond a double click)", ["--double-click-ms", "2000"], /--double-click-ms must be a whole number from 100 to 1000 ms/],
    ["ackTimeoutMs=50 (shorter than a TLS connect)", ["--ack-timeout-ms", "50"], /--ack-timeout-ms must be a whole number from 1000 to 600000/],
    ["giveUpMs below ackTimeoutMs", ["--ack-timeout-ms", "5000", "--give-up-ms", "4000"], /--give-up-ms \(4000\) must be at least ackTimeoutMs \(5000\)/],
    ["topicPrefix $aws (reserved by AWS IoT)", ["--topic-prefix", "$aws"], /--topic-prefix "\$aws" must not start with \$/],
    ["positional argument", ["single"], /unexpected argument/],
    ["missing config file", ["--config", "nope.json"], /cannot read --config nope.json/],
  ];
  it.each(bad)("%s → a clear error", (_name, argv, message) => {
    expect(() => parse(...argv)).toThrow(ConfigError);
    expect(() => parse(...argv)).toThrow(message);
  });

  it("topicPrefix acme.pizza (a dot is a plain topic character) is accepted, as by the firmware, broker and restaurant", () => {
    expect(parse("--topic-prefix", "acme.pizza").button.topicPrefix).toBe("acme.pizza");
  });

  it("reports every error at once, not just the first", () => {
    expect(() => parse("--double-click-ms", "2000", "--topic-prefix", "a/#", "--bogus", "--thing", "a b")).toThrow(
      /unknown option --bogus[\s\S]*--thing[\s\S]*--topic-prefix[\s\S]*--double-click-ms/,
    );
  });

  it("refuses unknown keys in the config file", () => {
    expect(() => parse("--config", writeJson("typo.json", { ackTimeoutMS: 5 }))).toThrow(/unknown key "ackTimeoutMS" \(did you mean ackTimeoutMs\?\)/);
  });

  it("--help returns undefined and the usage, generated from the schema, lists every setting's flag", () => {
    expect(parseSimulateArgs(["--help"])).toBeUndefined();
    const text = usage();
    for (const flag of ["--broker", "--ca", "--restaurant-cert", "--no-restaurant", "--mode", "--state-dir", "--pki-dir", "--clicks", "--json", "--config",
      "--thing", "--item-single", "--connection", "--mqtt-host", "--mqtt-server-name", "--double-click-ms", "--pending-expiry-ms"]) {
      expect(text).toContain(flag);
    }
    expect(text).toMatch(/--double-click-ms N\s+a second press within this/);
    expect(text).toContain("(100-1000 ms) [400]");
  });
});
