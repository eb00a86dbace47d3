import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, parseSimulateArgs, usage } from "../config";
import { removeDir, tempDir } from "./integration/fixtures";

const dir = tempDir("config");
afterAll(() => removeDir(dir));

const parse = (...argv: string[]) => parseSimulateArgs(argv, { cwd: dir })!;

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
    });
    expect(config.button).toMatchObject({ thingName: undefined, connectionMode: "on-demand", ackTimeoutMs: 10_000, giveUpMs: 120_000 });
  });

  it("flags are the kebab-case keys; aliases, --flag=value and --no- work", () => {
    const config = parse("--clicks", "SINGLE,double,Long", "--json", "--mode=persistent", "--ack-timeout-ms", "1500",
      "--give-up-ms=5000", "--thing", "pizza-button-07", "--item-single", "funghi", "--no-restaurant", "--state-dir", "s");
    expect(config.clicks).toEqual(["SINGLE", "DOUBLE", "LONG"]);
    expect(config.json).toBe(true);
    expect(config.restaurant).toBe(false);
    expect(config.stateDir).toBe(path.join(dir, "s"));
    expect(config.button).toMatchObject({
      connectionMode: "persistent",
      ackTimeoutMs: 1500,
      giveUpMs: 5000,
      thingName: "pizza-button-07",
      items: { SINGLE: "funghi", DOUBLE: "pepperoni" },
    });
    expect(parse("--thing-name", "x1", "--connection-mode", "on-demand").button.thingName).toBe("x1");
  });

  it("a --config file gives the same keys (paths relative to the file); flags win", () => {
    const sub = path.join(dir, "conf");
    fs.mkdirSync(sub, { recursive: true });
    const file = path.join(sub, "sim.json");
    fs.writeFileSync(file, JSON.stringify({
      broker: "mqtts://127.0.0.1:8883",
      ca: "ca.pem",
      cert: "dev.pem",
      key: "dev.key",
      restaurant: false,
      items: { DOUBLE: "marinara" },
      ackTimeoutMs: 2000,
      alpn: ["x-amzn-mqtt-ca"],
      clicks: ["single"],
    }));
    const config = parse("--config", file, "--ack-timeout-ms", "3000");
    expect(config).toMatchObject({ broker: "mqtts://127.0.0.1:8883", ca: path.join(sub, "ca.pem"), restaurant: false, alpn: ["x-amzn-mqtt-ca"] });
    expect(config.button.ackTimeoutMs).toBe(3000);
    expect(config.button.items.DOUBLE).toBe("marinara");
  });

  const bad: Array<[string, string[], RegExp]> = [
    ["unknown flag", ["--ack-timeout", "5"], /unknown option --ack-timeout \(did you mean/],
    ["missing value", ["--give-up-ms"], /--give-up-ms needs a value/],
    ["not a number", ["--ack-timeout-ms", "fast"], /--ack-timeout-ms must be a whole number/],
    ["unknown click", ["--clicks", "single,triple"], /unknown click "triple"/],
    ["bad mode", ["--mode", "always"], /on-demand, persistent or battery/],
    ["not mqtts", ["--broker", "mqtt://127.0.0.1:1883", "--ca", "a", "--cert", "b", "--key", "c", "--no-restaurant"], /must use mqtts/],
    ["external broker without device files", ["--broker", "mqtts://127.0.0.1:8883"], /--broker needs the device's --ca, --cert and --key/],
    ["external broker, restaurant without its files", ["--broker", "mqtts://h:1", "--ca", "a", "--cert", "b", "--key", "c"], /--restaurant-cert/],
    ["cert without key", ["--cert", "a.pem"], /--cert and --key go together/],
    ["bad thing name", ["--thing", "a/b"], /not a valid thing name/],
    ["inconsistent timings", ["--double-click-ms", "2000"], /longPressMs must be greater than doubleClickMs/],
    ["positional argument", ["single"], /unexpected argument/],
    ["missing config file", ["--config", "nope.json"], /cannot read --config nope.json/],
  ];
  it.each(bad)("%s → a clear error", (_name, argv, message) => {
    expect(() => parse(...argv)).toThrow(ConfigError);
    expect(() => parse(...argv)).toThrow(message);
  });

  it("refuses unknown keys in the config file", () => {
    const file = path.join(dir, "typo.json");
    fs.writeFileSync(file, JSON.stringify({ ackTimeoutMS: 5 }));
    expect(() => parse("--config", file)).toThrow(/unknown key "ackTimeoutMS" \(did you mean ackTimeoutMs\?\)/);
  });

  it("--help returns undefined and the usage lists every flag", () => {
    expect(parseSimulateArgs(["--help"])).toBeUndefined();
    for (const flag of ["--broker", "--ca", "--restaurant-cert", "--no-restaurant", "--mode", "--state-dir", "--pki-dir", "--clicks", "--json", "--config"]) {
      expect(usage()).toContain(flag.replace("--no-", "--"));
    }
  });
});
