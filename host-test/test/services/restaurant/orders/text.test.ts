// Cutting and cleaning text from and for buttons: never inside a grapheme, never a lone surrogate, no bidi
// or other control characters left.
import { describe, expect, it } from "vitest";
import { cutText, plainText } from "../../../../../services/restaurant/orders/text";
import { shortReason } from "../../../../../services/restaurant/orders/decisions";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe("cutText", () => {
  it("keeps text within both limits as it is", () => {
    expect(cutText("margherita", { maxGraphemes: 10 })).toBe("margherita");
    expect(cutText("\u{1F355}\u{1F355}", { maxGraphemes: 2, maxBytes: 8 })).toBe("\u{1F355}\u{1F355}");
  });

  it("cuts between graphemes: emoji, flags, family sequences and combining accents stay whole", () => {
    const family = "\u{1F468}\u200d\u{1F469}\u200d\u{1F467}"; // one grapheme, 8 UTF-16 units
    const flag = "\u{1F1EE}\u{1F1F9}";
    for (const unit of ["\u{1F355}", family, flag, "e\u0301"]) {
      const cut = cutText(unit.repeat(10), { maxGraphemes: 4 });
      expect(cut).toBe(`${unit.repeat(3)}…`);
      expect(cut).not.toMatch(LONE_SURROGATE);
    }
  });

  it("honours a byte budget, ellipsis included", () => {
    const cut = cutText("\u{1F355}".repeat(50), { maxGraphemes: 100, maxBytes: 20 });
    expect(cut).toBe(`${"\u{1F355}".repeat(4)}…`); // 16 + 3 bytes
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(20);
  });
});

describe("plainText and shortReason", () => {
  it("removes bidi controls and turns other controls into spaces", () => {
    expect(plainText("\u202eazzip\u2066x\u2069\u200f")).toBe("azzipx");
    expect(plainText("a\nb\tc\u0085d")).toBe("a b c d");
  });

  it("a reason for the ack: clean, at most 120 graphemes and 240 bytes, never empty", () => {
    expect(shortReason("  out of\ndough ")).toBe("out of dough");
    expect(shortReason("\u202e")).toBe("refused");
    const long = shortReason("\u{1F355}".repeat(200));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(240);
    expect(long).not.toMatch(LONE_SURROGATE);
    expect(long.endsWith("\u{1F355}…")).toBe(true);
  });
});
