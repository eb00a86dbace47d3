// The restaurant service: an MQTT client (its own certificate, CN "restaurant") that takes orders from
// `<p>/orders/+`, decides them, stores everything in SQLite and answers on `<p>/acks/<thing>`.
//
// Trust: the thing is the topic level, which the broker only lets that thing's certificate publish to.
// The payload's serialNumber is a claim and must agree with the topic, or the message is refused.
// Nothing a button sends can crash this process or create a row unless it is a well-formed message of
// that button; every refusal is logged with its reason.
//
// Delivery: a row is committed (received, and for a policy that decides at once also decided, with its ack
// text) before mqtt.js PUBACKs the order and before the ack is published. Acks that the broker has not
// confirmed are published again after a (re)connect or a restart. The button resends an unacknowledged
// order with the same orderId, and a repeat gets the stored ack again: nothing is lost, nothing doubled.
import { MqttClient } from "mqtt";
import type { ClickType } from "../../modules/core/config";
import { acksTopic, allOrdersFilter, DEFAULT_TOPIC_PREFIX, thingOfOrdersTopic, topicPrefixProblem } from "../../modules/core/topics";
import { decodeOrder, encodeAck, type OrderMessage } from "../../modules/core/messages";
import type { Log } from "../../modules/core/ports";
import { parseMqttsUrl } from "../net/broker-url";
import { classifyClose, type ConnectionStage } from "../net/close-kind";
import { openTlsStream, type PemInput } from "../net/tls-stream";
import {
  ackFor,
  autoAccept,
  decisionFits,
  quoteItem,
  type Decision,
  type DecidePolicy,
} from "./decisions";
import { OrderDb, type StoredOrder } from "./order-db";

export type { Decision, DecidePolicy } from "./decisions";
export type { StoredOrder } from "./order-db";
export { parseMqttsUrl };

export const DEFAULT_MENU: readonly string[] = ["margherita", "pepperoni", "funghi", "quattro-formaggi", "marinara"];

export interface RestaurantOptions {
  /** mqtts://host:port */
  brokerUrl: string;
  /** Broker certificate name to verify, if it differs from the URL's host. */
  servername?: string;
  alpnProtocols?: string[];
  ca: PemInput | PemInput[];
  cert: PemInput;
  key: PemInput;
  /** MQTT client id; must equal the certificate CN. */
  clientId?: string;
  /** SQLite file (created if missing). */
  dbPath: string;
  topicPrefix?: string;
  menu?: readonly string[];
  /** ETA of an accepted order when the policy does not give one. */
  etaMin?: number;
  /** Decision policy; defaults to auto-accept. Return undefined to hold a request for settle(). */
  decide?: DecidePolicy;
  /** mqtt.js reconnect period for this long-running client; 0 disables reconnecting. */
  reconnectPeriodMs?: number;
  log?: Log;
  onEvent?: (event: RestaurantEvent) => void;
}

export type RestaurantEvent =
  | { type: "connected" }
  | { type: "disconnected"; detail: string }
  | { type: "received"; order: StoredOrder }
  | { type: "decided"; order: StoredOrder }
  | { type: "ack-published"; orderId: string; thing: string; status: string; repeat: boolean }
  | { type: "input-refused"; topic: string; reason: string };

export interface Restaurant {
  /** Every stored row (orders and cancels), oldest first. */
  orders(): StoredOrder[];
  order(orderId: string): StoredOrder | undefined;
  /** Decides a held request (one the policy returned undefined for) and publishes its ack. */
  settle(orderId: string, decision: Decision): StoredOrder;
  readonly dbPath: string;
  close(): Promise<void>;
}

export async function startRestaurant(options: RestaurantOptions): Promise<Restaurant> {
  const service = new RestaurantService(options);
  try {
    await service.started;
  } catch (error) {
    await service.close();
    throw error;
  }
  return service;
}

type Incoming = { ok: true; thing: string; order: OrderMessage } | { ok: false; reason: string };

class RestaurantService implements Restaurant {
  readonly dbPath: string;
  readonly started: Promise<void>;
  readonly #options: RestaurantOptions;
  readonly #prefix: string;
  readonly #menu: ReadonlySet<string>;
  readonly #etaMin: number;
  readonly #decide: DecidePolicy;
  readonly #db: OrderDb;
  readonly #client: MqttClient;
  readonly #inFlight = new Set<string>();
  readonly #errors: Error[] = [];
  #stage: ConnectionStage = "tcp";
  #closed = false;

  constructor(options: RestaurantOptions) {
    this.#options = options;
    this.#prefix = options.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
    const prefixProblem = topicPrefixProblem(this.#prefix);
    if (prefixProblem !== undefined) throw new Error(`restaurant: topicPrefix ${JSON.stringify(this.#prefix)} ${prefixProblem}`);
    this.#menu = new Set(options.menu ?? DEFAULT_MENU);
    this.#etaMin = options.etaMin ?? 25;
    if (!Number.isSafeInteger(this.#etaMin) || this.#etaMin < 0) throw new Error("startRestaurant: etaMin must be a whole number ≥ 0");
    this.#decide = options.decide ?? autoAccept;
    this.dbPath = options.dbPath;
    const broker = parseMqttsUrl(options.brokerUrl);
    this.#db = new OrderDb({ path: options.dbPath });

    let resolveStarted!: () => void;
    let rejectStarted!: (error: Error) => void;
    let startSettled = false;
    this.started = new Promise<void>((resolve, reject) => {
      resolveStarted = () => {
        startSettled = true;
        resolve();
      };
      rejectStarted = (error) => {
        startSettled = true;
        reject(error);
      };
    });

    this.#client = new MqttClient(
      () =>
        openTlsStream({
          host: broker.host,
          port: broker.port,
          ...(options.servername ? { servername: options.servername } : {}),
          ...(options.alpnProtocols ? { alpnProtocols: options.alpnProtocols } : {}),
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          onError: (error) => this.#errors.push(error),
          onTcpConnect: () => (this.#stage = "tls"),
          onSecureConnect: () => (this.#stage = "connect"),
        }),
      {
        clientId: options.clientId ?? "restaurant",
        protocolVersion: 4,
        clean: true,
        keepalive: 30,
        connectTimeout: 10_000,
        reconnectPeriod: options.reconnectPeriodMs ?? 1_000,
        resubscribe: false,
      },
    );

    this.#client.on("error", (error: Error) => this.#errors.push(error));
    this.#client.on("connect", () => {
      const filter = allOrdersFilter(this.#prefix);
      this.#stage = "subscribe";
      this.#client.subscribe(filter, { qos: 1 }, (error) => {
        if (this.#closed) return;
        if (error) {
          const failure = new Error(`restaurant: subscribe to ${filter} refused: ${error.message}`);
          this.#log("error", failure.message);
          if (!startSettled) rejectStarted(failure);
          return;
        }
        this.#errors.length = 0;
        this.#stage = "ready";
        this.#log("info", `connected to ${options.brokerUrl}, subscribed to ${filter}`);
        this.#emit({ type: "connected" });
        this.#catchUp();
        if (!startSettled) resolveStarted();
      });
    });
    this.#client.on("close", () => {
      if (this.#closed) return;
      const { kind, detail } = classifyClose({ stage: this.#stage, errors: this.#errors });
      this.#errors.length = 0;
      this.#stage = "tcp";
      this.#log("warn", `disconnected from the broker (${kind}): ${detail}`);
      this.#emit({ type: "disconnected", detail });
      if (!startSettled && kind === "auth") {
        rejectStarted(new Error(`restaurant: broker refused the connection: ${detail}`));
      } else if (!startSettled && options.reconnectPeriodMs === 0) {
        rejectStarted(new Error(`restaurant: cannot connect to ${options.brokerUrl}: ${detail}`));
      }
    });
    this.#client.on("message", (topic: string, payload: Buffer) => {
      // Synchronous on purpose: mqtt.js sends the PUBACK only after this returns, i.e. after the commit.
      try {
        this.#onMessage(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
      } catch (error) {
        this.#log("error", `failed to handle a message on ${topic}: ${(error as Error).stack ?? String(error)}`);
      }
    });
  }

  orders(): StoredOrder[] {
    return this.#db.all();
  }

  order(orderId: string): StoredOrder | undefined {
    return this.#db.find(orderId);
  }

  settle(orderId: string, decision: Decision): StoredOrder {
    const stored = this.#db.transaction(() => {
      const row = this.#db.find(orderId);
      if (!row) throw new Error(`settle: unknown order ${orderId}`);
      if (row.status !== null) throw new Error(`settle: order ${orderId} is already ${row.status}`);
      if (!decisionFits(row, decision)) throw new Error(`settle: ${decision.status} does not answer a ${row.action}`);
      this.#apply(row, this.#checkCancel(row) ?? decision);
      return this.#db.find(orderId)!;
    });
    this.#emit({ type: "decided", order: stored });
    this.#publishAck(stored, false);
    return stored;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#client.end(true);
        resolve();
      }, 2_000);
      this.#client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.#db.close();
  }

  // ------------------------------------------------------------------------------------------ incoming

  #onMessage(topic: string, payload: Uint8Array): void {
    const incoming = this.#parse(topic, payload);
    if (!incoming.ok) {
      this.#log("warn", `refused message on ${printable(topic)}: ${incoming.reason}`);
      this.#emit({ type: "input-refused", topic, reason: incoming.reason });
      return;
    }
    const { thing, order } = incoming;

    const existing = this.#db.find(order.orderId);
    if (existing) {
      this.#onRepeat(existing, thing, order);
      return;
    }

    const receivedAt = Date.now();
    const outcome = this.#db.transaction(() => {
      const inserted = this.#db.insertReceived({
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
      const row = this.#db.find(order.orderId)!;
      const decision = this.#houseRules(row) ?? this.#policy(row);
      if (decision) this.#apply(row, decision);
      return this.#db.find(order.orderId)!;
    });
    if (!outcome) return;

    const what = order.action === "order" ? `order ${quoteItem(order.item)}` : `cancel of ${order.cancels}`;
    this.#log("info", `${order.orderId} from ${thing}: ${what} (${order.clickType})`);
    this.#emit({ type: "received", order: outcome });
    if (outcome.status === null) {
      this.#log("info", `${order.orderId} held for a decision`);
      return;
    }
    this.#emit({ type: "decided", order: outcome });
    this.#publishAck(outcome, false);
  }

  /** Topic → thing, payload → strictly decoded order, and the identity checks between them. */
  #parse(topic: string, payload: Uint8Array): Incoming {
    const thing = thingOfOrdersTopic(this.#prefix, topic);
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

  /** A repeated orderId (the button resending an order it got no ack for): the original ack again. */
  #onRepeat(existing: StoredOrder, thing: string, order: OrderMessage): void {
    if (existing.thing !== thing) {
      // Cannot happen with the orderId checks above; refuse rather than answer another thing's order.
      this.#log("warn", `refused ${order.orderId} from ${thing}: stored for ${existing.thing}`);
      return;
    }
    if (!sameRequest(existing, order)) {
      this.#log("warn", `${order.orderId} from ${thing} repeats an orderId with different content; original kept`);
    }
    if (existing.ack === null) {
      this.#log("info", `${order.orderId} repeated while awaiting a decision`);
      return;
    }
    this.#log("info", `${order.orderId} repeated: original ack (${existing.status}) sent again`);
    this.#publishAck(existing, true);
  }

  // ------------------------------------------------------------------------------------------ decisions

  /** Decisions that need no policy: items not on the menu, cancels that break the cancel rules. */
  #houseRules(row: StoredOrder): Decision | undefined {
    if (row.action === "order") {
      if (!this.#menu.has(row.item!)) return { status: "rejected", reason: `unknown item ${quoteItem(row.item!)}` };
      return undefined;
    }
    return this.#checkCancel(row);
  }

  /** A cancel must name an accepted, not yet cancelled order of the same thing. */
  #checkCancel(row: StoredOrder): Decision | undefined {
    if (row.action !== "cancel") return undefined;
    const targetId = row.cancels!;
    // Another thing's orders are "unknown" here: a button learns nothing about other buttons' orders.
    const target = targetId.startsWith(`${row.thing}-`) ? this.#db.find(targetId) : undefined;
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
      this.#log("error", `decision policy failed on ${row.orderId}, holding it: ${(error as Error).message}`);
      return undefined;
    }
    if (decision && !decisionFits(row, decision)) {
      this.#log("error", `decision policy answered ${decision.status} to a ${row.action} ${row.orderId}; holding it`);
      return undefined;
    }
    return decision;
  }

  /** Records a decision (inside the caller's transaction). A granted cancel also marks its target. */
  #apply(row: StoredOrder, decision: Decision): void {
    let final = decision;
    if (row.action === "cancel" && decision.status === "cancelled" && !this.#db.markCancelled(row.cancels!, row.orderId)) {
      final = { status: "cancel-refused", reason: `${row.cancels} can no longer be cancelled` };
    }
    const ack = ackFor(row.orderId, final, this.#etaMin);
    const text = new TextDecoder().decode(encodeAck(ack));
    this.#db.recordDecision(row.orderId, {
      status: ack.status,
      ...(ack.etaMin !== undefined ? { etaMin: ack.etaMin } : {}),
      ...(ack.reason !== undefined ? { reason: ack.reason } : {}),
      ack: text,
      decidedAt: Date.now(),
    });
  }

  // ------------------------------------------------------------------------------------------ acks

  #publishAck(row: StoredOrder, repeat: boolean): void {
    if (this.#closed || row.ack === null) return;
    const topic = acksTopic(this.#prefix, row.thing);
    this.#inFlight.add(row.orderId);
    this.#client.publish(topic, row.ack, { qos: 1 }, (error) => {
      this.#inFlight.delete(row.orderId);
      if (this.#closed) return;
      if (error) {
        this.#log("warn", `ack for ${row.orderId} not confirmed (${error.message}); it will be sent again`);
        return;
      }
      this.#db.markAcked(row.orderId, Date.now());
    });
    this.#emit({ type: "ack-published", orderId: row.orderId, thing: row.thing, status: row.status!, repeat });
  }

  /** After every (re)connect: decide what a restart left undecided, and publish unconfirmed acks. */
  #catchUp(): void {
    for (const row of this.#db.undecided()) {
      const decided = this.#db.transaction(() => {
        const current = this.#db.find(row.orderId)!;
        if (current.status !== null) return undefined;
        const decision = this.#houseRules(current) ?? this.#policy(current);
        if (!decision) return undefined;
        this.#apply(current, decision);
        return this.#db.find(row.orderId)!;
      });
      if (decided) this.#emit({ type: "decided", order: decided });
    }
    for (const row of this.#db.unacked()) {
      if (this.#inFlight.has(row.orderId)) continue; // mqtt.js resends its own in-flight publishes
      this.#log("info", `${row.orderId}: ack (${row.status}) not confirmed before, publishing it again`);
      this.#publishAck(row, true);
    }
  }

  #log(level: "info" | "warn" | "error", message: string): void {
    this.#options.log?.[level](message);
  }

  #emit(event: RestaurantEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (error) {
      this.#log("error", `event listener threw: ${(error as Error).message}`);
    }
  }
}

function sameRequest(existing: StoredOrder, order: OrderMessage): boolean {
  return (
    existing.action === order.action &&
    existing.clickType === order.clickType &&
    existing.item === (order.action === "order" ? order.item : null) &&
    existing.cancels === (order.action === "cancel" ? order.cancels : null)
  );
}

/** Topics are sender-chosen text too: quoted and cut, so a log line stays one readable line. */
function printable(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}
