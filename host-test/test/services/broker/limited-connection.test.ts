import { describe, expect, it } from "vitest";
import { MqttFrameScanner } from "../../../../services/broker/limited-connection";
import { ordersOf } from "../../support/topics";

/** MQTT variable byte integer (the fixed header's remaining length). */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}
/** A QoS 0 PUBLISH packet, encoded by hand so the test does not share code with the scanner. */
function publish(payloadBytes: number): Buffer {
  const topic = Buffer.from(ordersOf("pizza-button-01"));
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.alloc(payloadBytes, 0x61)]);
  return Buffer.concat([Buffer.from([0x30, ...varint(body.length)]), body]);
}
const ping = Buffer.from([0xc0, 0x00]);

/** Feeds `bytes` to a fresh scanner in chunks of `chunkSize`; returns the first refusal. */
function scanInChunks(limit: number, bytes: Buffer, chunkSize: number): string | undefined {
  const scanner = new MqttFrameScanner(limit);
  for (let i = 0; i < bytes.length; i += chunkSize) {
    const refusal = scanner.scan(bytes.subarray(i, i + chunkSize));
    if (refusal) return refusal;
  }
  return undefined;
}

describe("MqttFrameScanner", () => {
  it.each([1, 2, 3, 7, 4096])("follows packet boundaries in %i-byte chunks", (chunkSize) => {
    const small = publish(500);
    const stream = Buffer.concat([ping, small, ping, publish(0), small, ping]);
    expect(scanInChunks(small.length, stream, chunkSize)).toBeUndefined();
    // The same stream with one byte less allowed is refused at the first publish.
    expect(scanInChunks(small.length - 1, stream, chunkSize)).toMatch(/exceeds the \d+-byte limit/);
  });

  it("refuses an oversized packet from its header, before the body arrives", () => {
    const big = publish(70_000);
    const scanner = new MqttFrameScanner(64 * 1024);
    expect(scanner.scan(big.subarray(0, 4))).toMatch(/exceeds the 65536-byte limit/);
  });

  it("accepts a packet of exactly the limit", () => {
    const packet = publish(1000);
    expect(scanInChunks(packet.length, Buffer.concat([packet, packet]), 13)).toBeUndefined();
  });

  it("refuses a remaining length longer than four bytes", () => {
    const scanner = new MqttFrameScanner(Number.MAX_SAFE_INTEGER);
    expect(scanner.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe("malformed MQTT remaining length");
  });
});
