// A tiny MQTT 3.1.1 packet reader and writer for the qualification server: just what a device under test
// sends (CONNECT, SUBSCRIBE, PUBLISH, PUBACK, PINGREQ, DISCONNECT) and what it must be answered with.
// The server has to misbehave on purpose (no CONNACK, a drop after CONNACK, silence on PINGREQ), which a
// real broker cannot be told to do, so it speaks the protocol itself.

export type InboundPacket =
  | { type: "CONNECT"; protocol: string; level: number; clientId: string; keepaliveSec: number; cleanSession: boolean; username?: string }
  | { type: "SUBSCRIBE"; packetId: number; filters: Array<{ topic: string; qos: number }> }
  | { type: "PUBLISH"; topic: string; qos: number; packetId?: number; payload: Buffer }
  | { type: "PUBACK"; packetId: number }
  | { type: "PINGREQ" }
  | { type: "DISCONNECT" }
  | { type: "OTHER"; code: number };

/** Splits a byte stream into MQTT packets; throws on a malformed length (the server then drops the client). */
export class MqttReader {
  #buffer = Buffer.alloc(0);

  feed(chunk: Buffer): InboundPacket[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const packets: InboundPacket[] = [];
    for (;;) {
      const frame = this.#nextFrame();
      if (!frame) return packets;
      packets.push(decodePacket(frame.header, frame.body));
    }
  }

  #nextFrame(): { header: number; body: Buffer } | undefined {
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
    const frame = { header: b[0]!, body: b.subarray(offset, offset + length) };
    this.#buffer = b.subarray(offset + length);
    return frame;
  }
}

function readString(body: Buffer, at: number): [string, number] {
  const length = body.readUInt16BE(at);
  return [body.subarray(at + 2, at + 2 + length).toString("utf8"), at + 2 + length];
}

function decodePacket(header: number, body: Buffer): InboundPacket {
  switch (header >> 4) {
    case 1: {
      let at = 0;
      let protocol: string;
      [protocol, at] = readString(body, at);
      const level = body[at++]!;
      const flags = body[at++]!;
      const keepaliveSec = body.readUInt16BE(at);
      at += 2;
      let clientId: string;
      [clientId, at] = readString(body, at);
      const packet: InboundPacket = { type: "CONNECT", protocol, level, clientId, keepaliveSec, cleanSession: (flags & 0x02) !== 0 };
      if (flags & 0x04) {
        [, at] = readString(body, at); // will topic
        at += 2 + body.readUInt16BE(at); // will message
      }
      if (flags & 0x80) [packet.username] = readString(body, at);
      return packet;
    }
    case 3: {
      const qos = (header >> 1) & 0x03;
      const [topic, at] = readString(body, 0);
      if (qos > 0) return { type: "PUBLISH", topic, qos, packetId: body.readUInt16BE(at), payload: Buffer.from(body.subarray(at + 2)) };
      return { type: "PUBLISH", topic, qos, payload: Buffer.from(body.subarray(at)) };
    }
    case 4:
      return { type: "PUBACK", packetId: body.readUInt16BE(0) };
    case 8: {
      const packetId = body.readUInt16BE(0);
      const filters: Array<{ topic: string; qos: number }> = [];
      let at = 2;
      while (at < body.length) {
        let topic: string;
        [topic, at] = readString(body, at);
        filters.push({ topic, qos: body[at++]! });
      }
      return { type: "SUBSCRIBE", packetId, filters };
    }
    case 12:
      return { type: "PINGREQ" };
    case 14:
      return { type: "DISCONNECT" };
    default:
      return { type: "OTHER", code: header >> 4 };
  }
}

function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

function frame(header: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([header]), remainingLength(body.length), body]);
}

export function connack(returnCode: number): Buffer {
  return frame(0x20, Buffer.from([0, returnCode]));
}

export function suback(packetId: number, codes: number[]): Buffer {
  const body = Buffer.alloc(2 + codes.length);
  body.writeUInt16BE(packetId, 0);
  codes.forEach((code, i) => (body[2 + i] = code));
  return frame(0x90, body);
}

export function puback(packetId: number): Buffer {
  const body = Buffer.alloc(2);
  body.writeUInt16BE(packetId, 0);
  return frame(0x40, body);
}

export const PINGRESP = Buffer.from([0xd0, 0x00]);

/** A QoS 0 PUBLISH (what the server sends the device: acks). */
export function publish(topic: string, payload: Buffer): Buffer {
  const name = Buffer.from(topic, "utf8");
  const length = Buffer.alloc(2);
  length.writeUInt16BE(name.length, 0);
  return frame(0x30, Buffer.concat([length, name, payload]));
}

/** The payload size that makes publish(topic, payload) exactly `packetBytes` long on the wire. */
export function payloadSizeForPacket(topic: string, packetBytes: number): number {
  const overhead = 2 + Buffer.byteLength(topic, "utf8");
  for (let payload = packetBytes - overhead - 5; payload <= packetBytes; payload++) {
    if (1 + remainingLength(overhead + payload).length + overhead + payload === packetBytes) return payload;
  }
  throw new Error(`no payload makes a ${packetBytes}-byte PUBLISH on ${topic}`);
}

/** One line for the evidence log. */
export function describePacket(packet: InboundPacket): string {
  switch (packet.type) {
    case "CONNECT":
      return `CONNECT clientId=${packet.clientId} keepalive=${packet.keepaliveSec}s level=${packet.level} clean=${packet.cleanSession}`;
    case "SUBSCRIBE":
      return `SUBSCRIBE ${packet.filters.map((f) => `${f.topic} (QoS ${f.qos})`).join(", ")}`;
    case "PUBLISH":
      return `PUBLISH ${packet.topic} QoS ${packet.qos} ${packet.payload.length} B ${packet.payload.length <= 200 ? packet.payload.toString("utf8") : ""}`.trimEnd();
    case "PUBACK":
      return `PUBACK ${packet.packetId}`;
    case "OTHER":
      return `packet type ${packet.code}`;
    default:
      return packet.type;
  }
}
