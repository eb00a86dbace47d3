// `npm run restaurant`: the order service as a long-running process against any MQTT broker (the local
// `npm run broker` by default; AWS IoT Core or mosquitto with --broker and the restaurant's own
// certificate), its orders in SQLite (nothing lost across restarts), and the kitchen page where staff
// accept or reject each order; the button's LED shows their answer. --auto-accept answers at once instead.
// Logs one JSON object per line on stdout; SIGINT/SIGTERM close it cleanly (exit 0).
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { defaultConfig, isValidThingName } from "../../modules/core/config";
import { REGISTRY_FILE } from "../../tools/pki/registry";
import { Pki } from "../../tools/pki/pki";
import { parseMqttsUrl } from "../net/broker-url";
import { startKitchen, type KitchenServer } from "./kitchen/server";
import { intOption, isLoopbackHost, isMainModule, jsonLines, jsonLog, runServiceCli, UsageError, type EventSink } from "../runtime";
import { autoAccept, type DecidePolicy } from "./decisions";
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

export function restaurantUsage(): string {
  return [
    "Usage: npm run restaurant -- [options]",
    "",
    "Takes orders from the broker, keeps them in SQLite and serves the kitchen page where staff accept",
    "or reject them (the button's LED answers). Runs until SIGINT/SIGTERM; JSON lines on stdout.",
    "",
    `  --broker URL          mqtts://host:port (default ${DEFAULT_BROKER_URL}: npm run broker on this computer)`,
    "  --ca FILE             CA certificate(s) that verify the broker (PEM)",
    "  --cert FILE           the restaurant's certificate (chain) (PEM)",
    "  --key FILE            the restaurant's private key (PEM)",
    "                        default for all three: the restaurant identity in --pki-dir",
    "  --pki-dir DIR         local PKI the defaults come from (default certs; npm run broker creates it)",
    "  --servername NAME     broker certificate name, if not the URL's host",
    "  --alpn LIST           ALPN protocols (AWS IoT Core on port 443: x-amzn-mqtt-ca)",
    "  --client-id ID        MQTT client id (default restaurant; the embedded broker wants the certificate CN)",
    "  --topic-prefix P      topic prefix (default pizza)",
    "  --db FILE             SQLite database (default .data/restaurant.db)",
    `  --menu LIST           items accepted, comma-separated (default ${DEFAULT_MENU.join(",")})`,
    "  --auto-accept         accept every order and grant every cancel at once (default: staff decide)",
    "  --eta N               ETA in minutes for auto-accept and the page's default (default 25)",
    "  --http-host ADDR      kitchen page address (default 127.0.0.1; the page has no login)",
    "  --http-port N         kitchen page port (default 8080; 0 = any free port)",
    "  --allowed-host NAME   a host name the kitchen page answers to (repeatable), e.g. the computer's",
    "                        LAN name or address with --http-host 0.0.0.0. Always allowed: localhost,",
    "                        127.0.0.1, ::1 and the --http-host address; any other Host gets 403",
    `  --order-burst N       new orders (and cancels) one button may send at once (default ${DEFAULT_REQUEST_LIMIT.burst})`,
    `  --orders-per-hour N   then this many per hour per button (default ${DEFAULT_REQUEST_LIMIT.perHour}); over the limit`,
    "                        the button gets \"rejected: too many orders\" at once. Resends never count",
    `  --give-up-ms N        the buttons' giveUpMs (default ${defaultConfig.giveUpMs}): older waiting orders are marked`,
    "                        on the page (the button shows failed and resends on its next press)",
    "  --help                this text",
  ].join("\n");
}

/** argv → config; undefined for --help. Throws UsageError. */
export function parseRestaurantArgs(argv: string[], cwd = process.cwd()): RestaurantServiceConfig | undefined {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        broker: { type: "string" },
        ca: { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        "pki-dir": { type: "string" },
        servername: { type: "string" },
        alpn: { type: "string" },
        "client-id": { type: "string" },
        "topic-prefix": { type: "string" },
        db: { type: "string" },
        menu: { type: "string" },
        "auto-accept": { type: "boolean" },
        eta: { type: "string" },
        "http-host": { type: "string" },
        "http-port": { type: "string" },
        "allowed-host": { type: "string", multiple: true },
        "order-burst": { type: "string" },
        "orders-per-hour": { type: "string" },
        "give-up-ms": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]!);
  }
  if (values.help) return undefined;
  const text = (flag: string): string | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.trim() === "") throw new UsageError(`--${flag} needs a value`);
    return v.trim();
  };
  const list = (flag: string): string[] | undefined => {
    const v = text(flag);
    if (v === undefined) return undefined;
    const items = v.split(",").map((s) => s.trim());
    if (items.some((s) => s === "")) throw new UsageError(`--${flag}: empty entry in ${JSON.stringify(v)}`);
    return items;
  };

  const brokerUrl = text("broker") ?? DEFAULT_BROKER_URL;
  try {
    parseMqttsUrl(brokerUrl);
  } catch (error) {
    throw new UsageError(`--broker: ${(error as Error).message}`);
  }
  const pkiDirGiven = text("pki-dir");
  const pkiDir = path.resolve(cwd, pkiDirGiven ?? "certs");
  const given = { ca: text("ca"), cert: text("cert"), key: text("key") };
  const anyGiven = Object.values(given).some((v) => v !== undefined);
  if (anyGiven && Object.values(given).some((v) => v === undefined)) {
    throw new UsageError("--ca, --cert and --key go together (or give none: the restaurant identity in --pki-dir)");
  }
  const identityDir = path.join(pkiDir, "things", "restaurant");
  const files = anyGiven
    ? { ca: path.resolve(cwd, given.ca!), cert: path.resolve(cwd, given.cert!), key: path.resolve(cwd, given.key!) }
    : { ca: path.join(identityDir, "ca.pem"), cert: path.join(identityDir, "chain.pem"), key: path.join(identityDir, "key.pem") };
  for (const [flag, file] of Object.entries(files)) {
    if (!fs.existsSync(file)) {
      throw new UsageError(
        anyGiven
          ? `--${flag} ${file}: no such file`
          : `no restaurant identity in ${pkiDir} (${file} missing): start "npm run broker" once (it creates the dev PKI), or give --ca/--cert/--key`,
      );
    }
  }
  const clientId = text("client-id") ?? "restaurant";
  if (!isValidThingName(clientId)) throw new UsageError(`--client-id ${JSON.stringify(clientId)}: use 1-128 of A-Z a-z 0-9 _ -`);
  const topicPrefix = text("topic-prefix") ?? "pizza";
  if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(topicPrefix)) throw new UsageError("--topic-prefix: topic levels of A-Z a-z 0-9 _ -");
  const allowedHosts = ((values["allowed-host"] as string[] | undefined) ?? []).map((name) => name.trim().toLowerCase());
  for (const name of allowedHosts) {
    if (!/^(\[[0-9a-f:.]+\]|[0-9a-f:.]*:[0-9a-f:.]*|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/.test(name)) {
      throw new UsageError(`--allowed-host ${JSON.stringify(name)}: give a host name or address, without scheme or port`);
    }
  }
  // With the dev PKI (or --pki-dir), its registry says which things were deactivated or revoked since.
  const registryDir = (!anyGiven || pkiDirGiven !== undefined) && fs.existsSync(path.join(pkiDir, REGISTRY_FILE)) ? pkiDir : undefined;
  return {
    brokerUrl,
    ...files,
    servername: text("servername"),
    alpn: list("alpn"),
    clientId,
    topicPrefix,
    dbPath: path.resolve(cwd, text("db") ?? ".data/restaurant.db"),
    menu: list("menu") ?? [...DEFAULT_MENU],
    autoAccept: values["auto-accept"] === true,
    etaMin: intOption("eta", text("eta"), 25, 0, 600),
    httpHost: text("http-host") ?? "127.0.0.1",
    httpPort: intOption("http-port", text("http-port"), 8080, 0, 65535),
    allowedHosts: allowedHosts.map((name) => name.replace(/^\[(.*)\]$/, "$1")),
    requestLimit: {
      burst: intOption("order-burst", text("order-burst"), DEFAULT_REQUEST_LIMIT.burst, 1, 1_000_000),
      perHour: intOption("orders-per-hour", text("orders-per-hour"), DEFAULT_REQUEST_LIMIT.perHour, 1, 1_000_000_000),
    },
    buttonGiveUpMs: intOption("give-up-ms", text("give-up-ms"), defaultConfig.giveUpMs, 1_000, 24 * 3_600_000),
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

export async function startRestaurantService(config: RestaurantServiceConfig, sink: EventSink): Promise<RestaurantService> {
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
    sink("restaurant", "warning", { reason: `certificate CN is ${cn} but the client id is ${config.clientId}; the embedded broker requires them to be equal` });
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

  sink("restaurant", "starting", { broker: config.brokerUrl, db: config.dbPath, autoAccept: config.autoAccept, clientId: config.clientId });
  const restaurant = await startRestaurant({
    brokerUrl: config.brokerUrl,
    ...(config.servername ? { servername: config.servername } : {}),
    ...(config.alpn ? { alpnProtocols: config.alpn } : {}),
    ca: read(config.ca),
    cert,
    key: read(config.key),
    clientId: config.clientId,
    dbPath: config.dbPath,
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
  const waiting = restaurant.waiting({ offset: 0, limit: 0 }).total;
  sink("kitchen", "listening", { url: kitchen.url, waiting, allowedHosts: [...kitchen.allowedHosts] });
  const started = kitchen;
  return {
    restaurant,
    kitchen: started,
    async close() {
      await started.close();
      await restaurant.close();
    },
  };
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
