// The broker's side of MQTT 3.1.1, for tests and the qualification server: reads what a client sends
// (CONNECT, SUBSCRIBE, PUBLISH, PUBACK, PINGREQ, DISCONNECT) and writes what a broker sends, with mqtt-packet's
// field names. The qualification server has to misbehave on purpose (no CONNACK, a drop after CONNACK, silence
// on PINGREQ), which a real broker cannot be told to do, so it speaks the protocol itself; the core's tests use
// it as an oracle written apart from the core's client codec (modules/core/mqtt-packets.ts), sharing only the
// Remaining Length encoder. Pure ECMAScript (no Buffer), so the core's MQTT tests run on XS too.

import { type InboundPacket, PacketReader, remainingLengthBytes } from "../../modules/core/mqtt-packets";
import { utf8Decode, utf8Encode } from "../../modules/core/utf8";

export type ClientPacket =
  | { cmd: "connect"; protocolId: string; protocolVersion: number; clean: boolean; keepalive: number; clientId: string; username?: string }
  | { cmd: "subscribe"; messageId: number; subscriptions: { topic: string; qos: number }[] }
  | { cmd: "publish"; topic: string; payload: Uint8Array; qos: number; messageId?: number; retain: boolean; dup: boolean }
  | { cmd: "puback"; messageId: number }
  | { cmd: "pingreq" }
  | { cmd: "disconnect" }
  | { cmd: "other"; code: number };

/** Splits a client's byte stream into packets, whatever its chunking; throws on a malformed length. */
export class ClientPacketReader {
  #buffer: Uint8Array = new Uint8Array(0);

  feed(chunk: Uint8Array): ClientPacket[] {
    this.#buffer = concat(this.#buffer, chunk);
    const packets: ClientPacket[] = [];
    for (;;) {
      const frame = this.#nextFrame();
      if (!frame) return packets;
      packets.push(decodeClientPacket(frame.first, frame.body));
    }
  }

  /** Bytes of an unfinished packet still waiting for the rest. */
  get pending(): number {
    return this.#buffer.length;
  }

  #nextFrame(): { first: number; body: Uint8Array } | undefined {
    const b = this.#buffer;
    if (b.length < 2) return undefined;
    let length = 0;
    let multiplier = 1;
    let offset = 1;
    for (;;) {
      if (offset >= b.length) return undefined;
      if (offset > 4) throw new Error("malformed remaining length");
      const byte = b[offset++]!;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) break;
    }
    if (b.length < offset + length) return undefined;
    const frame = { first: b[0]!, body: b.slice(offset, offset + length) };
    this.#buffer = b.slice(offset + length);
    return frame;
  }
}

/** Every packet in a whole client byte stream; throws on a packet it does not know or a cut-off one. */
export function clientPackets(stream: Uint8Array): ClientPacket[] {
  const reader = new ClientPacketReader();
  const packets = reader.feed(stream);
  if (reader.pending > 0) throw new Error(`${reader.pending} bytes of a cut-off packet`);
  const other = packets.find((p) => p.cmd === "other");
  if (other) throw new Error(`unexpected client packet type ${(other as { code: number }).code}`);
  return packets;
}

function decodeClientPacket(first: number, body: Uint8Array): ClientPacket {
  const u16 = (k: number) => (body[k]! << 8) | body[k + 1]!;
  /** A length-prefixed string at k, and where the next field starts. */
  const str = (k: number): [string, number] => [utf8Decode(body.subarray(k + 2, k + 2 + u16(k))) ?? "", k + 2 + u16(k)];
  switch (first >> 4) {
    case 1: {
      const [protocolId, p] = str(0);
      const flags = body[p + 1]!;
      let [clientId, at] = str(p + 4);
      const packet: ClientPacket = { cmd: "connect", protocolId, protocolVersion: body[p]!, clean: (flags & 0x02) !== 0, keepalive: u16(p + 2), clientId };
      if (flags & 0x04) {
        [, at] = str(at); // will topic
        at += 2 + u16(at); // will message
      }
      if (flags & 0x80) [packet.username] = str(at);
      return packet;
    }
    case 3: {
      const qos = (first >> 1) & 3;
      let [topic, k] = str(0);
      const messageId = qos > 0 ? u16(k) : undefined;
      if (qos > 0) k += 2;
      return { cmd: "publish", topic, qos, messageId, retain: (first & 1) === 1, dup: (first & 8) === 8, payload: body.slice(k) };
    }
    case 4:
      return { cmd: "puback", messageId: u16(0) };
    case 8: {
      const subscriptions: { topic: string; qos: number }[] = [];
      for (let k = 2; k < body.length; ) {
        const [topic, next] = str(k);
        subscriptions.push({ topic, qos: body[next]! });
        k = next + 1;
      }
      return { cmd: "subscribe", messageId: u16(0), subscriptions };
    }
    case 12:
      return { cmd: "pingreq" };
    case 14:
      return { cmd: "disconnect" };
    default:
      return { cmd: "other", code: first >> 4 };
  }
}

export type BrokerPacket =
  | { cmd: "connack"; returnCode: number; sessionPresent: boolean }
  | { cmd: "suback"; messageId: number; granted: number[] }
  | { cmd: "publish"; topic: string; payload: Uint8Array | string; qos: number; messageId?: number; retain?: boolean; dup?: boolean }
  | { cmd: "puback"; messageId: number }
  | { cmd: "pingresp" };

function frame(first: number, body: Uint8Array | number[]): Uint8Array {
  return concat(new Uint8Array([first, ...remainingLengthBytes(body.length)]), body instanceof Uint8Array ? body : new Uint8Array(body));
}

const u16Bytes = (n: number) => [n >> 8, n & 0xff];

/** The bytes a broker sends for one packet. */
export function brokerPacket(p: BrokerPacket): Uint8Array {
  switch (p.cmd) {
    case "connack":
      return frame(0x20, [p.sessionPresent ? 1 : 0, p.returnCode]);
    case "suback":
      return frame(0x90, [...u16Bytes(p.messageId), ...p.granted]);
    case "publish": {
      const topic = utf8Encode(p.topic);
      const payload = typeof p.payload === "string" ? utf8Encode(p.payload) : p.payload;
      const id = p.qos > 0 ? u16Bytes(p.messageId!) : [];
      const first = 0x30 | (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
      return frame(first, concat(new Uint8Array([...u16Bytes(topic.length), ...topic, ...id]), payload));
    }
    case "puback":
      return frame(0x40, u16Bytes(p.messageId));
    case "pingresp":
      return new Uint8Array([0xd0, 0]);
  }
}

export const connack = (returnCode: number) => brokerPacket({ cmd: "connack", returnCode, sessionPresent: false });
export const suback = (messageId: number, granted: number[]) => brokerPacket({ cmd: "suback", messageId, granted });
export const puback = (messageId: number) => brokerPacket({ cmd: "puback", messageId });
export const PINGRESP = brokerPacket({ cmd: "pingresp" });
/** A QoS 0 PUBLISH (what the server sends the device: acks). */
export const publish = (topic: string, payload: Uint8Array | string) => brokerPacket({ cmd: "publish", topic, payload, qos: 0 });

/** The payload size that makes publish(topic, payload) exactly `packetBytes` long on the wire. */
export function payloadSizeForPacket(topic: string, packetBytes: number): number {
  const overhead = 2 + utf8Encode(topic).length;
  for (let payload = packetBytes - overhead - 5; payload <= packetBytes; payload++) {
    if (1 + remainingLengthBytes(overhead + payload).length + overhead + payload === packetBytes) return payload;
  }
  throw new Error(`no payload makes a ${packetBytes}-byte PUBLISH on ${topic}`);
}

/** One line for an evidence log. */
export function describePacket(packet: ClientPacket): string {
  switch (packet.cmd) {
    case "connect":
      return `CONNECT clientId=${packet.clientId} keepalive=${packet.keepalive}s level=${packet.protocolVersion} clean=${packet.clean}`;
    case "subscribe":
      return `SUBSCRIBE ${packet.subscriptions.map((f) => `${f.topic} (QoS ${f.qos})`).join(", ")}`;
    case "publish": {
      const text = packet.payload.length <= 200 ? (utf8Decode(packet.payload) ?? "") : "";
      return `PUBLISH ${packet.topic} QoS ${packet.qos} ${packet.payload.length} B ${text}`.trimEnd();
    }
    case "puback":
      return `PUBACK ${packet.messageId}`;
    case "other":
      return `packet type ${packet.code}`;
    default:
      return packet.cmd.toUpperCase();
  }
}

/** Reads a broker's byte stream with the core's PacketReader, cut at `splits` (any order). */
export function readAll(bytes: Uint8Array, splits: number[] = []): { packets: InboundPacket[]; error?: string } {
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

/** The bytes of several packets in a row. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
