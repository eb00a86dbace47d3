// The core's MQTT 3.1.1 codec on its own (Node and XS): what it writes, read back by an independent oracle
// (mqtt-wire.ts), and the strictness the button needs on what it receives: malformed, truncated, split and
// unexpected packets. The comparison with mqtt.js's own packet library is in host-test/test/interop.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodePacket,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  type InboundPacket,
  PacketReader,
} from "../../../modules/core/mqtt-packets";
import { utf8Encode } from "../../../modules/core/utf8";
import { brokerPacket, clientPackets, concat, readAll } from "../../qualify/mqtt-wire";
import { acksOf, ordersOf } from "../support/topics";

describe("encoders", () => {
  it("CONNECT, SUBSCRIBE (flags 0010), PUBLISH QoS 0/1 with flags, PUBACK, PINGREQ, DISCONNECT", () => {
    const sub = encodeSubscribe(7, acksOf("pizza-button-01"), 1);
    expect(sub[0]).toBe(0x82);
    const stream = concat(
      encodeConnect({ clientId: "pizza-button-01", keepAliveSec: 60, cleanSession: true }),
      sub,
      encodePublish({ topic: ordersOf("x"), payload: utf8Encode('{"v":1}'), qos: 0 }),
      encodePublish({ topic: ordersOf("x"), payload: new Uint8Array([1]), qos: 1, packetId: 65535, retain: true, dup: true }),
      encodePuback(300),
      encodePingreq(),
      encodeDisconnect(),
    );
    expect(clientPackets(stream)).toEqual([
      { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 60, clientId: "pizza-button-01" },
      { cmd: "subscribe", messageId: 7, subscriptions: [{ topic: acksOf("pizza-button-01"), qos: 1 }] },
      { cmd: "publish", topic: ordersOf("x"), qos: 0, messageId: undefined, retain: false, dup: false, payload: utf8Encode('{"v":1}') },
      { cmd: "publish", topic: ordersOf("x"), qos: 1, messageId: 65535, retain: true, dup: true, payload: new Uint8Array([1]) },
      { cmd: "puback", messageId: 300 },
      { cmd: "pingreq" },
      { cmd: "disconnect" },
    ]);
  });

  it("multi-byte Remaining Length (payloads of 127, 128, 16383 and 16384 bytes)", () => {
    for (const size of [127, 128, 16_383, 16_384]) {
      const [p] = clientPackets(encodePublish({ topic: "t", payload: new Uint8Array(size), qos: 0 }));
      expect((p as { payload: Uint8Array }).payload.length).toBe(size);
    }
  });

  it("refuses what a client must never send", () => {
    expect(() => encodePublish({ topic: "a/+", payload: new Uint8Array(), qos: 0 })).toThrow(/wildcard/);
    expect(() => encodePublish({ topic: "", payload: new Uint8Array(), qos: 0 })).toThrow(/empty/);
    expect(() => encodePublish({ topic: "a", payload: new Uint8Array(), qos: 1 })).toThrow(/packet id/);
    expect(() => encodeSubscribe(0, "a", 0)).toThrow(/packet id/);
    expect(() => encodeConnect({ clientId: "x", keepAliveSec: 70_000, cleanSession: true })).toThrow(/keep-alive/);
  });
});

describe("decoder: what a broker sends", () => {
  it("CONNACK, SUBACK (granted, 0x80), PUBLISH QoS 0/1, PUBACK, PINGRESP in one stream", () => {
    const got = readAll(
      concat(
        brokerPacket({ cmd: "connack", returnCode: 0, sessionPresent: false }),
        brokerPacket({ cmd: "connack", returnCode: 5, sessionPresent: true }),
        brokerPacket({ cmd: "suback", messageId: 1, granted: [1] }),
        brokerPacket({ cmd: "suback", messageId: 2, granted: [0x80] }),
        brokerPacket({ cmd: "publish", topic: acksOf("x"), payload: "hi", qos: 0 }),
        brokerPacket({ cmd: "publish", topic: acksOf("x"), payload: "yo", qos: 1, messageId: 9, retain: true }),
        brokerPacket({ cmd: "puback", messageId: 4 }),
        brokerPacket({ cmd: "pingresp" }),
      ),
    ).packets;
    expect(got).toEqual([
      { type: "connack", sessionPresent: false, returnCode: 0 },
      { type: "connack", sessionPresent: true, returnCode: 5 },
      { type: "suback", packetId: 1, returnCodes: [1] },
      { type: "suback", packetId: 2, returnCodes: [0x80] },
      { type: "publish", topic: acksOf("x"), payload: utf8Encode("hi"), qos: 0, packetId: undefined, retain: false, dup: false },
      { type: "publish", topic: acksOf("x"), payload: utf8Encode("yo"), qos: 1, packetId: 9, retain: true, dup: false },
      { type: "puback", packetId: 4 },
      { type: "pingresp" },
    ]);
  });

  it("property: any split of a packet stream gives the same packets", () => {
    const stream = concat(
      brokerPacket({ cmd: "connack", returnCode: 0, sessionPresent: false }),
      brokerPacket({ cmd: "suback", messageId: 1, granted: [1] }),
      brokerPacket({ cmd: "publish", topic: acksOf("x"), payload: new Uint8Array(300).fill(7), qos: 1, messageId: 2 }),
      brokerPacket({ cmd: "pingresp" }),
    );
    const whole = readAll(stream).packets;
    expect(whole).toHaveLength(4);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
        expect(readAll(stream, cuts)).toEqual({ packets: whole });
      }),
    );
  });

  it("property: random bytes never throw: they decode or fail with a reason", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = readAll(bytes);
        if (r.error !== undefined) expect(r.error.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe("decoder refuses malformed, truncated and unexpected packets", () => {
  const cases: [string, number[], RegExp][] = [
    ["CONNACK too long", [0x20, 3, 0, 0, 0], /CONNACK of 3 bytes/],
    ["CONNACK undefined code", [0x20, 2, 0, 6], /return code 6/],
    ["CONNACK reserved flag bits", [0x21, 2, 0, 0], /reserved flags/],
    ["CONNACK reserved ack bits", [0x20, 2, 2, 0], /reserved bits/],
    ["SUBACK undefined code", [0x90, 3, 0, 1, 3], /return code 3/],
    ["SUBACK with no code", [0x90, 2, 0, 1], /without a return code/],
    ["PUBLISH QoS 3", [0x36, 4, 0, 1, 0x61, 0], /QoS 3/],
    ["PUBLISH QoS 2", [0x34, 5, 0, 1, 0x61, 0, 1], /QoS 2/],
    ["PUBLISH topic past the end", [0x30, 3, 0, 9, 0x61], /runs past/],
    ["PUBLISH empty topic", [0x30, 2, 0, 0], /empty topic/],
    ["PUBLISH wildcard topic", [0x30, 3, 0, 1, 0x23], /wildcard/],
    ["PUBLISH topic not UTF-8", [0x30, 3, 0, 1, 0xff], /UTF-8/],
    ["PUBLISH QoS 1 packet id 0", [0x32, 5, 0, 1, 0x61, 0, 0], /packet id 0/],
    ["PUBLISH QoS 1 without packet id", [0x32, 3, 0, 1, 0x61], /too short for its packet id/],
    ["PINGRESP with body", [0xd0, 1, 0], /with a body/],
    ["a CONNECT (brokers don't send it)", [0x10, 0], /not one a broker sends/],
    ["a SUBSCRIBE", [0x82, 0], /not one a broker sends/],
    ["Remaining Length of 5 bytes", [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], /longer than 4 bytes/],
  ];
  for (const [name, bytes, reason] of cases) {
    it(name, () => {
      const r = readAll(new Uint8Array(bytes));
      expect(r.error).toMatch(reason);
      expect(r.packets).toEqual([]);
    });
  }

  it("a PUBLISH larger than the limit is skipped as it streams in, never buffered; the next packet is read", () => {
    const big = brokerPacket({ cmd: "publish", topic: acksOf("x"), payload: new Uint8Array(5000).fill(0x41), qos: 0 });
    const next = brokerPacket({ cmd: "publish", topic: acksOf("x"), payload: "ok", qos: 0 });
    const stream = concat(big, next);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 8 }), (cuts) => {
        const reader = new PacketReader(1024);
        const packets: InboundPacket[] = [];
        const ignored: string[] = [];
        let at = 0;
        for (const cut of [...cuts.sort((a, b) => a - b), stream.length]) {
          const r = reader.push(stream.subarray(at, cut));
          expect(r.error).toBeUndefined();
          packets.push(...r.packets);
          ignored.push(...(r.ignored ?? []));
          at = cut;
        }
        expect(ignored).toEqual(["PUBLISH of 5014 bytes ignored: over the 1024-byte limit"]);
        expect(packets).toEqual([{ type: "publish", topic: acksOf("x"), payload: utf8Encode("ok"), qos: 0, packetId: undefined, retain: false, dup: false }]);
      }),
    );
  });

  it("any other packet larger than the limit is an error", () => {
    const reader = new PacketReader(16);
    expect(reader.push(brokerPacket({ cmd: "suback", messageId: 1, granted: new Array<number>(40).fill(1) })).error).toMatch(/exceeds the 16-byte limit/);
  });

  it("stays failed after an error (the stream can't be resynchronised)", () => {
    const reader = new PacketReader();
    expect(reader.push(new Uint8Array([0x20, 2, 0, 9])).error).toMatch(/return code 9/);
    expect(reader.push(brokerPacket({ cmd: "pingresp" }))).toEqual({ packets: [], error: expect.stringMatching(/return code 9/) });
  });

  it("truncated packets wait for the rest (no packet, no error)", () => {
    const full = brokerPacket({ cmd: "suback", messageId: 1, granted: [1] });
    for (let n = 0; n < full.length; n++) expect(readAll(full.subarray(0, n))).toEqual({ packets: [] });
  });

  it("decodePacket is total over first byte and short bodies", () => {
    for (let first = 0; first < 256; first++) {
      for (const body of [new Uint8Array(0), new Uint8Array([0]), new Uint8Array([0, 1, 0x61])]) {
        expect(typeof decodePacket(first, body).ok).toBe("boolean");
      }
    }
  });
});
