import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { utf8Decode, utf8Encode } from "../../../modules/core/utf8";

const bytes = (...b: number[]) => Uint8Array.from(b);
/**
 * The reference for the property tests below is the host's WHATWG TextEncoder/TextDecoder. The XS test worker
 * has none (its copy of an older Moddable TextDecoder decodes F4 00 80 80 instead of refusing it), so they run
 * where the host has one: on Node.
 */
const withReference = it.runIf(typeof TextEncoder === "function" && typeof TextDecoder === "function");

describe("utf8Encode", () => {
  it.each([
    ["", []],
    ["A", [0x41]],
    ["é", [0xc3, 0xa9]],
    ["€", [0xe2, 0x82, 0xac]],
    ["🍕", [0xf0, 0x9f, 0x8d, 0x95]],
    ["\u0000", [0x00]],
    ["\u07ff\u0800\uffff", [0xdf, 0xbf, 0xe0, 0xa0, 0x80, 0xef, 0xbf, 0xbf]],
  ])("encodes %j", (s, expected) => {
    expect([...utf8Encode(s)]).toEqual(expected);
  });

  it("replaces lone surrogates with U+FFFD", () => {
    expect([...utf8Encode("\ud800x")]).toEqual([0xef, 0xbf, 0xbd, 0x78]);
    expect([...utf8Encode("\udc00")]).toEqual([0xef, 0xbf, 0xbd]);
    expect([...utf8Encode("a\ud83d")]).toEqual([0x61, 0xef, 0xbf, 0xbd]);
  });

  withReference("matches Node's TextEncoder on arbitrary strings", () => {
    const enc = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
        expect(utf8Encode(s)).toEqual(enc.encode(s));
      }),
    );
  });
});

describe("utf8Decode", () => {
  it("decodes valid sequences", () => {
    expect(utf8Decode(bytes())).toBe("");
    expect(utf8Decode(bytes(0xf0, 0x9f, 0x8d, 0x95))).toBe("🍕");
    expect(utf8Decode(bytes(0xf4, 0x8f, 0xbf, 0xbf))).toBe("\u{10ffff}");
    expect(utf8Decode(bytes(0xed, 0x9f, 0xbf))).toBe("\ud7ff");
    expect(utf8Decode(bytes(0xee, 0x80, 0x80))).toBe("\ue000");
  });

  it.each([
    ["stray continuation byte", [0x80]],
    ["truncated 2-byte", [0xc3]],
    ["truncated 4-byte", [0xf0, 0x9f, 0x8d]],
    ["bad continuation", [0xc3, 0x41]],
    ["overlong 2-byte NUL (C0 80)", [0xc0, 0x80]],
    ["overlong 2-byte (C1 BF)", [0xc1, 0xbf]],
    ["overlong 3-byte", [0xe0, 0x80, 0xaf]],
    ["overlong 4-byte", [0xf0, 0x80, 0x80, 0xaf]],
    ["surrogate D800", [0xed, 0xa0, 0x80]],
    ["surrogate DFFF", [0xed, 0xbf, 0xbf]],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["F5 lead", [0xf5, 0x80, 0x80, 0x80]],
    ["FF byte", [0xff]],
    ["valid then invalid", [0x41, 0x42, 0xfe]],
  ])("rejects %s", (_name, b) => {
    expect(utf8Decode(Uint8Array.from(b))).toBeUndefined();
  });

  it("round-trips every well-formed string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        expect(utf8Decode(utf8Encode(s))).toBe(s);
      }),
    );
  });

  withReference("agrees with a fatal TextDecoder on arbitrary bytes", () => {
    const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        let expected: string | undefined;
        try {
          expected = dec.decode(b);
        } catch {
          expected = undefined;
        }
        expect(utf8Decode(b)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  withReference("agrees with a fatal TextDecoder on mostly-valid multi-byte input", () => {
    const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    const nearlyValid = fc
      .tuple(fc.string({ unit: "binary", maxLength: 20 }), fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([s, pos, byte]) => {
        const b = utf8Encode(s);
        if (b.length > 0) b[pos % b.length] = byte;
        return b;
      });
    fc.assert(
      fc.property(nearlyValid, (b) => {
        let expected: string | undefined;
        try {
          expected = dec.decode(b);
        } catch {
          expected = undefined;
        }
        expect(utf8Decode(b)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("handles long inputs (chunked String.fromCharCode)", () => {
    const s = "ab€🍕".repeat(5000);
    expect(utf8Decode(utf8Encode(s))).toBe(s);
  });
});
