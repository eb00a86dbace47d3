// The order book in PostgreSQL, shared by several restaurant instances. The primary key on order_id decides
// which instance stores an order (INSERT … ON CONFLICT DO NOTHING waits for a concurrent insert of the same
// orderId to commit or roll back); a decision is written only WHERE status IS NULL, so a row is decided
// once whichever instance tries. Every insert and decision sends a NOTIFY in its own transaction (delivered
// at commit), tagged with the sender, so the other instances' kitchen pages show it live.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { POSTGRES_MIGRATIONS } from "./migrations";
import { redactDbUrl, type DecisionRow, type NewOrderRow, type OrderStore, type OrderTransaction, type StoredOrder, type WaitingPage } from "./order-store";

const CHANNEL = "restaurant_orders";
/** Any constant: serialises concurrent migrations of instances starting together. */
const MIGRATION_LOCK = 0x70697a7a61;

type Row = Record<string, unknown>;
type Queryable = Pick<pg.PoolClient, "query">;

function num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function fromRow(row: Row): StoredOrder {
  return {
    orderId: row.order_id as string,
    thing: row.thing as string,
    seq: Number(row.seq),
    action: row.action as StoredOrder["action"],
    clickType: row.click_type as StoredOrder["clickType"],
    item: row.item as string | null,
    cancels: row.cancels as string | null,
    batteryVoltage: row.battery_voltage as string | null,
    receivedAt: Number(row.received_at),
    status: row.status as StoredOrder["status"],
    etaMin: num(row.eta_min),
    reason: row.reason as string | null,
    decidedAt: num(row.decided_at),
    ack: row.ack as string | null,
    ackedAt: num(row.acked_at),
    cancelledBy: row.cancelled_by as string | null,
  };
}

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Recorded as received_by on the rows this instance stores. */
  instance?: string;
  /** Stop at an earlier schema step (migration tests). */
  migrateTo?: number;
  /** Connections in the pool. */
  poolSize?: number;
  /** Hears errors of idle connections and of the LISTEN connection (the pool reconnects by itself). */
  onError?: (error: Error) => void;
}

export class PostgresOrderStore implements OrderStore {
  readonly description: string;
  readonly #pool: pg.Pool;
  readonly #instance: string | null;
  readonly #url: string;
  readonly #tag = randomUUID();
  readonly #listeners: Array<(orderId: string) => void> = [];
  readonly #onError: (error: Error) => void;
  #listener: pg.Client | undefined;
  #closed = false;

  private constructor(options: PostgresStoreOptions) {
    this.description = redactDbUrl(options.url);
    this.#instance = options.instance ?? null;
    this.#url = options.url;
    this.#onError = options.onError ?? (() => {});
    this.#pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4, connectionTimeoutMillis: 5_000 });
    this.#pool.on("error", (error) => this.#onError(error));
  }

  /** Connects, runs the migrations the database has not had, and starts listening for other instances' changes. */
  static async open(options: PostgresStoreOptions): Promise<PostgresOrderStore> {
    const store = new PostgresOrderStore(options);
    try {
      await store.#migrate(options.migrateTo ?? POSTGRES_MIGRATIONS.length);
      await store.#listen();
    } catch (error) {
      await store.close();
      throw new Error(`order database ${store.description}: ${(error as Error).message}`);
    }
    return store;
  }

  async schemaVersion(): Promise<number> {
    const result = await this.#pool.query("SELECT coalesce(max(version), 0) AS v FROM schema_migrations");
    return Number(result.rows[0]!.v);
  }

  async #migrate(target: number): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      const done = Number((await client.query("SELECT coalesce(max(version), 0) AS v FROM schema_migrations")).rows[0]!.v);
      if (done > POSTGRES_MIGRATIONS.length) {
        throw new Error(`schema version ${done} is newer than this restaurant knows (${POSTGRES_MIGRATIONS.length}): upgrade the restaurant`);
      }
      for (let step = done; step < target; step++) {
        await client.query(POSTGRES_MIGRATIONS[step]!);
        await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [step + 1]);
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5_000 });
    client.on("error", (error) => {
      this.#onError(error);
      if (!this.#closed) setTimeout(() => void this.#listen().catch((e: Error) => this.#onError(e)), 1_000).unref();
    });
    client.on("notification", (message) => {
      const [tag, orderId] = (message.payload ?? "").split(" ", 2);
      if (tag === this.#tag || !orderId) return;
      for (const listener of this.#listeners) listener(orderId);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.#listener = client;
  }

  onChange(listener: (orderId: string) => void): void {
    this.#listeners.push(listener);
  }

  async find(orderId: string): Promise<StoredOrder | undefined> {
    return findIn(this.#pool, orderId);
  }

  async transaction<T>(work: (tx: OrderTransaction) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    const notify = (orderId: string) => client.query("SELECT pg_notify($1, $2)", [CHANNEL, `${this.#tag} ${orderId}`]);
    const tx: OrderTransaction = {
      find: (orderId) => findIn(client, orderId),
      insertReceived: async (order) => {
        const inserted = await insertIn(client, order, this.#instance);
        if (inserted) await notify(order.orderId);
        return inserted;
      },
      recordDecision: async (orderId, decision) => {
        const decided = await decideIn(client, orderId, decision);
        if (decided) await notify(orderId);
        return decided;
      },
      markCancelled: async (orderId, by) => {
        const result = await client.query(
          "UPDATE orders SET cancelled_by = $2 WHERE order_id = $1 AND action = 'order' AND status = 'accepted' AND cancelled_by IS NULL",
          [orderId, by],
        );
        if (result.rowCount === 1) await notify(orderId);
        return result.rowCount === 1;
      },
      lockRequestBucket: async (thing, fresh) => {
        // Created full if missing (a second instance inserting at once waits, then does nothing), then locked.
        await client.query("INSERT INTO request_buckets (thing, tokens, at_ms) VALUES ($1, $2, $3) ON CONFLICT (thing) DO NOTHING", [thing, fresh.tokens, fresh.at]);
        const row = (await client.query("SELECT tokens, at_ms FROM request_buckets WHERE thing = $1 FOR UPDATE", [thing])).rows[0] as { tokens: number; at_ms: string };
        return { tokens: Number(row.tokens), at: Number(row.at_ms) };
      },
      saveRequestBucket: async (thing, state) => {
        await client.query("UPDATE request_buckets SET tokens = $2, at_ms = $3 WHERE thing = $1", [thing, state.tokens, state.at]);
      },
    };
    try {
      await client.query("BEGIN");
      const result = await work(tx);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async markAcked(orderId: string, at: number): Promise<void> {
    await this.#pool.query("UPDATE orders SET acked_at = $2 WHERE order_id = $1 AND acked_at IS NULL", [orderId, at]);
  }

  async unacked(): Promise<StoredOrder[]> {
    return this.#rows("SELECT * FROM orders WHERE ack IS NOT NULL AND acked_at IS NULL ORDER BY received_at, arrival");
  }

  async undecided(): Promise<StoredOrder[]> {
    return this.#rows("SELECT * FROM orders WHERE status IS NULL ORDER BY received_at, arrival");
  }

  async waiting(page: { offset: number; limit: number }): Promise<WaitingPage> {
    const total = Number((await this.#pool.query("SELECT count(*) AS n FROM orders WHERE status IS NULL")).rows[0]!.n);
    const orders = await this.#rows("SELECT * FROM orders WHERE status IS NULL ORDER BY received_at, arrival LIMIT $1 OFFSET $2", [page.limit, page.offset]);
    return { total, offset: page.offset, orders };
  }

  async recentlyDecided(limit: number): Promise<StoredOrder[]> {
    return this.#rows("SELECT * FROM orders WHERE status IS NOT NULL ORDER BY decided_at DESC, arrival DESC LIMIT $1", [limit]);
  }

  async all(): Promise<StoredOrder[]> {
    return this.#rows("SELECT * FROM orders ORDER BY received_at, arrival");
  }

  async ping(): Promise<void> {
    await this.#pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#listener?.end().catch(() => undefined);
    await this.#pool.end().catch(() => undefined);
  }

  async #rows(sql: string, values: unknown[] = []): Promise<StoredOrder[]> {
    return (await this.#pool.query(sql, values)).rows.map(fromRow);
  }
}

async function findIn(db: Queryable, orderId: string): Promise<StoredOrder | undefined> {
  const result = await db.query("SELECT * FROM orders WHERE order_id = $1", [orderId]);
  return result.rows[0] ? fromRow(result.rows[0] as Row) : undefined;
}

async function insertIn(db: Queryable, order: NewOrderRow, instance: string | null): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO orders (order_id, thing, seq, action, click_type, item, cancels, battery_voltage, received_at, received_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (order_id) DO NOTHING`,
    [order.orderId, order.thing, order.seq, order.action, order.clickType, order.item ?? null, order.cancels ?? null, order.batteryVoltage ?? null, order.receivedAt, instance],
  );
  return result.rowCount === 1;
}

async function decideIn(db: Queryable, orderId: string, decision: DecisionRow): Promise<boolean> {
  const result = await db.query(
    "UPDATE orders SET status = $2, eta_min = $3, reason = $4, ack = $5, decided_at = $6 WHERE order_id = $1 AND status IS NULL",
    [orderId, decision.status, decision.etaMin ?? null, decision.reason ?? null, decision.ack, decision.decidedAt],
  );
  return result.rowCount === 1;
}
