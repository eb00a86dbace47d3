// Configuration of `npm run simulate`: the button's keys (the same ones the firmware reads from its
// manifest config) plus the harness's own, from defaults < a JSON file (--config) < command-line flags.
// Every flag is the kebab-case form of its JSON key (ackTimeoutMs ⇄ --ack-timeout-ms). Anything unknown
// or malformed is an error that names the flag or key: a typo must not silently run with a default.
import fs from "node:fs";
import path from "node:path";
import { defaultConfig, isValidThingName, type ButtonConfig, type ClickType, type ConnectionMode } from "../modules/core/config";
import { parseMqttsUrl } from "../services/net/broker-url";

export interface SimulateConfig {
  /** External broker (mqtts://host:port); undefined = start the embedded broker. */
  broker: string | undefined;
  /** Device TLS files (PEM paths). Default: from the dev PKI (embedded broker only). */
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  /** Broker certificate name to verify when it differs from the URL's host. */
  servername: string | undefined;
  /** ALPN protocols, e.g. x-amzn-mqtt-ca for AWS IoT Core on port 443. */
  alpn: string[] | undefined;
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
  /** The button's configuration; thingName undefined = from the certificate CN, else pizza-button-01. */
  button: Omit<ButtonConfig, "thingName"> & { thingName: string | undefined };
}

export class ConfigError extends Error {}

type Kind = "string" | "path" | "boolean" | "ms" | "count" | "list" | "clicks" | "mode" | "url" | "thing";

interface Key {
  /** JSON key (dotted for the nested items). */
  key: string;
  kind: Kind;
  help: string;
}

/** The table of every setting. Flags are derived from keys; `--no-<flag>` negates a boolean. */
const KEYS: Key[] = [
  { key: "broker", kind: "url", help: "external broker mqtts://host:port (default: the embedded broker)" },
  { key: "ca", kind: "path", help: "CA certificate(s) to verify the broker (PEM)" },
  { key: "cert", kind: "path", help: "device certificate (chain) (PEM)" },
  { key: "key", kind: "path", help: "device private key (PEM)" },
  { key: "servername", kind: "string", help: "broker certificate name, if not the URL's host" },
  { key: "alpn", kind: "list", help: "ALPN protocols, comma-separated (AWS IoT on 443: x-amzn-mqtt-ca)" },
  { key: "restaurant", kind: "boolean", help: "run the restaurant in this process (--no-restaurant: don't)" },
  { key: "restaurantCert", kind: "path", help: "restaurant certificate (PEM), for an external broker" },
  { key: "restaurantKey", kind: "path", help: "restaurant private key (PEM), for an external broker" },
  { key: "etaMin", kind: "count", help: "ETA (minutes) the restaurant gives accepted orders" },
  { key: "menu", kind: "list", help: "items the restaurant accepts, comma-separated" },
  { key: "stateDir", kind: "path", help: "device store and restaurant database (default .data)" },
  { key: "pkiDir", kind: "path", help: "local dev PKI (default certs)" },
  { key: "clicks", kind: "clicks", help: "script mode: e.g. single,double,long" },
  { key: "json", kind: "boolean", help: "one JSON object per event on stdout" },
  { key: "thingName", kind: "thing", help: "thing name = certificate CN = client id (alias --thing)" },
  { key: "topicPrefix", kind: "string", help: "topic prefix (default pizza)" },
  { key: "items.SINGLE", kind: "string", help: "item a SINGLE click orders (flag --item-single)" },
  { key: "items.DOUBLE", kind: "string", help: "item a DOUBLE click orders (flag --item-double)" },
  { key: "connectionMode", kind: "mode", help: "on-demand | persistent | battery (alias --mode; battery: deep sleep between presses, a key press wakes it)" },
  { key: "debounceMs", kind: "ms", help: "button debounce" },
  { key: "doubleClickMs", kind: "ms", help: "second press within this makes a DOUBLE" },
  { key: "longPressMs", kind: "ms", help: "held this long makes a LONG" },
  { key: "ackTimeoutMs", kind: "ms", help: "wait this long for an ack before retrying" },
  { key: "backoffBaseMs", kind: "ms", help: "retry backoff base" },
  { key: "backoffCapMs", kind: "ms", help: "retry backoff cap" },
  { key: "giveUpMs", kind: "ms", help: "give up (LED failed, order stays pending) after this" },
  { key: "pendingExpiryMs", kind: "ms", help: "an unacknowledged order older than this is dropped" },
];

const FLAG_ALIASES: Record<string, string> = {
  thing: "thingName",
  mode: "connectionMode",
  "item-single": "items.SINGLE",
  "item-double": "items.DOUBLE",
};

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The flag of a key: its kebab-case form; the nested item keys only have their alias. */
function flagOf(key: string): string {
  if (!key.includes(".")) return kebab(key);
  return Object.entries(FLAG_ALIASES).find(([, k]) => k === key)![0];
}

const BY_FLAG = new Map<string, Key>();
for (const k of KEYS) BY_FLAG.set(flagOf(k.key), k);
for (const [flag, key] of Object.entries(FLAG_ALIASES)) BY_FLAG.set(flag, KEYS.find((k) => k.key === key)!);

export function usage(): string {
  const lines = [
    "Usage: npm run simulate -- [options]",
    "",
    "Starts the embedded broker, the restaurant and one virtual button in this process.",
    "Interactive: Enter = SINGLE, d = DOUBLE, l = LONG, q = quit.",
    "Script:      --clicks single,double,long [--json]   (exit 0 only if every outcome is as expected)",
    "",
    "Options (each also a key of the --config JSON file, e.g. ackTimeoutMs for --ack-timeout-ms):",
    "  --config FILE                  JSON file with any of the keys below",
  ];
  for (const k of KEYS) {
    const flag = `--${flagOf(k.key)}${k.kind === "boolean" ? "" : ` ${k.kind === "path" ? "PATH" : k.kind === "ms" || k.kind === "count" ? "N" : "VALUE"}`}`;
    lines.push(`  ${flag.padEnd(30)} ${k.help}`);
  }
  lines.push("  --help                         this text");
  return lines.join("\n");
}

type Raw = Map<string, unknown>; // key → value as given (string from the CLI, any JSON type from a file)

/** Parses argv (without node and script). Returns undefined for --help. Throws ConfigError. */
export function parseSimulateArgs(argv: string[], options: { cwd?: string } = {}): SimulateConfig | undefined {
  const cwd = options.cwd ?? process.cwd();
  const fromCli: Raw = new Map();
  let configFile: string | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return undefined;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (options start with --)`);
    const eq = arg.indexOf("=");
    let name = (eq >= 0 ? arg.slice(2, eq) : arg.slice(2)).toLowerCase();
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let negated = false;
    if (name.startsWith("no-") && BY_FLAG.get(name.slice(3))?.kind === "boolean") {
      negated = true;
      name = name.slice(3);
    }
    if (name === "config") {
      configFile = inline ?? argv[++i];
      if (configFile === undefined) throw new ConfigError("--config needs a file name");
      continue;
    }
    const key = BY_FLAG.get(name);
    if (!key) throw new ConfigError(`unknown option --${name}${suggest(name, [...BY_FLAG.keys(), "config", "help"], "--")}`);
    if (key.kind === "boolean") {
      if (inline !== undefined && !/^(true|false)$/.test(inline)) throw new ConfigError(`--${name} takes no value (or =true/=false)`);
      fromCli.set(key.key, negated ? false : inline === undefined ? true : inline === "true");
      continue;
    }
    if (negated) throw new ConfigError(`--no-${name} is not an option`);
    if (inline === undefined) {
      inline = argv[++i];
      if (inline === undefined || inline.startsWith("--")) throw new ConfigError(`--${name} needs a value`);
    }
    fromCli.set(key.key, inline);
  }

  const fromFile: Raw = new Map();
  let fileDir = cwd;
  if (configFile !== undefined) {
    const file = path.resolve(cwd, configFile);
    fileDir = path.dirname(file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
      throw new ConfigError(`cannot read --config ${configFile}: ${(error as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`--config ${configFile}: expected a JSON object`);
    }
    for (const [name, value] of Object.entries(parsed)) {
      if (name === "items" && typeof value === "object" && value !== null && !Array.isArray(value)) {
        for (const [click, item] of Object.entries(value)) {
          if (click !== "SINGLE" && click !== "DOUBLE") throw new ConfigError(`--config: items.${click}: only SINGLE and DOUBLE order items`);
          fromFile.set(`items.${click}`, item);
        }
        continue;
      }
      if (!KEYS.some((k) => k.key === name)) throw new ConfigError(`--config: unknown key ${JSON.stringify(name)}${suggest(name, [...KEYS.map((k) => k.key), "items"], "")}`);
      fromFile.set(name, value);
    }
  }

  const value = (key: string): { raw: unknown; where: string; base: string } | undefined => {
    if (fromCli.has(key)) return { raw: fromCli.get(key), where: `--${flagOf(key)}`, base: cwd };
    if (fromFile.has(key)) return { raw: fromFile.get(key), where: `config key ${key}`, base: fileDir };
    return undefined;
  };
  const get = <T>(key: string, fallback: T): T => {
    const v = value(key);
    return v === undefined ? fallback : (convert(KEYS.find((k) => k.key === key)!, v.raw, v.where, v.base) as T);
  };

  const button = {
    ...defaultConfig,
    thingName: get<string | undefined>("thingName", undefined),
    topicPrefix: get("topicPrefix", defaultConfig.topicPrefix),
    items: { SINGLE: get("items.SINGLE", defaultConfig.items.SINGLE), DOUBLE: get("items.DOUBLE", defaultConfig.items.DOUBLE) },
    connectionMode: get<ConnectionMode>("connectionMode", defaultConfig.connectionMode),
    debounceMs: get("debounceMs", defaultConfig.debounceMs),
    doubleClickMs: get("doubleClickMs", defaultConfig.doubleClickMs),
    longPressMs: get("longPressMs", defaultConfig.longPressMs),
    ackTimeoutMs: get("ackTimeoutMs", defaultConfig.ackTimeoutMs),
    backoffBaseMs: get("backoffBaseMs", defaultConfig.backoffBaseMs),
    backoffCapMs: get("backoffCapMs", defaultConfig.backoffCapMs),
    giveUpMs: get("giveUpMs", defaultConfig.giveUpMs),
    pendingExpiryMs: get("pendingExpiryMs", defaultConfig.pendingExpiryMs),
  };
  const config: SimulateConfig = {
    broker: get<string | undefined>("broker", undefined),
    ca: get<string | undefined>("ca", undefined),
    cert: get<string | undefined>("cert", undefined),
    key: get<string | undefined>("key", undefined),
    servername: get<string | undefined>("servername", undefined),
    alpn: get<string[] | undefined>("alpn", undefined),
    restaurant: get("restaurant", true),
    restaurantCert: get<string | undefined>("restaurantCert", undefined),
    restaurantKey: get<string | undefined>("restaurantKey", undefined),
    etaMin: get("etaMin", 25),
    menu: get<string[] | undefined>("menu", undefined),
    stateDir: get("stateDir", path.resolve(cwd, ".data")),
    pkiDir: get("pkiDir", path.resolve(cwd, "certs")),
    clicks: get<ClickType[] | undefined>("clicks", undefined),
    json: get("json", false),
    button,
  };
  checkConsistency(config);
  return config;
}

function convert(key: Key, raw: unknown, where: string, base: string): unknown {
  const fromCli = where.startsWith("--");
  const text = (): string => {
    if (typeof raw !== "string" || raw.length === 0) throw new ConfigError(`${where} must be a non-empty string`);
    return raw;
  };
  const list = (): string[] => {
    const items = Array.isArray(raw) && !fromCli ? raw : typeof raw === "string" ? raw.split(",") : undefined;
    if (!items) throw new ConfigError(`${where} must be a comma-separated list${fromCli ? "" : " or an array"}`);
    const clean = items.map((item) => (typeof item === "string" ? item.trim() : "")).filter((item) => item.length > 0);
    if (clean.length !== items.length || clean.length === 0) throw new ConfigError(`${where}: empty or non-string entries`);
    return clean;
  };
  switch (key.kind) {
    case "string":
      return text();
    case "path":
      return path.resolve(base, text());
    case "boolean":
      if (typeof raw !== "boolean") throw new ConfigError(`${where} must be true or false`);
      return raw;
    case "ms":
    case "count": {
      const n = typeof raw === "number" && !fromCli ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${where} must be a whole number ≥ 0${key.kind === "ms" ? " (milliseconds)" : ""}`);
      return n;
    }
    case "list":
      return list();
    case "clicks":
      return list().map((click) => {
        const type = click.toUpperCase();
        if (type !== "SINGLE" && type !== "DOUBLE" && type !== "LONG") {
          throw new ConfigError(`${where}: unknown click ${JSON.stringify(click)} (single, double or long)`);
        }
        return type;
      });
    case "mode": {
      const mode = text();
      if (mode !== "on-demand" && mode !== "persistent" && mode !== "battery") throw new ConfigError(`${where} must be on-demand, persistent or battery`);
      return mode;
    }
    case "url": {
      const url = text();
      try {
        parseMqttsUrl(url);
      } catch (error) {
        throw new ConfigError(`${where}: ${(error as Error).message}`);
      }
      return url;
    }
    case "thing": {
      const name = text();
      if (!isValidThingName(name)) throw new ConfigError(`${where}: ${JSON.stringify(name)} is not a valid thing name (1-128 of A-Z a-z 0-9 _ -)`);
      return name;
    }
  }
}

function checkConsistency(config: SimulateConfig): void {
  const b = config.button;
  if (!(b.doubleClickMs > b.debounceMs)) throw new ConfigError("doubleClickMs must be greater than debounceMs");
  if (!(b.longPressMs > b.doubleClickMs)) throw new ConfigError("longPressMs must be greater than doubleClickMs");
  if (b.ackTimeoutMs === 0) throw new ConfigError("ackTimeoutMs must be greater than 0");
  if (!(b.giveUpMs >= b.ackTimeoutMs)) throw new ConfigError("giveUpMs must be at least ackTimeoutMs");
  if (b.backoffCapMs < b.backoffBaseMs) throw new ConfigError("backoffCapMs must be at least backoffBaseMs");
  if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(b.topicPrefix)) {
    throw new ConfigError("topicPrefix must be topic levels of A-Z a-z 0-9 _ - (no wildcards, no leading /)");
  }
  if ((config.cert === undefined) !== (config.key === undefined)) throw new ConfigError("--cert and --key go together");
  if ((config.restaurantCert === undefined) !== (config.restaurantKey === undefined)) {
    throw new ConfigError("--restaurant-cert and --restaurant-key go together");
  }
  if (config.broker !== undefined) {
    if (!config.ca || !config.cert || !config.key) {
      throw new ConfigError("--broker needs the device's --ca, --cert and --key (the dev PKI only serves the embedded broker)");
    }
    if (config.restaurant && !config.restaurantCert) {
      throw new ConfigError("--broker: give --restaurant-cert and --restaurant-key for the restaurant, or --no-restaurant");
    }
  }
}

function suggest(name: string, known: string[], prefix: string): string {
  const lower = name.toLowerCase();
  const close = known.find((k) => k.toLowerCase().startsWith(lower.slice(0, 3)) && Math.abs(k.length - name.length) <= 3);
  return close ? ` (did you mean ${prefix}${close}?)` : " (see --help)";
}
