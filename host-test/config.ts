// Configuration of `npm run simulate`: the button's settings (modules/core/settings.ts: exactly the keys of
// manifest.json's `config`, so a file of the firmware's config is a valid --config file) plus the harness's
// own, from defaults < a JSON file (--config) < command-line flags. A flag is its key by flagOf
// (item.single ⇄ --item-single, ackTimeoutMs ⇄ --ack-timeout-ms); --thing and --mode are accepted too, the
// short names a person types most.
// Anything unknown or malformed is an error that names the flag or key, and every error is reported at once.
//
// What the button's network keys mean here: mqtt.host empty (the manifest's default) = the embedded broker;
// mqtt.host set = that external broker at mqtt.host:mqtt.port, exactly like --broker mqtts://host:port.
// mqtt.alpn (also --alpn, comma-separated for several) and mqtt.serverName (also --servername) apply to
// the button and to the in-process restaurant; mqtt.keepaliveMs to the button. The pin, sntp and tls keys
// are checked like on the firmware and otherwise unused (no GPIO; Node's clock is set; Node's TLS suites).
import type { ClickType } from "../modules/core/config";
import { BUTTON_SETTINGS, buttonSettingsFrom, type ButtonSettings, type Setting, type SettingsSchema } from "../modules/core/settings";
import { parseMqttsUrl } from "../services/net/broker-url";
import { UsageError } from "../services/runtime";
import { commandHelp, parseCommandLine } from "../services/settings-cli";
import type { ButtonConfig } from "../modules/core/config";
import { UPDATE_SETTINGS, updateConfigFrom, type UpdateConfig } from "./update-config";

export interface SimulateConfig {
  /** External broker (mqtts://host:port): --broker, or mqtt.host:mqtt.port; undefined = start the embedded broker. */
  broker: string | undefined;
  /** Device TLS files (PEM paths). Default: from the dev PKI (embedded broker only). */
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  /** Broker certificate name to verify when it differs from the URL's host (mqtt.serverName). */
  servername: string | undefined;
  /** ALPN protocols, e.g. x-amzn-mqtt-ca for AWS IoT Core on port 443 (mqtt.alpn). */
  alpn: string[] | undefined;
  /** MQTT keepalive of the button (mqtt.keepaliveMs). */
  keepaliveMs: number;
  /** Run the restaurant in this process. */
  restaurant: boolean;
  restaurantCert: string | undefined;
  restaurantKey: string | undefined;
  etaMin: number;
  /** Items the restaurant accepts; default: a small menu plus the button's items. */
  menu: string[] | undefined;
  /** Device store and restaurant database. */
  stateDir: string;
  /** Local dev PKI, created on first run when the embedded broker is used. */
  pkiDir: string;
  /** Script mode: these clicks in order; undefined = interactive. */
  clicks: ClickType[] | undefined;
  json: boolean;
  /** Firmware updates of the virtual button (host-test/update-config.ts). */
  updates: UpdateConfig;
  /** The button's configuration; thingName undefined = from the certificate CN, else pizza-button-01. */
  button: Omit<ButtonConfig, "thingName"> & { thingName: string | undefined };
}

/** Command-line and --config errors (the services' UsageError: one type for every CLI). */
export const ConfigError = UsageError;
export type ConfigError = UsageError;

const brokerUrlProblem = (url: string): string | undefined => {
  try {
    parseMqttsUrl(url);
    return undefined;
  } catch (error) {
    return `is not a broker URL: ${(error as Error).message}`;
  }
};

const clickOf = (entry: string): { value: string } | { problem: string } => {
  const type = entry.toUpperCase();
  return type === "SINGLE" || type === "DOUBLE" || type === "LONG" ? { value: type } : { problem: `has an unknown click ${JSON.stringify(entry)} (single, double or long)` };
};

/** The harness's own settings (not the button's). */
const HARNESS_SETTINGS: Setting[] = [
  { key: "broker", type: "text", check: brokerUrlProblem, help: "external broker mqtts://host:port (same as mqtt.host + mqtt.port; default: the embedded broker)" },
  { key: "ca", type: "path", help: "CA certificate(s) to verify the broker (PEM)" },
  { key: "cert", type: "path", help: "device certificate (chain) (PEM)" },
  { key: "key", type: "path", help: "device private key (PEM)" },
  { key: "restaurant", type: "boolean", default: true, help: "run the restaurant in this process" },
  { key: "restaurantCert", type: "path", help: "restaurant certificate (PEM), for an external broker" },
  { key: "restaurantKey", type: "path", help: "restaurant private key (PEM), for an external broker" },
  { key: "etaMin", type: "integer", default: 25, min: 0, max: 600, unit: "min", help: "ETA the restaurant gives accepted orders" },
  { key: "menu", type: "list", help: "items the restaurant accepts (default: a small menu plus the button's items)" },
  { key: "stateDir", type: "path", default: ".data", help: "device store and restaurant database" },
  { key: "pkiDir", type: "path", default: "certs", help: "local dev PKI" },
  ...UPDATE_SETTINGS,
  { key: "clicks", type: "list", item: clickOf, help: "script mode: e.g. single,double,long" },
  { key: "json", type: "boolean", default: false, help: "one JSON object per event on stdout" },
];

/** Flags the simulator has always had for two button keys. */
const SIMULATE_ALIASES: { [key: string]: readonly string[] } = { "mqtt.alpn": ["alpn"], "mqtt.serverName": ["servername"] };

export const SIMULATE_SETTINGS: SettingsSchema = {
  settings: [
    ...HARNESS_SETTINGS,
    ...BUTTON_SETTINGS.settings.map((s) => (SIMULATE_ALIASES[s.key] ? { ...s, aliases: [...(s.aliases ?? []), ...SIMULATE_ALIASES[s.key]!] } : s)),
  ],
  rules: BUTTON_SETTINGS.rules,
};

const BUTTON_KEYS = new Set(BUTTON_SETTINGS.settings.map((s) => s.key));

export function usage(): string {
  return commandHelp(
    SIMULATE_SETTINGS,
    [
      "Usage: npm run simulate -- [options]",
      "",
      "Starts the embedded broker, the restaurant and one virtual button in this process.",
      "Interactive: Enter = a tap of the button (two quick Enters = DOUBLE), s = SINGLE, d = DOUBLE, l = LONG, q = quit.",
      "Script:      --clicks single,double,long [--json]   (exit 0 only if every outcome is as expected)",
      "",
      "Every option is also a key of the --config JSON file. The button's keys are the firmware's (manifest.json",
      "config): a file of those is a valid --config file. mqtt.host empty = the embedded broker; set = that broker",
      "at mqtt.host:mqtt.port, like --broker. Keys marked firmware only are checked, not used.",
      "",
    ],
    { configFile: true, width: 32 },
  );
}

/** Parses argv (without node and script). Returns undefined for --help. Throws ConfigError with every error. */
export function parseSimulateArgs(argv: string[], options: { cwd?: string } = {}): SimulateConfig | undefined {
  const line = parseCommandLine(SIMULATE_SETTINGS, argv, { cwd: options.cwd ?? process.cwd(), configFile: true });
  if (line === undefined) return undefined;
  const v = line.values;
  const buttonValues: { [key: string]: unknown } = {};
  for (const key of BUTTON_KEYS) buttonValues[key] = v[key];
  const b: ButtonSettings = buttonSettingsFrom(buttonValues as typeof v);
  const opt = (key: string) => v[key] as string | undefined;

  const errors: string[] = [];
  let broker = opt("broker");
  if (b.mqtt.host !== "") {
    if (broker !== undefined) errors.push(`${line.where("broker")} and ${line.where("mqtt.host")} both name a broker: give one`);
    broker = `mqtts://${b.mqtt.host.includes(":") ? `[${b.mqtt.host}]` : b.mqtt.host}:${b.mqtt.port}`;
    const problem = brokerUrlProblem(broker);
    if (problem !== undefined) errors.push(`${line.where("mqtt.host")} ${problem}`);
  }
  const config: SimulateConfig = {
    broker,
    ca: opt("ca"),
    cert: opt("cert"),
    key: opt("key"),
    servername: b.mqtt.serverName === "" ? undefined : b.mqtt.serverName,
    alpn: b.mqtt.alpn === "" ? undefined : b.mqtt.alpn.split(",").map((p) => p.trim()).filter((p) => p !== ""),
    keepaliveMs: b.mqtt.keepaliveMs,
    restaurant: v.restaurant as boolean,
    restaurantCert: opt("restaurantCert"),
    restaurantKey: opt("restaurantKey"),
    etaMin: v.etaMin as number,
    menu: v.menu as string[] | undefined,
    stateDir: v.stateDir as string,
    pkiDir: v.pkiDir as string,
    clicks: v.clicks as ClickType[] | undefined,
    json: v.json as boolean,
    updates: updateConfigFrom(v),
    button: { ...b.core, thingName: b.thingName },
  };
  if ((config.cert === undefined) !== (config.key === undefined)) errors.push("--cert and --key go together");
  if ((config.restaurantCert === undefined) !== (config.restaurantKey === undefined)) errors.push("--restaurant-cert and --restaurant-key go together");
  if (config.broker !== undefined) {
    if (!config.ca || !config.cert || !config.key) {
      errors.push("an external broker needs the device's --ca, --cert and --key (the dev PKI only serves the embedded broker)");
    }
    if (config.restaurant && !config.restaurantCert) {
      errors.push("an external broker: give --restaurant-cert and --restaurant-key for the restaurant, or --no-restaurant");
    }
  }
  if (errors.length > 0) throw new ConfigError(errors.join("\n  "));
  return config;
}
