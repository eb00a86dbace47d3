import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OrderDb, type NewOrderRow } from "../../../../services/restaurant/order-db";
import { removeDir, tempDir } from "../../integration/fixtures";

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
