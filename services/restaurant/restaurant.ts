// The restaurant service: an MQTT client (its own certificate, CN "restaurant") that takes orders from
// `<p>/orders/+` (or the shared subscription `$share/<group>/<p>/orders/+`, so several instances split the
// orders), hands each message to the order desk (order-desk.ts: parse, dedupe, house rules, decision, all in
// the order store: SQLite or PostgreSQL) and answers on `<p>/acks/<thing>`.
//
// Trust: the thing is the topic level, which the broker only lets that thing's certificate publish to.
// The payload's serialNumber is a claim and must agree with the topic, or the message is refused.
// Nothing a button sends can crash this process or create a row unless it is a well-formed message of
// that button; every refusal is logged with its reason.
//
// Delivery: a row is committed (received, and for a policy that decides at once also decided, with its ack
// text) before mqtt.js PUBACKs the order (handleMessage calls back after the commit) and before the ack is
// published. Acks that the broker has not
// confirmed are published again after a (re)connect or a restart. The button resends an unacknowledged
// order with the same orderId, and a repeat gets the stored ack again: nothing is lost, nothing doubled.
import { MqttClient } from "mqtt";
import { acksTopic, allOrdersFilter, DEFAULT_TOPIC_PREFIX, topicPrefixProblem } from "../../modules/core/topics";
import type { Log } from "../../modules/core/ports";
import { parseMqttsUrl } from "../net/broker-url";
import { classifyClose, type ConnectionStage } from "../net/close-kind";
import { openTlsStream, type PemInput } from "../net/tls-stream";
import type { Decision, DecidePolicy } from "./orders/decisions";
import { openOrderStore } from "./orders/open-store";
import type { OrderStore, StoredOrder, WaitingPage } from "./orders/order-store";
import { checkRequestLimit, DEFAULT_MENU, OrderDesk, type RequestLimit, type ThingState } from "./order-desk";
import { cutText, plainText } from "./orders/text";

export type { Decision, DecidePolicy } from "./orders/decisions";
export type { StoredOrder } from "./orders/order-store";
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
  /** MQTT client id: the certificate's CN, or for one of several instances `<CN>-<n>`. */
  clientId?: string;
  /** SQLite file (created if missing) or a postgres:// URL (shared by several instances). */
  dbPath: string;
  /** An order store already open (tests); dbPath then only names it. The restaurant closes it. */
  store?: OrderStore;
  /** Share the orders with the other instances of this group ($share/<group>/…); undefined: receive every order. */
  sharedGroup?: string;
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
  /** Another instance stored or decided this row (PostgreSQL): for the kitchen page, not the log. */
  | { type: "changed-elsewhere"; order: StoredOrder }
  | { type: "ack-published"; orderId: string; thing: string; status: string; repeat: boolean }
  | { type: "input-refused"; topic: string; reason: string };

export interface Restaurant {
  /** Every stored row (orders and cancels), oldest first. */
  orders(): Promise<StoredOrder[]>;
  order(orderId: string): Promise<StoredOrder | undefined>;
  /** Requests waiting for a decision, oldest first, one page of them, and how many there are in all. */
  waiting(page: { offset: number; limit: number }): Promise<WaitingPage>;
  /** The latest decided rows, most recent decision first. */
  recentlyDecided(limit: number): Promise<StoredOrder[]>;
  /** The registry's state of a thing, when the restaurant has a registry. */
  thingState(thing: string): ThingState | undefined;
  /** Decides a held request (one the policy returned undefined for) and publishes its ack. */
  settle(orderId: string, decision: Decision): Promise<StoredOrder>;
  /** Rejects with the reason when the order store or the broker cannot be reached. */
  health(): Promise<{ db: string; broker: string }>;
  readonly dbPath: string;
  /**
   * Stops taking orders (unsubscribes: the broker gives new ones to the other instances or keeps them for
   * the buttons' resends), waits up to `drainMs` for those in flight to be stored and their acks confirmed,
   * then disconnects and closes the store. Without drainMs it stops at once (what is in flight is not
   * acknowledged: the broker or the buttons send it again).
   */
  close(options?: { drainMs?: number }): Promise<void>;
}

export async function startRestaurant(options: RestaurantOptions): Promise<Restaurant> {
  const store =
    options.store ??
    (await openOrderStore({
      db: options.dbPath,
      instance: options.clientId ?? "restaurant",
      onError: (error) => options.log?.warn(`order database: ${error.message}`),
    }));
  let service: RestaurantService;
  try {
    service = new RestaurantService(options, store);
  } catch (error) {
    await store.close();
    throw error;
  }
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
  readonly #db: OrderStore;
  readonly #desk: OrderDesk;
  readonly #client: MqttClient;
  readonly #inFlight = new Set<string>();
  /** Messages being stored right now (PUBACK not yet sent). */
  #handling = 0;
  readonly #errors: Error[] = [];
  #stage: ConnectionStage = "tcp";
  #closed = false;
  #draining = false;
  #start!: { settled: boolean; resolve: () => void; reject: (error: Error) => void };

  constructor(options: RestaurantOptions, store: OrderStore) {
    this.#options = options;
    this.#prefix = options.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
    const prefixProblem = topicPrefixProblem(this.#prefix);
    if (prefixProblem !== undefined) throw new Error(`restaurant: topicPrefix ${JSON.stringify(this.#prefix)} ${prefixProblem}`);
    if (options.etaMin !== undefined && (!Number.isSafeInteger(options.etaMin) || options.etaMin < 0)) {
      throw new Error("startRestaurant: etaMin must be a whole number ≥ 0");
    }
    if (options.requestLimit) checkRequestLimit(options.requestLimit); // before the database is opened
    this.dbPath = options.dbPath;
    this.#db = store;
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

    this.started = new Promise<void>((resolve, reject) => {
      this.#start = {
        settled: false,
        resolve: () => ((this.#start.settled = true), resolve()),
        reject: (error) => ((this.#start.settled = true), reject(error)),
      };
    });
    this.#client = this.#createClient(parseMqttsUrl(options.brokerUrl));
    this.#client.on("error", (error: Error) => this.#errors.push(error));
    this.#client.on("connect", () => this.#subscribe());
    this.#client.on("close", () => this.#onClose());
    this.#client.handleMessage = (packet, callback) => this.#handleMessage(packet.topic, packet.payload as Buffer, callback);
    store.onChange((orderId) => {
      void this.#db
        .find(orderId)
        .then((order) => order && this.#emit({ type: "changed-elsewhere", order }))
        .catch((error: unknown) => this.#log("warn", `could not read ${orderId} changed by another instance: ${(error as Error).message}`));
    });
  }

  #createClient(broker: { host: string; port: number }): MqttClient {
    const options = this.#options;
    return new MqttClient(
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
  }

  #subscribe(): void {
    const filter = subscriptionFilter(this.#prefix, this.#options.sharedGroup);
    this.#stage = "subscribe";
    this.#client.subscribe(filter, { qos: 1 }, (error) => {
      if (this.#closed) return;
      if (error) {
        const failure = new Error(`restaurant: subscribe to ${filter} refused: ${error.message}`);
        this.#log("error", failure.message);
        if (!this.#start.settled) this.#start.reject(failure);
        return;
      }
      this.#errors.length = 0;
      this.#stage = "ready";
      this.#log("info", `connected to ${this.#options.brokerUrl}, subscribed to ${filter}`);
      this.#emit({ type: "connected" });
      this.#catchUp();
      if (!this.#start.settled) this.#start.resolve();
    });
  }

  #onClose(): void {
    if (this.#closed) return;
    const { kind, detail } = classifyClose({ stage: this.#stage, errors: this.#errors });
    this.#errors.length = 0;
    this.#stage = "tcp";
    this.#log("warn", `disconnected from the broker (${kind}): ${detail}`);
    this.#emit({ type: "disconnected", detail });
    if (!this.#start.settled && kind === "auth") {
      this.#start.reject(new Error(`restaurant: broker refused the connection: ${detail}`));
    } else if (!this.#start.settled && this.#options.reconnectPeriodMs === 0) {
      this.#start.reject(new Error(`restaurant: cannot connect to ${this.#options.brokerUrl}: ${detail}`));
    }
  }

  /**
   * mqtt.js sends the PUBACK when this calls back: after the commit. A message whose row could not be
   * stored (database down) gets no PUBACK: the connection is dropped and the button resends.
   */
  #handleMessage(topic: string, payload: Buffer, callback: () => void): void {
    this.#handling++;
    this.#onMessage(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength))
      .then(() => callback())
      .catch((error: unknown) => {
        this.#log("error", `failed to store a message on ${printable(topic)}, dropping the connection so it is not acknowledged: ${(error as Error).message}`);
        this.#client.stream?.destroy();
        callback();
      })
      .finally(() => this.#handling--);
  }

  orders(): Promise<StoredOrder[]> {
    return this.#db.all();
  }

  order(orderId: string): Promise<StoredOrder | undefined> {
    return this.#db.find(orderId);
  }

  waiting(page: { offset: number; limit: number }): Promise<WaitingPage> {
    return this.#db.waiting(page);
  }

  recentlyDecided(limit: number): Promise<StoredOrder[]> {
    return this.#db.recentlyDecided(limit);
  }

  async health(): Promise<{ db: string; broker: string }> {
    try {
      await this.#db.ping();
    } catch (error) {
      throw new Error(`order database ${this.#db.description} not reachable: ${(error as Error).message}`);
    }
    if (this.#closed) throw new Error("shutting down");
    if (!this.#client.connected || this.#stage !== "ready") throw new Error(`broker ${this.#options.brokerUrl} not connected`);
    return { db: this.#db.description, broker: this.#options.brokerUrl };
  }

  thingState(thing: string): ThingState | undefined {
    return this.#desk.thingState(thing);
  }

  async settle(orderId: string, decision: Decision): Promise<StoredOrder> {
    const stored = await this.#desk.settle(orderId, decision);
    this.#emit({ type: "decided", order: stored });
    this.#publishAck(stored, false);
    return stored;
  }

  async close(options: { drainMs?: number } = {}): Promise<void> {
    if (this.#closed || this.#draining) return;
    if (options.drainMs) {
      this.#draining = true;
      await this.#drain(options.drainMs);
    }
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
    await this.#db.close();
  }

  /** Unsubscribes, then waits until no message is being stored and every ack published is confirmed. */
  async #drain(drainMs: number): Promise<void> {
    if (!this.#client.connected) return;
    const deadline = Date.now() + drainMs;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.#client.unsubscribe(subscriptionFilter(this.#prefix, this.#options.sharedGroup), () => {
        clearTimeout(timer);
        resolve();
      });
    });
    while ((this.#handling > 0 || this.#inFlight.size > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (this.#handling > 0 || this.#inFlight.size > 0) {
      this.#log("warn", `closing with ${this.#handling} message(s) being stored and ${this.#inFlight.size} ack(s) unconfirmed (the buttons resend; unconfirmed acks are sent again at the next start)`);
    }
  }

  // ------------------------------------------------------------------------------------------ incoming

  async #onMessage(topic: string, payload: Uint8Array): Promise<void> {
    const arrival = await this.#desk.receive(topic, payload);
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
      this.#db.markAcked(row.orderId, Date.now()).catch((failure: unknown) => {
        this.#log("warn", `ack for ${row.orderId} confirmed but not recorded (${(failure as Error).message}); it may be sent again`);
      });
    });
    this.#emit({ type: "ack-published", orderId: row.orderId, thing: row.thing, status: row.status!, repeat });
  }

  /** After every (re)connect: decide what a restart left undecided, and publish unconfirmed acks. */
  #catchUp(): void {
    this.#catchUpNow().catch((error: unknown) => this.#log("warn", `catching up after connecting failed: ${(error as Error).message}`));
  }

  async #catchUpNow(): Promise<void> {
    for (const decided of await this.#desk.decideHeld()) this.#emit({ type: "decided", order: decided });
    for (const row of await this.#db.unacked()) {
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

/** The orders filter, as a shared subscription when the instances share the orders. */
export function subscriptionFilter(prefix: string, sharedGroup: string | undefined): string {
  const filter = allOrdersFilter(prefix);
  return sharedGroup === undefined ? filter : `$share/${sharedGroup}/${filter}`;
}

/** Topics are sender-chosen text too: quoted and cut, so a log line stays one readable line. */
function printable(text: string): string {
  return JSON.stringify(cutText(plainText(text), { maxGraphemes: 200 }));
}
