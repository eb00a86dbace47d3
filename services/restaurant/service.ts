// `npm run restaurant`: the order service as a long-running process against any MQTT broker (the local
// `npm run broker` by default; AWS IoT Core or mosquitto with --broker and the restaurant's own
// certificate), its orders in SQLite (nothing lost across restarts), and the kitchen page where staff
// accept or reject each order; the button's LED shows their answer. --auto-accept answers at once instead.
// Logs one JSON object per line on stdout; SIGINT/SIGTERM close it cleanly (exit 0).
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { isValidThingName } from "../../modules/core/config";
import { parseMqttsUrl } from "../net/broker-url";
import { startKitchen, type KitchenServer } from "./kitchen/server";
import { intOption, isLoopbackHost, isMainModule, jsonLines, jsonLog, runServiceCli, UsageError, type EventSink } from "../runtime";
import { autoAccept, type DecidePolicy } from "./decisions";
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
    "  --help                this text",
  ].join("\n");
}

/** argv → config; undefined for --help. Throws UsageError. */
export function parseRestaurantArgs(argv: string[], cwd = process.cwd()): RestaurantServiceConfig | undefined {
  let values: Record<string, string | boolean | undefined>;
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
  const pkiDir = path.resolve(cwd, text("pki-dir") ?? "certs");
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
  }
  const read = (file: string) => fs.readFileSync(file, "utf8");
  const cert = read(config.cert);
  const cn = commonName(cert);
  if (cn !== undefined && cn !== config.clientId) {
    sink("restaurant", "warning", { reason: `certificate CN is ${cn} but the client id is ${config.clientId}; the embedded broker requires them to be equal` });
  }

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
      log,
    });
  } catch (error) {
    await restaurant.close();
    throw new Error(`kitchen page on ${config.httpHost}:${config.httpPort}: ${(error as Error).message}`);
  }
  const waiting = restaurant.orders().filter((o) => o.status === null).length;
  sink("kitchen", "listening", { url: kitchen.url, waiting });
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
