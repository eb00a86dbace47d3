// The kitchen page: a small HTTP server (node:http, no framework) in the restaurant process. It serves one
// static page (HTML/CSS/JS from ./static, no CDN: works offline), a live stream of orders as server-sent
// events, and a JSON API the page calls when staff accept, reject, grant or refuse:
//
//   GET  /api/orders[?offset=N&limit=M]  → { orders: OrderView[], waiting: { total, offset, limit }, broker, settings }
//        orders = one page of the waiting list (oldest first, at most MAX_PAGE) + the latest decisions
//   GET  /api/events                     → text/event-stream: "snapshot" (as above), then "order", "waiting"
//                                          ({ total }) and "broker"
//   POST /api/orders/:id/accept          { "etaMin"?: 0..600 }       (default: the service's --eta)
//   POST /api/orders/:id/reject          { "reason": "1..100 chars" }
//   POST /api/orders/:id/cancel-grant    { }
//   POST /api/orders/:id/cancel-refuse   { "reason": "1..100 chars" }
//     → 200 { order } · 400 bad input · 403 cross-site · 404 unknown order · 409 already decided / wrong kind
//       / accepting for a thing the registry deactivated or revoked · 413 body too large · 415 not JSON.
//   Any request whose Host is not allowed → 403. Errors are { "error": "…" }.
//
// There is no login, so the server listens on loopback by default. Against other web pages in the same
// browser (CSRF) and DNS rebinding: a POST must be application/json (a cross-site form cannot send that
// without a CORS preflight, which is never granted), its Origin (when sent) must be this server, and in
// every mode the Host header must name an allowed host (loopback names, the listen address, and the
// names given with --allowed-host). Connections that send nothing, or never finish a request, are closed.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { encodeAck } from "../../../modules/core/messages";
import type { Log } from "../../../modules/core/ports";
import { defaultConfig } from "../../../modules/core/config";
import { ackFor, type Decision } from "../decisions";
import type { StoredOrder, WaitingPage } from "../order-db";
import type { ThingState } from "../order-desk";

/** What the kitchen needs from the restaurant (Restaurant implements it). */
export interface KitchenBackend {
  order(orderId: string): StoredOrder | undefined;
  /** One page of the waiting list, oldest first, and the total. */
  waiting(page: { offset: number; limit: number }): WaitingPage;
  /** The latest decided rows, most recent first. */
  recentlyDecided(limit: number): StoredOrder[];
  /** The registry's state of a thing, when there is a registry. */
  thingState?(thing: string): ThingState | undefined;
  /** Decides a held request and publishes its ack; throws if it cannot (already decided, wrong kind). */
  settle(orderId: string, decision: Decision): StoredOrder;
}

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
  /** Event-stream heartbeat; must be shorter than the idle timeout. */
  heartbeatMs?: number;
  log?: Log;
}

export interface KitchenTimeouts {
  /** No traffic at all on a connection (before a request, between requests). */
  idleMs: number;
  /** A request's headers must be complete within this. */
  headersMs: number;
  /** A request, body included, must be complete within this. */
  requestMs: number;
}

export const DEFAULT_TIMEOUTS: KitchenTimeouts = { idleMs: 30_000, headersMs: 10_000, requestMs: 30_000 };
/** Always allowed: the page opened on this computer. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "::1"];

/** An order as the page sees it (the stored ack text stays inside). */
export interface OrderView {
  orderId: string;
  thing: string;
  seq: number;
  action: "order" | "cancel";
  clickType: string;
  item: string | null;
  cancels: string | null;
  batteryVoltage: string | null;
  receivedAt: number;
  status: StoredOrder["status"];
  etaMin: number | null;
  reason: string | null;
  decidedAt: number | null;
  ackedAt: number | null;
  cancelledBy: string | null;
  /** The thing's registry state when it is not ACTIVE (INACTIVE, REVOKED): the page warns, accepting is refused. */
  thingState: ThingState | null;
}

export interface BrokerStatus {
  connected: boolean;
  detail?: string;
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

export const MAX_BODY_BYTES = 4096;
export const MAX_REASON_CHARS = 100;
export const MAX_ETA_MIN = 600;
/** Waiting orders in one page (the page shows the oldest page and counts the rest). */
export const WAITING_PAGE = 50;
export const MAX_PAGE = 200;
/** Decided orders the page shows (latest first). */
export const DECIDED_SHOWN = 50;
const HEARTBEAT_MS = 15_000;
const WILDCARD_ADDRESSES = new Set(["0.0.0.0", "::", "0:0:0:0:0:0:0:0"]);
const ORDER_ID = /^[A-Za-z0-9_-]{1,160}$/;
const DECISIONS = ["accept", "reject", "cancel-grant", "cancel-refuse"] as const;
type DecisionName = (typeof DECISIONS)[number];

const STATIC_DIR = fileURLToPath(new URL("./static/", import.meta.url));
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/kitchen.css": { file: "kitchen.css", type: "text/css; charset=utf-8" },
  "/kitchen.js": { file: "kitchen.js", type: "text/javascript; charset=utf-8" },
};

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function orderView(order: StoredOrder, thingState?: ThingState): OrderView {
  const { ack: _ack, ...view } = order;
  return { ...view, thingState: thingState === "INACTIVE" || thingState === "REVOKED" ? thingState : null };
}

// ---------------------------------------------------------------------------------------------- checks
// Every request passes checkHost; every POST passes checkJsonPost and readJsonBody.

/** The Host names the page answers to: loopback names, the listen address unless it is a wildcard, and `extra`. */
export function allowedHostsFor(listenHost: string, extra: readonly string[] = []): Set<string> {
  const allowed = new Set(LOOPBACK_HOSTS);
  if (!WILDCARD_ADDRESSES.has(listenHost)) allowed.add(listenHost.toLowerCase());
  for (const name of extra) allowed.add(name.toLowerCase());
  return allowed;
}

/** DNS rebinding: a page on evil.example resolving to this server sends Host: evil.example. */
export function checkHost(req: http.IncomingMessage, allowed: ReadonlySet<string>): void {
  const hostname = hostnameOf(req.headers.host);
  if (hostname === undefined || !allowed.has(hostname)) {
    throw new HttpError(403, `Host ${JSON.stringify(req.headers.host ?? "")} is not allowed (this page answers to ${[...allowed].join(", ")}; add a name with --allowed-host)`);
  }
}

/** CSRF: only JSON from this page's own origin. */
export function checkJsonPost(req: http.IncomingMessage): void {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, "send the body as Content-Type: application/json");
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ""}`) {
    throw new HttpError(403, `cross-origin request from ${origin} refused`);
  }
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw new HttpError(403, `cross-site request (${site}) refused`);
  }
}

/** The body as a JSON object, at most MAX_BODY_BYTES (an empty body is {}). */
export async function readJsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "body must be a JSON object");
  return body as Record<string, unknown>;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

// ---------------------------------------------------------------------------------------------- routes

/** What every handler may use: the restaurant, the page's settings and the open event streams. */
interface Kitchen {
  readonly backend: KitchenBackend;
  readonly options: KitchenOptions;
  readonly settings: PageSettings;
  readonly statics: ReadonlyMap<string, { body: Buffer; type: string }>;
  readonly streams: Set<http.ServerResponse>;
  /** The restaurant's broker connection, as last reported. */
  broker: BrokerStatus;
  view(order: StoredOrder): OrderView;
}

/** What the page needs to know besides the orders. */
interface PageSettings {
  defaultEtaMin: number;
  autoAccept: boolean;
  maxReasonChars: number;
  maxEtaMin: number;
  waitingPage: number;
  decidedShown: number;
  buttonGiveUpMs: number;
}

/** Bounded whatever the backlog: one page of the waiting list and the latest decisions. */
function snapshot(kitchen: Kitchen, page: { offset: number; limit: number } = { offset: 0, limit: WAITING_PAGE }) {
  const waiting = kitchen.backend.waiting(page);
  const decided = kitchen.backend.recentlyDecided(DECIDED_SHOWN);
  return {
    orders: [...waiting.orders, ...decided].map(kitchen.view),
    waiting: { total: waiting.total, offset: waiting.offset, limit: page.limit },
    broker: kitchen.broker,
    settings: kitchen.settings,
    serverTime: Date.now(),
  };
}

interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  /** The route pattern's captures. */
  params: string[];
}

interface Route {
  methods: readonly string[];
  path: string | RegExp;
  handle(kitchen: Kitchen, exchange: Exchange): void | Promise<void>;
}

const ROUTES: readonly Route[] = [
  ...Object.keys(STATIC_FILES).map((path): Route => ({ methods: ["GET", "HEAD"], path, handle: serveStatic })),
  { methods: ["GET"], path: "/api/orders", handle: (kitchen, { res, url }) => send(res, 200, snapshot(kitchen, pageOf(url))) },
  { methods: ["GET"], path: "/api/events", handle: openStream },
  { methods: ["POST"], path: /^\/api\/orders\/([^/]+)\/([a-z-]+)$/, handle: decide },
];

function serveStatic(kitchen: Kitchen, { req, res, url }: Exchange): void {
  const page = kitchen.statics.get(url.pathname)!;
  res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": page.type, "Content-Length": page.body.length });
  res.end(req.method === "HEAD" ? undefined : page.body);
}

function openStream(kitchen: Kitchen, { req, res }: Exchange): void {
  res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": "text/event-stream; charset=utf-8", Connection: "keep-alive" });
  res.write(`retry: 2000\nevent: snapshot\ndata: ${JSON.stringify(snapshot(kitchen))}\n\n`);
  kitchen.streams.add(res);
  req.socket.setNoDelay(true);
  const done = () => kitchen.streams.delete(res);
  req.on("close", done);
  res.on("error", done);
}

async function decide(kitchen: Kitchen, { req, res, params }: Exchange): Promise<void> {
  let orderId: string;
  try {
    orderId = decodeURIComponent(params[0]!);
  } catch {
    throw new HttpError(400, "malformed order id");
  }
  const name = params[1] as DecisionName;
  if (!DECISIONS.includes(name)) throw new HttpError(404, `unknown action ${params[1]} (${DECISIONS.join(", ")})`);
  if (!ORDER_ID.test(orderId)) throw new HttpError(400, "malformed order id");
  checkJsonPost(req);
  const body = await readJsonBody(req);
  const { backend, options } = kitchen;
  const order = backend.order(orderId);
  if (!order) throw new HttpError(404, `unknown order ${orderId}`);
  const decision = decisionFrom(name, body, options.defaultEtaMin);
  const wants = name === "accept" || name === "reject" ? "order" : "cancel";
  if (order.action !== wants) {
    throw new HttpError(409, order.action === "order" ? `${orderId} is an order: accept or reject it` : `${orderId} is a cancel request: grant or refuse it`);
  }
  if (order.status !== null) throw new HttpError(409, `${orderId} is already ${order.status}`);
  // The ack must fit the 512-byte message limit (a long reason in multi-byte characters might not).
  try {
    encodeAck(ackFor(orderId, decision, options.defaultEtaMin));
  } catch (error) {
    throw new HttpError(400, `the answer does not fit in an ack: ${(error as Error).message}; shorten the reason`);
  }
  let stored: StoredOrder;
  try {
    stored = backend.settle(orderId, decision);
  } catch (error) {
    throw new HttpError(409, (error as Error).message); // lost a race with another decision, or the desk refused
  }
  options.log?.info(`kitchen: ${orderId} ${stored.status}${stored.etaMin !== null ? ` (ETA ${stored.etaMin} min)` : ""}${stored.reason ? `: ${stored.reason}` : ""}`);
  send(res, 200, { order: kitchen.view(stored) });
}

/** ?offset=N&limit=M of the waiting list: whole numbers, limit at most MAX_PAGE. */
function pageOf(url: URL): { offset: number; limit: number } {
  const number = (name: string, fallback: number, max: number) => {
    const raw = url.searchParams.get(name);
    if (raw === null) return fallback;
    if (!/^\d{1,9}$/.test(raw) || Number(raw) > max) throw new HttpError(400, `${name} must be a whole number from 0 to ${max}`);
    return Number(raw);
  };
  return { offset: number("offset", 0, 1e9), limit: number("limit", WAITING_PAGE, MAX_PAGE) };
}

/** The route for a request; 404 if no path matches, 405 (with Allow) if the path exists for other methods. */
function findRoute(method: string, pathname: string): { route: Route; params: string[] } {
  const allowed: string[] = [];
  for (const route of ROUTES) {
    const match = typeof route.path === "string" ? (route.path === pathname ? [] : undefined) : route.path.exec(pathname)?.slice(1);
    if (match === undefined) continue;
    if (route.methods.includes(method)) return { route, params: match };
    allowed.push(...route.methods);
  }
  if (allowed.length === 0) throw new HttpError(404, `nothing at ${pathname}`);
  throw new HttpError(405, `use ${allowed.join(" or ")}`, { Allow: allowed.join(", ") });
}

// ---------------------------------------------------------------------------------------------- server

export async function startKitchen(options: KitchenOptions): Promise<KitchenServer> {
  const { host, timeouts, heartbeatMs, settings } = checkOptions(options);
  const { backend } = options;
  const kitchen: Kitchen = {
    backend,
    options,
    settings,
    statics: readStatics(),
    streams: new Set(),
    broker: { connected: true },
    view: (order) => orderView(order, backend.thingState?.(order.thing)),
  };
  const broadcast = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of kitchen.streams) res.write(frame);
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

  const heartbeat = setInterval(() => {
    for (const res of kitchen.streams) res.write(": ping\n\n");
  }, heartbeatMs);
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
      broadcast("order", kitchen.view(order));
      // A granted cancel also changed the order it cancels (cancelledBy): show that too.
      if (order.action === "cancel" && order.status === "cancelled" && order.cancels !== null) {
        const target = backend.order(order.cancels);
        if (target) broadcast("order", kitchen.view(target));
      }
      // The page shows one page of the waiting list; the total tells it what is not shown.
      broadcast("waiting", { total: backend.waiting({ offset: 0, limit: 0 }).total });
    },
    brokerStatus(status) {
      kitchen.broker = status;
      broadcast("broker", status);
    },
    async close() {
      clearInterval(heartbeat);
      for (const res of kitchen.streams) res.end();
      kitchen.streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
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
  return { host: options.host ?? "127.0.0.1", timeouts, heartbeatMs, settings };
}

/** Read once: the page is three small files, and a missing one should fail the start, not a request. */
function readStatics(): Map<string, { body: Buffer; type: string }> {
  const statics = new Map<string, { body: Buffer; type: string }>();
  for (const [route, { file, type }] of Object.entries(STATIC_FILES)) {
    statics.set(route, { body: fs.readFileSync(`${STATIC_DIR}${file}`), type });
  }
  return statics;
}

function httpServerOptions(timeouts: KitchenTimeouts): http.ServerOptions {
  return {
    // Node checks header and request deadlines on this interval; its default (30 s) would let a slow
    // client hold a connection far past them.
    connectionsCheckingInterval: Math.max(50, Math.min(timeouts.headersMs, timeouts.requestMs) / 4),
    headersTimeout: timeouts.headersMs,
    requestTimeout: Math.max(timeouts.requestMs, timeouts.headersMs),
    // Between requests on a kept-alive connection: Node's own 5 s, or less.
    keepAliveTimeout: Math.min(5_000, timeouts.idleMs),
  };
}

/** A handler's error as the JSON answer (500s are logged with their stack, never shown). */
function answerError(req: http.IncomingMessage, res: http.ServerResponse, error: unknown, log: Log | undefined): void {
  const status = error instanceof HttpError ? error.status : 500;
  if (status === 500) log?.error(`kitchen: ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const message = status === 500 ? "internal error (see the restaurant's log)" : (error as Error).message;
  // A rejected body is not read to the end: close the connection rather than parse what follows.
  send(res, status, { error: message }, { ...(error instanceof HttpError ? error.headers : {}), ...(status === 413 ? { Connection: "close" } : {}) });
}

/** Validates a decision body strictly: unknown fields and wrong types are errors, not ignored. */
function decisionFrom(name: DecisionName, body: Record<string, unknown>, defaultEtaMin: number): Decision {
  const allowed: Record<DecisionName, string[]> = {
    accept: ["etaMin"],
    reject: ["reason"],
    "cancel-grant": [],
    "cancel-refuse": ["reason"],
  };
  const extra = Object.keys(body).filter((key) => !allowed[name].includes(key));
  if (extra.length > 0) {
    throw new HttpError(400, `unexpected field${extra.length > 1 ? "s" : ""} ${extra.map((k) => JSON.stringify(k)).join(", ")} for ${name}${allowed[name].length ? ` (expected ${allowed[name].join(", ")})` : " (expected an empty object)"}`);
  }
  switch (name) {
    case "accept": {
      const eta = body.etaMin ?? defaultEtaMin;
      if (typeof eta !== "number" || !Number.isSafeInteger(eta) || eta < 0 || eta > MAX_ETA_MIN) {
        throw new HttpError(400, `etaMin must be a whole number of minutes from 0 to ${MAX_ETA_MIN}`);
      }
      return { status: "accepted", etaMin: eta };
    }
    case "reject":
      return { status: "rejected", reason: reasonFrom(body.reason) };
    case "cancel-grant":
      return { status: "cancelled" };
    case "cancel-refuse":
      return { status: "cancel-refused", reason: reasonFrom(body.reason) };
  }
}

function reasonFrom(raw: unknown): string {
  if (typeof raw !== "string") throw new HttpError(400, "reason is required: a short text the customer will see");
  const reason = raw.trim();
  if (reason.length === 0) throw new HttpError(400, "reason must not be empty");
  if ([...reason].length > MAX_REASON_CHARS) throw new HttpError(400, `reason must be at most ${MAX_REASON_CHARS} characters`);
  if (/[\u0000-\u001f\u007f]/.test(reason)) throw new HttpError(400, "reason must be one line of printable text");
  return reason;
}

function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader);
  if (bracketed) return bracketed[1]!.toLowerCase();
  const plain = /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return plain?.[1]?.toLowerCase();
}
