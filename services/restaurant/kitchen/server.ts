// The kitchen page: a small HTTP server (node:http, no framework) in the restaurant process. It serves one
// static page, a live stream of orders as server-sent events, and a JSON API the page calls when staff
// accept, reject, grant or refuse:
//
//   GET  /api/orders[?offset=N&limit=M]  → { orders: OrderView[], waiting: { total, offset, limit }, broker, settings }
//        orders = one page of the waiting list (oldest first, at most MAX_PAGE) + the latest decisions
//   GET  /api/events                     → text/event-stream: "snapshot" (as above), then "order", "waiting"
//                                          ({ total }) and "broker"; at most 8 per address and 64 in all
//                                          (the newest past a limit gets 503 with Retry-After)
//   GET  /healthz                        → 200 { ok: true, … } when the database and the broker answer, else 503
//   POST /api/orders/:id/accept          { "etaMin"?: 0..600 }       (default: the service's --eta)
//   POST /api/orders/:id/reject          { "reason": "1..100 chars" }
//   POST /api/orders/:id/cancel-grant    { }
//   POST /api/orders/:id/cancel-refuse   { "reason": "1..100 chars" }
//     → 200 { order } · 400 bad input · 403 cross-site · 404 unknown order · 409 already decided / wrong kind
//       / accepting for a thing the registry deactivated or revoked · 413 body too large · 415 not JSON.
//   Any request whose Host is not allowed → 403. Errors are { "error": "…" }.
//
// There is no login, so the server listens on loopback by default; http-guard.ts holds the defences
// (Host allow-list, JSON same-origin POSTs, bounded bodies, request deadlines).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Log } from "../../../modules/core/ports";
import { defaultConfig } from "../../../modules/core/config";
import type { StoredOrder } from "../orders/order-store";
import { MAX_ETA_MIN, MAX_REASON_CHARS } from "./decision-body";
import { DEFAULT_STREAM_LIMITS, EventStreams, type StreamLimits } from "./event-streams";
import { allowedHostsFor, answerError, checkHost, DEFAULT_TIMEOUTS, httpServerOptions, type KitchenTimeouts } from "./http-guard";
import { DECIDED_SHOWN, findRoute, viewOf, WAITING_PAGE, type BrokerStatus, type Kitchen, type KitchenBackend, type PageSettings } from "./routes";
import { readStatics } from "./static-files";

export type { BrokerStatus, KitchenBackend, OrderView } from "./routes";
export type { KitchenTimeouts } from "./http-guard";
export type { StreamLimits } from "./event-streams";

export interface KitchenOptions {
  backend: KitchenBackend;
  /** Listen address; loopback by default. */
  host?: string;
  /** 0 = an ephemeral port. */
  port?: number;
  /** ETA the page proposes, and the accept default. */
  defaultEtaMin: number;
  /** Shown on the page: orders are accepted without staff. */
  autoAccept?: boolean;
  /**
   * Host names (or addresses) the page answers to besides the loopback names and the listen address, e.g.
   * the computer's LAN name when it listens on 0.0.0.0. Any other Host is refused (DNS rebinding).
   */
  allowedHosts?: readonly string[];
  /** The buttons' giveUpMs: the page marks waiting orders older than this (the button shows failed). */
  buttonGiveUpMs?: number;
  /** Closes connections that hold the server without finishing a request. */
  timeouts?: Partial<KitchenTimeouts>;
  /** Open event streams allowed (default: 8 per address, 64 in all). */
  streamLimits?: Partial<StreamLimits>;
  /** Event-stream heartbeat; must be shorter than the idle timeout. */
  heartbeatMs?: number;
  log?: Log;
}

export interface KitchenServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Host names requests may name (loopback names, the listen address, allowedHosts). */
  readonly allowedHosts: ReadonlySet<string>;
  /** Pushes a new or changed order to every open page. */
  orderChanged(order: StoredOrder): void;
  /** Pushes the restaurant's broker connection state to every open page. */
  brokerStatus(status: BrokerStatus): void;
  close(): Promise<void>;
}

const HEARTBEAT_MS = 15_000;

export async function startKitchen(options: KitchenOptions): Promise<KitchenServer> {
  const { host, timeouts, heartbeatMs, settings, streamLimits } = checkOptions(options);
  const { backend } = options;
  const kitchen: Kitchen = {
    backend,
    defaultEtaMin: options.defaultEtaMin,
    settings,
    statics: readStatics(),
    streams: new EventStreams(streamLimits),
    broker: { connected: true },
    log: options.log,
  };

  const allowedHosts = allowedHostsFor(host, options.allowedHosts);
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    checkHost(req, allowedHosts);
    const url = new URL(req.url ?? "/", "http://kitchen.invalid");
    const { route, params } = findRoute(req.method ?? "GET", url.pathname);
    await route.handle(kitchen, { req, res, url, params });
  };
  const server = http.createServer(httpServerOptions(timeouts), (req, res) => {
    handle(req, res).catch((error: unknown) => answerError(req, res, error, options.log));
  });
  // No traffic either way for idleMs (a connection that never sends a request, a stalled body): closed.
  // An open event stream is never idle: its heartbeat is traffic.
  server.setTimeout(timeouts.idleMs, (socket) => socket.destroy());
  const heartbeat = setInterval(() => kitchen.streams.write(": ping\n\n"), heartbeatMs);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;

  return {
    url: `http://${urlHost}:${port}/`,
    host,
    port,
    allowedHosts,
    orderChanged(order) {
      if (kitchen.streams.size === 0) return;
      void pushOrder(kitchen, order).catch((error: unknown) => options.log?.warn(`kitchen: could not push ${order.orderId}: ${(error as Error).message}`));
    },
    brokerStatus(status) {
      kitchen.broker = status;
      kitchen.streams.broadcast("broker", status);
    },
    async close() {
      clearInterval(heartbeat);
      kitchen.streams.closeAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function pushOrder(kitchen: Kitchen, order: StoredOrder): Promise<void> {
  const { backend, streams } = kitchen;
  streams.broadcast("order", viewOf(kitchen, order));
  // A granted cancel also changed the order it cancels (cancelledBy): show that too.
  if (order.action === "cancel" && order.status === "cancelled" && order.cancels !== null) {
    const target = await backend.order(order.cancels);
    if (target) streams.broadcast("order", viewOf(kitchen, target));
  }
  // The page shows one page of the waiting list; the total tells it what is not shown.
  streams.broadcast("waiting", { total: (await backend.waiting({ offset: 0, limit: 0 })).total });
}

/** Options checked once, with their defaults: a wrong value fails the start, not a request. */
function checkOptions(options: KitchenOptions) {
  if (!Number.isSafeInteger(options.defaultEtaMin) || options.defaultEtaMin < 0 || options.defaultEtaMin > MAX_ETA_MIN) {
    throw new Error(`kitchen: defaultEtaMin must be a whole number 0..${MAX_ETA_MIN}`);
  }
  const timeouts: KitchenTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  for (const [name, value] of Object.entries(timeouts)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`kitchen: timeouts.${name} must be a whole number of ms ≥ 1`);
  }
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  if (!(heartbeatMs < timeouts.idleMs)) throw new Error("kitchen: heartbeatMs must be shorter than timeouts.idleMs (an open page would be cut off)");
  const settings: PageSettings = {
    defaultEtaMin: options.defaultEtaMin,
    autoAccept: options.autoAccept === true,
    maxReasonChars: MAX_REASON_CHARS,
    maxEtaMin: MAX_ETA_MIN,
    waitingPage: WAITING_PAGE,
    decidedShown: DECIDED_SHOWN,
    buttonGiveUpMs: options.buttonGiveUpMs ?? defaultConfig.giveUpMs,
  };
  const streamLimits: StreamLimits = { ...DEFAULT_STREAM_LIMITS, ...options.streamLimits };
  return { host: options.host ?? "127.0.0.1", timeouts, heartbeatMs, settings, streamLimits };
}
