// The order book's schema as numbered steps, one list per engine. A database records the last step it ran
// (SQLite: PRAGMA user_version; PostgreSQL: the schema_migrations table) and a store runs the ones after it
// when it opens, so a new release upgrades an existing order book in place. Steps are only ever appended.
//
// 1  the orders table and the indexes the kitchen page reads with
// 2  received_by: which restaurant instance stored the row (several instances share one database)
// 3  request_buckets: each thing's request limit (a token bucket), shared by every instance

export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS orders (
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
   CREATE INDEX IF NOT EXISTS orders_waiting ON orders (received_at) WHERE status IS NULL;
   CREATE INDEX IF NOT EXISTS orders_decided ON orders (decided_at) WHERE status IS NOT NULL;`,
  `ALTER TABLE orders ADD COLUMN received_by TEXT;`,
  `CREATE TABLE IF NOT EXISTS request_buckets (thing TEXT NOT NULL PRIMARY KEY, tokens REAL NOT NULL, at_ms INTEGER NOT NULL);`,
];

export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE orders (
     order_id        TEXT    NOT NULL PRIMARY KEY,
     arrival         BIGINT  GENERATED ALWAYS AS IDENTITY,
     thing           TEXT    NOT NULL,
     seq             INTEGER NOT NULL,
     action          TEXT    NOT NULL CHECK (action IN ('order', 'cancel')),
     click_type      TEXT    NOT NULL,
     item            TEXT,
     cancels         TEXT,
     battery_voltage TEXT,
     received_at     BIGINT  NOT NULL,
     status          TEXT    CHECK (status IN ('accepted', 'rejected', 'cancelled', 'cancel-refused')),
     eta_min         INTEGER,
     reason          TEXT,
     decided_at      BIGINT,
     ack             TEXT,
     acked_at        BIGINT,
     cancelled_by    TEXT,
     CHECK ((status IS NULL) = (ack IS NULL))
   );
   CREATE INDEX orders_unacked ON orders (received_at) WHERE ack IS NOT NULL AND acked_at IS NULL;
   CREATE INDEX orders_waiting ON orders (received_at, arrival) WHERE status IS NULL;
   CREATE INDEX orders_decided ON orders (decided_at, arrival) WHERE status IS NOT NULL;`,
  `ALTER TABLE orders ADD COLUMN received_by TEXT;`,
  `CREATE TABLE request_buckets (thing TEXT NOT NULL PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, at_ms BIGINT NOT NULL);`,
];

export const SCHEMA_VERSION = SQLITE_MIGRATIONS.length;
