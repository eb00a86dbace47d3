// `npm run restaurant`: the order service as a long-running process against any MQTT broker (the local
// `npm run broker` by default; AWS IoT Core or mosquitto with --broker and the restaurant's own
// certificate), its orders in SQLite or PostgreSQL (nothing lost across restarts; several instances may
// share one PostgreSQL, docs/scaling.md), and the kitchen page where staff
// accept or reject each order; the button's LED shows their answer. --auto-accept answers at once instead.
// Logs one JSON object per line on stdout; SIGINT/SIGTERM close it cleanly (exit 0).
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { BUTTON_SETTINGS, type SettingsSchema } from "../../modules/core/settings";
import { isValidThingName, RESTAURANT_NAME } from "../../modules/core/topics";
import { hasRegistry } from "../../tools/pki/registry";
import { Pki } from "../../tools/pki/pki";
import { parseMqttsUrl } from "../net/broker-url";
import { startKitchen, type KitchenServer } from "./kitchen/server";
import { renameDeprecatedFlags } from "../../tools/cli/conventions";
import { isLoopbackHost, isMainModule, jsonLog, runServiceCli, UsageError, type EventSink } from "../runtime";
import { commandHelp, parseCommandLine, pickSettings } from "../settings-cli";
import { autoAccept, type DecidePolicy } from "./orders/decisions";
import { plainText } from "./orders/text";
import { isPostgresUrl, redactDbUrl } from "./orders/order-store";
import { MAX_INSTANCE, serviceInstanceName } from "../../tools/pki/reserved";
import { DEFAULT_REQUEST_LIMIT, type RequestLimit } from "./order-desk";
import { DEFAULT_MENU, startRestaurant, type Restaurant, type RestaurantEvent, type StoredOrder } from "./restaurant";

export interface RestaurantServiceConfig {
  brokerUrl: string;
  ca: string;
  cert: string;
  key: string;
  servername: string | undefined;
  alpn: string[] | undefined;
  clientId: string;
  topicPrefix: string;
  dbPath: string;
  /** $share group the instances split the orders by; undefined: every instance receives every order. */
  sharedGroup: string | undefined;
  menu: string[];
  autoAccept: boolean;
  etaMin: number;
  httpHost: string;
  httpPort: number;
  /** Host names the kitchen page answers to besides the loopback names and --http-host. */
  allowedHosts: string[];
  /** New requests per thing: a burst, then so many per hour. */
  requestLimit: RequestLimit;
  /** The buttons' giveUpMs: a waiting order older than this is marked on the page. */
  buttonGiveUpMs: number;
  /** PKI directory whose registry tells which things are INACTIVE or REVOKED (none: not checked). */
  registryDir: string | undefined;
}

export const DEFAULT_BROKER_URL = "mqtts://127.0.0.1:8883";
/** On SIGTERM: how long the orders in flight may take to be stored and acknowledged before the exit. */
const SHUTDOWN_DRAIN_MS = 5_000;

/** The buttons' own giveUpMs default, from the button schema. */
const BUTTON_GIVE_UP_MS = BUTTON_SETTINGS.settings.find((s) => s.key === "giveUpMs")!.default as number;

/** The restaurant service's settings; topicPrefix is the button's own setting (same key, same rule). */
export const RESTAURANT_SETTINGS: SettingsSchema = {
  settings: [
    { key: "broker", type: "text", default: DEFAULT_BROKER_URL, check: brokerUrlProblem, help: "mqtts://host:port (default: npm run broker on this computer)" },
    { key: "ca", type: "path", help: "CA certificate(s) that verify the broker (PEM)" },
    { key: "cert", type: "path", help: "the restaurant's certificate (chain) (PEM)" },
    { key: "key", type: "path", help: "the restaurant's private key (PEM); default for all three: the restaurant identity in --pki-dir" },
    { key: "pkiDir", type: "path", default: "certs", help: "local PKI the defaults come from (npm run broker creates it)" },
    { key: "servername", type: "text", help: "broker certificate name, if not the URL's host" },
    { key: "alpn", type: "list", help: "ALPN protocols (AWS IoT Core on port 443: x-amzn-mqtt-ca)" },
    { key: "clientId", type: "text", default: RESTAURANT_NAME, check: (id) => (isValidThingName(id) ? undefined : "must be 1-128 of A-Z a-z 0-9 _ -"), help: "MQTT client id (the embedded broker wants the certificate CN)" },
    { key: "instance", type: "integer", min: 1, max: MAX_INSTANCE, help: "one of several instances, each with its own certificate (npm run pki -- service create restaurant --instance N): connects as restaurant.N with the identity restaurant.N in --pki-dir" },
    ...pickSettings(BUTTON_SETTINGS, ["topicPrefix"]),
    { key: "db", type: "text", default: ".data/restaurant.db", help: "SQLite file, or postgres://user:password@host:5432/db (several instances share one PostgreSQL)" },
    { key: "sharedGroup", type: "text", check: (group) => (/^[A-Za-z0-9_-]{1,64}$/.test(group) ? undefined : "must be 1-64 of A-Z a-z 0-9 _ -"), help: "take orders through the shared subscription $share/GROUP/…: each order goes to one instance of the group (mosquitto, AWS IoT Core); without it every instance receives every order and the database decides" },
    { key: "menu", type: "list", default: DEFAULT_MENU, help: "items accepted, comma-separated" },
    { key: "autoAccept", type: "boolean", default: false, help: "accept every order and grant every cancel at once (default: staff decide)" },
    { key: "etaMin", type: "integer", default: 25, min: 0, max: 600, unit: "min", help: "ETA for auto-accept and the page's default (--eta: deprecated alias)" },
    { key: "httpHost", type: "text", default: "127.0.0.1", help: "kitchen page address (the page has no login)" },
    { key: "httpPort", type: "integer", default: 8080, min: 0, max: 65_535, help: "kitchen page port (0 = any free port)" },
    { key: "allowedHost", type: "list", item: allowedHostItem, help: "a host name the kitchen page answers to (repeatable or comma-separated), e.g. the computer's LAN name or address with --http-host 0.0.0.0; always allowed: localhost, 127.0.0.1, ::1 and the --http-host address; any other Host gets 403" },
    { key: "orderBurst", type: "integer", default: DEFAULT_REQUEST_LIMIT.burst, min: 1, max: 1_000_000, help: "new orders (and cancels) one button may send at once" },
    { key: "ordersPerHour", type: "integer", default: DEFAULT_REQUEST_LIMIT.perHour, min: 1, max: 1_000_000_000, help: 'then this many per hour per button; over the limit the button gets "rejected: too many orders" at once (resends never count)' },
    { key: "giveUpMs", type: "integer", default: BUTTON_GIVE_UP_MS, min: 1_000, max: 24 * 3_600_000, unit: "ms", help: "the buttons' giveUpMs: older waiting orders are marked on the page (the button shows failed and resends on its next press)" },
  ],
  rules: [],
};

function allowedHostItem(name: string): { value: string } | { problem: string } {
  return /^(\[[0-9a-f:.]+\]|[0-9a-f:.]*:[0-9a-f:.]*|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/i.test(name.trim())
    ? { value: name.trim() }
    : { problem: `has ${JSON.stringify(name)}, not a host name or address (give it without scheme or port)` };
}

function brokerUrlProblem(url: string): string | undefined {
  try {
    parseMqttsUrl(url);
    return undefined;
  } catch (error) {
    return `is not a broker URL: ${(error as Error).message}`;
  }
}

export function restaurantUsage(): string {
  return commandHelp(RESTAURANT_SETTINGS, [
    "Usage: npm run restaurant -- [options]",
    "",
    "Takes orders from the broker, keeps them in SQLite (or PostgreSQL, shared by several instances: see",
    "docs/scaling.md) and serves the kitchen page where staff accept or reject them (the button's LED",
    "answers); GET /healthz on the same port for a load balancer. Runs until SIGINT/SIGTERM (it stops taking",
    "orders and finishes those in flight first); one line per event on stdout",
    "(readable on a terminal, JSON when piped or with --json).",
    "",
  ]);
}

/** argv → config; undefined for --help. Throws UsageError. `notice` hears about deprecated flags. */
export function parseRestaurantArgs(
  argv: string[],
  cwd = process.cwd(),
  notice: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): RestaurantServiceConfig | undefined {
  // --eta-min is the ETA's name in every command (tools/cli/conventions.ts); --eta is its alias here.
  const line = parseCommandLine(RESTAURANT_SETTINGS, renameDeprecatedFlags(argv, { "--eta": "--eta-min" }, notice), { cwd });
  if (line === undefined) return undefined;
  const v = line.values;
  const text = (key: string) => v[key] as string | undefined;
  const brokerUrl = text("broker")!;
  const pkiDir = text("pkiDir")!;
  const given = { ca: text("ca"), cert: text("cert"), key: text("key") };
  const anyGiven = Object.values(given).some((v) => v !== undefined);
  if (anyGiven && Object.values(given).some((v) => v === undefined)) {
    throw new UsageError("--ca, --cert and --key go together (or give none: the restaurant identity in --pki-dir)");
  }
  const instance = v.instance as number | undefined;
  if (instance !== undefined && line.given.has("clientId")) throw new UsageError("--instance N connects as restaurant.N: give --instance or --client-id, not both");
  const identity = instance === undefined ? RESTAURANT_NAME : serviceInstanceName(RESTAURANT_NAME, instance);
  const identityDir = path.join(pkiDir, "things", identity);
  const files = anyGiven
    ? { ca: path.resolve(cwd, given.ca!), cert: path.resolve(cwd, given.cert!), key: path.resolve(cwd, given.key!) }
    : { ca: path.join(identityDir, "ca.pem"), cert: path.join(identityDir, "chain.pem"), key: path.join(identityDir, "key.pem") };
  for (const [flag, file] of Object.entries(files)) {
    if (!fs.existsSync(file)) {
      throw new UsageError(
        anyGiven
          ? `--${flag} ${file}: no such file`
          : instance === undefined
            ? `no restaurant identity in ${pkiDir} (${file} missing): start "npm run broker" once (it creates the dev PKI), or give --ca/--cert/--key`
            : `no identity ${identity} in ${pkiDir} (${file} missing): issue it with "npm run pki -- --pki-dir ${pkiDir} service create restaurant --instance ${instance}", or give --ca/--cert/--key`,
      );
    }
  }
  // With the dev PKI (or --pki-dir), its registry says which things were deactivated or revoked since.
  const registryDir = (!anyGiven || line.given.has("pkiDir")) && hasRegistry(pkiDir) ? pkiDir : undefined;
  return {
    brokerUrl,
    ...files,
    servername: text("servername"),
    alpn: v.alpn as string[] | undefined,
    clientId: instance === undefined ? text("clientId")! : identity,
    topicPrefix: text("topicPrefix")!,
    dbPath: isPostgresUrl(text("db")!) ? text("db")! : path.resolve(cwd, text("db")!),
    sharedGroup: text("sharedGroup"),
    menu: [...(v.menu as string[])],
    autoAccept: v.autoAccept as boolean,
    etaMin: v.etaMin as number,
    httpHost: text("httpHost")!,
    httpPort: v.httpPort as number,
    allowedHosts: ((v.allowedHost as string[] | undefined) ?? []).map((name) => name.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1")),
    requestLimit: { burst: v.orderBurst as number, perHour: v.ordersPerHour as number },
    buttonGiveUpMs: v.giveUpMs as number,
    registryDir,
  };
}

/** Staff decide: every request that passes the house rules is held for the kitchen page. */
export const holdForKitchen: DecidePolicy = () => undefined;

export interface RestaurantService {
  readonly restaurant: Restaurant;
  readonly kitchen: KitchenServer;
  close(): Promise<void>;
}

export async function startRestaurantService(config: RestaurantServiceConfig, rawSink: EventSink): Promise<RestaurantService> {
  const sink = plainTextSink(rawSink);
  const log = jsonLog(sink, "restaurant");
  if (!isLoopbackHost(config.httpHost)) {
    sink("kitchen", "warning", { reason: `the kitchen page listens on ${config.httpHost}: it has no login, anyone who can reach it can accept and reject orders` });
    if (config.allowedHosts.length === 0) {
      sink("kitchen", "warning", { reason: "no --allowed-host given: only loopback names and the --http-host address are served; add --allowed-host NAME for each name or address staff type in the browser" });
    }
  }
  const read = (file: string) => fs.readFileSync(file, "utf8");
  const cert = read(config.cert);
  const cn = commonName(cert);
  if (cn !== undefined && cn !== config.clientId) {
    sink("restaurant", "warning", { reason: `certificate CN is ${cn} but the client id is ${config.clientId}; the brokers accept only ${cn} (each instance has a certificate of its own)` });
  }

  const registry = config.registryDir !== undefined ? await Pki.open(config.registryDir) : undefined;
  let kitchen: KitchenServer | undefined;
  let waitingSaid = false;
  const onEvent = (event: RestaurantEvent) => {
    switch (event.type) {
      case "received":
      case "decided":
        sink("restaurant", event.type, summary(event.order));
        kitchen?.orderChanged(event.order);
        break;
      case "changed-elsewhere":
        kitchen?.orderChanged(event.order);
        break;
      case "connected":
        sink("restaurant", "connected", { broker: config.brokerUrl });
        kitchen?.brokerStatus({ connected: true });
        break;
      case "disconnected":
        sink("restaurant", "disconnected", { broker: config.brokerUrl, detail: event.detail });
        kitchen?.brokerStatus({ connected: false, detail: event.detail });
        if (!kitchen && !waitingSaid) {
          waitingSaid = true;
          sink("restaurant", "waiting-for-broker", { broker: config.brokerUrl, note: "retrying every second; the kitchen page opens once connected (is npm run broker running?)" });
        }
        break;
      default: {
        const { type, ...fields } = event;
        sink("restaurant", type, fields);
      }
    }
  };

  sink("restaurant", "starting", { broker: config.brokerUrl, db: redactDbUrl(config.dbPath), autoAccept: config.autoAccept, clientId: config.clientId, ...(config.sharedGroup ? { sharedGroup: config.sharedGroup } : {}) });
  const restaurant = await startRestaurant({
    brokerUrl: config.brokerUrl,
    ...(config.servername ? { servername: config.servername } : {}),
    ...(config.alpn ? { alpnProtocols: config.alpn } : {}),
    ca: read(config.ca),
    cert,
    key: read(config.key),
    clientId: config.clientId,
    dbPath: config.dbPath,
    ...(config.sharedGroup ? { sharedGroup: config.sharedGroup } : {}),
    topicPrefix: config.topicPrefix,
    menu: config.menu,
    etaMin: config.etaMin,
    decide: config.autoAccept ? autoAccept : holdForKitchen,
    requestLimit: config.requestLimit,
    ...(registry ? { thingState: (thing: string) => registry.thingState(thing) } : {}),
    log,
    onEvent,
  });
  try {
    kitchen = await startKitchen({
      backend: restaurant,
      host: config.httpHost,
      port: config.httpPort,
      defaultEtaMin: config.etaMin,
      autoAccept: config.autoAccept,
      allowedHosts: config.allowedHosts,
      buttonGiveUpMs: config.buttonGiveUpMs,
      log,
    });
  } catch (error) {
    await restaurant.close();
    throw new Error(`kitchen page on ${config.httpHost}:${config.httpPort}: ${(error as Error).message}`);
  }
  const waiting = (await restaurant.waiting({ offset: 0, limit: 0 })).total;
  sink("kitchen", "listening", { url: kitchen.url, waiting, allowedHosts: [...kitchen.allowedHosts] });
  const started = kitchen;
  return {
    restaurant,
    kitchen: started,
    async close() {
      // Stop taking orders and finish those in flight while the page still answers (healthz says 503).
      await restaurant.close({ drainMs: SHUTDOWN_DRAIN_MS });
      await started.close();
    },
  };
}

/**
 * Every text field a line carries passes plainText before either output (JSON or the readable line) sees it:
 * items and reasons are button-chosen text, and a bidi override in one must not reverse a log viewer's line.
 */
export function plainTextSink(sink: EventSink): EventSink {
  return (source, event, fields = {}) => sink(source, event, plainFields(fields) as Record<string, unknown>);
}

function plainFields(value: unknown): unknown {
  if (typeof value === "string") return plainText(value);
  if (Array.isArray(value)) return value.map(plainFields);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, plainFields(inner)]));
  }
  return value;
}

function summary(order: StoredOrder): Record<string, unknown> {
  return {
    orderId: order.orderId,
    thing: order.thing,
    action: order.action,
    clickType: order.clickType,
    ...(order.item !== null ? { item: order.item } : {}),
    ...(order.cancels !== null ? { cancels: order.cancels } : {}),
    status: order.status ?? "waiting",
    ...(order.etaMin !== null ? { etaMin: order.etaMin } : {}),
    ...(order.reason !== null ? { reason: order.reason } : {}),
  };
}

function commonName(certPem: string): string | undefined {
  try {
    return /(?:^|\n)CN=([^\n]+)/.exec(new X509Certificate(certPem).subject)?.[1];
  } catch {
    return undefined;
  }
}

if (isMainModule(import.meta.url)) {
  await runServiceCli({ name: "restaurant", parse: parseRestaurantArgs, usage: restaurantUsage, start: startRestaurantService });
}
