import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  MAX_MESSAGE_BYTES,
  decodeAck,
  decodeOrder,
  encodeAck,
  encodeOrder,
  isValidOrderId,
  makeOrderId,
  type AckMessage,
  type OrderMessage,
} from "../../../modules/core/messages";
import { utf8Decode, utf8Encode } from "../../../modules/core/utf8";

const json = (value: unknown) => utf8Encode(JSON.stringify(value));

const order: OrderMessage = {
  serialNumber: "pizza-button-01",
  clickType: "SINGLE",
  batteryVoltage: "3012mV",
  v: 1,
  orderId: "pizza-button-01-42",
  seq: 42,
  action: "order",
  item: "margherita",
};
const cancel: OrderMessage = {
  serialNumber: "pizza-button-01",
  clickType: "LONG",
  v: 1,
  orderId: "pizza-button-01-43",
  seq: 43,
  action: "cancel",
  cancels: "pizza-button-01-42",
};
const ack: AckMessage = { v: 1, orderId: "pizza-button-01-42", status: "accepted", etaMin: 25 };

describe("encodeOrder", () => {
  it("produces the documented wire format, AWS IoT Button fields first", () => {
    expect(utf8Decode(encodeOrder(order))).toBe(
      '{"serialNumber":"pizza-button-01","clickType":"SINGLE","batteryVoltage":"3012mV",' +
        '"v":1,"orderId":"pizza-button-01-42","seq":42,"action":"order","item":"margherita"}',
    );
  });

  it("omits batteryVoltage when unknown and writes cancels for a cancel", () => {
    expect(utf8Decode(encodeOrder(cancel))).toBe(
      '{"serialNumber":"pizza-button-01","clickType":"LONG","v":1,"orderId":"pizza-button-01-43",' +
        '"seq":43,"action":"cancel","cancels":"pizza-button-01-42"}',
    );
  });

  it("throws rather than emit a message over 512 bytes", () => {
    expect(() => encodeOrder({ ...order, item: "x".repeat(600) })).toThrow(/too large/);
  });

  it("accepts a message of exactly 512 bytes and refuses 513", () => {
    const base = encodeOrder({ ...order, item: "x" }).length;
    const fits = encodeOrder({ ...order, item: "x".repeat(1 + MAX_MESSAGE_BYTES - base) });
    expect(fits.length).toBe(MAX_MESSAGE_BYTES);
    expect(() => encodeOrder({ ...order, item: "x".repeat(2 + MAX_MESSAGE_BYTES - base) })).toThrow();
  });

  it("throws on a message the decoder would refuse", () => {
    expect(() => encodeOrder({ ...order, orderId: "pizza-button-01-41" })).toThrow(/orderId/);
    expect(() => encodeOrder({ ...order, item: "" })).toThrow(/item is empty/);
  });

  it("counts bytes, not characters", () => {
    // 200 × "€" is 200 characters but 600 bytes.
    expect(() => encodeOrder({ ...order, item: "€".repeat(200) })).toThrow(/too large/);
  });
});

describe("decodeOrder", () => {
  it("decodes an order and a cancel", () => {
    expect(decodeOrder(encodeOrder(order))).toEqual({ ok: true, value: order });
    expect(decodeOrder(encodeOrder(cancel))).toEqual({ ok: true, value: cancel });
  });

  it("decodes the documented example verbatim", () => {
    const text =
      '{"serialNumber":"pizza-button-01","clickType":"SINGLE","batteryVoltage":"3012mV",\n' +
      ' "v":1,"orderId":"pizza-button-01-42","seq":42,"action":"order","item":"margherita"}';
    expect(decodeOrder(utf8Encode(text))).toEqual({ ok: true, value: order });
  });

  it("ignores and drops unknown extra fields (forward compatibility)", () => {
    const r = decodeOrder(json({ ...order, colour: "red", extra: { nested: true } }));
    expect(r).toEqual({ ok: true, value: order });
  });

  it("accepts seq 0", () => {
    const r = decodeOrder(json({ ...order, seq: 0, orderId: "pizza-button-01-0" }));
    expect(r.ok).toBe(true);
  });

  const { batteryVoltage: _bv, ...noBattery } = order;
  const { item: _item, ...orderNoItem } = order as Extract<OrderMessage, { action: "order" }>;
  const { cancels: _c, ...cancelNoCancels } = cancel as Extract<OrderMessage, { action: "cancel" }>;
  const without = (key: string) => {
    const copy: Record<string, unknown> = { ...order };
    delete copy[key];
    return json(copy);
  };

  const cases: [string, Uint8Array, RegExp][] = [
    ["oversized (513 bytes of spaces)", utf8Encode(" ".repeat(513)), /too large: 513 bytes/],
    ["oversized even if valid JSON", json({ ...order, pad: "x".repeat(600) }), /too large/],
    ["empty payload", new Uint8Array(0), /empty payload/],
    ["invalid UTF-8", Uint8Array.from([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
    ["overlong UTF-8", Uint8Array.from([0x7b, 0xc0, 0xa2, 0x7d]), /not valid UTF-8/],
    ["malformed JSON", utf8Encode('{"v":1,'), /malformed JSON/],
    ["trailing garbage", utf8Encode('{"v":1} x'), /malformed JSON/],
    ["JSON array", json([order]), /not a JSON object/],
    ["JSON null", json(null), /not a JSON object/],
    ["JSON string", json("order"), /not a JSON object/],
    ["JSON number", json(1), /not a JSON object/],
    ["missing v", without("v"), /missing v/],
    ["v = 2", json({ ...order, v: 2 }), /unsupported version/],
    ['v = "1"', json({ ...order, v: "1" }), /unsupported version/],
    ["missing serialNumber", without("serialNumber"), /missing serialNumber/],
    ["numeric serialNumber", json({ ...order, serialNumber: 7 }), /serialNumber must be a string/],
    ["empty serialNumber", json({ ...order, serialNumber: "" }), /serialNumber is empty/],
    ["serialNumber with '/'", json({ ...order, serialNumber: "a/b" }), /not a valid thing name/],
    ["serialNumber with '+'", json({ ...order, serialNumber: "a+" }), /not a valid thing name/],
    ["missing clickType", without("clickType"), /missing clickType/],
    ["lowercase clickType", json({ ...order, clickType: "single" }), /unknown clickType/],
    ["TRIPLE clickType", json({ ...order, clickType: "TRIPLE" }), /unknown clickType/],
    ["numeric batteryVoltage", json({ ...order, batteryVoltage: 3012 }), /batteryVoltage must be a string/],
    ["empty batteryVoltage", json({ ...order, batteryVoltage: "" }), /batteryVoltage is empty/],
    ["null batteryVoltage", json({ ...order, batteryVoltage: null }), /batteryVoltage must be a string/],
    ["missing seq", without("seq"), /missing seq/],
    ['string seq "42"', json({ ...order, seq: "42" }), /seq must be a number/],
    ["fractional seq", json({ ...order, seq: 42.5 }), /non-negative integer/],
    ["negative seq", json({ ...order, seq: -1, orderId: "pizza-button-01--1" }), /non-negative integer/],
    ["unsafe seq", json({ ...order, seq: 2 ** 53, orderId: `pizza-button-01-${2 ** 53}` }), /non-negative integer/],
    ["missing orderId", without("orderId"), /missing orderId/],
    ["empty orderId", json({ ...order, orderId: "" }), /orderId is empty/],
    ["orderId for another seq", json({ ...order, orderId: "pizza-button-01-41" }), /orderId does not match/],
    ["orderId for another thing", json({ ...order, orderId: "other-42" }), /orderId does not match/],
    ["missing action", without("action"), /missing action/],
    ["unknown action", json({ ...order, action: "refund" }), /unknown action/],
    ["order without item", json(orderNoItem), /missing item/],
    ["order with empty item", json({ ...order, item: "" }), /item is empty/],
    ["order with numeric item", json({ ...order, item: 5 }), /item must be a string/],
    ["item with control char", json({ ...order, item: "marg\nherita" }), /control characters/],
    ["order carrying cancels", json({ ...order, cancels: "pizza-button-01-1" }), /must not carry cancels/],
    ["cancel without cancels", json(cancelNoCancels), /missing cancels/],
    ["cancel with empty cancels", json({ ...cancel, cancels: "" }), /cancels is empty/],
    ["cancel of a non-orderId", json({ ...cancel, cancels: "last one" }), /cancels is not an orderId/],
    ["cancel carrying item", json({ ...cancel, item: "margherita" }), /must not carry item/],
  ];

  it.each(cases)("rejects %s", (_name, payload, reason) => {
    const r = decodeOrder(payload);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it("accepts a missing batteryVoltage", () => {
    expect(decodeOrder(json(noBattery))).toEqual({ ok: true, value: noBattery });
  });

  it("checks size before parsing (a 513-byte non-UTF-8 payload is 'too large', not 'not UTF-8')", () => {
    const r = decodeOrder(new Uint8Array(513).fill(0xff));
    expect(r).toEqual({ ok: false, reason: "too large: 513 bytes > 512" });
  });
});

describe("encodeAck / decodeAck", () => {
  it("encodes the documented ack", () => {
    expect(utf8Decode(encodeAck(ack))).toBe('{"v":1,"orderId":"pizza-button-01-42","status":"accepted","etaMin":25}');
  });

  it.each<AckMessage>([
    ack,
    { v: 1, orderId: "pizza-button-01-42", status: "rejected", reason: "closed" },
    { v: 1, orderId: "pizza-button-01-43", status: "cancelled" },
    { v: 1, orderId: "pizza-button-01-43", status: "cancel-refused", reason: "already in the oven" },
    { v: 1, orderId: "a-0", status: "accepted", etaMin: 0 },
  ])("round-trips %j", (a) => {
    expect(decodeAck(encodeAck(a))).toEqual({ ok: true, value: a });
  });

  it("ignores unknown extra fields", () => {
    expect(decodeAck(json({ ...ack, kitchen: 3 }))).toEqual({ ok: true, value: ack });
  });

  const ackCases: [string, unknown, RegExp][] = [
    ["missing v", { orderId: ack.orderId, status: "accepted" }, /missing v/],
    ["v = 0", { ...ack, v: 0 }, /unsupported version/],
    ["missing orderId", { v: 1, status: "accepted" }, /missing orderId/],
    ["numeric orderId", { ...ack, orderId: 42 }, /orderId must be a string/],
    ["orderId without seq", { ...ack, orderId: "pizza-button-01" }, /orderId is not thing-seq/],
    ["orderId with leading-zero seq", { ...ack, orderId: "pizza-button-01-042" }, /orderId is not thing-seq/],
    ["missing status", { v: 1, orderId: ack.orderId }, /missing status/],
    ["unknown status", { ...ack, status: "ACCEPTED" }, /unknown status/],
    ["string etaMin", { ...ack, etaMin: "25" }, /etaMin must be a number/],
    ["negative etaMin", { ...ack, etaMin: -5 }, /non-negative integer/],
    ["fractional etaMin", { ...ack, etaMin: 2.5 }, /non-negative integer/],
    ["empty reason", { ...ack, reason: "" }, /reason is empty/],
    ["numeric reason", { ...ack, reason: 1 }, /reason must be a string/],
    ["array", [ack], /not a JSON object/],
  ];

  it.each(ackCases)("rejects %s", (_name, value, reason) => {
    const r = decodeAck(json(value));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it("rejects oversized and non-UTF-8 acks", () => {
    expect(decodeAck(json({ ...ack, reason: "r".repeat(600) }))).toMatchObject({ ok: false, reason: /too large/ });
    expect(decodeAck(Uint8Array.from([0xed, 0xa0, 0x80]))).toEqual({ ok: false, reason: "not valid UTF-8" });
  });

  it("throws when encoding an invalid ack", () => {
    expect(() => encodeAck({ ...ack, etaMin: -1 })).toThrow(/etaMin/);
    expect(() => encodeAck({ ...ack, reason: "x".repeat(600) })).toThrow(/too large/);
  });
});

describe("orderId helpers", () => {
  it("builds and recognises thing-seq ids", () => {
    expect(makeOrderId("pizza-button-01", 7)).toBe("pizza-button-01-7");
    expect(isValidOrderId("pizza-button-01-7")).toBe(true);
    expect(isValidOrderId("pizza-button-01-")).toBe(false);
    expect(isValidOrderId("-7")).toBe(false);
    expect(isValidOrderId("a/b-7")).toBe(false);
    expect(isValidOrderId(`a-${2 ** 53}`)).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------ properties

const thingName = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
const field = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s));
const arbOrder: fc.Arbitrary<OrderMessage> = fc
  .record({
    thing: thingName,
    seq: fc.nat({ max: 1e9 }),
    clickType: fc.constantFrom("SINGLE" as const, "DOUBLE" as const, "LONG" as const),
    batteryVoltage: fc.option(field, { nil: undefined }),
    cancel: fc.boolean(),
    item: field,
    cancelSeq: fc.nat({ max: 1e9 }),
  })
  .map(({ thing, seq, clickType, batteryVoltage, cancel, item, cancelSeq }) => {
    const common = {
      serialNumber: thing,
      clickType,
      ...(batteryVoltage !== undefined ? { batteryVoltage } : {}),
      v: 1 as const,
      orderId: makeOrderId(thing, seq),
      seq,
    };
    return cancel
      ? { ...common, action: "cancel" as const, cancels: makeOrderId(thing, cancelSeq) }
      : { ...common, action: "order" as const, item };
  });

describe("codec properties", () => {
  it("decodeOrder(encodeOrder(o)) = o for every valid order", () => {
    fc.assert(
      fc.property(arbOrder, (o) => {
        expect(decodeOrder(encodeOrder(o))).toEqual({ ok: true, value: o });
      }),
    );
  });

  it("decodeAck(encodeAck(a)) = a for every valid ack", () => {
    const arbAck = fc.record(
      {
        v: fc.constant(1 as const),
        orderId: fc.tuple(thingName, fc.nat()).map(([t, s]) => makeOrderId(t, s)),
        status: fc.constantFrom("accepted" as const, "rejected" as const, "cancelled" as const, "cancel-refused" as const),
        etaMin: fc.nat({ max: 1000 }),
        reason: field,
      },
      { requiredKeys: ["v", "orderId", "status"] },
    );
    fc.assert(
      fc.property(arbAck, (a) => {
        expect(decodeAck(encodeAck(a))).toEqual({ ok: true, value: a });
      }),
    );
  });

  it("decoders never throw on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const o = decodeOrder(b);
        const a = decodeAck(b);
        expect(typeof o.ok).toBe("boolean");
        expect(typeof a.ok).toBe("boolean");
        if (!o.ok) expect(o.reason.length).toBeGreaterThan(0);
        if (!a.ok) expect(a.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("decoders never throw on arbitrary JSON values, and anything accepted re-encodes identically", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const payload = json(value);
        const o = decodeOrder(payload);
        const a = decodeAck(payload);
        if (o.ok) expect(decodeOrder(encodeOrder(o.value))).toEqual(o);
        if (a.ok) expect(decodeAck(encodeAck(a.value))).toEqual(a);
      }),
    );
  });

  it("mutating one field of a valid order to a random JSON value never throws and never yields a different valid order silently", () => {
    const keys = ["serialNumber", "clickType", "batteryVoltage", "v", "orderId", "seq", "action", "item", "cancels"];
    fc.assert(
      fc.property(arbOrder, fc.constantFrom(...keys), fc.jsonValue(), (o, key, value) => {
        const mutated: Record<string, unknown> = { ...o, [key]: value };
        const r = decodeOrder(json(mutated));
        if (r.ok) {
          // Whatever is accepted must be exactly what was sent, field by field.
          for (const [k, v] of Object.entries(r.value)) expect(mutated[k]).toEqual(v);
        }
      }),
    );
  });
});
