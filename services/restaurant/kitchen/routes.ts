// The kitchen page's routes: the static page, the order list, the event stream and the staff decisions.
// Every handler gets the Kitchen (the restaurant behind it, the page's settings, the open streams).
import type http from "node:http";
import { encodeAck } from "../../../modules/core/messages";
import { ackFor, type Decision, type ThingState } from "../orders/decisions";
import type { StoredOrder, WaitingPage } from "../orders/order-store";
import { decisionFrom, DECISIONS, type DecisionName } from "./decision-body";
import { frame, type EventStreams } from "./event-streams";
import { checkJsonPost, HttpError, readJsonBody, send } from "./http-guard";
import { serveStatic, STATIC_PATHS, type StaticFiles } from "./static-files";

type Awaitable<T> = T | Promise<T>;

/** What the kitchen needs from the restaurant (Restaurant implements it). */
export interface KitchenBackend {
  order(orderId: string): Awaitable<StoredOrder | undefined>;
  /** One page of the waiting list, oldest first, and the total. */
  waiting(page: { offset: number; limit: number }): Awaitable<WaitingPage>;
  /** The latest decided rows, most recent first. */
  recentlyDecided(limit: number): Awaitable<StoredOrder[]>;
  /** The registry's state of a thing, when there is a registry. */
  thingState?(thing: string): ThingState | undefined;
  /** Decides a held request and publishes its ack; throws if it cannot (already decided, wrong kind). */
  settle(orderId: string, decision: Decision): Awaitable<StoredOrder>;
  /** Readiness for a load balancer: throws (with the reason) when the database or the broker is not reachable. */
  health?(): Promise<Record<string, unknown>>;
}

/** An order as the page sees it (the stored ack text stays inside). */
export interface OrderView extends Omit<StoredOrder, "ack"> {
  /** The thing's registry state when it is not ACTIVE (INACTIVE, REVOKED): the page warns, accepting is refused. */
  thingState: ThingState | null;
}

export interface BrokerStatus {
  connected: boolean;
  detail?: string;
}

/** What the page needs to know besides the orders. */
export interface PageSettings {
  defaultEtaMin: number;
  autoAccept: boolean;
  maxReasonChars: number;
  maxEtaMin: number;
  waitingPage: number;
  decidedShown: number;
  buttonGiveUpMs: number;
}

/** What every handler may use: the restaurant, the page's settings and the open event streams. */
export interface Kitchen {
  readonly backend: KitchenBackend;
  readonly defaultEtaMin: number;
  readonly settings: PageSettings;
  readonly statics: StaticFiles;
  readonly streams: EventStreams;
  /** The restaurant's broker connection, as last reported. */
  broker: BrokerStatus;
  readonly log?: { info(message: string): void } | undefined;
}

/** Waiting orders in one page (the page shows the oldest page and counts the rest). */
export const WAITING_PAGE = 50;
export const MAX_PAGE = 200;
/** Decided orders the page shows (latest first). */
export const DECIDED_SHOWN = 50;
const ORDER_ID = /^[A-Za-z0-9_-]{1,160}$/;

export function orderView(order: StoredOrder, thingState?: ThingState): OrderView {
  const { ack: _ack, ...view } = order;
  return { ...view, thingState: thingState === "INACTIVE" || thingState === "REVOKED" ? thingState : null };
}

export function viewOf(kitchen: Kitchen, order: StoredOrder): OrderView {
  return orderView(order, kitchen.backend.thingState?.(order.thing));
}

/** Bounded whatever the backlog: one page of the waiting list and the latest decisions. */
export async function snapshot(kitchen: Kitchen, page: { offset: number; limit: number } = { offset: 0, limit: WAITING_PAGE }) {
  const waiting = await kitchen.backend.waiting(page);
  const decided = await kitchen.backend.recentlyDecided(DECIDED_SHOWN);
  return {
    orders: [...waiting.orders, ...decided].map((order) => viewOf(kitchen, order)),
    waiting: { total: waiting.total, offset: waiting.offset, limit: page.limit },
    broker: kitchen.broker,
    settings: kitchen.settings,
    serverTime: Date.now(),
  };
}

export interface Exchange {
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
  ...STATIC_PATHS.map((path): Route => ({ methods: ["GET", "HEAD"], path, handle: (kitchen, { req, res, url }) => serveStatic(kitchen.statics, req, res, url.pathname) })),
  { methods: ["GET"], path: "/api/orders", handle: async (kitchen, { res, url }) => send(res, 200, await snapshot(kitchen, pageOf(url))) },
  { methods: ["GET"], path: "/api/events", handle: openStream },
  { methods: ["GET"], path: "/healthz", handle: health },
  { methods: ["POST"], path: /^\/api\/orders\/([^/]+)\/([a-z-]+)$/, handle: decide },
];

async function openStream(kitchen: Kitchen, { req, res }: Exchange): Promise<void> {
  const first = frame("snapshot", await snapshot(kitchen));
  kitchen.streams.open(req, res, first);
}

/** 200 with what was checked, or 503 with why not: a load balancer sends no staff to an instance that cannot work. */
async function health(kitchen: Kitchen, { res }: Exchange): Promise<void> {
  if (!kitchen.backend.health) return send(res, 200, { ok: true });
  try {
    send(res, 200, { ok: true, ...(await kitchen.backend.health()) });
  } catch (error) {
    send(res, 503, { ok: false, error: (error as Error).message });
  }
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
  const { backend, defaultEtaMin } = kitchen;
  const order = await backend.order(orderId);
  if (!order) throw new HttpError(404, `unknown order ${orderId}`);
  const decision = decisionFrom(name, body, defaultEtaMin);
  const wants = name === "accept" || name === "reject" ? "order" : "cancel";
  if (order.action !== wants) {
    throw new HttpError(409, order.action === "order" ? `${orderId} is an order: accept or reject it` : `${orderId} is a cancel request: grant or refuse it`);
  }
  if (order.status !== null) throw new HttpError(409, `${orderId} is already ${order.status}`);
  // The ack must fit the 512-byte message limit (a long reason in multi-byte characters might not).
  try {
    encodeAck(ackFor(orderId, decision, defaultEtaMin));
  } catch (error) {
    throw new HttpError(400, `the answer does not fit in an ack: ${(error as Error).message}; shorten the reason`);
  }
  let stored: StoredOrder;
  try {
    stored = await backend.settle(orderId, decision);
  } catch (error) {
    throw new HttpError(409, (error as Error).message); // lost a race with another decision, or the desk refused
  }
  kitchen.log?.info(`kitchen: ${orderId} ${stored.status}${stored.etaMin !== null ? ` (ETA ${stored.etaMin} min)` : ""}${stored.reason ? `: ${stored.reason}` : ""}`);
  send(res, 200, { order: viewOf(kitchen, stored) });
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
export function findRoute(method: string, pathname: string): { route: Route; params: string[] } {
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
