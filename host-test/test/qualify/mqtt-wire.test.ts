import { describe, expect, it } from "vitest";
import { ClientPacketReader, clientPackets, connack, payloadSizeForPacket, PINGRESP, publish, suback } from "../../qualify/mqtt-wire";
import { acksOf } from "../support/topics";

/** CONNECT as MQTT 3.1.1 puts it on the wire (section 3.1), built by hand. */
function connectBytes(clientId: string, keepaliveSec: number): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([0, 4, ...Buffer.from("MQTT"), 4, 0x02, keepaliveSec >> 8, keepaliveSec & 0xff, id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

describe("ClientPacketReader", () => {
  it("reads CONNECT, SUBSCRIBE, PINGREQ and DISCONNECT, whatever the chunking", () => {
    const sub = Buffer.from([0x82, 0x0c, 0x00, 0x07, 0x00, 0x07, ...Buffer.from("a/b/c/d"), 0x01]);
    const stream = Buffer.concat([connectBytes("pizza-button-01", 60), sub, Buffer.from([0xc0, 0x00, 0xe0, 0x00])]);
    for (const size of [1, 3, 7, stream.length]) {
      const reader = new ClientPacketReader();
      const packets = [];
      for (let at = 0; at < stream.length; at += size) packets.push(...reader.feed(stream.subarray(at, at + size)));
      expect(packets).toEqual([
        { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "pizza-button-01", keepalive: 60, clean: true },
        { cmd: "subscribe", messageId: 7, subscriptions: [{ topic: "a/b/c/d", qos: 1 }] },
        { cmd: "pingreq" },
        { cmd: "disconnect" },
      ]);
    }
  });

  it("round-trips a PUBLISH with a multi-byte remaining length (a full 16 KB record)", () => {
    const topic = acksOf("pizza-button-01");
    const size = payloadSizeForPacket(topic, 16_384);
    const packet = publish(topic, Buffer.alloc(size, 0x78));
    expect(packet.length).toBe(16_384);
    const [read] = new ClientPacketReader().feed(packet);
    expect(read).toMatchObject({ cmd: "publish", topic, qos: 0 });
    expect(read!.cmd === "publish" && read.payload.length).toBe(size);
  });

  it("refuses a remaining length longer than four bytes", () => {
    expect(() => new ClientPacketReader().feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toThrow(/malformed/);
  });

  it("reads a whole stream strictly: a cut-off or unknown packet is an error", () => {
    expect(() => clientPackets(new Uint8Array([0xc0, 0x00, 0xe0]))).toThrow(/cut-off/);
    expect(() => clientPackets(new Uint8Array([0x20, 0x02, 0x00, 0x00]))).toThrow(/unexpected client packet type 2/);
  });

  it("writes CONNACK, SUBACK and PINGRESP as the specification spells them", () => {
    expect([...connack(5)]).toEqual([0x20, 0x02, 0x00, 0x05]);
    expect([...suback(0x1234, [1, 0x80])]).toEqual([0x90, 0x04, 0x12, 0x34, 0x01, 0x80]);
    expect([...PINGRESP]).toEqual([0xd0, 0x00]);
  });
});
