// The restaurant's order book in SQLite. One row per message a button sent (orders and cancels alike),
// keyed by its orderId: the UNIQUE key is what makes "one press is never two pizzas" hold even if the
// same order arrives twice, concurrently, or across a restart.
//
// A row moves through three recorded steps:
//   received (status NULL)  →  decided (status + the exact ack text)  →  acked (the broker took the ack).
// For the auto-accept policy the first two happen in one transaction. A restart finds every row that was
// decided but not acked and publishes its stored ack again; a repeat of an orderId gets the stored ack.
// Sending an ack twice is harmless (orderIds never repeat, the device ignores an ack it is not waiting for);
// deciding twice is impossible (the decision is only written WHERE status IS NULL).
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { ClickType } from "../../modules/core/config";
import type { AckStatus } from "../../modules/core/messages";

export interface StoredOrder {
  orderId: string;
  thing: string;
  seq: number;
  action: "order" | "cancel";
  clickType: ClickType;
  item: string | null;
  cancels: string | null;
  batteryVoltage: string | null;
  receivedAt: number;
  /** null while the order awaits a decision (staff). */
  status: AckStatus | null;
  etaMin: number | null;
  reason: string | null;
  decidedAt: number | null;
  /** The ack exactly as first published. */
  ack: string | null;
  /** When the broker confirmed (PUBACK) the ack; null = must be (re)published. */
  ackedAt: number | null;
  /** For an accepted order: the orderId of the cancel that cancelled it. */
  cancelledBy: string | null;
}

export interface NewOrderRow {
  orderId: string;
  thing: string;
  seq: number;
  action: "order" | "cancel";
  clickType: ClickType;
  item?: string;
  cancels?: string;
  batteryVoltage?: string;
  receivedAt: number;
}

/** One page of the requests waiting for a decision, oldest first, and how many wait in all. */
export interface WaitingPage {
  total: number;
  offset: number;
  orders: StoredOrder[];
}

export interface DecisionRow {
  status: AckStatus;
  etaMin?: number;
  reason?: string;
  ack: string;
  decidedAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS orders (
  order_id        TEXT    NOT NULL PRIMARY KEY,
  thing           TEXT    NOT NULL,
  seq             INTEGER NOT NULL,
  action          TEXT    NOT NULL CHECK (action IN ('order', 'cancel')),
  click_type      TEXT    NOT NULL,
  item            TEXT,
  cancels         TEXT,
  battery_voltage TEXT,
  received_at     INTEGER NOT NULL,
  status          TEXT    CHECK (status IN ('accepted', 'rejected', 'cancelled', 'cancel-refused')),
  eta_min         INTEGER,
  reason          TEXT,
  decided_at      INTEGER,
  ack             TEXT,
  acked_at        INTEGER,
  cancelled_by    TEXT,
  UNIQUE (order_id),
  CHECK ((status IS NULL) = (ack IS NULL))
);
CREATE INDEX IF NOT EXISTS orders_unacked ON orders (acked_at) WHERE acked_at IS NULL;
-- The kitchen page reads one page of the waiting list and the latest decisions, however many rows there are.
CREATE INDEX IF NOT EXISTS orders_waiting ON orders (received_at) WHERE status IS NULL;
CREATE INDEX IF NOT EXISTS orders_decided ON orders (decided_at) WHERE status IS NOT NULL;
`;

type Row = {
  order_id: string;
  thing: string;
  seq: number;
  action: "order" | "cancel";
  click_type: ClickType;
  item: string | null;
  cancels: string | null;
  battery_voltage: string | null;
  received_at: number;
  status: AckStatus | null;
  eta_min: number | null;
  reason: string | null;
  decided_at: number | null;
  ack: string | null;
  acked_at: number | null;
  cancelled_by: string | null;
};

function fromRow(row: Row): StoredOrder {
  return {
    orderId: row.order_id,
    thing: row.thing,
    seq: row.seq,
    action: row.action,
    clickType: row.click_type,
    item: row.item,
    cancels: row.cancels,
    batteryVoltage: row.battery_voltage,
    receivedAt: row.received_at,
    status: row.status,
    etaMin: row.eta_min,
    reason: row.reason,
    decidedAt: row.decided_at,
    ack: row.ack,
    ackedAt: row.acked_at,
    cancelledBy: row.cancelled_by,
  };
}

export class OrderDb {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #find: Database.Statement<[string], Row>;
  readonly #insert: Database.Statement;
  readonly #decide: Database.Statement;
  readonly #cancel: Database.Statement;
  readonly #acked: Database.Statement;

  constructor(options: { path: string }) {
    this.path = options.path;
    if (options.path !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(options.path)), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma("journal_mode = WAL");
    // FULL: a commit is on disk when it returns, so an ack is never published for a row a crash could lose.
    this.#db.pragma("synchronous = FULL");
    this.#db.pragma("busy_timeout = 5000");
    this.#db.exec(SCHEMA);
    this.#find = this.#db.prepare("SELECT * FROM orders WHERE order_id = ?");
    this.#insert = this.#db.prepare(
      `INSERT INTO orders (order_id, thing, seq, action, click_type, item, cancels, battery_voltage, received_at)
       VALUES (@orderId, @thing, @seq, @action, @clickType, @item, @cancels, @batteryVoltage, @receivedAt)
       ON CONFLICT (order_id) DO NOTHING`,
    );
    this.#decide = this.#db.prepare(
      `UPDATE orders SET status = @status, eta_min = @etaMin, reason = @reason, ack = @ack, decided_at = @decidedAt
       WHERE order_id = @orderId AND status IS NULL`,
    );
    this.#cancel = this.#db.prepare(
      `UPDATE orders SET cancelled_by = @by
       WHERE order_id = @orderId AND action = 'order' AND status = 'accepted' AND cancelled_by IS NULL`,
    );
    this.#acked = this.#db.prepare("UPDATE orders SET acked_at = @at WHERE order_id = @orderId AND acked_at IS NULL");
  }

  find(orderId: string): StoredOrder | undefined {
    const row = this.#find.get(orderId);
    return row ? fromRow(row) : undefined;
  }

  /** Runs `work` in one transaction: all of its writes commit together or not at all. */
  transaction<T>(work: () => T): T {
    return this.#db.transaction(work)();
  }

  /** Inserts a received message; false if its orderId is already stored (the UNIQUE key decides). */
  insertReceived(order: NewOrderRow): boolean {
    const result = this.#insert.run({
        item: null,
        cancels: null,
        batteryVoltage: null,
        ...order,
      });
    return result.changes === 1;
  }

  /** Records the decision and its ack; false if the row was already decided (never decided twice). */
  recordDecision(orderId: string, decision: DecisionRow): boolean {
    const result = this.#decide.run({
      orderId,
      status: decision.status,
      etaMin: decision.etaMin ?? null,
      reason: decision.reason ?? null,
      ack: decision.ack,
      decidedAt: decision.decidedAt,
    });
    return result.changes === 1;
  }

  /** Marks an accepted, not yet cancelled order as cancelled by `by`; false if it was not in that state. */
  markCancelled(orderId: string, by: string): boolean {
    return this.#cancel.run({ orderId, by }).changes === 1;
  }

  markAcked(orderId: string, at: number): void {
    this.#acked.run({ orderId, at });
  }

  /** Decided rows whose ack the broker has not confirmed yet, oldest first. */
  unacked(): StoredOrder[] {
    return (
      this.#db.prepare("SELECT * FROM orders WHERE ack IS NOT NULL AND acked_at IS NULL ORDER BY received_at").all() as Row[]
    ).map(fromRow);
  }

  /** Rows still waiting for a decision, oldest first. */
  undecided(): StoredOrder[] {
    return (this.#db.prepare("SELECT * FROM orders WHERE status IS NULL ORDER BY received_at").all() as Row[]).map(fromRow);
  }

  /** `limit` waiting rows from `offset`, oldest first (ties in arrival order), and the total waiting. */
  waiting(page: { offset: number; limit: number }): WaitingPage {
    const total = (this.#db.prepare("SELECT COUNT(*) AS n FROM orders WHERE status IS NULL").get() as { n: number }).n;
    const rows = this.#db
      .prepare("SELECT * FROM orders WHERE status IS NULL ORDER BY received_at, rowid LIMIT ? OFFSET ?")
      .all(page.limit, page.offset) as Row[];
    return { total, offset: page.offset, orders: rows.map(fromRow) };
  }

  /** The `limit` most recently decided rows, latest first. */
  recentlyDecided(limit: number): StoredOrder[] {
    return (
      this.#db.prepare("SELECT * FROM orders WHERE status IS NOT NULL ORDER BY decided_at DESC, rowid DESC LIMIT ?").all(limit) as Row[]
    ).map(fromRow);
  }

  all(): StoredOrder[] {
    return (this.#db.prepare("SELECT * FROM orders ORDER BY received_at, rowid").all() as Row[]).map(fromRow);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
