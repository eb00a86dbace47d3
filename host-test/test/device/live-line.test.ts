import { describe, expect, it } from "vitest";
import { fitFields, truncate, visibleWidth } from "../../device/live-line";

describe("live line fitting", () => {
  const fields = [
    "awaiting-ack",
    { long: "last: SINGLE → ok (pizza-button-01-1796026537) in 154 ms", short: "last: SINGLE ok 154 ms" },
    { long: "TCP 1.8 ms TLS 21.07 ms publish→ack 63.2 ms", short: "TLS 21 pub→ack 63 ms" },
  ];

  it("keeps every field in full when they fit", () => {
    expect(fitFields(fields, 200)).toBe(
      "awaiting-ack · last: SINGLE → ok (pizza-button-01-1796026537) in 154 ms · TCP 1.8 ms TLS 21.07 ms publish→ack 63.2 ms",
    );
  });

  it("shortens the least important fields first, then drops them, then cuts the last one left", () => {
    expect(fitFields(fields, 100)).toBe(
      "awaiting-ack · last: SINGLE → ok (pizza-button-01-1796026537) in 154 ms · TLS 21 pub→ack 63 ms",
    );
    expect(fitFields(fields, 60)).toBe("awaiting-ack · last: SINGLE ok 154 ms · TLS 21 pub→ack 63 ms");
    expect(fitFields(fields, 40)).toBe("awaiting-ack · last: SINGLE ok 154 ms");
    expect(fitFields(fields, 20)).toBe("awaiting-ack");
    expect(fitFields(fields, 8)).toBe("awaitin…");
    for (let width = 1; width < 130; width++) expect(visibleWidth(fitFields(fields, width))).toBeLessThanOrEqual(width);
  });

  it("counts columns without escape sequences, one per code point", () => {
    expect(visibleWidth("\x1b[33m●\x1b[0m working")).toBe(9);
    expect(truncate("publish→ack", 6)).toBe("publi…");
  });
});
