// MQTT 3.1.1 packets, the few a button needs: encoders for what a client sends and a strict, streaming
// decoder for what a broker sends. Pure (bytes in, bytes out) so both hosts speak MQTT identically, the way
// coreMQTT keeps its serializer apart from its transport. Anything that is not a well-formed packet a
// client may receive is an error with a reason: the session then closes the connection rather than guess.
import { utf8Decode, utf8Encode } from "./utf8";

export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  SUBSCRIBE: 8,
  SUBACK: 9,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3). */
export const CONNACK_REASONS: readonly string[] = [
  "accepted",
  "unacceptable protocol version",
  "identifier rejected",
  "server unavailable",
  "bad user name or password",
  "not authorized",
];

/** The largest Remaining Length the encoding allows (4 bytes of 7 bits). */
export const MAX_REMAINING_LENGTH = 268_435_455;

export type QoS = 0 | 1;

export interface ConnectOptions {
  clientId: string;
  /** Seconds; 0 turns keep-alive off. */
  keepAliveSec: number;
  cleanSession: boolean;
}

export interface PublishOptions {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  /** Required for QoS 1: 1–65535. */
  packetId?: number;
  retain?: boolean;
  dup?: boolean;
}

/** What a client can receive. */
export type InboundPacket =
  | { type: "connack"; sessionPresent: boolean; returnCode: number }
  | { type: "publish"; topic: string; payload: Uint8Array; qos: QoS; packetId?: number; retain: boolean; dup: boolean }
  | { type: "puback"; packetId: number }
  | { type: "suback"; packetId: number; returnCodes: number[] }
  | { type: "pingresp" };

// ---- encoding ---------------------------------------------------------------------------------------

/** The Remaining Length field (MQTT 3.1.1 §2.2.3): 7 bits per byte, continuation bit 0x80, 1–4 bytes. */
export function remainingLengthBytes(length: number): number[] {
  if (!(length >= 0 && length <= MAX_REMAINING_LENGTH)) throw new RangeError(`remaining length ${length} out of range`);
  const out: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    out.push(byte);
  } while (length > 0);
  return out;
}

/** A growable byte list; concatenated once at the end. */
class Bytes {
  private readonly parts: (number[] | Uint8Array)[] = [];
  private size = 0;

  byte(value: number): this {
    this.parts.push([value & 0xff]);
    this.size += 1;
    return this;
  }

  u16(value: number): this {
    this.parts.push([(value >> 8) & 0xff, value & 0xff]);
    this.size += 2;
    return this;
  }

  raw(bytes: Uint8Array | number[]): this {
    this.parts.push(bytes);
    this.size += bytes.length;
    return this;
  }

  /** A length-prefixed UTF-8 string (§1.5.3). */
  string(text: string): this {
    const encoded = utf8Encode(text);
    if (encoded.length > 0xffff) throw new RangeError("string longer than 65535 bytes");
    return this.u16(encoded.length).raw(encoded);
  }

  get length(): number {
    return this.size;
  }

  packet(firstByte: number): Uint8Array {
    const header = [firstByte, ...remainingLengthBytes(this.size)];
    const out = new Uint8Array(header.length + this.size);
    out.set(header, 0);
    let at = header.length;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

function checkPacketId(id: number | undefined): number {
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff) throw new RangeError(`packet id ${id} must be 1–65535`);
  return id;
}

function checkTopicName(topic: string): void {
  if (topic.length === 0) throw new RangeError("empty topic");
  if (topic.includes("+") || topic.includes("#")) throw new RangeError(`wildcard in topic name "${topic}"`);
  if (topic.includes("\u0000")) throw new RangeError("NUL in topic");
}

export function encodeConnect(options: ConnectOptions): Uint8Array {
  if (!Number.isInteger(options.keepAliveSec) || options.keepAliveSec < 0 || options.keepAliveSec > 0xffff) {
    throw new RangeError(`keep-alive ${options.keepAliveSec} s out of range`);
  }
  const flags = options.cleanSession ? 0x02 : 0x00;
  return new Bytes().string("MQTT").byte(4).byte(flags).u16(options.keepAliveSec).string(options.clientId).packet(PacketType.CONNECT << 4);
}

export function encodeSubscribe(packetId: number, topicFilter: string, qos: QoS): Uint8Array {
  return new Bytes().u16(checkPacketId(packetId)).string(topicFilter).byte(qos).packet((PacketType.SUBSCRIBE << 4) | 0x02);
}

export function encodePublish(options: PublishOptions): Uint8Array {
  checkTopicName(options.topic);
  const body = new Bytes().string(options.topic);
  if (options.qos > 0) body.u16(checkPacketId(options.packetId));
  body.raw(options.payload);
  const flags = (options.dup ? 0x08 : 0) | (options.qos << 1) | (options.retain ? 0x01 : 0);
  return body.packet((PacketType.PUBLISH << 4) | flags);
}

export function encodePuback(packetId: number): Uint8Array {
  return new Bytes().u16(checkPacketId(packetId)).packet(PacketType.PUBACK << 4);
}

export function encodePingreq(): Uint8Array {
  return new Uint8Array([PacketType.PINGREQ << 4, 0]);
}

export function encodeDisconnect(): Uint8Array {
  return new Uint8Array([PacketType.DISCONNECT << 4, 0]);
}

// ---- decoding ---------------------------------------------------------------------------------------

export type DecodeResult = { ok: true; packet: InboundPacket } | { ok: false; reason: string };

const fail = (reason: string): DecodeResult => ({ ok: false, reason });

/** Decodes one complete packet: first byte and body (the bytes after the Remaining Length). */
export function decodePacket(firstByte: number, body: Uint8Array): DecodeResult {
  const type = firstByte >> 4;
  const flags = firstByte & 0x0f;
  const u16 = (at: number) => (body[at]! << 8) | body[at + 1]!;
  switch (type) {
    case PacketType.CONNACK: {
      if (flags !== 0) return fail("CONNACK with reserved flags set");
      if (body.length !== 2) return fail(`CONNACK of ${body.length} bytes (expected 2)`);
      if (body[0]! & 0xfe) return fail("CONNACK acknowledge flags reserved bits set");
      const returnCode = body[1]!;
      if (returnCode > 5) return fail(`CONNACK return code ${returnCode} is not defined`);
      return { ok: true, packet: { type: "connack", sessionPresent: (body[0]! & 1) === 1, returnCode } };
    }
    case PacketType.PUBLISH: {
      const qos = (flags >> 1) & 0x03;
      if (qos === 3) return fail("PUBLISH with QoS 3");
      if (qos === 2) return fail("PUBLISH with QoS 2 (never subscribed at QoS 2)");
      if (body.length < 2) return fail("PUBLISH too short for its topic length");
      const topicLength = u16(0);
      let at = 2 + topicLength;
      if (at > body.length) return fail("PUBLISH topic runs past the packet");
      const topic = utf8Decode(body.subarray(2, at));
      if (topic === undefined) return fail("PUBLISH topic is not valid UTF-8");
      if (topic.length === 0) return fail("PUBLISH with an empty topic");
      if (topic.includes("+") || topic.includes("#")) return fail("PUBLISH topic contains a wildcard");
      let packetId: number | undefined;
      if (qos > 0) {
        if (at + 2 > body.length) return fail("PUBLISH too short for its packet id");
        packetId = u16(at);
        if (packetId === 0) return fail("PUBLISH QoS 1 with packet id 0");
        at += 2;
      }
      return {
        ok: true,
        packet: { type: "publish", topic, payload: body.slice(at), qos: qos as QoS, packetId, retain: (flags & 1) === 1, dup: (flags & 8) === 8 },
      };
    }
    case PacketType.PUBACK: {
      if (flags !== 0) return fail("PUBACK with reserved flags set");
      if (body.length !== 2) return fail(`PUBACK of ${body.length} bytes (expected 2)`);
      return { ok: true, packet: { type: "puback", packetId: u16(0) } };
    }
    case PacketType.SUBACK: {
      if (flags !== 0) return fail("SUBACK with reserved flags set");
      if (body.length < 3) return fail("SUBACK without a return code");
      const returnCodes = Array.from(body.subarray(2));
      for (const code of returnCodes) if (code !== 0 && code !== 1 && code !== 2 && code !== 0x80) return fail(`SUBACK return code ${code} is not defined`);
      return { ok: true, packet: { type: "suback", packetId: u16(0), returnCodes } };
    }
    case PacketType.PINGRESP: {
      if (flags !== 0) return fail("PINGRESP with reserved flags set");
      if (body.length !== 0) return fail("PINGRESP with a body");
      return { ok: true, packet: { type: "pingresp" } };
    }
    default:
      return fail(`packet type ${type} is not one a broker sends to this client`);
  }
}

/**
 * Streaming decoder: push() the bytes as they arrive (any split); whole packets come out in order. Stops at
 * the first error and stays failed (the connection must be closed: the stream can't be resynchronised).
 */
export class PacketReader {
  private buffer = new Uint8Array(0);
  private failed: string | undefined;
  /** Bytes still to drop of an oversized PUBLISH being skipped. */
  private skipping = 0;

  /**
   * maxPacketBytes bounds what one packet may claim, so a bad length can't make us buffer forever. A PUBLISH
   * larger than that is skipped as it streams in (reported in `ignored`), and the next packet is read as
   * usual: a message too large to be an ack must not cost the connection that will carry the real one.
   * Any other oversized packet is an error.
   */
  constructor(private readonly maxPacketBytes: number = 65_536) {}

  push(chunk: Uint8Array): { packets: InboundPacket[]; error?: string; ignored?: string[] } {
    if (this.failed) return { packets: [], error: this.failed };
    if (this.skipping > 0) {
      const dropped = Math.min(this.skipping, chunk.length);
      this.skipping -= dropped;
      chunk = chunk.subarray(dropped);
    }
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    const packets: InboundPacket[] = [];
    const ignored: string[] = [];
    let at = 0;
    for (;;) {
      if (joined.length - at < 2) break;
      // Remaining Length: 1–4 bytes, 7 bits each, continuation bit 0x80.
      let length = 0;
      let multiplier = 1;
      let lengthBytes = 0;
      let complete = false;
      while (at + 1 + lengthBytes < joined.length) {
        const byte = joined[at + 1 + lengthBytes]!;
        length += (byte & 0x7f) * multiplier;
        lengthBytes += 1;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
        if (lengthBytes === 4) return this.fail(packets, "Remaining Length longer than 4 bytes");
        multiplier *= 128;
      }
      if (!complete) break;
      if (length + 1 + lengthBytes > this.maxPacketBytes) {
        if (joined[at]! >> 4 !== PacketType.PUBLISH) return this.fail(packets, `packet of ${length} bytes exceeds the ${this.maxPacketBytes}-byte limit`);
        ignored.push(`PUBLISH of ${length} bytes ignored: over the ${this.maxPacketBytes}-byte limit`);
        const total = 1 + lengthBytes + length;
        const here = Math.min(total, joined.length - at);
        this.skipping = total - here;
        at += here;
        if (this.skipping > 0) break;
        continue;
      }
      const end = at + 1 + lengthBytes + length;
      if (end > joined.length) break;
      const result = decodePacket(joined[at]!, joined.subarray(at + 1 + lengthBytes, end));
      if (!result.ok) return this.fail(packets, result.reason);
      packets.push(result.packet);
      at = end;
    }
    this.buffer = joined.slice(at);
    return ignored.length > 0 ? { packets, ignored } : { packets };
  }

  private fail(packets: InboundPacket[], reason: string): { packets: InboundPacket[]; error: string } {
    this.failed = reason;
    this.buffer = new Uint8Array(0);
    return { packets, error: reason };
  }
}
