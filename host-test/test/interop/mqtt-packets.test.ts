// Interoperability: the core's MQTT 3.1.1 codec against mqtt-packet (the parser/generator inside mqtt.js and
// aedes) as an independent reference. Node only (mqtt-packet needs Buffer and streams); the codec's own
// behaviour, strictness included, is tested in host-test/test/core/mqtt-packets.test.ts on Node and XS.
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
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

/** Parses bytes with mqtt-packet; returns every packet. */
function reference(bytes: Uint8Array): mqttPacket.Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const out: mqttPacket.Packet[] = [];
  const errors: Error[] = [];
  parser.on("packet", (p) => out.push(p));
  parser.on("error", (e) => errors.push(e));
  parser.parse(Buffer.from(bytes));
  if (errors.length) throw errors[0];
  return out;
}

const generate = (packet: object) => new Uint8Array(mqttPacket.generate(packet as mqttPacket.Packet, { protocolVersion: 4 }));

function readAll(bytes: Uint8Array, splits: number[] = []): { packets: InboundPacket[]; error?: string } {
  const reader = new PacketReader();
  const packets: InboundPacket[] = [];
  let at = 0;
  for (const cut of [...splits.filter((s) => s > 0 && s < bytes.length).sort((a, b) => a - b), bytes.length]) {
    const r = reader.push(bytes.subarray(at, cut));
    packets.push(...r.packets);
    if (r.error) return { packets, error: r.error };
    at = cut;
  }
  return { packets };
}

describe("encoders produce what mqtt-packet parses", () => {
  it("CONNECT: protocol MQTT level 4, clean session, keep-alive, client id", () => {
    const [p] = reference(encodeConnect({ clientId: "pizza-button-01", keepAliveSec: 60, cleanSession: true }));
    expect(p).toMatchObject({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 60, clientId: "pizza-button-01" });
  });

  it("SUBSCRIBE: packet id, one filter, requested QoS, reserved flags 0010", () => {
    const bytes = encodeSubscribe(7, "pizza/acks/pizza-button-01", 1);
    expect(bytes[0]).toBe(0x82);
    const [p] = reference(bytes);
    expect(p).toMatchObject({ cmd: "subscribe", messageId: 7, subscriptions: [{ topic: "pizza/acks/pizza-button-01", qos: 1 }] });
  });

  it("PUBLISH QoS 0 and 1, with retain and dup flags", () => {
    const payload = new TextEncoder().encode('{"v":1}');
    const [q0] = reference(encodePublish({ topic: "pizza/orders/x", payload, qos: 0 }));
    expect(q0).toMatchObject({ cmd: "publish", topic: "pizza/orders/x", qos: 0, retain: false, dup: false });
    expect(Buffer.from((q0 as mqttPacket.IPublishPacket).payload as Buffer).toString()).toBe('{"v":1}');
    const [q1] = reference(encodePublish({ topic: "pizza/orders/x", payload, qos: 1, packetId: 65535, retain: true, dup: true }));
    expect(q1).toMatchObject({ cmd: "publish", qos: 1, messageId: 65535, retain: true, dup: true });
  });

  it("PUBACK, PINGREQ, DISCONNECT", () => {
    expect(reference(encodePuback(300))[0]).toMatchObject({ cmd: "puback", messageId: 300 });
    expect(reference(encodePingreq())[0]).toMatchObject({ cmd: "pingreq" });
    expect(reference(encodeDisconnect())[0]).toMatchObject({ cmd: "disconnect" });
  });

  it("multi-byte Remaining Length (payloads of 127, 128, 16383, 16384 and 2 MB)", () => {
    for (const size of [127, 128, 16_383, 16_384, 2_097_152]) {
      const [p] = reference(encodePublish({ topic: "t", payload: new Uint8Array(size), qos: 0 }));
      expect(((p as mqttPacket.IPublishPacket).payload as Buffer).length).toBe(size);
    }
  });

  it("refuses what a client must never send", () => {
    expect(() => encodePublish({ topic: "a/+", payload: new Uint8Array(), qos: 0 })).toThrow(/wildcard/);
    expect(() => encodePublish({ topic: "", payload: new Uint8Array(), qos: 0 })).toThrow(/empty/);
    expect(() => encodePublish({ topic: "a", payload: new Uint8Array(), qos: 1 })).toThrow(/packet id/);
    expect(() => encodeSubscribe(0, "a", 0)).toThrow(/packet id/);
    expect(() => encodeConnect({ clientId: "x", keepAliveSec: 70_000, cleanSession: true })).toThrow(/keep-alive/);
  });

  it("property: any topic, payload and packet id round-trip through mqtt-packet", () => {
    const topic = fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }).filter((t) => !/[+#\u0000]/.test(t));
    fc.assert(
      fc.property(topic, fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 65535 }), fc.boolean(), (t, payload, id, retain) => {
        const [p] = reference(encodePublish({ topic: t, payload, qos: 1, packetId: id, retain })) as mqttPacket.IPublishPacket[];
        expect(p!.topic).toBe(t);
        expect(p!.messageId).toBe(id);
        expect(p!.retain).toBe(retain);
        expect(new Uint8Array(p!.payload as Buffer)).toEqual(payload);
      }),
    );
  });
});

describe("decoder reads what a broker sends (generated by mqtt-packet)", () => {
  it("CONNACK accepted and refused, session present", () => {
    expect(readAll(generate({ cmd: "connack", returnCode: 0, sessionPresent: false })).packets).toEqual([{ type: "connack", sessionPresent: false, returnCode: 0 }]);
    expect(readAll(generate({ cmd: "connack", returnCode: 5, sessionPresent: false })).packets).toEqual([{ type: "connack", sessionPresent: false, returnCode: 5 }]);
    expect(readAll(generate({ cmd: "connack", returnCode: 0, sessionPresent: true })).packets[0]).toMatchObject({ sessionPresent: true });
  });

  it("SUBACK granted and refused (0x80)", () => {
    expect(readAll(generate({ cmd: "suback", messageId: 1, granted: [1] })).packets).toEqual([{ type: "suback", packetId: 1, returnCodes: [1] }]);
    expect(readAll(generate({ cmd: "suback", messageId: 2, granted: [128] })).packets).toEqual([{ type: "suback", packetId: 2, returnCodes: [0x80] }]);
  });

  it("PUBLISH QoS 0 and 1, PUBACK, PINGRESP", () => {
    const got = readAll(
      concat(
        generate({ cmd: "publish", topic: "pizza/acks/x", payload: Buffer.from("hi"), qos: 0, retain: false, dup: false }),
        generate({ cmd: "publish", topic: "pizza/acks/x", payload: Buffer.from("yo"), qos: 1, messageId: 9, retain: true, dup: false }),
        generate({ cmd: "puback", messageId: 4 }),
        generate({ cmd: "pingresp" }),
      ),
    ).packets;
    expect(got.map((p) => p.type)).toEqual(["publish", "publish", "puback", "pingresp"]);
    expect(got[0]).toMatchObject({ topic: "pizza/acks/x", qos: 0, retain: false });
    expect(new TextDecoder().decode((got[0] as { payload: Uint8Array }).payload)).toBe("hi");
    expect(got[1]).toMatchObject({ qos: 1, packetId: 9, retain: true });
    expect(got[2]).toEqual({ type: "puback", packetId: 4 });
  });

  it("property: any split of a packet stream gives the same packets", () => {
    const stream = concat(
      generate({ cmd: "connack", returnCode: 0, sessionPresent: false }),
      generate({ cmd: "suback", messageId: 1, granted: [1] }),
      generate({ cmd: "publish", topic: "pizza/acks/x", payload: Buffer.alloc(300, 7), qos: 1, messageId: 2, retain: false, dup: false }),
      generate({ cmd: "pingresp" }),
    );
    const whole = readAll(stream).packets;
    expect(whole).toHaveLength(4);
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
      expect(readAll(stream, cuts)).toEqual({ packets: whole });
    }));
  });

  it("property: random bytes never throw: they decode or fail with a reason", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = readAll(bytes);
      if (r.error !== undefined) expect(r.error.length).toBeGreaterThan(0);
    }));
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
