// `--db` → the order store: a postgres:// URL opens PostgreSQL (several instances may share it), anything
// else is a SQLite file (created if missing). The PostgreSQL client is loaded only for a postgres:// URL: the
// default (SQLite) restaurant and the simulator do not pay its start-up.
import { isPostgresUrl, type OrderStore } from "./order-store";
import { SqliteOrderStore } from "./sqlite-store";

export async function openOrderStore(options: { db: string; instance?: string; onError?: (error: Error) => void }): Promise<OrderStore> {
  if (isPostgresUrl(options.db)) {
    const { PostgresOrderStore } = await import("./postgres-store");
    return PostgresOrderStore.open({
      url: options.db,
      ...(options.instance !== undefined ? { instance: options.instance } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  return new SqliteOrderStore({ path: options.db, ...(options.instance !== undefined ? { instance: options.instance } : {}) });
}
