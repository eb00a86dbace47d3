// `--db` → the order store: a postgres:// URL opens PostgreSQL (several instances may share it), anything
// else is a SQLite file (created if missing).
import { isPostgresUrl, type OrderStore } from "./order-store";
import { PostgresOrderStore } from "./postgres-store";
import { SqliteOrderStore } from "./sqlite-store";

export async function openOrderStore(options: { db: string; instance?: string; onError?: (error: Error) => void }): Promise<OrderStore> {
  if (isPostgresUrl(options.db)) {
    return PostgresOrderStore.open({
      url: options.db,
      ...(options.instance !== undefined ? { instance: options.instance } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  return new SqliteOrderStore({ path: options.db, ...(options.instance !== undefined ? { instance: options.instance } : {}) });
}
