// The flow's test bench: a button (createButton) on fake ports, with a fake broker + restaurant playing the
// other side over the fake connector with fixed latencies, in virtual time. Shared by the flow, link and
// record tests, which drive the same button from their module's angle.
import { expect } from "vitest";
import { defaultConfig, type ButtonConfig, type ClickType } from "../../../modules/core/config";
import { createButton } from "../../../modules/core/button";
import type { FlowEvent } from "../../../modules/core/flow";
import { STORE_KEY, type StoredRecord } from "../../../modules/core/record";
import { decodeOrder, encodeAck, type AckMessage, type OrderMessage } from "../../../modules/core/index";
import type { Network } from "../../../modules/core/ports";
import { FakeConnector, FakeTimers, MemoryLog, MemoryStore, RecordingLed } from "./fakes";
import { acksOf, ordersOf } from "../support/topics";

export const THING = "pizza-button-01";
export const ORDERS = ordersOf(THING);
export const ACKS = acksOf(THING);
export const T0 = 1_800_000_000_000; // virtual wall clock at the start of every test
/** A fresh store's first seq: the wall clock in seconds at the first click (every test clicks first at T0). */
export const SEQ0 = Math.floor(T0 / 1000);
/** The orderId of the n-th message a fresh device makes (n = 1, 2, …). */
export const nth = (n: number) => `${THING}-${SEQ0 + n - 1}`;

/** What the message record keeps in the store (one key), as the store holds it. */
export function recordIn(store: MemoryStore): StoredRecord | undefined {
  const raw = store.data.get(STORE_KEY);
  return raw === undefined ? undefined : (JSON.parse(raw) as StoredRecord);
}

/** The stored seq as text, as the one-key-each layout holds it. */
export function seqIn(store: MemoryStore): string | undefined {
  const seq = recordIn(store)?.seq;
  return seq === undefined ? undefined : String(seq);
}

export type Outcome = Extract<FlowEvent, { type: "outcome" }>;

/** The broker + restaurant side, played over the fake connector with fixed latencies. */
export class FakeRestaurant {
  connectMs = 20;
  ackMs = 5;
  connectBehaviour: "ready" | "auth" | "refuse" | "hang" = "ready";
  publishBehaviour: "ack" | "silent" | "drop" = "ack";
  decide: (m: OrderMessage) => AckMessage["status"] = (m) => (m.action === "order" ? "accepted" : "cancelled");
  readonly received: OrderMessage[] = [];
  readonly acks = new Map<string, AckMessage>();
  readonly connectTimes: number[] = [];

  constructor(timers: FakeTimers, connector: FakeConnector) {
    connector.onConnect = (c) => {
      this.connectTimes.push(timers.now());
      const behaviour = this.connectBehaviour;
      if (behaviour === "hang") return;
      timers.set(() => {
        if (behaviour === "ready") c.ready();
        else if (behaviour === "auth") c.drop("auth", "certificate rejected");
        else c.drop("network", "ECONNREFUSED");
      }, this.connectMs);
    };
    connector.onPublish = (c, topic, payload) => {
      expect(topic).toBe(ORDERS);
      const decoded = decodeOrder(payload);
      if (!decoded.ok) throw new Error(`device sent an invalid order: ${decoded.reason}`);
      this.received.push(decoded.value);
      if (this.publishBehaviour === "drop") {
        timers.set(() => c.drop("network", "peer closed"), 1);
        return;
      }
      if (this.publishBehaviour === "silent") return;
      // Idempotent like the real restaurant: a repeated orderId gets the original ack.
      const m = decoded.value;
      let ack = this.acks.get(m.orderId);
      if (!ack) {
        const status = this.decide(m);
        ack = { v: 1, orderId: m.orderId, status, ...(status === "accepted" ? { etaMin: 25 } : {}) };
        this.acks.set(m.orderId, ack);
      }
      const bytes = encodeAck(ack);
      timers.set(() => c.deliver(ACKS, bytes), this.ackMs);
    };
  }
}

export function setup(
  options: {
    mode?: ButtonConfig["connectionMode"];
    config?: Partial<ButtonConfig>;
    store?: MemoryStore;
    random?: () => number;
    start?: number;
    batteryVoltage?: () => string | undefined;
    network?: Network;
  } = {},
) {
  const timers = new FakeTimers(options.start ?? T0);
  const store = options.store ?? new MemoryStore();
  const log = new MemoryLog();
  const led = new RecordingLed(timers);
  const patterns: string[] = [];
  /** Events and LED patterns in the order the observers saw them, e.g. "state connecting", "pattern ok". */
  const trace: string[] = [];
  const connector = new FakeConnector();
  const restaurant = new FakeRestaurant(timers, connector);
  const events: (FlowEvent & { at: number })[] = [];
  /** Battery mode: when the button asked the host to deep-sleep (virtual time). */
  const sleeps: number[] = [];
  const config: ButtonConfig = {
    ...defaultConfig,
    thingName: THING,
    connectionMode: options.mode ?? "on-demand",
    ...options.config,
  };
  const button = createButton(
    config,
    {
      timers,
      clock: timers,
      led,
      store,
      connector,
      log,
      random: options.random ?? (() => 0.5),
      batteryVoltage: options.batteryVoltage ?? (() => "3012mV"),
      ...(options.mode === "battery" ? { sleep: () => sleeps.push(timers.now()) } : {}),
      ...(options.network ? { network: options.network } : {}),
    },
    {
      onEvent: (e) => {
        events.push({ ...e, at: timers.now() });
        trace.push(`${e.type} ${e.type === "state" ? e.state : e.type === "outcome" ? e.outcome : ""}`.trim());
      },
      onPattern: (n) => {
        patterns.push(n);
        trace.push(`pattern ${n}`);
      },
    },
  );
  const { flow, led: player } = button;
  const outcomes = () => events.filter((e): e is Outcome & { at: number } => e.type === "outcome");
  const lastOutcome = () => outcomes()[outcomes().length - 1];
  const states = () => events.filter((e) => e.type === "state").map((e) => (e as { state: string }).state);
  const retries = () => events.filter((e) => e.type === "retry") as Extract<FlowEvent, { type: "retry" }>[];
  const pending = () => {
    return recordIn(store)?.pending as { message: OrderMessage; createdAt: number } | undefined;
  };
  /** Click, then let virtual time run. */
  const click = (type: ClickType, runMs = 60_000) => {
    flow.click(type);
    timers.advance(runMs);
    return lastOutcome();
  };
  return { timers, store, log, led, player, patterns, trace, button, connector, restaurant, events, flow, config, outcomes, lastOutcome, states, retries, pending, click, sleeps };
}
