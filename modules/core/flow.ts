// The order flow: ONE state machine from a click to its outcome (docs/ARCHITECTURE.md, "The flow").
//
//   idle ──click──▶ (message pending? resend it : create it in the record)
//        ──▶ connecting ──▶ awaiting-ack ──▶ ok | rejected | cancelled | cancel-refused | failed | auth-error ──▶ idle
//                 ▲              │ no ack in ackTimeoutMs / network failure
//                 └─ retry-wait ◀┘ (jittered backoff, never under backoffBaseMs, until giveUpMs → failed, message stays pending)
//
// The flow owns the click → attempt → outcome logic; the MessageRecord (record.ts) keeps seq, the pending
// message and the last accepted order in the store; the Link (link.ts) owns the connection. The flow
// reports everything as events (FlowEvent); the LED is a view of them (led-view.ts).
//
// Pipelining: when the connector takes a publish before the connection is ready (the core's MQTT session
// does), the message is handed over right after connect() and leaves in the first flight with CONNECT and
// SUBSCRIBE; "connecting" then ends at CONNACK + SUBACK and the ack timer starts there. A refused CONNECT or
// SUBSCRIBE still closes the connection as "auth" (the broker drops what follows a refused CONNECT).
//
// Rules that keep "one press = at most one pizza, and nothing lost" (the record adds its own):
// - While a message is pending (and younger than pendingExpiryMs), ANY click resends THAT message with
//   the same orderId (the restaurant answers a repeat with the original ack), except:
// - LONG while an ORDER is pending sends a cancel for that pending order instead (the user wants it gone;
//   it may have been accepted with the ack lost). The cancel replaces it as the pending message, so the
//   order itself is never resent afterwards. LONG with nothing pending cancels the last accepted order;
//   with none: "nothing-to-cancel", no network.
// - Only an ack whose orderId is the pending one counts; other acks, malformed payloads and messages on
//   other topics are logged and ignored. An ack (any status) ends the message: it is no longer pending.
// - start() resends a pending message (boot after a reset or power loss).
// - Clicks while connecting / awaiting an ack / waiting to retry: ignored, outcome "busy".
// - CloseKind "auth" (TLS refused, certificate rejected, CONNACK/SUBACK refused): "auth-error" at once,
//   no retry loop. AWS IoT answers an unauthorized PUBLISH by dropping the connection, which the adapter
//   can only report as a "network" close; so if the peer closes right after our publish and before any
//   ack on authCloseThreshold (3) consecutive attempts for the same message, that is treated as
//   auth-error too. Only a connection that became ready counts (a network failing before CONNACK says
//   nothing about the publish, even a pipelined one). A flaky network does not repeat that exact pattern three times in a row, while a
//   policy refusal would otherwise loop until giveUpMs for nothing.
//
// Network loss (the Network port, ports.ts): while it is down the flow makes no connection attempt and its
// give-up budget stands still. A message started or caught offline waits in state "offline" (pending in
// the record, LED "offline"); when the network is back it is sent with a fresh backoff and what is left of
// its budget, under the same orderId. One that expired (pendingExpiryMs) meanwhile ends as "failed".
//
// Timers, one meaning each: connectTimer (this attempt's connect), ackTimer (this attempt's ack),
// retryTimer (backoff before the next attempt), giveUpTimer (the message's whole budget).

import { Backoff } from "./backoff";
import type { ButtonConfig, ClickType } from "./config";
import { acksTopic, isValidThingName, ordersTopic } from "./config";
import { Link, type LinkEvent } from "./link";
import type { AckMessage, OrderMessage } from "./messages";
import { decodeAck, encodeOrder, makeOrderId } from "./messages";
import type { CloseKind, Clock, Log, MqttConnector, Network, Store, TimerHandle, Timers } from "./ports";
import { MessageRecord } from "./record";
import { errorText } from "./error-text";

export type FlowState = "idle" | "connecting" | "awaiting-ack" | "retry-wait" | "offline" | "stopped";

export type Outcome =
  | "ok"
  | "rejected"
  | "cancelled"
  | "cancel-refused"
  | "failed"
  | "auth-error"
  | "busy"
  | "nothing-to-cancel";

export type OutcomeEvent = {
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
};

export type FlowEvent =
  | { type: "state"; state: FlowState; orderId?: string }
  | LinkEvent
  | { type: "publish"; orderId: string; attempt: number }
  | { type: "retry"; orderId: string; attempt: number; delayMs: number; why: "timeout" | "network" }
  | OutcomeEvent
  | { type: "late-ack"; orderId: string; status: AckMessage["status"] }
  | { type: "ignored"; reason: string };

export interface OrderFlowOptions {
  config: ButtonConfig;
  timers: Timers;
  clock: Clock;
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
  /** Wi-Fi up/down. Default: always up. */
  network?: Network;
}

/** The message being sent, from its click (or boot) to its outcome. */
interface Job {
  message: OrderMessage;
  payload: Uint8Array;
  clickType: ClickType;
  trigger: "click" | "boot";
  resent: boolean;
  startedAt: number;
  attempts: number;
  retryBackoff: Backoff;
  peerCloses: number; // consecutive: peer closed after our publish, before any ack
  publishedOn: number | undefined; // the link's connection id
  publishedAt: number | undefined;
  /** What is left of giveUpMs; it is spent only while the network is up. */
  budgetMs: number;
  /** When the giveUpTimer was armed (undefined while offline). */
  budgetFrom: number | undefined;
}

export class OrderFlow {
  private readonly config: ButtonConfig;
  private readonly timers: Timers;
  private readonly clock: Clock;
  private readonly log: Log;
  private readonly random: () => number;
  private readonly batteryVoltage: (() => string | undefined) | undefined;
  private readonly onEvent: ((event: FlowEvent) => void) | undefined;
  private readonly authCloseThreshold: number;
  private readonly ordersTopic: string;
  private readonly acksTopic: string;
  private readonly record: MessageRecord;
  private readonly link: Link;
  private readonly network: Network | undefined;

  private flowState: FlowState = "idle";
  private started = false;
  private job: Job | undefined;
  private connectTimer: TimerHandle | undefined;
  private ackTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private giveUpTimer: TimerHandle | undefined;

  constructor(options: OrderFlowOptions) {
    this.config = options.config;
    this.timers = options.timers;
    this.clock = options.clock;
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
    this.record = new MessageRecord({ store: options.store, clock: this.clock, log: this.log, pendingExpiryMs: this.config.pendingExpiryMs });
    this.link = new Link({
      // Battery mode is on-demand for the link; the deep sleep around it is the button's (sleep.ts).
      mode: this.config.connectionMode === "persistent" ? "persistent" : "on-demand",
      connector: options.connector,
      subscribe: this.acksTopic,
      timers: this.timers,
      clock: this.clock,
      log: this.log,
      connectTimeoutMs: this.config.ackTimeoutMs,
      backoff: this.backoff(),
      stableAfterMs: this.config.backoffCapMs,
      emit: (event) => this.emit(event),
      handlers: {
        onReady: () => this.onReady(),
        onMessage: (topic, payload) => this.onMessage(topic, payload),
        onClose: (kind, detail, connectionId, hungUpAfterPublish) => this.onClose(kind, detail, connectionId, hungUpAfterPublish),
      },
    });
    this.network = options.network;
    if (this.network) {
      this.link.setOffline(!this.network.up);
      this.network.onChange((up) => (up ? this.networkUp() : this.networkDown()));
    }
  }

  get state(): FlowState {
    return this.flowState;
  }

  /** The orderId of the message waiting for an ack in the store, if any. */
  get pendingOrderId(): string | undefined {
    return this.record.pending()?.message.orderId;
  }

  // ---------------------------------------------------------------------------------------- lifecycle

  /** Boot: resend a pending message; in persistent mode, bring the link up. */
  start(): void {
    if (this.started || this.flowState === "stopped") return;
    this.started = true;
    const pending = this.record.live();
    if (pending && !this.job) {
      this.log.info(`boot: resending pending ${pending.message.orderId}`);
      this.begin({ message: pending.message, clickType: pending.message.clickType, trigger: "boot", resent: true });
    } else {
      this.link.start();
    }
  }

  /**
   * Persistent mode, idle: takes the link down until resumeLink() or the next click, so that a connection
   * of the button's own (certificate renewal) can use the client id. False when not idle or not persistent.
   */
  suspendLink(): boolean {
    return this.flowState === "idle" && this.link.suspend();
  }

  /** Brings a suspended link back up (on a new connection). */
  resumeLink(): void {
    this.link.resume();
  }

  /** Shuts down: closes the connection and clears every timer. A pending message stays in the store. */
  stop(): void {
    if (this.flowState === "stopped") return;
    this.clearAttemptTimers();
    this.clearTimer("giveUpTimer");
    this.job = undefined;
    this.link.stop();
    this.setState("stopped");
  }

  // ------------------------------------------------------------------------------------------ a click

  click(clickType: ClickType): void {
    if (this.flowState === "stopped") return;
    if (this.flowState !== "idle") {
      this.emitOutcome({ clickType, orderId: undefined, outcome: "busy", attempts: 0, resent: false, trigger: "click" });
      return;
    }
    const pending = this.record.live();
    if (pending && !(clickType === "LONG" && pending.message.action === "order")) {
      this.begin({ message: pending.message, clickType, trigger: "click", resent: true });
      return;
    }
    const message = this.createMessage(clickType, pending?.message.orderId);
    if (message) this.begin({ message, clickType, trigger: "click", resent: false });
  }

  private createMessage(clickType: ClickType, pendingOrderId: string | undefined): OrderMessage | undefined {
    let cancels: string | undefined;
    if (clickType === "LONG") {
      cancels = pendingOrderId ?? this.record.lastAccepted();
      if (cancels === undefined) {
        this.emitOutcome({ clickType, orderId: undefined, outcome: "nothing-to-cancel", attempts: 0, resent: false, trigger: "click" });
        return undefined;
      }
    }
    try {
      return this.record.create((seq) => this.orderMessage(clickType, seq, cancels, this.readBatteryVoltage()));
    } catch (e) {
      // Cannot number (clock unset), build or persist the message: sending it without a safe, durable
      // seq and pending record could reuse an orderId or duplicate it.
      this.log.error(`cannot create ${clickType} message: ${errorText(e)}`);
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

  private readBatteryVoltage(): string | undefined {
    if (!this.batteryVoltage) return undefined;
    try {
      const v = this.batteryVoltage();
      return typeof v === "string" && v.length > 0 && v.length <= MAX_VOLTAGE_CHARS && !/[\u0000-\u001f\u007f]/.test(v) ? v : undefined;
    } catch {
      return undefined;
    }
  }

  // ------------------------------------------------------------------------------- sending a message

  private begin(spec: { message: OrderMessage; clickType: ClickType; trigger: "click" | "boot"; resent: boolean }): void {
    this.job = {
      ...spec,
      payload: encodeOrder(spec.message),
      startedAt: this.clock.now(),
      attempts: 0,
      retryBackoff: this.backoff(),
      peerCloses: 0,
      publishedOn: undefined,
      publishedAt: undefined,
      budgetMs: this.config.giveUpMs,
      budgetFrom: undefined,
    };
    this.link.take(); // the message drives (re)connecting from now on
    if (this.network && !this.network.up) {
      this.log.info(`offline: ${spec.message.orderId} waits for the network`);
      this.setState("offline");
      return;
    }
    this.armGiveUp();
    this.attempt();
  }

  private armGiveUp(): void {
    const job = this.job!;
    job.budgetFrom = this.clock.now();
    this.giveUpTimer = this.timers.set(() => this.giveUp(), job.budgetMs);
  }

  // ----------------------------------------------------------------------------------- network loss

  private networkDown(): void {
    if (this.flowState === "stopped") return;
    this.link.setOffline(true); // closes the connection without a close event: nothing retries
    const job = this.job;
    if (!job) return;
    this.clearAttemptTimers();
    this.clearTimer("giveUpTimer");
    if (job.budgetFrom !== undefined) job.budgetMs = Math.max(0, job.budgetMs - (this.clock.now() - job.budgetFrom));
    job.budgetFrom = undefined;
    job.peerCloses = 0; // closes caused by the network say nothing about authorization
    this.log.warn(`network down: ${job.message.orderId} waits for it (${job.budgetMs} ms of retrying left)`);
    this.setState("offline");
  }

  private networkUp(): void {
    if (this.flowState === "stopped") return;
    this.link.setOffline(false);
    const job = this.job;
    if (!job || this.flowState !== "offline") return;
    if (this.record.live()?.message.orderId !== job.message.orderId) {
      this.log.warn(`${job.message.orderId} expired while offline: dropped`);
      this.finish("failed");
      return;
    }
    this.log.info(`network up: sending ${job.message.orderId}`);
    job.retryBackoff = this.backoff();
    this.armGiveUp();
    this.attempt();
  }

  /**
   * One try: (connect, then) publish, each step bounded by ackTimeoutMs. A connector that pipelines takes
   * the publish right after connect(): it leaves with CONNECT and SUBSCRIBE in one flight, and the ack
   * timer starts once the connection is ready (CONNACK and SUBACK accepted).
   */
  private attempt(): void {
    const job = this.job!;
    this.retryTimer = undefined;
    job.attempts++;
    if (this.link.ready) {
      this.publish();
      this.awaitAck();
      return;
    }
    this.setState("connecting");
    this.clearTimer("connectTimer");
    // Armed before connecting: a connector may report a failure synchronously.
    this.connectTimer = this.timers.set(() => this.attemptTimedOut("connectTimer"), this.config.ackTimeoutMs);
    this.link.connect();
    // connect() may have failed (retry scheduled) or become ready (published) synchronously.
    const early = this.link.publishable;
    if (this.job === job && this.flowState === "connecting" && early !== undefined && early !== job.publishedOn) this.publish();
  }

  /** The connection is ready: publish unless the message already went out on it, then wait for the ack. */
  private onReady(): void {
    const job = this.job;
    if (!job || this.flowState !== "connecting") return;
    if (job.publishedOn !== this.link.publishable && !this.publish()) return;
    this.awaitAck();
  }

  /** Hands the message to the link. False when the link refused it (the attempt failed). */
  private publish(): boolean {
    const job = this.job!;
    let connectionId: number;
    try {
      connectionId = this.link.publish(this.ordersTopic, job.payload);
    } catch (e) {
      this.log.warn(`publish failed: ${errorText(e)}`);
      this.link.close();
      this.attemptFailed("network");
      return false;
    }
    job.publishedOn = connectionId;
    job.publishedAt = this.clock.now();
    this.emit({ type: "publish", orderId: job.message.orderId, attempt: job.attempts });
    return true;
  }

  private awaitAck(): void {
    if (this.flowState === "retry-wait") return; // the publish failed
    this.setState("awaiting-ack");
    this.clearTimer("connectTimer");
    this.ackTimer = this.timers.set(() => this.attemptTimedOut("ackTimer"), this.config.ackTimeoutMs);
  }

  private attemptTimedOut(timer: "connectTimer" | "ackTimer"): void {
    this[timer] = undefined;
    this.log.warn(`${timer === "connectTimer" ? "connect" : "ack"} timeout after ${this.config.ackTimeoutMs} ms`);
    // On-demand: start the next attempt on a fresh connection. Persistent: keep a live link and
    // republish on it; a link that never became ready is dropped and rebuilt.
    if (this.config.connectionMode !== "persistent" || !this.link.ready) this.link.close();
    this.job!.peerCloses = 0;
    this.attemptFailed("timeout");
  }

  private attemptFailed(why: "timeout" | "network"): void {
    const job = this.job!;
    this.clearAttemptTimers();
    const delayMs = job.retryBackoff.next();
    this.emit({ type: "retry", orderId: job.message.orderId, attempt: job.attempts + 1, delayMs, why });
    this.setState("retry-wait");
    this.retryTimer = this.timers.set(() => this.attempt(), delayMs);
  }

  private giveUp(): void {
    this.giveUpTimer = undefined;
    this.job!.budgetFrom = undefined;
    this.log.warn(`no ack for ${this.job!.message.orderId} after ${this.config.giveUpMs} ms: failed, still pending`);
    this.finish("failed");
  }

  // ------------------------------------------------------------------------------ what the link says

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
    const pending = this.job ? undefined : this.record.pending();
    if (pending && ack.orderId === pending.message.orderId) {
      this.log.info(`late ack for ${ack.orderId}: ${ack.status}`);
      this.record.settle(pending.message, ack);
      this.emit({ type: "late-ack", orderId: ack.orderId, status: ack.status });
      return;
    }
    this.ignore(`ack for ${ack.orderId}, not the pending message`);
  }

  /** The connection closed while this message held the link. */
  private onClose(kind: CloseKind, detail: string, connectionId: number, hungUpAfterPublish: boolean): void {
    const job = this.job!;
    if (kind === "auth") {
      this.log.error(`not authorized: ${detail}`);
      this.finish("auth-error");
      return;
    }
    // A pipelined publish leaves with the CONNECT: the broker hanging up on it before CONNACK or SUBACK
    // counts as well (the connector says so; a connection that never opened does not).
    if (job.publishedOn === connectionId && (this.flowState === "awaiting-ack" || hungUpAfterPublish)) {
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

  private finish(outcome: Outcome, ack?: AckMessage): void {
    const job = this.job!;
    this.clearAttemptTimers();
    this.clearTimer("giveUpTimer");
    if (ack) this.record.settle(job.message, ack);
    this.link.release(outcome === "auth-error");
    this.job = undefined;
    const now = this.clock.now();
    this.emitOutcome({
      clickType: job.clickType,
      orderId: job.message.orderId,
      outcome,
      ...(ack ? { pressToAckMs: now - job.startedAt } : {}),
      ...(ack && job.publishedAt !== undefined ? { publishToAckMs: now - job.publishedAt } : {}),
      ...(ack ? { ack } : {}),
      attempts: job.attempts,
      resent: job.resent,
      trigger: job.trigger,
    });
    this.setState("idle");
    this.link.idle();
  }

  // ------------------------------------------------------------------------------------------ helpers

  private backoff(): Backoff {
    return new Backoff({ baseMs: this.config.backoffBaseMs, capMs: this.config.backoffCapMs, random: this.random });
  }

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

  private emitOutcome(outcome: Omit<OutcomeEvent, "type">): void {
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

  private clearAttemptTimers(): void {
    this.clearTimer("connectTimer");
    this.clearTimer("ackTimer");
    this.clearTimer("retryTimer");
  }

  private clearTimer(name: "connectTimer" | "ackTimer" | "retryTimer" | "giveUpTimer"): void {
    const handle = this[name];
    if (handle !== undefined) this.timers.clear(handle);
    this[name] = undefined;
  }
}

/** Longer battery strings are dropped, so the size check at construction covers every real message. */
const MAX_VOLTAGE_CHARS = 16;
