// The order desk: what the restaurant does with a message, without MQTT. It parses (topic → thing,
// payload → strictly decoded order, identity checks between them), dedupes by orderId (a resend gets the
// original answer), applies the house rules (per-thing request limit, thing state, menu, cancel rules),
// asks the decision policy and records every step in the order book. The MQTT adapter (restaurant.ts)
// feeds it messages and publishes what it answers; tests drive it directly on each store (SQLite, PostgreSQL).
//
// Nothing here throws on input from a button: a bad message becomes a refusal with its reason.
import type { ClickType } from "../../modules/core/config";
import { thingOfOrdersTopic } from "../../modules/core/topics";
import { decodeOrder, encodeAck, type OrderMessage } from "../../modules/core/messages";
import type { Log } from "../../modules/core/ports";
import { takeStored } from "../token-bucket";
import { ackFor, autoAccept, decisionFits, quoteItem, type Decision, type DecidePolicy, type ThingState } from "./orders/decisions";
import type { OrderStore, OrderTransaction, StoredOrder } from "./orders/order-store";

export type { ThingState } from "./orders/decisions";

export const DEFAULT_MENU: readonly string[] = ["margherita", "pepperoni", "funghi", "quattro-formaggi", "marinara"];

/**
 * New requests (orders and cancels) one thing may send: `burst` at once, then `perHour` refilled evenly.
 * A resend of a known orderId is not a new request and never counts.
 */
export interface RequestLimit {
  burst: number;
  perHour: number;
}

/** What `npm run restaurant` applies unless told otherwise: far above what a person pressing a button does. */
export const DEFAULT_REQUEST_LIMIT: RequestLimit = { burst: 3, perHour: 10 };
export const TOO_MANY_ORDERS = "too many orders";

export interface OrderDeskOptions {
  db: OrderStore;
  topicPrefix?: string;
  menu?: readonly string[];
  /** ETA of an accepted order when the policy does not give one. */
  etaMin?: number;
  /** Decision policy; defaults to auto-accept. Return undefined to hold a request for settle(). */
  decide?: DecidePolicy;
  /** Per-thing limit on new requests; undefined = no limit. */
  requestLimit?: RequestLimit;
  /** Registry lookup: INACTIVE and REVOKED things get their orders rejected and cannot be accepted. */
  thingState?: (thing: string) => ThingState | undefined;
  log?: Log;
  /** Clock (ms since the epoch). */
  now?: () => number;
}

export type Incoming = { ok: true; thing: string; order: OrderMessage } | { ok: false; reason: string };

/** What became of one message. */
export type Arrival =
  /** Not a well-formed message of the topic's thing: nothing stored, nothing answered. */
  | { type: "refused"; reason: string }
  /** A known orderId again: `resend` is the stored row to answer with its original ack (undefined: nothing to send). */
  | { type: "repeat"; order: StoredOrder; resend: boolean }
  /** A new request, stored; decided at once unless `order.status` is null (held for staff). */
  | { type: "new"; order: StoredOrder };

/** A decision the desk will not record (unknown order, already decided, wrong kind, thing not active). */
export class SettleError extends Error {}

/** Topic → thing, payload → strictly decoded order, and the identity checks between them. */
export function parseIncoming(topicPrefix: string, topic: string, payload: Uint8Array): Incoming {
  const thing = thingOfOrdersTopic(topicPrefix, topic);
  if (thing === undefined) return { ok: false, reason: "not an orders topic of a valid thing name" };
  const decoded = decodeOrder(payload);
  if (!decoded.ok) return { ok: false, reason: `from ${thing}: ${decoded.reason}` };
  const order = decoded.value;
  if (order.serialNumber !== thing) {
    return {
      ok: false,
      reason: `from ${thing}: serialNumber ${JSON.stringify(order.serialNumber)} does not match the topic's thing`,
    };
  }
  if (!order.orderId.startsWith(`${thing}-`)) {
    return { ok: false, reason: `from ${thing}: orderId ${order.orderId} is not one of ${thing}'s` };
  }
  return { ok: true, thing, order };
}

export class OrderDesk {
  readonly topicPrefix: string;
  readonly etaMin: number;
  readonly #db: OrderStore;
  readonly #menu: ReadonlySet<string>;
  readonly #decide: DecidePolicy;
  readonly #limit: RequestLimit | undefined;
  /** Things over their limit right now (seen by this instance): logged once when they go over, not for every refused request. */
  readonly #limitedThings = new Set<string>();
  readonly #thingState: ((thing: string) => ThingState | undefined) | undefined;
  readonly #log: Log | undefined;
  readonly #now: () => number;

  constructor(options: OrderDeskOptions) {
    this.#db = options.db;
    this.topicPrefix = options.topicPrefix ?? "pizza";
    this.#menu = new Set(options.menu ?? DEFAULT_MENU);
    this.etaMin = options.etaMin ?? 25;
    if (!Number.isSafeInteger(this.etaMin) || this.etaMin < 0) throw new Error("order desk: etaMin must be a whole number ≥ 0");
    this.#decide = options.decide ?? autoAccept;
    if (options.requestLimit) checkRequestLimit(options.requestLimit);
    this.#limit = options.requestLimit;
    this.#thingState = options.thingState;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
  }

  /** One message from the broker: parsed, deduped, judged and recorded (one transaction). */
  async receive(topic: string, payload: Uint8Array): Promise<Arrival> {
    const incoming = parseIncoming(this.topicPrefix, topic, payload);
    if (!incoming.ok) return { type: "refused", reason: incoming.reason };
    const { thing, order } = incoming;

    const existing = await this.#db.find(order.orderId);
    if (existing) return this.#repeat(existing, thing, order);

    const receivedAt = this.#now();
    const stored = await this.#db.transaction(async (tx) => {
      const inserted = await tx.insertReceived({
        orderId: order.orderId,
        thing,
        seq: order.seq,
        action: order.action,
        clickType: order.clickType as ClickType,
        ...(order.action === "order" ? { item: order.item } : { cancels: order.cancels }),
        ...(order.batteryVoltage !== undefined ? { batteryVoltage: order.batteryVoltage } : {}),
        receivedAt,
      });
      if (!inserted) return undefined;
      const row = (await tx.find(order.orderId))!;
      const decision = (await this.#overLimit(tx, row, receivedAt)) ?? (await this.#houseRules(tx, row)) ?? this.#policy(row);
      if (decision) await this.#apply(tx, row, decision);
      return (await tx.find(order.orderId))!;
    });
    // Another instance stored the same orderId first (it got the same message): that one answers it.
    if (!stored) return { type: "repeat", order: (await this.#db.find(order.orderId))!, resend: false };
    const what = order.action === "order" ? `order ${quoteItem(order.item)}` : `cancel of ${order.cancels}`;
    this.#log?.info(`${order.orderId} from ${thing}: ${what} (${order.clickType})`);
    if (stored.status === null) this.#log?.info(`${order.orderId} held for a decision`);
    return { type: "new", order: stored };
  }

  /** Decides a held request; throws SettleError if it cannot. */
  async settle(orderId: string, decision: Decision): Promise<StoredOrder> {
    return this.#db.transaction(async (tx) => {
      const row = await tx.find(orderId);
      if (!row) throw new SettleError(`unknown order ${orderId}`);
      if (row.status !== null) throw new SettleError(`order ${orderId} is already ${row.status}`);
      if (!decisionFits(row, decision)) throw new SettleError(`${decision.status} does not answer a ${row.action}`);
      const refusal = this.#inactiveThing(row);
      if (refusal && (decision.status === "accepted" || decision.status === "cancelled")) {
        throw new SettleError(`${row.thing} is ${this.thingState(row.thing)}: its orders cannot be accepted; reject it instead`);
      }
      const final = (await this.#checkCancel(tx, row)) ?? decision;
      // Another instance decided it since it was read: WHERE status IS NULL refused the second decision.
      if (!(await this.#apply(tx, row, final))) throw new SettleError(`order ${orderId} was decided meanwhile`);
      return (await tx.find(orderId))!;
    });
  }

  /** After a (re)start: decides what the house rules or the policy can decide now; returns those rows. */
  async decideHeld(): Promise<StoredOrder[]> {
    const decided: StoredOrder[] = [];
    for (const row of await this.#db.undecided()) {
      const stored = await this.#db.transaction(async (tx) => {
        const current = (await tx.find(row.orderId))!;
        if (current.status !== null) return undefined;
        const decision = (await this.#houseRules(tx, current)) ?? this.#policy(current);
        if (!decision || !(await this.#apply(tx, current, decision))) return undefined;
        return (await tx.find(row.orderId))!;
      });
      if (stored) decided.push(stored);
    }
    return decided;
  }

  /** The registry's state of a thing (undefined: not in a registry, or none configured). */
  thingState(thing: string): ThingState | undefined {
    try {
      return this.#thingState?.(thing);
    } catch (error) {
      this.#log?.warn(`thing registry unavailable: ${(error as Error).message}`);
      return undefined;
    }
  }

  // ------------------------------------------------------------------------------------------ rules

  /** A known orderId again (the button resending what it got no ack for): never a second row. */
  #repeat(existing: StoredOrder, thing: string, order: OrderMessage): Arrival {
    if (existing.thing !== thing) {
      // Cannot happen with the orderId checks in parseIncoming; refuse rather than answer another thing's order.
      this.#log?.warn(`refused ${order.orderId} from ${thing}: stored for ${existing.thing}`);
      return { type: "repeat", order: existing, resend: false };
    }
    if (!sameRequest(existing, order)) {
      this.#log?.warn(`${order.orderId} from ${thing} repeats an orderId with different content; original kept`);
    }
    if (existing.ack === null) {
      this.#log?.info(`${order.orderId} repeated while awaiting a decision`);
      return { type: "repeat", order: existing, resend: false };
    }
    this.#log?.info(`${order.orderId} repeated: original ack (${existing.status}) sent again`);
    return { type: "repeat", order: existing, resend: true };
  }

  /**
   * One button may not crowd out the others: past its limit a request is refused at once. The bucket is the
   * database's (in the request's transaction), so several instances count a thing's requests together.
   */
  async #overLimit(tx: OrderTransaction, row: StoredOrder, now: number): Promise<Decision | undefined> {
    if (!this.#limit) return undefined;
    const shape = { burst: this.#limit.burst, perMs: this.#limit.perHour / 3_600_000 };
    const { taken, state } = takeStored(await tx.lockRequestBucket(row.thing, { tokens: shape.burst, at: now }), shape, now);
    if (taken) {
      await tx.saveRequestBucket(row.thing, state);
      this.#limitedThings.delete(row.thing);
      return undefined;
    }
    if (this.#limitedThings.size >= 1_000) this.#limitedThings.clear(); // only decides when to log again
    if (!this.#limitedThings.has(row.thing)) {
      this.#limitedThings.add(row.thing);
      this.#log?.warn(`${row.thing} is over its limit of ${this.#limit.burst} requests at once, ${this.#limit.perHour} per hour: refusing its new requests (first: ${row.orderId})`);
    }
    return row.action === "order"
      ? { status: "rejected", reason: TOO_MANY_ORDERS }
      : { status: "cancel-refused", reason: TOO_MANY_ORDERS };
  }

  /** Decisions that need no policy: inactive things, items not on the menu, cancels that break the cancel rules. */
  async #houseRules(tx: OrderTransaction, row: StoredOrder): Promise<Decision | undefined> {
    const inactive = this.#inactiveThing(row);
    if (inactive) return inactive;
    if (row.action === "order") {
      if (!this.#menu.has(row.item!)) return { status: "rejected", reason: `unknown item ${quoteItem(row.item!)}` };
      return undefined;
    }
    return this.#checkCancel(tx, row);
  }

  /** A thing deactivated or revoked since it connected (or on a broker that does not check) gets nothing. */
  #inactiveThing(row: StoredOrder): Decision | undefined {
    const state = this.thingState(row.thing);
    if (state !== "INACTIVE" && state !== "REVOKED") return undefined;
    const reason = `this button is ${state === "REVOKED" ? "revoked" : "deactivated"}`;
    return row.action === "order" ? { status: "rejected", reason } : { status: "cancel-refused", reason };
  }

  /** A cancel must name an accepted, not yet cancelled order of the same thing. */
  async #checkCancel(tx: OrderTransaction, row: StoredOrder): Promise<Decision | undefined> {
    if (row.action !== "cancel") return undefined;
    const targetId = row.cancels!;
    // Another thing's orders are "unknown" here: a button learns nothing about other buttons' orders.
    const target = targetId.startsWith(`${row.thing}-`) ? await tx.find(targetId) : undefined;
    if (!target || target.thing !== row.thing) return { status: "cancel-refused", reason: `unknown order ${targetId}` };
    if (target.action !== "order") return { status: "cancel-refused", reason: `${targetId} is not an order` };
    if (target.cancelledBy !== null) return { status: "cancel-refused", reason: `${targetId} is already cancelled` };
    if (target.status !== "accepted") {
      return { status: "cancel-refused", reason: `${targetId} is ${target.status ?? "awaiting a decision"}, not accepted` };
    }
    return undefined;
  }

  #policy(row: StoredOrder): Decision | undefined {
    let decision: Decision | undefined;
    try {
      decision = this.#decide(row);
    } catch (error) {
      this.#log?.error(`decision policy failed on ${row.orderId}, holding it: ${(error as Error).message}`);
      return undefined;
    }
    if (decision && !decisionFits(row, decision)) {
      this.#log?.error(`decision policy answered ${decision.status} to a ${row.action} ${row.orderId}; holding it`);
      return undefined;
    }
    return decision;
  }

  /**
   * Records a decision (inside the caller's transaction); false if the row was decided already. A granted
   * cancel also marks its target.
   */
  async #apply(tx: OrderTransaction, row: StoredOrder, decision: Decision): Promise<boolean> {
    let final = decision;
    if (row.action === "cancel" && decision.status === "cancelled" && !(await tx.markCancelled(row.cancels!, row.orderId))) {
      final = { status: "cancel-refused", reason: `${row.cancels} can no longer be cancelled` };
    }
    const ack = ackFor(row.orderId, final, this.etaMin);
    const text = new TextDecoder().decode(encodeAck(ack));
    return tx.recordDecision(row.orderId, {
      status: ack.status,
      ...(ack.etaMin !== undefined ? { etaMin: ack.etaMin } : {}),
      ...(ack.reason !== undefined ? { reason: ack.reason } : {}),
      ack: text,
      decidedAt: this.#now(),
    });
  }
}

export function checkRequestLimit(limit: RequestLimit): void {
  if (!Number.isSafeInteger(limit.burst) || limit.burst < 1) throw new Error("request limit: burst must be a whole number ≥ 1");
  if (!(limit.perHour > 0) || !Number.isFinite(limit.perHour)) throw new Error("request limit: perHour must be a number > 0");
}

function sameRequest(existing: StoredOrder, order: OrderMessage): boolean {
  return (
    existing.action === order.action &&
    existing.clickType === order.clickType &&
    existing.item === (order.action === "order" ? order.item : null) &&
    existing.cancels === (order.action === "cancel" ? order.cancels : null)
  );
}
