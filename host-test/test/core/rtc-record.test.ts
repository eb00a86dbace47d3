// RTC records: framed with a magic, a length and a CRC-32, so power-on garbage and torn writes are refused.
import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter, RTC_FRAME_OVERHEAD, crc32, frameRtcRecord, unframeRtcRecord } from "../../../modules/core/rtc-record";

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

describe("crc32", () => {
  it("is the IEEE CRC-32 of zlib (check value of '123456789')", () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe("RTC record framing", () => {
  const payload = Uint8Array.from([1, 2, 3, 250, 0, 7]);

  it("reads back what it framed, and adds magic, length and CRC", () => {
    const framed = frameRtcRecord("TEST", payload);
    expect(framed.length).toBe(payload.length + RTC_FRAME_OVERHEAD);
    expect(unframeRtcRecord("TEST", framed)).toEqual({ ok: true, payload });
    // Trailing bytes of a fixed-size slot are ignored: the length says where the record ends.
    const inSlot = new Uint8Array(128);
    inSlot.set(framed);
    expect(unframeRtcRecord("TEST", inSlot)).toEqual({ ok: true, payload });
  });

  it("refuses empty memory, another record, a flipped bit, a cut-short record and a lying length", () => {
    const framed = frameRtcRecord("TEST", payload);
    expect(unframeRtcRecord("TEST", undefined)).toEqual({ ok: false, reason: "empty" });
    expect(unframeRtcRecord("TEST", new Uint8Array(0))).toEqual({ ok: false, reason: "empty" });
    expect(unframeRtcRecord("OTHR", framed)).toEqual({ ok: false, reason: "bad magic" });
    for (let i = 6; i < framed.length; i++) {
      const flipped = framed.slice();
      flipped[i] ^= 0x10;
      expect(unframeRtcRecord("TEST", flipped).ok, `bit flipped in byte ${i}`).toBe(false);
    }
    expect(unframeRtcRecord("TEST", framed.slice(0, framed.length - 1))).toMatchObject({ ok: false });
    const long = framed.slice();
    long[5] = 200;
    expect(unframeRtcRecord("TEST", long)).toMatchObject({ ok: false, reason: expect.stringMatching(/exceeds/) });
    expect(unframeRtcRecord("TEST", new Uint8Array(64).fill(0xa5))).toEqual({ ok: false, reason: "bad magic" });
  });

  it("a magic is four characters", () => {
    expect(() => frameRtcRecord("LONGER", payload)).toThrow(/4 ASCII/);
  });
});

describe("ByteWriter / ByteReader", () => {
  it("round-trips integers up to 2^53, byte fields and ASCII", () => {
    const at = 1_767_000_000_123;
    const bytes = new ByteWriter().u8(7).u16(0xbeef).u64(at).u64(Number.MAX_SAFE_INTEGER).bytes(Uint8Array.from([9, 8])).ascii("broker:8883").done();
    const r = new ByteReader(bytes);
    expect([r.u8(), r.u16(), r.u64(), r.u64(), [...r.bytes()], r.ascii(), r.atEnd]).toEqual([7, 0xbeef, at, Number.MAX_SAFE_INTEGER, [9, 8], "broker:8883", true]);
    expect(() => r.u8()).toThrow(/truncated/);
  });

  it("a field holds at most 255 bytes", () => {
    expect(() => new ByteWriter().bytes(new Uint8Array(256))).toThrow(/255/);
  });
});
