// The flow over the core's MQTT session (not the fake connector): a press leaves as ONE flight
// (CONNECT + SUBSCRIBE + PUBLISH), the broker is played over a scripted byte stream (packets read and
// written by the test oracle mqtt-wire.ts, written apart from the core's codec), in virtual time. Refusals (CONNACK, SUBACK)
// still end in auth-error, and the "dropped right after publish" rule still counts only ready connections.
import { describe, expect, it } from "vitest";
import { defaultConfig, type ButtonConfig } from "../../../modules/core/config";
import { OrderFlow, type FlowEvent } from "../../../modules/core/flow";
import { decodeOrder, encodeAck } from "../../../modules/core/index";
import { type ByteStreamHandlers, mqttSessionConnector, type PacketTrace } from "../../../modules/core/mqtt-session";
import { FakeTimers, MemoryLog, MemoryStore } from "./fakes";
import { recordIn } from "./flow-harness";
import { brokerPacket, type BrokerPacket, clientPackets } from "../../qualify/mqtt-wire";
import { acksOf, ordersOf } from "../support/topics";

const THING = "pizza-button-01";
const ACKS = acksOf(THING);
const T0 = 1_800_000_000_000;
const HALF_RTT = 50;

type BrokerBehaviour = {
  /** The transport does not open: TCP refused. */
  refuseTcp?: boolean;
  connackCode?: number;
  subackCode?: number;
  /** The broker closes right after SUBACK (AWS IoT dropping an unauthorized PUBLISH). */
  dropAfterSuback?: boolean;
  /** No PUBACK and no restaurant ack. */
  silent?: boolean;
  /** A broker that refuses the CONNECT yet takes the PUBLISH behind it and answers it (it must still be auth). */
  publishDespiteRefusal?: boolean;
};

/** One broker + restaurant behind a byte stream; each flight the device writes is answered one round trip later. */
class ScriptedBroker {
  behaviour: BrokerBehaviour = {};
  /** Per connection: the packet names of each flight the device wrote, e.g. ["connect+subscribe+publish"]. */
  readonly flights: string[][] = [];
  readonly orders: string[] = [];
  closedByDevice = 0;

  constructor(private readonly timers: FakeTimers) {}

  open(handlers: ByteStreamHandlers) {
    const flights: string[] = [];
    this.flights.push(flights);
    const behaviour = { ...this.behaviour };
    let open = true;
    const send = (packets: BrokerPacket[]) =>
      this.timers.set(() => {
        if (!open) return;
        for (const p of packets) handlers.onData(brokerPacket(p));
      }, 2 * HALF_RTT);
    const close = () =>
      this.timers.set(() => {
        if (!open) return;
        open = false;
        handlers.onClose("network", "peer closed");
      }, 2 * HALF_RTT); // after the replies written with it
    // TCP + TLS: the stream opens (or is refused) after a few round trips.
    this.timers.set(() => (behaviour.refuseTcp ? handlers.onClose("network", "ECONNREFUSED") : handlers.onOpen()), 6 * HALF_RTT);
    return {
      write: (bytes: Uint8Array) => {
        if (!open) throw new Error("write after close");
        const flight = clientPackets(bytes);
        flights.push(flight.map((p) => p.cmd).join("+"));
        const replies: BrokerPacket[] = [];
        for (const p of flight) {
          if (p.cmd === "connect") {
            replies.push({ cmd: "connack", returnCode: behaviour.connackCode ?? 0, sessionPresent: false });
            if ((behaviour.connackCode ?? 0) !== 0 && !behaviour.publishDespiteRefusal) break; // a refused CONNECT: the rest is discarded
          } else if (p.cmd === "subscribe") {
            replies.push({ cmd: "suback", messageId: p.messageId, granted: [behaviour.subackCode ?? 1] });
            if (behaviour.dropAfterSuback) break;
          } else if (p.cmd === "publish" && p.topic.startsWith("pizza/orders/")) {
            const order = decodeOrder(p.payload);
            if (!order.ok) throw new Error(order.reason);
            this.orders.push(order.value.orderId);
            if (behaviour.silent) continue;
            replies.push({ cmd: "puback", messageId: p.messageId! });
            const ack = encodeAck({ v: 1, orderId: order.value.orderId, status: "accepted", etaMin: 25 });
            replies.push({ cmd: "publish", topic: ACKS, payload: ack, qos: 0 });
          }
        }
        if (replies.length > 0) send(replies);
        if ((behaviour.connackCode ?? 0) !== 0 || behaviour.dropAfterSuback) close();
      },
      close: () => {
        if (open) this.closedByDevice++;
        open = false;
      },
    };
  }
}

function setup(options: { mode?: ButtonConfig["connectionMode"]; store?: MemoryStore } = {}) {
  const timers = new FakeTimers(T0);
  const broker = new ScriptedBroker(timers);
  const traces: PacketTrace[] = [];
  const events: (FlowEvent & { at: number })[] = [];
  const store = options.store ?? new MemoryStore();
  const connector = mqttSessionConnector({
    transport: { open: (handlers) => broker.open(handlers) },
    clientId: THING,
    timers,
    keepAliveMs: 0,
    onTrace: (t) => traces.push(t),
  });
  const flow = new OrderFlow({
    config: { ...defaultConfig, thingName: THING, connectionMode: options.mode ?? "on-demand" },
    timers,
    clock: timers,
    store,
    connector,
    log: new MemoryLog(),
    random: () => 0.5,
    onEvent: (e) => events.push({ ...e, at: timers.now() }),
  });
  const outcomes = () => events.filter((e): e is Extract<FlowEvent, { type: "outcome" }> & { at: number } => e.type === "outcome");
  const states = () => events.filter((e) => e.type === "state").map((e) => (e as { state: string }).state);
  const click = (runMs = 200_000) => {
    flow.click("SINGLE");
    timers.advance(runMs);
    return outcomes()[outcomes().length - 1];
  };
  return { timers, broker, traces, events, store, flow, outcomes, states, click };
}

describe("flow over the MQTT session: a cold press is one flight", () => {
  it("on-demand: CONNECT + SUBSCRIBE + PUBLISH in the first write, ack one round trip later → ok", () => {
    const t = setup();
    t.flow.start();
    const outcome = t.click();
    expect(outcome).toMatchObject({ outcome: "ok", attempts: 1 });
    // Stream open after 3 RTT (TCP + TLS), then ONE round trip for all of MQTT.
    expect(outcome!.pressToAckMs).toBe(6 * HALF_RTT + 2 * HALF_RTT); // + restaurant time 0
    expect(t.broker.flights).toEqual([["connect+subscribe+publish", "disconnect"]]);
    expect(t.traces.filter((e) => e.direction === "out").map((e) => e.packet)).toEqual([
      `CONNECT + SUBSCRIBE ${ACKS} + PUBLISH ${ordersOf(THING)}`,
      "DISCONNECT",
    ]);
    expect(t.traces.filter((e) => e.direction === "in").map((e) => e.packet)).toEqual(["CONNACK", "SUBACK", "PUBACK", "PUBLISH"]);
    // The publish is handed over at the click; "connecting" lasts until CONNACK + SUBACK.
    const publish = t.events.find((e) => e.type === "publish")!;
    expect(publish.at).toBe(T0);
    expect(t.states()).toEqual(["connecting", "awaiting-ack", "idle"]);
    expect(recordIn(t.store)?.pending).toBeUndefined();
    expect(t.timers.pendingCount).toBe(0);
  });

  it("the order is persisted before the flight that carries it is written", () => {
    const t = setup();
    const pendingAtFirstWrite: unknown[] = [];
    const open = t.broker.open.bind(t.broker);
    t.broker.open = (handlers) => {
      const stream = open(handlers);
      const write = stream.write;
      return { ...stream, write: (bytes: Uint8Array) => (pendingAtFirstWrite.push(recordIn(t.store)?.pending), write(bytes)) };
    };
    t.click();
    expect(pendingAtFirstWrite[0]).toMatchObject({ message: { orderId: expect.stringMatching(new RegExp(`^${THING}-`)) } });
  });

  it("CONNACK refused (not authorized): auth-error at once, no retry, the order stays pending", () => {
    const t = setup();
    t.broker.behaviour = { connackCode: 5 };
    const outcome = t.click();
    expect(outcome).toMatchObject({ outcome: "auth-error", attempts: 1 });
    expect(t.broker.flights).toHaveLength(1);
    expect(t.broker.orders).toEqual([]); // discarded behind the refused CONNECT
    expect(recordIn(t.store)?.pending).toBeDefined();
    expect(t.timers.pendingCount).toBe(0);
  });

  it("CONNACK refused, yet the pipelined order answered behind it: auth-error, never ok; the next press resends the same orderId", () => {
    const t = setup();
    t.broker.behaviour = { connackCode: 5, publishDespiteRefusal: true };
    const refused = t.click();
    expect(refused).toMatchObject({ outcome: "auth-error", attempts: 1 });
    expect(t.outcomes().map((o) => o.outcome)).toEqual(["auth-error"]);
    expect(t.broker.orders).toHaveLength(1); // the broker did take it: only the restaurant's orderId dedup keeps it one pizza
    const pending = recordIn(t.store)?.pending;
    expect(pending?.message.orderId).toBe(t.broker.orders[0]);

    t.broker.behaviour = {};
    const again = t.click();
    expect(again).toMatchObject({ outcome: "ok", resent: true, orderId: t.broker.orders[0] });
    expect(new Set(t.broker.orders).size).toBe(1);
    expect(recordIn(t.store)?.pending).toBeUndefined();
  });

  it("CONNACK 3 (server unavailable) is the broker's trouble: retried, not auth", () => {
    const t = setup();
    t.broker.behaviour = { connackCode: 3 };
    t.flow.click("SINGLE");
    t.timers.advance(8 * HALF_RTT); // the first attempt got its CONNACK 3
    t.broker.behaviour = {};
    t.timers.advance(60_000);
    expect(t.outcomes()[0]).toMatchObject({ outcome: "ok", attempts: 2 });
  });

  it("SUBACK 0x80 (subscription refused): auth-error, no retry", () => {
    const t = setup();
    t.broker.behaviour = { subackCode: 0x80 };
    const outcome = t.click();
    expect(outcome).toMatchObject({ outcome: "auth-error", attempts: 1 });
    expect(t.broker.flights).toHaveLength(1);
    expect(recordIn(t.store)?.pending).toBeDefined();
  });

  it("dropped right after CONNACK + SUBACK on 3 attempts in a row (an unauthorized publish) → auth-error", () => {
    const t = setup();
    t.broker.behaviour = { dropAfterSuback: true };
    const outcome = t.click();
    expect(outcome).toMatchObject({ outcome: "auth-error", attempts: 3 });
    expect(t.broker.flights).toHaveLength(3);
    expect(t.broker.flights.every((f) => f[0] === "connect+subscribe+publish")).toBe(true);
  });

  it("a network failing before the connection is ready never counts as auth, though the publish was pipelined", () => {
    const t = setup();
    t.broker.behaviour = { refuseTcp: true };
    const outcome = t.click();
    expect(outcome).toMatchObject({ outcome: "failed" });
    expect(outcome!.attempts).toBeGreaterThan(3);
  });

  it("no ack after a pipelined publish: the ack timer starts at ready, the retry resends the same orderId", () => {
    const t = setup();
    t.broker.behaviour = { silent: true };
    t.flow.click("SINGLE");
    t.timers.advance(8 * HALF_RTT); // open + CONNACK/SUBACK
    expect(t.flow.state).toBe("awaiting-ack");
    const readyAt = t.events.find((e) => e.type === "state" && e.state === "awaiting-ack")!.at;
    t.timers.advance(defaultConfig.ackTimeoutMs);
    const retry = t.events.find((e) => e.type === "retry")!;
    expect(retry).toMatchObject({ why: "timeout" });
    expect(retry.at).toBe(readyAt + defaultConfig.ackTimeoutMs);
    t.broker.behaviour = {};
    t.timers.advance(60_000);
    expect(t.outcomes()[0]).toMatchObject({ outcome: "ok", attempts: 2 });
    expect(new Set(t.broker.orders).size).toBe(1);
    expect(t.broker.orders).toHaveLength(2);
  });
});

describe("flow over the MQTT session: persistent mode", () => {
  it("a click on the ready link publishes alone (no new CONNECT); the link stays up", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(1_000);
    expect(t.broker.flights).toEqual([["connect+subscribe"]]);
    const outcome = t.click(1_000);
    expect(outcome).toMatchObject({ outcome: "ok", attempts: 1, pressToAckMs: 2 * HALF_RTT });
    expect(t.broker.flights).toEqual([["connect+subscribe", "publish"]]);
    expect(t.broker.closedByDevice).toBe(0);
  });

  it("a click while the link is still connecting is pipelined on it, and published once", () => {
    const t = setup({ mode: "persistent" });
    t.flow.start();
    t.timers.advance(HALF_RTT); // TCP/TLS still opening
    t.click(1_000);
    expect(t.outcomes()[0]).toMatchObject({ outcome: "ok", attempts: 1 });
    expect(t.broker.flights).toEqual([["connect+subscribe+publish"]]);
    expect(t.broker.orders).toHaveLength(1);
  });

  it("a persistent link refused at CONNACK: auth-error for the click, no reconnect loop", () => {
    const t = setup({ mode: "persistent" });
    t.broker.behaviour = { connackCode: 5 };
    t.flow.start();
    t.timers.advance(HALF_RTT);
    const outcome = t.click(600_000);
    expect(outcome).toMatchObject({ outcome: "auth-error" });
    expect(t.broker.flights).toHaveLength(1);
  });
});
