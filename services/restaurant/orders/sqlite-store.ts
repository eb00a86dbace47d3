// The order book in one SQLite file (the default: nothing to install). better-sqlite3 is synchronous; a
// transaction here holds the file's write lock from BEGIN IMMEDIATE to COMMIT, and transactions are queued
// so two never interleave on the one connection.
import { OrderDb } from "./order-db";
import type { OrderStore, OrderTransaction, StoredOrder, WaitingPage } from "./order-store";

export class SqliteOrderStore implements OrderStore {
  readonly description: string;
  readonly db: OrderDb;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: { path: string; instance?: string }) {
    this.db = new OrderDb(options);
    this.description = `sqlite:${options.path}`;
  }

  async find(orderId: string): Promise<StoredOrder | undefined> {
    return this.db.find(orderId);
  }

  transaction<T>(work: (tx: OrderTransaction) => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => this.#run(work));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #run<T>(work: (tx: OrderTransaction) => Promise<T>): Promise<T> {
    const db = this.db;
    const tx: OrderTransaction = {
      find: async (orderId) => db.find(orderId),
      insertReceived: async (order) => db.insertReceived(order),
      recordDecision: async (orderId, decision) => db.recordDecision(orderId, decision),
      markCancelled: async (orderId, by) => db.markCancelled(orderId, by),
      lockRequestBucket: async (thing, fresh) => db.lockRequestBucket(thing, fresh),
      saveRequestBucket: async (thing, state) => db.saveRequestBucket(thing, state),
    };
    db.begin();
    try {
      const result = await work(tx);
      db.commit();
      return result;
    } catch (error) {
      db.rollback();
      throw error;
    }
  }

  async markAcked(orderId: string, at: number): Promise<void> {
    this.db.markAcked(orderId, at);
  }

  async unacked(): Promise<StoredOrder[]> {
    return this.db.unacked();
  }

  async undecided(): Promise<StoredOrder[]> {
    return this.db.undecided();
  }

  async waiting(page: { offset: number; limit: number }): Promise<WaitingPage> {
    return this.db.waiting(page);
  }

  async recentlyDecided(limit: number): Promise<StoredOrder[]> {
    return this.db.recentlyDecided(limit);
  }

  async all(): Promise<StoredOrder[]> {
    return this.db.all();
  }

  async ping(): Promise<void> {
    this.db.schemaVersion();
  }

  /** One process per file: nobody else changes it. */
  onChange(): void {}

  async close(): Promise<void> {
    await this.#queue;
    this.db.close();
  }
}
