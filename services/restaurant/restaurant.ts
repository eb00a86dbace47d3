// The restaurant service: an MQTT client (its own certificate, CN "restaurant") that takes orders from
// `<p>/orders/+`, hands each message to the order desk (order-desk.ts: parse, dedupe, house rules,
// decision, all in SQLite) and answers on `<p>/acks/<thing>`.
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
import { acksTopic, allOrdersFilter, DEFAULT_TOPIC_PREFIX, topicPrefixProblem } from "../../modules/core/topics";
import type { Log } from "../../modules/core/ports";
import { parseMqttsUrl } from "../net/broker-url";
import { classifyClose, type ConnectionStage } from "../net/close-kind";
import { openTlsStream, type PemInput } from "../net/tls-stream";
import type { Decision, DecidePolicy } from "./decisions";
import { OrderDb, type StoredOrder, type WaitingPage } from "./order-db";
import { checkRequestLimit, DEFAULT_MENU, OrderDesk, type RequestLimit, type ThingState } from "./order-desk";
import { cutText, plainText } from "./text";

export type { Decision, DecidePolicy } from "./decisions";
export type { StoredOrder } from "./order-db";
export type { RequestLimit, ThingState } from "./order-desk";
export { parseMqttsUrl, DEFAULT_MENU };

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
  /** Per-thing limit on new requests (over it: rejected, "too many orders"); undefined = no limit. */
  requestLimit?: RequestLimit;
  /** Registry lookup by thing name: orders of INACTIVE or REVOKED things are rejected and cannot be accepted. */
  thingState?: (thing: string) => ThingState | undefined;
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
  /** Requests waiting for a decision, oldest first, one page of them, and how many there are in all. */
  waiting(page: { offset: number; limit: number }): WaitingPage;
  /** The latest decided rows, most recent decision first. */
  recentlyDecided(limit: number): StoredOrder[];
  /** The registry's state of a thing, when the restaurant has a registry. */
  thingState(thing: string): ThingState | undefined;
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

class RestaurantService implements Restaurant {
  readonly dbPath: string;
  readonly started: Promise<void>;
  readonly #options: RestaurantOptions;
  readonly #prefix: string;
  readonly #db: OrderDb;
  readonly #desk: OrderDesk;
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
    if (options.etaMin !== undefined && (!Number.isSafeInteger(options.etaMin) || options.etaMin < 0)) {
      throw new Error("startRestaurant: etaMin must be a whole number ≥ 0");
    }
    if (options.requestLimit) checkRequestLimit(options.requestLimit); // before the database is opened
    this.dbPath = options.dbPath;
    const broker = parseMqttsUrl(options.brokerUrl);
    this.#db = new OrderDb({ path: options.dbPath });
    this.#desk = new OrderDesk({
      db: this.#db,
      topicPrefix: this.#prefix,
      ...(options.menu ? { menu: options.menu } : {}),
      ...(options.etaMin !== undefined ? { etaMin: options.etaMin } : {}),
      ...(options.decide ? { decide: options.decide } : {}),
      ...(options.requestLimit ? { requestLimit: options.requestLimit } : {}),
      ...(options.thingState ? { thingState: options.thingState } : {}),
      ...(options.log ? { log: options.log } : {}),
    });

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
        this.#log("error", `failed to handle a message on ${printable(topic)}: ${(error as Error).stack ?? String(error)}`);
      }
    });
  }

  orders(): StoredOrder[] {
    return this.#db.all();
  }

  order(orderId: string): StoredOrder | undefined {
    return this.#db.find(orderId);
  }

  waiting(page: { offset: number; limit: number }): WaitingPage {
    return this.#db.waiting(page);
  }

  recentlyDecided(limit: number): StoredOrder[] {
    return this.#db.recentlyDecided(limit);
  }

  thingState(thing: string): ThingState | undefined {
    return this.#desk.thingState(thing);
  }

  settle(orderId: string, decision: Decision): StoredOrder {
    const stored = this.#desk.settle(orderId, decision);
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
    const arrival = this.#desk.receive(topic, payload);
    switch (arrival.type) {
      case "refused":
        this.#log("warn", `refused message on ${printable(topic)}: ${arrival.reason}`);
        this.#emit({ type: "input-refused", topic, reason: arrival.reason });
        return;
      case "repeat":
        if (arrival.resend) this.#publishAck(arrival.order, true);
        return;
      case "new":
        this.#emit({ type: "received", order: arrival.order });
        if (arrival.order.status === null) return;
        this.#emit({ type: "decided", order: arrival.order });
        this.#publishAck(arrival.order, false);
    }
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
    for (const decided of this.#desk.decideHeld()) this.#emit({ type: "decided", order: decided });
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

/** Topics are sender-chosen text too: quoted and cut, so a log line stays one readable line. */
function printable(text: string): string {
  return JSON.stringify(cutText(plainText(text), { maxGraphemes: 200 }));
}
