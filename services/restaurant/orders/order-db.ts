// The restaurant's order book in SQLite, synchronous (better-sqlite3); sqlite-store.ts gives it the
// OrderStore interface the order desk uses. One row per message a button sent (orders and cancels alike),
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
import type { ClickType } from "../../../modules/core/config";
import type { AckStatus } from "../../../modules/core/messages";
import { SQLITE_MIGRATIONS } from "./migrations";
import type { BucketState, DecisionRow, NewOrderRow, StoredOrder, WaitingPage } from "./order-store";

export type { DecisionRow, NewOrderRow, StoredOrder, WaitingPage } from "./order-store";

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
  readonly #instance: string | null;
  /** Schema step 2 on: rows record the instance that stored them. */
  readonly #receivedBy: boolean;

  /**
   * `instance` is recorded as received_by on the rows this process stores. `migrateTo` stops the schema at
   * an earlier step (for migration tests); by default every step runs.
   */
  constructor(options: { path: string; instance?: string; migrateTo?: number }) {
    this.path = options.path;
    this.#instance = options.instance ?? null;
    if (options.path !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(options.path)), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma("journal_mode = WAL");
    // FULL: a commit is on disk when it returns, so an ack is never published for a row a crash could lose.
    this.#db.pragma("synchronous = FULL");
    this.#db.pragma("busy_timeout = 5000");
    migrate(this.#db, options.migrateTo ?? SQLITE_MIGRATIONS.length);
    this.#receivedBy = this.schemaVersion() >= 2;
    this.#find = this.#db.prepare("SELECT * FROM orders WHERE order_id = ?");
    this.#insert = this.#db.prepare(
      `INSERT INTO orders (order_id, thing, seq, action, click_type, item, cancels, battery_voltage, received_at${this.#receivedBy ? ", received_by" : ""})
       VALUES (@orderId, @thing, @seq, @action, @clickType, @item, @cancels, @batteryVoltage, @receivedAt${this.#receivedBy ? ", @receivedBy" : ""})
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

  /** An explicit transaction for async callers (sqlite-store.ts): IMMEDIATE takes the write lock at once. */
  begin(): void {
    this.#db.exec("BEGIN IMMEDIATE");
  }

  commit(): void {
    this.#db.exec("COMMIT");
  }

  rollback(): void {
    if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
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
      ...(this.#receivedBy ? { receivedBy: this.#instance } : {}),
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

  /** See OrderTransaction.lockRequestBucket: inside begin()…commit(), which holds the file's write lock. */
  lockRequestBucket(thing: string, fresh: BucketState): BucketState {
    this.#db.prepare("INSERT INTO request_buckets (thing, tokens, at_ms) VALUES (?, ?, ?) ON CONFLICT (thing) DO NOTHING").run(thing, fresh.tokens, fresh.at);
    const row = this.#db.prepare("SELECT tokens, at_ms FROM request_buckets WHERE thing = ?").get(thing) as { tokens: number; at_ms: number };
    return { tokens: row.tokens, at: row.at_ms };
  }

  saveRequestBucket(thing: string, state: BucketState): void {
    this.#db.prepare("UPDATE request_buckets SET tokens = ?, at_ms = ? WHERE thing = ?").run(state.tokens, state.at, thing);
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

  /** The schema step this file is at (PRAGMA user_version). */
  schemaVersion(): number {
    return this.#db.pragma("user_version", { simple: true }) as number;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/** Runs the steps after the file's user_version, each in its own transaction with its version bump. */
function migrate(db: Database.Database, target: number): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SQLITE_MIGRATIONS.length) {
    throw new Error(`order book schema version ${current} is newer than this restaurant knows (${SQLITE_MIGRATIONS.length}): upgrade the restaurant`);
  }
  for (let step = current; step < target; step++) {
    db.transaction(() => {
      db.exec(SQLITE_MIGRATIONS[step]!);
      db.pragma(`user_version = ${step + 1}`);
    })();
  }
}
