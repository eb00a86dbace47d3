// The core's MQTT session over a scripted byte stream: what it writes (read by the test oracle
// mqtt-wire.ts, written apart from the codec), pipelining, refusals reaching the flow as "auth", keep-alive, and strictness.
import { describe, expect, it } from "vitest";
import { type ByteStream, type ByteStreamHandlers, mqttSessionConnector, type PacketTrace } from "../../../modules/core/mqtt-session";
import type { CloseKind } from "../../../modules/core/ports";
import { utf8Decode, utf8Encode } from "../../../modules/core/utf8";
import { FakeTimers } from "./fakes";
import { brokerPacket, type BrokerPacket, clientPackets, type ClientPacket } from "../../qualify/mqtt-wire";
import { acksOf, ordersOf } from "../support/topics";

/** A byte stream the test drives: records every write as one flight, lets the test play the broker. */
class ScriptedStream implements ByteStream {
  readonly flights: Uint8Array[] = [];
  closed = false;
  handlers!: ByteStreamHandlers;

  write(bytes: Uint8Array): void {
    if (this.closed) throw new Error("write after close");
    this.flights.push(bytes);
  }

  close(): void {
    this.closed = true;
  }

  /** Every packet written so far, read by the test oracle. */
  packets(): ClientPacket[] {
    return this.flights.flatMap((f) => clientPackets(f));
  }

  /** The broker sends these packets. */
  reply(...packets: BrokerPacket[]): void {
    for (const p of packets) this.handlers.onData(brokerPacket(p));
  }
}

function setup(options: { keepAliveMs?: number; pipeline?: boolean } = {}) {
  const timers = new FakeTimers();
  const stream = new ScriptedStream();
  const events: string[] = [];
  const traces: PacketTrace[] = [];
  const published: string[] = [];
  const connector = mqttSessionConnector({
    transport: {
      open(handlers) {
        stream.handlers = handlers;
        return stream;
      },
    },
    clientId: "pizza-button-01",
    timers,
    keepAliveMs: options.keepAliveMs ?? 0,
    pipeline: options.pipeline,
    onPublished: (topic) => published.push(topic),
    onTrace: (t) => traces.push(t),
  });
  const closes: [CloseKind, string][] = [];
  const hangUps: boolean[] = [];
  const messages: [string, string][] = [];
  const connection = connector.connect(
    { subscribe: acksOf("pizza-button-01") },
    {
      onReady: () => events.push("ready"),
      onMessage: (topic, payload) => messages.push([topic, utf8Decode(payload)!]),
      onClose: (kind, detail, hungUpAfterPublish) => {
        closes.push([kind, detail]);
        hangUps.push(hungUpAfterPublish === true);
      },
    },
  );
  return { timers, stream, events, traces, published, connection, closes, messages, hangUps };
}

const ORDER = utf8Encode('{"v":1,"orderId":"pizza-button-01-1"}');
const connack = (returnCode = 0): BrokerPacket => ({ cmd: "connack", returnCode, sessionPresent: false });
const suback = (granted: number, messageId = 1): BrokerPacket => ({ cmd: "suback", messageId, granted: [granted] });

describe("mqtt session: one flight for CONNECT, SUBSCRIBE and PUBLISH", () => {
  it("a publish asked for before the stream opens leaves with CONNECT and SUBSCRIBE in one write", () => {
    const s = setup({ keepAliveMs: 60_000 });
    s.connection.publish(ordersOf("pizza-button-01"), ORDER);
    expect(s.stream.flights).toHaveLength(0);
    s.stream.handlers.onOpen();
    expect(s.stream.flights).toHaveLength(1);
    const [connect, subscribe, publish] = s.stream.packets();
    expect(connect).toMatchObject({ cmd: "connect", clientId: "pizza-button-01", keepalive: 60, clean: true, protocolVersion: 4 });
    expect(subscribe).toMatchObject({ cmd: "subscribe", subscriptions: [{ topic: acksOf("pizza-button-01"), qos: 1 }] });
    expect(publish).toMatchObject({ cmd: "publish", topic: ordersOf("pizza-button-01"), qos: 1, retain: false });
    expect(s.traces[0]).toEqual({ direction: "out", packet: `CONNECT + SUBSCRIBE ${acksOf("pizza-button-01")} + PUBLISH ${ordersOf("pizza-button-01")}` });
  });

  it("ready after CONNACK and SUBACK; the broker's PUBACK is reported; an ack is delivered and PUBACKed", () => {
    const s = setup();
    s.connection.publish(ordersOf("pizza-button-01"), ORDER);
    s.stream.handlers.onOpen();
    s.stream.reply(connack(), suback(1));
    expect(s.events).toEqual(["ready"]);
    const publishId = (s.stream.packets()[2] as { messageId: number }).messageId;
    s.stream.reply({ cmd: "puback", messageId: publishId });
    expect(s.published).toEqual([ordersOf("pizza-button-01")]);
    s.stream.reply({ cmd: "publish", topic: acksOf("pizza-button-01"), payload: "ack", qos: 1, messageId: 77, retain: false, dup: false });
    expect(s.messages).toEqual([[acksOf("pizza-button-01"), "ack"]]);
    expect(s.stream.packets().at(-1)).toMatchObject({ cmd: "puback", messageId: 77 });
  });

  it("a publish after the stream opened goes out at once, before CONNACK (pipelined)", () => {
    const s = setup();
    s.stream.handlers.onOpen();
    s.connection.publish(ordersOf("pizza-button-01"), ORDER);
    expect(s.stream.packets().map((p) => p.cmd)).toEqual(["connect", "subscribe", "publish"]);
  });

  it("without pipelining: SUBSCRIBE and the queued PUBLISH wait for CONNACK", () => {
    const s = setup({ pipeline: false });
    s.connection.publish(ordersOf("pizza-button-01"), ORDER);
    s.stream.handlers.onOpen();
    expect(s.stream.packets().map((p) => p.cmd)).toEqual(["connect"]);
    s.stream.reply(connack());
    expect(s.stream.packets().map((p) => p.cmd)).toEqual(["connect", "subscribe", "publish"]);
  });

  it("close() sends DISCONNECT, closes the stream and reports nothing", () => {
    const s = setup();
    s.stream.handlers.onOpen();
    s.stream.reply(connack(), suback(1));
    s.connection.close();
    expect(s.stream.packets().at(-1)).toMatchObject({ cmd: "disconnect" });
    expect(s.stream.closed).toBe(true);
    s.stream.handlers.onClose("network", "late");
    expect(s.closes).toEqual([]);
  });
});

describe("mqtt session: refusals reach the flow", () => {
  for (const [code, kind] of [[5, "auth"], [4, "auth"], [2, "auth"], [1, "auth"], [3, "network"]] as const) {
    it(`CONNACK return code ${code} → ${kind}, stream closed, no ready`, () => {
      const s = setup();
      s.stream.handlers.onOpen();
      s.stream.reply(connack(code));
      expect(s.closes).toHaveLength(1);
      expect(s.closes[0]![0]).toBe(kind);
      expect(s.closes[0]![1]).toMatch(/CONNACK refused/);
      expect(s.stream.closed).toBe(true);
      expect(s.events).toEqual([]);
    });
  }

  it("SUBACK 0x80 → auth", () => {
    const s = setup();
    s.stream.handlers.onOpen();
    s.stream.reply(connack(), suback(0x80));
    expect(s.closes).toEqual([["auth", `SUBSCRIBE ${acksOf("pizza-button-01")} refused by the broker`]]);
  });

  it("a hang-up before CONNACK with no publish of ours on the wire → auth (a refused CONNECT)", () => {
    const s = setup();
    s.stream.handlers.onOpen();
    s.stream.handlers.onClose("network", "peer closed", true);
    expect(s.closes).toEqual([["auth", "the broker closed the connection before CONNACK (not authorized to connect)"]]);
    expect(s.hangUps).toEqual([false]);
  });

  it("a hang-up after a pipelined publish → network, flagged for the flow to count (refusal or restart?)", () => {
    const s = setup();
    s.connection.publish(ordersOf("pizza-button-01"), ORDER);
    s.stream.handlers.onOpen();
    s.stream.reply(connack());
    s.stream.handlers.onClose("network", "peer closed", true);
    expect(s.closes).toEqual([["network", "the broker closed the connection after our publish, before SUBACK (refused, or restarting)"]]);
    expect(s.hangUps).toEqual([true]);
  });

  it("a connection that never opened is not a hang-up after publish, even with a publish queued", () => {
    const s = setup();
    s.connection.publish(ordersOf("pizza-button-01"), ORDER);
    s.stream.handlers.onClose("network", "ECONNREFUSED", false);
    expect(s.closes).toEqual([["network", "ECONNREFUSED"]]);
    expect(s.hangUps).toEqual([false]);
  });

  it("TLS refused by the transport → auth, passed through once", () => {
    const s = setup();
    s.stream.handlers.onClose("auth", "certificate unknown");
    s.stream.handlers.onClose("network", "again");
    expect(s.closes).toEqual([["auth", "certificate unknown"]]);
  });

  it("garbage from the broker → network, with the decoder's reason", () => {
    const s = setup();
    s.stream.handlers.onOpen();
    s.stream.handlers.onData(new Uint8Array([0x20, 2, 0, 42]));
    expect(s.closes).toEqual([["network", "protocol error from broker: CONNACK return code 42 is not defined"]]);
  });

  it("out-of-order packets are protocol errors: SUBACK or PUBLISH before CONNACK, a second CONNACK", () => {
    for (const script of <BrokerPacket[][]>[[suback(1)], [{ cmd: "publish", topic: "a", payload: "", qos: 0, retain: false, dup: false }], [connack(), connack()]]) {
      const s = setup();
      s.stream.handlers.onOpen();
      s.stream.reply(...script);
      expect(s.closes).toHaveLength(1);
      expect(s.closes[0]![0]).toBe("network");
    }
  });
});

describe("mqtt session: keep-alive", () => {
  it("pings after keepAlive of silence; a PINGRESP keeps the session; none ends it as network", () => {
    const s = setup({ keepAliveMs: 10_000 });
    s.stream.handlers.onOpen();
    s.stream.reply(connack(), suback(1));
    s.timers.advance(10_000);
    expect(s.stream.packets().at(-1)).toMatchObject({ cmd: "pingreq" });
    s.stream.reply({ cmd: "pingresp" });
    s.timers.advance(10_000);
    expect(s.stream.packets().filter((p) => p.cmd === "pingreq")).toHaveLength(2);
    expect(s.closes).toEqual([]);
    s.timers.advance(10_000); // third ping sent, no answer to the second … pong timer of the second ran out
    expect(s.closes).toEqual([["network", "no PINGRESP: the broker or the network is gone"]]);
    expect(s.stream.closed).toBe(true);
  });

  it("keep-alive 0 sends no PINGREQ", () => {
    const s = setup({ keepAliveMs: 0 });
    s.stream.handlers.onOpen();
    s.stream.reply(connack(), suback(1));
    s.timers.advance(600_000);
    expect(s.stream.packets().map((p) => p.cmd)).toEqual(["connect", "subscribe"]);
    expect(s.timers.pendingCount).toBe(0);
  });
});
