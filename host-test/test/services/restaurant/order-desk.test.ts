// The order desk on an in-memory SQLite order book (the default store); postgres-store.test.ts runs the
// same suite on PostgreSQL.
import { describe, expect, it } from "vitest";
import { parseIncoming } from "../../../../services/restaurant/order-desk";
import { SqliteOrderStore } from "../../../../services/restaurant/orders/sqlite-store";
import { bytes, order, orderDeskSuite, THING } from "./order-desk-suite";
import { acksOf, ordersOf } from "../../support/topics";

const TOPIC = ordersOf(THING);

describe("parseIncoming", () => {
  it("takes the thing from the topic and refuses payloads that claim another thing", async () => {
    expect(parseIncoming("pizza", TOPIC, order(1))).toMatchObject({ ok: true, thing: THING, order: { orderId: `${THING}-1` } });
    expect(parseIncoming("pizza", acksOf("x"), order(1))).toEqual({ ok: false, reason: "not an orders topic of a valid thing name" });
    expect(parseIncoming("pizza", "pizza/orders/a+b", order(1))).toEqual({ ok: false, reason: "not an orders topic of a valid thing name" });
    expect(parseIncoming("pizza", TOPIC, order(1, { serialNumber: "pizza-button-02", orderId: "pizza-button-02-1" }))).toMatchObject({ ok: false, reason: expect.stringContaining("does not match the topic's thing") });
    expect(parseIncoming("pizza", TOPIC, bytes("{nope"))).toMatchObject({ ok: false });
  });
});

orderDeskSuite("SQLite", async () => new SqliteOrderStore({ path: ":memory:" }));
