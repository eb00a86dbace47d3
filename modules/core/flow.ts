// The order flow: ONE state machine from a click to the LED outcome (docs/ARCHITECTURE.md, "The flow").
//
//   idle ──click──▶ (message pending? resend it : create it, advance+persist seq, persist as pending)
//        ──▶ connecting ──▶ awaiting-ack ──▶ ok | rejected | cancelled | cancel-refused | failed | auth-error ──▶ idle
//                 ▲              │ no ack in ackTimeoutMs / network failure
//                 └─ retry-wait ◀┘ (backoff with full jitter, until giveUpMs → failed, message stays pending)
//
// Rules that keep "one press = at most one pizza, and nothing lost":
// - Every message (order or cancel) is persisted as pending BEFORE it is first sent, after its seq was
//   advanced and persisted, so an orderId is never reused across resets.
// - With no seq in the store (new device, flash erase, NVS wipe) the counter is seeded from the wall clock
//   in seconds, not 1: orderIds from before an erase are never reused (the restaurant would answer a
//   reused one with its OLD ack: green LED, no pizza). With the clock unset (before 2020) no message is
//   created: outcome "failed", reason logged.
// - While a message is pending (and younger than pendingExpiryMs, by the Clock), ANY click resends THAT
//   message with the same orderId (the restaurant answers a repeat with the original ack), except:
// - LONG while an ORDER is pending sends a cancel for that pending order instead (the user wants it gone;
//   it may have been accepted with the ack lost). The cancel replaces it as the pending message, so the
//   order itself is never resent afterwards. LONG with nothing pending cancels the last accepted order
//   (stored); with none: "nothing-to-cancel", no network.
// - Only an ack whose orderId is the pending one counts; other acks, malformed payloads and messages on
//   other topics are logged and ignored. An ack (any status) ends the message: it is no longer pending.
// - start() resends a pending message (boot after a reset or power loss).
// - Clicks while connecting / awaiting an ack / waiting to retry: ignored, "busy" blip.
// - CloseKind "auth" (TLS refused, certificate rejected, CONNACK/SUBACK refused): "auth-error" at once,
//   no retry loop. AWS IoT answers an unauthorized PUBLISH by dropping the connection, which the adapter
//   can only report as a "network" close; so if the peer closes right after our publish and before any
//   ack on authCloseThreshold (3) consecutive attempts for the same message, that is treated as
//   auth-error too. A flaky network does not repeat that exact pattern three times in a row, while a
//   policy refusal would otherwise loop until giveUpMs for nothing.
// Connection modes: "on-demand" (and "battery", which adds deep sleep around it: sleep.ts) opens one
// connection per attempt and closes it after the ack;
// "persistent" connects at start(), stays connected and reconnects with backoff when the link drops
// (clicks publish on the live link; retries of a message republish on it).

import { backoffDelay } from "./backoff";
import type { ButtonConfig, ClickType } from "./config";
import { acksTopic, isValidThingName, ordersTopic } from "./config";
import { LedPlayer, type LedPatternName } from "./led";
import type { AckMessage, OrderMessage } from "./messages";
import { decodeAck, decodeOrder, encodeOrder, makeOrderId } from "./messages";
import type { CloseKind, Clock, Led, Log, MqttConnection, MqttConnector, Store, TimerHandle, Timers } from "./ports";

export type FlowState = "idle" | "connecting" | "awaiting-ack" | "retry-wait" | "stopped";

export type Outcome =
  | "ok"
  | "rejected"
  | "cancelled"
  | "cancel-refused"
  | "failed"
  | "auth-error"
  | "busy"
  | "nothing-to-cancel";

export type FlowEvent =
  | { type: "state"; state: FlowState; orderId?: string }
  | { type: "connection"; phase: "connecting"; purpose: "message" | "link" }
  | { type: "connection"; phase: "ready"; connectMs: number }
  | { type: "connection"; phase: "closed"; kind: CloseKind; detail: string }
  | { type: "publish"; orderId: string; attempt: number }
  | { type: "retry"; orderId: string; attempt: number; delayMs: number; why: "timeout" | "network" }
  | {
      type: "outcome";
      clickType: ClickType;
      orderId: string | undefined; // undefined for busy and nothing-to-cancel (no message involved)
      outcome: Outcome;
      /** Click (or boot, for a resend at start) to ack, by the Clock. Only when an ack ended it. */
      pressToAckMs?: number;
      /** Last publish to ack, by the Clock (the warm round trip through broker and restaurant). */
      publishToAckMs?: number;
      ack?: AckMessage;
      /** Connection/publish attempts made for this message by this click. */
      attempts: number;
      /** The message was already pending: this is a resend with its original orderId. */
      resent: boolean;
      trigger: "click" | "boot";
    }
  | { type: "late-ack"; orderId: string; status: AckMessage["status"] }
  | { type: "ignored"; reason: string };

export interface OrderFlowOptions {
  config: ButtonConfig;
  timers: Timers;
  clock: Clock;
  /** A LedPlayer to share (hosts observe it), or a bare Led that the flow wraps in its own player. */
  led: LedPlayer | Led;
  store: Store;
  connector: MqttConnector;
  log: Log;
  /** Uniform [0, 1) for backoff jitter. Default Math.random. */
  random?: () => number;
  /** e.g. "3012mV"; undefined where not measurable. */
  batteryVoltage?: () => string | undefined;
  onEvent?: (event: FlowEvent) => void;
  /** Consecutive "peer closed right after our publish" before it counts as auth-error. Default 3. */
  authCloseThreshold?: number;
}

/** Store keys (NVS: at most 15 characters). */
export const STORE_KEYS = { seq: "seq", pending: "pending", lastAccepted: "lastAccepted" } as const;

/** What is kept under STORE_KEYS.pending: the message itself and when it was created (Clock ms). */
interface PendingRecord {
  message: OrderMessage;
  createdAt: number;
}

interface Job {
  message: OrderMessage;
  payload: Uint8Array;
  clickType: ClickType;
  trigger: "click" | "boot";
  resent: boolean;
  startedAt: number;
  attempts: number;
  retries: number;
  peerCloses: number; // consecutive: peer closed after our publish, before any ack
  publishedOn: Conn | undefined;
  publishedAt: number | undefined;
}

interface Conn {
  connection: MqttConnection | undefined;
  ready: boolean;
  openedAt: number;
  readyAt: number | undefined;
}

export class OrderFlow {
  private readonly config: ButtonConfig;
  private readonly timers: Timers;
  private readonly clock: Clock;
  private readonly led: LedPlayer;
  private readonly store: Store;
  private readonly connector: MqttConnector;
  private readonly log: Log;
  private readonly random: () => number;
  private readonly batteryVoltage: (() => string | undefined) | undefined;
  private readonly onEvent: ((event: FlowEvent) => void) | undefined;
  private readonly authCloseThreshold: number;
  private readonly ordersTopic: string;
  private readonly acksTopic: string;

  private flowState: FlowState = "idle";
  private started = false;
  private job: Job | undefined;
  private conn: Conn | undefined;
  private attemptTimer: TimerHandle | undefined; // connect timeout, then ack timeout
  private retryTimer: TimerHandle | undefined;
  private giveUpTimer: TimerHandle | undefined;
  // Persistent mode only: the link's own reconnect backoff while no message is in flight.
  private reconnectTimer: TimerHandle | undefined;
  private linkAttempt = 0;
  private linkBlocked = false; // after an auth failure: no automatic reconnects until the next click

  constructor(options: OrderFlowOptions) {
    this.config = options.config;
    this.timers = options.timers;
    this.clock = options.clock;
    this.led = "play" in options.led ? options.led : new LedPlayer({ led: options.led, timers: options.timers });
    this.store = options.store;
    this.connector = options.connector;
    this.log = options.log;
    this.random = options.random ?? Math.random;
    this.batteryVoltage = options.batteryVoltage;
    this.onEvent = options.onEvent;
    this.authCloseThreshold = options.authCloseThreshold ?? 3;
    if (!isValidThingName(this.config.thingName)) throw new Error(`invalid thing name "${this.config.thingName}"`);
    this.ordersTopic = ordersTopic(this.config.topicPrefix, this.config.thingName);
    this.acksTopic = acksTopic(this.config.topicPrefix, this.config.thingName);
    // Fail at boot, not at the first click, if a configured item cannot fit a message (worst case:
    // largest seq and longest battery voltage string we would send).
    for (const clickType of ["SINGLE", "DOUBLE"] as const) {
      encodeOrder(this.orderMessage(clickType, Number.MAX_SAFE_INTEGER, undefined, "9".repeat(MAX_VOLTAGE_CHARS)));
    }
  }

  get state(): FlowState {
    return this.flowState;
  }

  /** The orderId of the message waiting for an ack in the store, if any. */
  get pendingOrderId(): string | undefined {
    return this.readPending()?.message.orderId;
  }

  // ---------------------------------------------------------------------------------------- lifecycle

  /** Boot: resend a pending message; in persistent mode, bring the link up. */
  start(): void {
    if (this.started || this.flowState === "stopped") return;
    this.started = true;
    const pending = this.livePending();
    if (pending && !this.job) {
      this.log.info(`boot: resending pending ${pending.message.orderId}`);
      this.begin({ message: pending.message, clickType: pending.message.clickType, trigger: "boot", resent: true });
    } else if (this.config.connectionMode === "persistent" && !this.conn) {
      this.openConnection("link");
    }
  }

  /** Shuts down: closes the connection and clears every timer. A pending message stays in the store. */
  stop(): void {
    if (this.flowState === "stopped") return;
    this.clearJobTimers();
    this.clearTimer("reconnectTimer");
    this.job = undefined;
    this.closeConnection();
    this.led.off();
    this.setState("stopped");
  }

  // ------------------------------------------------------------------------------------------ a click

  click(clickType: ClickType): void {
    if (this.flowState === "stopped") return;
    if (this.flowState !== "idle") {
      this.led.interrupt("busy");
      this.emitOutcome({ clickType, orderId: undefined, outcome: "busy", attempts: 0, resent: false, trigger: "click" });
      return;
    }
    const pending = this.livePending();
    if (pending && !(clickType === "LONG" && pending.message.action === "order")) {
      this.begin({ message: pending.message, clickType, trigger: "click", resent: true });
      return;
    }
    const message = this.createMessage(clickType, pending?.message.orderId);
    if (message) this.begin({ message, clickType, trigger: "click", resent: false });
  }

  /** Builds a new message, advancing and persisting seq, and persists it as pending. */
  private createMessage(clickType: ClickType, pendingOrderId: string | undefined): OrderMessage | undefined {
    let cancels: string | undefined;
    if (clickType === "LONG") {
      cancels = pendingOrderId ?? this.store.read(STORE_KEYS.lastAccepted);
      if (cancels === undefined) {
        this.led.play("rejected");
        this.emitOutcome({ clickType, orderId: undefined, outcome: "nothing-to-cancel", attempts: 0, resent: false, trigger: "click" });
        return undefined;
      }
    }
    try {
      const seq = this.nextSeq();
      const message = this.orderMessage(clickType, seq, cancels, this.readBatteryVoltage());
      encodeOrder(message); // validates (size, fields) before anything is persisted
      this.store.write(STORE_KEYS.seq, String(seq));
      const record: PendingRecord = { message, createdAt: this.clock.now() };
      this.store.write(STORE_KEYS.pending, JSON.stringify(record));
      return message;
    } catch (e) {
      // Cannot number (clock unset), build or persist the message: sending it without a safe, durable
      // seq and pending record could reuse an orderId or duplicate it.
      this.log.error(`cannot create ${clickType} message: ${errorText(e)}`);
      this.led.play("failed");
      this.emitOutcome({ clickType, orderId: undefined, outcome: "failed", attempts: 0, resent: false, trigger: "click" });
      return undefined;
    }
  }

  private orderMessage(clickType: ClickType, seq: number, cancels: string | undefined, voltage: string | undefined): OrderMessage {
    const thing = this.config.thingName;
    const common = { serialNumber: thing, clickType, v: 1 as const, orderId: makeOrderId(thing, seq), seq };
    const withVoltage = voltage === undefined ? common : { ...common, batteryVoltage: voltage };
    if (cancels !== undefined) return { ...withVoltage, action: "cancel", cancels };
    const item = clickType === "DOUBLE" ? this.config.items.DOUBLE : this.config.items.SINGLE;
    return { ...withVoltage, action: "order", item };
  }

  // ------------------------------------------------------------------------------- sending a message

  private begin(spec: { message: OrderMessage; clickType: ClickType; trigger: "click" | "boot"; resent: boolean }): void {
    this.job = {
      ...spec,
      payload: encodeOrder(spec.message),
      startedAt: this.clock.now(),
      attempts: 0,
      retries: 0,
      peerCloses: 0,
      publishedOn: undefined,
      publishedAt: undefined,
    };
    this.clearTimer("reconnectTimer"); // the message drives (re)connecting from now on
    this.giveUpTimer = this.timers.set(() => this.giveUp(), this.config.giveUpMs);
    this.led.play("working");
    this.attempt();
  }

  /** One try: (connect, then) publish, each step bounded by ackTimeoutMs. */
  private attempt(): void {
    const job = this.job!;
    this.retryTimer = undefined;
    job.attempts++;
    if (this.conn?.ready) {
      this.publish();
      return;
    }
    this.setState("connecting");
    this.armAttemptTimer(); // before connecting: a connector may report a failure synchronously
    if (!this.conn) this.openConnection("message");
  }

  private publish(): void {
    const job = this.job!;
    const conn = this.conn!;
    try {
      conn.connection!.publish(this.ordersTopic, job.payload);
    } catch (e) {
      this.log.warn(`publish failed: ${errorText(e)}`);
      this.closeConnection();
      this.attemptFailed("network");
      return;
    }
    job.publishedOn = conn;
    job.publishedAt = this.clock.now();
    this.emit({ type: "publish", orderId: job.message.orderId, attempt: job.attempts });
    this.setState("awaiting-ack");
    this.armAttemptTimer();
  }

  private armAttemptTimer(): void {
    this.clearTimer("attemptTimer");
    this.attemptTimer = this.timers.set(() => {
      this.attemptTimer = undefined;
      const connecting = this.flowState === "connecting";
      this.log.warn(`${connecting ? "connect" : "ack"} timeout after ${this.config.ackTimeoutMs} ms`);
      // On-demand: start the next attempt on a fresh connection. Persistent: keep a live link and
      // republish on it; a link that never became ready is dropped and rebuilt.
      if (this.config.connectionMode !== "persistent" || !this.conn?.ready) this.closeConnection();
      this.job!.peerCloses = 0;
      this.attemptFailed("timeout");
    }, this.config.ackTimeoutMs);
  }

  private attemptFailed(why: "timeout" | "network"): void {
    const job = this.job!;
    this.clearTimer("attemptTimer");
    const delayMs = backoffDelay(job.retries++, {
      baseMs: this.config.backoffBaseMs,
      capMs: this.config.backoffCapMs,
      random: this.random,
    });
    this.emit({ type: "retry", orderId: job.message.orderId, attempt: job.attempts + 1, delayMs, why });
    this.setState("retry-wait");
    this.retryTimer = this.timers.set(() => this.attempt(), delayMs);
  }

  private giveUp(): void {
    this.giveUpTimer = undefined;
    this.log.warn(`no ack for ${this.job!.message.orderId} after ${this.config.giveUpMs} ms: failed, still pending`);
    if (this.config.connectionMode !== "persistent") this.closeConnection();
    this.finish("failed");
  }

  // ---------------------------------------------------------------------------------- the connection

  private openConnection(purpose: "message" | "link"): void {
    const conn: Conn = { connection: undefined, ready: false, openedAt: this.clock.now(), readyAt: undefined };
    this.conn = conn;
    this.emit({ type: "connection", phase: "connecting", purpose });
    // Each handler first checks that its connection is still the current one: a late callback from an
    // old connection must never touch the flow. A ready reported from inside connect() is applied once
    // connect() has returned the connection object (publishing needs it).
    let returned = false;
    let readyEarly = false;
    const handlers = {
      onReady: () => {
        if (!returned) readyEarly = true;
        else if (this.conn === conn) this.onReady(conn);
      },
      onMessage: (topic: string, payload: Uint8Array) => {
        if (this.conn === conn) this.onMessage(topic, payload);
      },
      onClose: (kind: CloseKind, detail: string) => {
        if (this.conn === conn) this.onClose(conn, kind, detail);
      },
    };
    try {
      const connection = this.connector.connect({ subscribe: this.acksTopic }, handlers);
      returned = true;
      if (this.conn === conn) conn.connection = connection;
      else connection.close(); // it already failed synchronously; release it
    } catch (e) {
      returned = true;
      if (this.conn === conn) this.onClose(conn, "network", `connect threw: ${errorText(e)}`);
    }
    // The link's own connect timeout (a message's attempt has its own timer).
    if (purpose === "link" && this.conn === conn) this.armLinkConnectTimeout(conn);
    if (readyEarly && this.conn === conn) this.onReady(conn);
  }

  private armLinkConnectTimeout(conn: Conn): void {
    this.clearTimer("reconnectTimer");
    this.reconnectTimer = this.timers.set(() => {
      this.reconnectTimer = undefined;
      if (this.conn === conn && !conn.ready && !this.job) {
        this.log.warn(`link connect timeout after ${this.config.ackTimeoutMs} ms`);
        this.closeConnection();
        this.scheduleReconnect();
      }
    }, this.config.ackTimeoutMs);
  }

  private onReady(conn: Conn): void {
    conn.ready = true;
    conn.readyAt = this.clock.now();
    this.linkBlocked = false;
    if (!this.job) this.clearTimer("reconnectTimer"); // link connect timeout
    this.emit({ type: "connection", phase: "ready", connectMs: conn.readyAt - conn.openedAt });
    if (this.job && this.flowState === "connecting") this.publish();
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    if (topic !== this.acksTopic) return this.ignore(`message on unexpected topic ${topic}`);
    const decoded = decodeAck(payload);
    if (!decoded.ok) return this.ignore(`malformed ack: ${decoded.reason}`);
    const ack = decoded.value;
    if (this.job && ack.orderId === this.job.message.orderId) {
      this.finish(this.outcomeOf(this.job.message, ack), ack);
      return;
    }
    // Persistent link: the ack for a message we gave up on may still come. It still settles it.
    const pending = this.job ? undefined : this.readPending();
    if (pending && ack.orderId === pending.message.orderId) {
      this.log.info(`late ack for ${ack.orderId}: ${ack.status}`);
      this.settle(pending.message, ack);
      this.emit({ type: "late-ack", orderId: ack.orderId, status: ack.status });
      return;
    }
    this.ignore(`ack for ${ack.orderId}, not the pending message`);
  }

  private onClose(conn: Conn, kind: CloseKind, detail: string): void {
    this.conn = undefined;
    this.emit({ type: "connection", phase: "closed", kind, detail });
    const job = this.job;
    if (!job) {
      this.log.warn(`connection closed (${kind}): ${detail}`);
      if (kind === "auth") this.linkAuthFailed();
      else this.scheduleReconnect(conn);
      return;
    }
    if (kind === "auth") {
      this.log.error(`not authorized: ${detail}`);
      this.finish("auth-error");
      return;
    }
    if (job.publishedOn === conn && this.flowState === "awaiting-ack") {
      job.peerCloses++;
      if (job.peerCloses >= this.authCloseThreshold) {
        this.log.error(`peer closed the connection right after publish ${job.peerCloses} times in a row: treating as not authorized`);
        this.finish("auth-error");
        return;
      }
    } else {
      job.peerCloses = 0;
    }
    this.log.warn(`connection closed (${kind}): ${detail}; will retry`);
    if (this.flowState === "retry-wait") return; // already scheduled (e.g. the ack timed out first)
    this.attemptFailed("network");
  }

  /** Persistent mode: reconnect the idle link with backoff (jitter: no reconnect storm). */
  private scheduleReconnect(closed?: Conn): void {
    if (this.config.connectionMode !== "persistent" || this.flowState === "stopped" || this.linkBlocked) return;
    // A link that stayed up a while earns a fresh backoff; one that flaps keeps backing off.
    if (closed?.readyAt !== undefined && this.clock.now() - closed.readyAt >= this.config.backoffCapMs) this.linkAttempt = 0;
    const delayMs = backoffDelay(this.linkAttempt++, {
      baseMs: this.config.backoffBaseMs,
      capMs: this.config.backoffCapMs,
      random: this.random,
    });
    this.clearTimer("reconnectTimer");
    this.reconnectTimer = this.timers.set(() => {
      this.reconnectTimer = undefined;
      if (!this.conn && !this.job) this.openConnection("link");
    }, delayMs);
  }

  private linkAuthFailed(): void {
    if (this.config.connectionMode !== "persistent") return;
    this.log.error("link not authorized: no automatic reconnect until the next click");
    this.linkBlocked = true;
    this.led.play("auth-error");
  }

  private closeConnection(): void {
    const conn = this.conn;
    this.conn = undefined; // first: no callback of this connection reaches the flow any more
    if (conn?.connection) {
      try {
        conn.connection.close();
      } catch (e) {
        this.log.warn(`close failed: ${errorText(e)}`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------- outcomes

  private outcomeOf(message: OrderMessage, ack: AckMessage): Outcome {
    if (message.action === "order") {
      if (ack.status === "accepted") return "ok";
      if (ack.status !== "rejected") this.log.warn(`ack status ${ack.status} for an order: taken as rejected`);
      return "rejected";
    }
    if (ack.status === "cancelled") return "cancelled";
    if (ack.status !== "cancel-refused") this.log.warn(`ack status ${ack.status} for a cancel: taken as cancel-refused`);
    return "cancel-refused";
  }

  /** An ack ends the message: it is no longer pending; remember what a later LONG may cancel. */
  private settle(message: OrderMessage, ack: AckMessage): void {
    try {
      if (message.action === "order" && ack.status === "accepted") {
        this.store.write(STORE_KEYS.lastAccepted, message.orderId);
      }
      if (message.action === "cancel" && ack.status === "cancelled" && this.store.read(STORE_KEYS.lastAccepted) === message.cancels) {
        this.store.remove(STORE_KEYS.lastAccepted);
      }
      if (this.readPending()?.message.orderId === message.orderId) this.store.remove(STORE_KEYS.pending);
    } catch (e) {
      this.log.error(`store update after ack failed: ${errorText(e)}`);
    }
  }

  private finish(outcome: Outcome, ack?: AckMessage): void {
    const job = this.job!;
    this.clearJobTimers();
    if (ack) this.settle(job.message, ack);
    // On-demand: the connection lives for one message only. Persistent: keep it (or rebuild it).
    if (this.config.connectionMode !== "persistent") this.closeConnection();
    else if (outcome === "auth-error") {
      this.closeConnection();
      this.linkBlocked = true;
    }
    this.job = undefined;
    this.led.play(LED_FOR[outcome]);
    this.emitOutcome({
      clickType: job.clickType,
      orderId: job.message.orderId,
      outcome,
      ...(ack ? { pressToAckMs: this.clock.now() - job.startedAt } : {}),
      ...(ack && job.publishedAt !== undefined ? { publishToAckMs: this.clock.now() - job.publishedAt } : {}),
      ...(ack ? { ack } : {}),
      attempts: job.attempts,
      resent: job.resent,
      trigger: job.trigger,
    });
    this.setState("idle");
    if (this.config.connectionMode === "persistent") {
      if (!this.conn) this.scheduleReconnect();
      else if (!this.conn.ready) this.armLinkConnectTimeout(this.conn); // was the message's connect attempt
    }
  }

  // ------------------------------------------------------------------------------------------- store

  /** The pending message if it is still worth resending; an expired or unreadable one is dropped. */
  private livePending(): PendingRecord | undefined {
    const pending = this.readPending();
    if (!pending) return undefined;
    const age = this.clock.now() - pending.createdAt;
    if (age > this.config.pendingExpiryMs) {
      this.log.warn(`pending ${pending.message.orderId} expired (${age} ms old): dropped`);
      this.store.remove(STORE_KEYS.pending);
      return undefined;
    }
    return pending;
  }

  private readPending(): PendingRecord | undefined {
    const raw = this.store.read(STORE_KEYS.pending);
    if (raw === undefined) return undefined;
    try {
      const record = JSON.parse(raw) as PendingRecord;
      // Re-validate through the wire codec: the store is outside our control (flash corruption).
      const check = decodeOrder(encodeOrder(record.message));
      if (!check.ok || typeof record.createdAt !== "number") throw new Error(check.ok ? "bad createdAt" : check.reason);
      return { message: check.value, createdAt: record.createdAt };
    } catch (e) {
      this.log.error(`unreadable pending message dropped: ${errorText(e)}`);
      this.store.remove(STORE_KEYS.pending);
      return undefined;
    }
  }

  /**
   * The seq for a new message. Seeds come from the wall clock in seconds: seq advances by one per order
   * and nobody orders more than a pizza a second for long, so every seq ever used is at most the clock's
   * seconds when it was made. A seed after an erase (which takes far longer than a second) is therefore
   * above every seq used before it. Throws when the clock is unset (the caller fails the click).
   */
  private nextSeq(): number {
    const raw = this.store.read(STORE_KEYS.seq);
    if (raw !== undefined) {
      const seq = Number(raw);
      if (/^(0|[1-9][0-9]*)$/.test(raw) && Number.isSafeInteger(seq + 1)) return seq + 1;
    }
    const now = this.clock.now();
    if (!(now >= CLOCK_SET_AFTER_MS)) {
      // 1970 seconds are far below the seqs of earlier orders: every orderId would repeat an old one.
      throw new Error(`wall clock not set (${now} ms since 1970, before 2020): cannot number a new order`);
    }
    const seconds = Math.floor(now / 1000);
    if (raw === undefined) {
      this.log.info(`no stored seq: starting at ${seconds} (wall clock seconds)`);
      return seconds;
    }
    // Unreadable (flash corruption): restarting low could reuse an orderId. One above the clock's seconds
    // is strictly above every plausible stored seq, even one made earlier in this same second.
    const recovered = seconds + 1;
    this.log.error(`stored seq unreadable (${JSON.stringify(raw)}): continuing from ${recovered}`);
    return recovered;
  }

  private readBatteryVoltage(): string | undefined {
    if (!this.batteryVoltage) return undefined;
    try {
      const v = this.batteryVoltage();
      return typeof v === "string" && v.length > 0 && v.length <= MAX_VOLTAGE_CHARS && !/[\u0000-\u001f\u007f]/.test(v) ? v : undefined;
    } catch {
      return undefined;
    }
  }

  // ------------------------------------------------------------------------------------------ helpers

  private setState(state: FlowState): void {
    if (state === this.flowState) return;
    this.flowState = state;
    const orderId = this.job?.message.orderId;
    this.emit(orderId === undefined ? { type: "state", state } : { type: "state", state, orderId });
  }

  private ignore(reason: string): void {
    this.log.warn(`ignored: ${reason}`);
    this.emit({ type: "ignored", reason });
  }

  private emitOutcome(outcome: Omit<Extract<FlowEvent, { type: "outcome" }>, "type">): void {
    this.emit({ type: "outcome", ...outcome });
  }

  private emit(event: FlowEvent): void {
    if (!this.onEvent) return;
    try {
      this.onEvent(event);
    } catch (e) {
      this.log.error(`onEvent handler threw: ${errorText(e)}`); // an observer must not break the flow
    }
  }

  private clearJobTimers(): void {
    this.clearTimer("attemptTimer");
    this.clearTimer("retryTimer");
    this.clearTimer("giveUpTimer");
  }

  private clearTimer(name: "attemptTimer" | "retryTimer" | "giveUpTimer" | "reconnectTimer"): void {
    const handle = this[name];
    if (handle !== undefined) this.timers.clear(handle);
    this[name] = undefined;
  }
}

/** Date.UTC(2020, 0, 1). An earlier wall clock was never set (an ESP32 boots in 1970): it cannot seed seq. */
const CLOCK_SET_AFTER_MS = 1_577_836_800_000;

/** Longer battery strings are dropped, so the size check at construction covers every real message. */
const MAX_VOLTAGE_CHARS = 16;

const LED_FOR: { readonly [K in Outcome]: LedPatternName } = {
  ok: "ok",
  rejected: "rejected",
  cancelled: "cancelled",
  "cancel-refused": "rejected",
  failed: "failed",
  "auth-error": "auth-error",
  busy: "busy",
  "nothing-to-cancel": "rejected",
};

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
