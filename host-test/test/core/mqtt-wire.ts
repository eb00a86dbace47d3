// A test oracle for MQTT 3.1.1 bytes, written apart from the core's codec (modules/core/mqtt-packets.ts) and
// pure ECMAScript, so the core's MQTT tests run on XS too: it reads what a client sends and writes what a
// broker sends, with mqtt-packet's field names (the Node-only interop tests compare with mqtt-packet itself).

export type WirePacket =
  | { cmd: "connect"; protocolId: string; protocolVersion: number; clean: boolean; keepalive: number; clientId: string }
  | { cmd: "subscribe"; messageId: number; subscriptions: { topic: string; qos: number }[] }
  | { cmd: "publish"; topic: string; payload: Uint8Array; qos: number; messageId?: number; retain: boolean; dup: boolean }
  | { cmd: "puback"; messageId: number }
  | { cmd: "pingreq" }
  | { cmd: "disconnect" };

const text = (bytes: Uint8Array): string => {
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b); // test topics and ids are ASCII
  return out;
};
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** Every packet in a client's byte stream (throws on anything it does not know: the test should fail). */
export function clientPackets(stream: Uint8Array): WirePacket[] {
  const out: WirePacket[] = [];
  let at = 0;
  while (at < stream.length) {
    const first = stream[at]!;
    let length = 0;
    let multiplier = 1;
    let i = at + 1;
    for (;;) {
      const byte = stream[i++]!;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) break;
    }
    const body = stream.subarray(i, i + length);
    at = i + length;
    const u16 = (k: number) => (body[k]! << 8) | body[k + 1]!;
    const str = (k: number) => text(body.subarray(k + 2, k + 2 + u16(k)));
    switch (first >> 4) {
      case 1: {
        const protocolId = str(0);
        const p = 2 + protocolId.length;
        out.push({ cmd: "connect", protocolId, protocolVersion: body[p]!, clean: (body[p + 1]! & 2) === 2, keepalive: u16(p + 2), clientId: str(p + 4) });
        break;
      }
      case 8: {
        const subscriptions: { topic: string; qos: number }[] = [];
        for (let k = 2; k < body.length; ) {
          const topic = str(k);
          k += 2 + topic.length;
          subscriptions.push({ topic, qos: body[k++]! });
        }
        out.push({ cmd: "subscribe", messageId: u16(0), subscriptions });
        break;
      }
      case 3: {
        const qos = (first >> 1) & 3;
        const topic = str(0);
        let k = 2 + topic.length;
        const messageId = qos > 0 ? u16(k) : undefined;
        if (qos > 0) k += 2;
        out.push({ cmd: "publish", topic, qos, messageId, retain: (first & 1) === 1, dup: (first & 8) === 8, payload: body.slice(k) });
        break;
      }
      case 4:
        out.push({ cmd: "puback", messageId: u16(0) });
        break;
      case 12:
        out.push({ cmd: "pingreq" });
        break;
      case 14:
        out.push({ cmd: "disconnect" });
        break;
      default:
        throw new Error(`unexpected client packet type ${first >> 4}`);
    }
  }
  return out;
}

export type BrokerPacket =
  | { cmd: "connack"; returnCode: number; sessionPresent: boolean }
  | { cmd: "suback"; messageId: number; granted: number[] }
  | { cmd: "publish"; topic: string; payload: Uint8Array | string; qos: number; messageId?: number; retain?: boolean; dup?: boolean }
  | { cmd: "puback"; messageId: number }
  | { cmd: "pingresp" };

function frame(first: number, body: number[]): Uint8Array {
  const length: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    length.push(byte);
  } while (n > 0);
  return new Uint8Array([first, ...length, ...body]);
}

/** The bytes a broker sends for one packet. */
export function brokerPacket(p: BrokerPacket): Uint8Array {
  switch (p.cmd) {
    case "connack":
      return frame(0x20, [p.sessionPresent ? 1 : 0, p.returnCode]);
    case "suback":
      return frame(0x90, [p.messageId >> 8, p.messageId & 0xff, ...p.granted]);
    case "publish": {
      const topic = ascii(p.topic);
      const payload = typeof p.payload === "string" ? ascii(p.payload) : Array.from(p.payload);
      const id = p.qos > 0 ? [p.messageId! >> 8, p.messageId! & 0xff] : [];
      const first = 0x30 | (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
      return frame(first, [topic.length >> 8, topic.length & 0xff, ...topic, ...id, ...payload]);
    }
    case "puback":
      return frame(0x40, [p.messageId >> 8, p.messageId & 0xff]);
    case "pingresp":
      return new Uint8Array([0xd0, 0]);
  }
}
