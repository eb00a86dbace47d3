import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { OrderDb, type NewOrderRow } from "../../../../../services/restaurant/orders/order-db";
import { removeDir, tempDir } from "../../../integration/fixtures";

const dir = tempDir("orderdb");
afterAll(() => removeDir(dir));

const row = (seq: number): NewOrderRow => ({
  orderId: `pizza-button-01-${seq}`,
  thing: "pizza-button-01",
  seq,
  action: "order",
  clickType: "SINGLE",
  item: "margherita",
  receivedAt: 1_000 + seq,
});
const accepted = (id: string) => ({ status: "accepted" as const, etaMin: 20, ack: `{"v":1,"orderId":"${id}","status":"accepted","etaMin":20}`, decidedAt: 5 });

describe("OrderDb", () => {
  it("stores an orderId once, decides it once, and survives reopening (WAL file on disk)", () => {
    const file = path.join(dir, "a.sqlite");
    const db = new OrderDb({ path: file });
    expect(db.insertReceived(row(1))).toBe(true);
    expect(db.insertReceived({ ...row(1), item: "pepperoni" })).toBe(false);
    expect(db.undecided().map((o) => o.orderId)).toEqual(["pizza-button-01-1"]);
    expect(db.recordDecision("pizza-button-01-1", accepted("pizza-button-01-1"))).toBe(true);
    expect(db.recordDecision("pizza-button-01-1", { status: "rejected", reason: "x", ack: "{}", decidedAt: 6 })).toBe(false);
    expect(db.unacked().map((o) => o.orderId)).toEqual(["pizza-button-01-1"]);
    db.markAcked("pizza-button-01-1", 7);
    db.close();

    const again = new OrderDb({ path: file });
    expect(again.all()).toEqual([
      expect.objectContaining({ orderId: "pizza-button-01-1", item: "margherita", status: "accepted", etaMin: 20, ackedAt: 7 }),
    ]);
    expect(again.unacked()).toEqual([]);
    again.close();
  });

  it("a failed transaction leaves nothing behind", () => {
    const db = new OrderDb({ path: path.join(dir, "b.sqlite") });
    expect(() =>
      db.transaction(() => {
        db.insertReceived(row(2));
        throw new Error("crash between insert and decision");
      }),
    ).toThrow(/crash/);
    expect(db.all()).toEqual([]);
    db.close();
  });

  it("cancels an accepted order only once", () => {
    const db = new OrderDb({ path: path.join(dir, "c.sqlite") });
    db.insertReceived(row(3));
    expect(db.markCancelled("pizza-button-01-3", "pizza-button-01-4")).toBe(false); // not accepted yet
    db.recordDecision("pizza-button-01-3", accepted("pizza-button-01-3"));
    expect(db.markCancelled("pizza-button-01-3", "pizza-button-01-4")).toBe(true);
    expect(db.markCancelled("pizza-button-01-3", "pizza-button-01-5")).toBe(false);
    expect(db.find("pizza-button-01-3")!.cancelledBy).toBe("pizza-button-01-4");
    db.close();
  });
});

describe("OrderDb schema migrations", () => {
  it("an empty file gets every step; a file at the previous step is upgraded in place, its rows kept", async () => {
    const { SQLITE_MIGRATIONS } = await import("../../../../../services/restaurant/orders/migrations");
    const fresh = new OrderDb({ path: path.join(dir, "fresh.sqlite") });
    expect(fresh.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
    fresh.close();

    const file = path.join(dir, "previous.sqlite");
    const old = new OrderDb({ path: file, migrateTo: SQLITE_MIGRATIONS.length - 1 });
    expect(old.schemaVersion()).toBe(SQLITE_MIGRATIONS.length - 1);
    expect(() => old.lockRequestBucket("pizza-button-01", { tokens: 3, at: 0 })).toThrow(/no such table: request_buckets/);
    expect(old.insertReceived(row(1))).toBe(true);
    old.close();
    const upgraded = new OrderDb({ path: file, instance: "restaurant.2" });
    expect(upgraded.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
    expect(upgraded.all()).toEqual([expect.objectContaining({ orderId: "pizza-button-01-1", item: "margherita" })]);
    expect(upgraded.insertReceived(row(2))).toBe(true);
    expect(upgraded.lockRequestBucket("pizza-button-01", { tokens: 3, at: 0 })).toEqual({ tokens: 3, at: 0 });
    upgraded.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT order_id, received_by FROM orders ORDER BY order_id").all()).toEqual([
      { order_id: "pizza-button-01-1", received_by: null },
      { order_id: "pizza-button-01-2", received_by: "restaurant.2" },
    ]);
    raw.close();
  });

  it("a file from a newer restaurant is refused, not downgraded", () => {
    const file = path.join(dir, "newer.sqlite");
    const raw = new Database(file);
    raw.pragma("user_version = 99");
    raw.close();
    expect(() => new OrderDb({ path: file })).toThrow(/schema version 99 is newer than this restaurant knows/);
  });
});
