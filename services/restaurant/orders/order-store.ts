// The order book as the order desk sees it, whichever database holds it: SQLite (sqlite-store.ts, one
// file, the default) or PostgreSQL (postgres-store.ts, shared by several restaurant instances). One row per
// message a button sent (orders and cancels alike), keyed by its orderId: the primary key is what makes
// "one press is never two pizzas" hold even if the same order arrives twice, concurrently, on two
// instances, or across a restart.
//
// A row moves through three recorded steps:
//   received (status NULL)  →  decided (status + the exact ack text)  →  acked (the broker took the ack).
// Deciding twice is impossible (a decision is only written WHERE status IS NULL); an ack is published only
// after the transaction that decided it committed.
import type { ClickType } from "../../../modules/core/config";
import type { AckStatus } from "../../../modules/core/messages";
import type { BucketState } from "../../token-bucket";

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

export type { BucketState } from "../../token-bucket";

/** The writes that must commit together (inside OrderStore.transaction). */
export interface OrderTransaction {
  find(orderId: string): Promise<StoredOrder | undefined>;
  /** Inserts a received message; false if its orderId is already stored (the primary key decides). */
  insertReceived(order: NewOrderRow): Promise<boolean>;
  /** Records the decision and its ack; false if the row was already decided (never decided twice). */
  recordDecision(orderId: string, decision: DecisionRow): Promise<boolean>;
  /** Marks an accepted, not yet cancelled order as cancelled by `by`; false if it was not in that state. */
  markCancelled(orderId: string, by: string): Promise<boolean>;
  /**
   * The thing's request bucket, created as `fresh` if it has none, locked until this transaction ends: every
   * instance on the database counts a thing's requests in the one bucket, one transaction after the other.
   */
  lockRequestBucket(thing: string, fresh: BucketState): Promise<BucketState>;
  saveRequestBucket(thing: string, state: BucketState): Promise<void>;
}

export interface OrderStore {
  /** Where the orders are, for logs (never a password). */
  readonly description: string;
  find(orderId: string): Promise<StoredOrder | undefined>;
  /** Runs `work` in one transaction: all of its writes commit together or not at all. */
  transaction<T>(work: (tx: OrderTransaction) => Promise<T>): Promise<T>;
  markAcked(orderId: string, at: number): Promise<void>;
  /** Decided rows whose ack the broker has not confirmed yet, oldest first. */
  unacked(): Promise<StoredOrder[]>;
  /** Rows still waiting for a decision, oldest first. */
  undecided(): Promise<StoredOrder[]>;
  /** `limit` waiting rows from `offset`, oldest first (ties in arrival order), and the total waiting. */
  waiting(page: { offset: number; limit: number }): Promise<WaitingPage>;
  /** The `limit` most recently decided rows, latest first. */
  recentlyDecided(limit: number): Promise<StoredOrder[]>;
  all(): Promise<StoredOrder[]>;
  /** Resolves when the database answers a query; rejects with the reason otherwise. */
  ping(): Promise<void>;
  /**
   * Rows another process changed (received or decided), as they commit: how every instance's kitchen page
   * shows every order. A store only one process uses never calls it.
   */
  onChange(listener: (orderId: string) => void): void;
  close(): Promise<void>;
}

/** A `--db` value names PostgreSQL when it is a postgres:// or postgresql:// URL; anything else is a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** The URL without its password, for logs. */
export function redactDbUrl(db: string): string {
  if (!isPostgresUrl(db)) return db;
  try {
    const url = new URL(db);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}
