// The registry store: one SQLite database in the PKI dir (registry.db, WAL mode) holding CAs, things,
// certificates and policy attachments. Every change is one `BEGIN IMMEDIATE` transaction that reads the
// rows, checks and changes them in memory and writes back what changed, so two processes (the PKI CLI, a
// broker attaching default policies, the renewal service) can never interleave: the second waits for the
// first (busy timeout) and then sees its result. Keys, certificates and CRLs stay files; a caller writes
// them inside the transaction before the rows that refer to them. Reads use a second connection and see
// the last committed state.
import Database from "better-sqlite3";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureDir, SECRET_MODE } from "./files";
import { migrateLegacyRegistry } from "./migrate";
import type { CaRecord, CertRecord, RegistryData, ThingRecord, ThingState } from "./records";

export const REGISTRY_DB = "registry.db";
/** Files in a PKI dir whose change can mean new trust or new thing states: the store (a commit writes its
 * write-ahead log; a checkpoint the database) and the CRL bundle. For directory watchers. */
export const PKI_CHANGE_FILES: ReadonlySet<string> = new Set([REGISTRY_DB, `${REGISTRY_DB}-wal`, "crl.pem"]);
/** How long a change waits for another process's transaction before failing. */
const BUSY_TIMEOUT_MS = 30_000;
/** Longest pause between two tries for the write lock (random, so waiting processes do not move in step). */
const BUSY_RETRY_MAX_MS = 8;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cas (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS things (name TEXT PRIMARY KEY, state TEXT NOT NULL, kind TEXT, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS certificates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  fingerprint256 TEXT NOT NULL, thing TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS certificates_by_fingerprint ON certificates (fingerprint256);
CREATE INDEX IF NOT EXISTS certificates_by_thing ON certificates (thing);
CREATE TABLE IF NOT EXISTS attachments (thing TEXT PRIMARY KEY, policies TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS defaulted (thing TEXT PRIMARY KEY);
`;

/** The rows of one transaction as they were read, to write back only what the change touched. */
interface Snapshot {
  data: RegistryData;
  cas: Map<string, string>;
  things: Map<string, string>;
  certificates: Map<number, string>;
  rowOf: WeakMap<CertRecord, number>;
  attachments: Map<string, string>;
  defaulted: Set<string>;
}

function load(db: Database.Database): Snapshot {
  const snap: Snapshot = {
    data: { version: 1, cas: [], things: {}, certificates: [], attachments: {}, defaulted: [] },
    cas: new Map(),
    things: new Map(),
    certificates: new Map(),
    rowOf: new WeakMap(),
    attachments: new Map(),
    defaulted: new Set(),
  };
  for (const row of db.prepare("SELECT id, record FROM cas ORDER BY rowid").all() as { id: string; record: string }[]) {
    snap.cas.set(row.id, row.record);
    snap.data.cas.push(JSON.parse(row.record) as CaRecord);
  }
  for (const row of db.prepare("SELECT name, record FROM things ORDER BY rowid").all() as { name: string; record: string }[]) {
    snap.things.set(row.name, row.record);
    snap.data.things[row.name] = JSON.parse(row.record) as ThingRecord;
  }
  for (const row of db.prepare("SELECT id, record FROM certificates ORDER BY id").all() as { id: number; record: string }[]) {
    const cert = JSON.parse(row.record) as CertRecord;
    snap.certificates.set(row.id, row.record);
    snap.rowOf.set(cert, row.id);
    snap.data.certificates.push(cert);
  }
  for (const row of db.prepare("SELECT thing, policies FROM attachments ORDER BY rowid").all() as { thing: string; policies: string }[]) {
    snap.attachments.set(row.thing, row.policies);
    snap.data.attachments[row.thing] = JSON.parse(row.policies) as string[];
  }
  for (const row of db.prepare("SELECT thing FROM defaulted ORDER BY rowid").all() as { thing: string }[]) {
    snap.defaulted.add(row.thing);
    snap.data.defaulted.push(row.thing);
  }
  return snap;
}

/** Upserts (keeping each row's place: the order of CAs is the order of trust) and deletes by key. */
function saveKeyed(db: Database.Database, table: string, key: string, columns: string[], before: Map<string, string>, after: Map<string, unknown[]>): void {
  const all = [key, ...columns];
  const upsert = db.prepare(
    `INSERT INTO ${table} (${all.join(", ")}) VALUES (${all.map(() => "?").join(", ")}) ` +
      `ON CONFLICT(${key}) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(", ")}`,
  );
  const remove = db.prepare(`DELETE FROM ${table} WHERE ${key} = ?`);
  for (const [k, values] of after) if (before.get(k) !== values[0]) upsert.run(k, ...values);
  for (const k of before.keys()) if (!after.has(k)) remove.run(k);
}

/** Writes back the rows the change added, changed or removed. */
function save(db: Database.Database, snap: Snapshot): void {
  const { data } = snap;
  saveKeyed(db, "cas", "id", ["record"], snap.cas, new Map(data.cas.map((c) => [c.id, [JSON.stringify(c)]])));
  const things = Object.values(data.things).map((t): [string, unknown[]] => [t.name, [JSON.stringify(t), t.state, t.kind ?? null]]);
  saveKeyed(db, "things", "name", ["record", "state", "kind"], snap.things, new Map(things));
  const attachments = Object.entries(data.attachments).filter(([, list]) => list.length > 0);
  saveKeyed(db, "attachments", "thing", ["policies"], snap.attachments, new Map(attachments.map(([thing, list]) => [thing, [JSON.stringify(list)]])));
  const insertDefaulted = db.prepare("INSERT OR IGNORE INTO defaulted (thing) VALUES (?)");
  for (const thing of data.defaulted) if (!snap.defaulted.has(thing)) insertDefaulted.run(thing);
  const kept = new Set<number>();
  const insert = db.prepare("INSERT INTO certificates (fingerprint256, thing, kind, state, record) VALUES (?, ?, ?, ?, ?)");
  const update = db.prepare("UPDATE certificates SET fingerprint256 = ?, thing = ?, kind = ?, state = ?, record = ? WHERE id = ?");
  for (const cert of data.certificates) {
    const json = JSON.stringify(cert);
    const row = snap.rowOf.get(cert);
    const values = [cert.fingerprint256, cert.thing, cert.kind, cert.state, json];
    if (row === undefined) insert.run(...values);
    else {
      kept.add(row);
      if (snap.certificates.get(row) !== json) update.run(...values, row);
    }
  }
  const remove = db.prepare("DELETE FROM certificates WHERE id = ?");
  for (const row of snap.certificates.keys()) if (!kept.has(row)) remove.run(row);
}

function connect(path: string, timeout: number): Database.Database {
  const db = new Database(path, { timeout });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  return db;
}

const open = new Map<string, RegistryStore>();

export class RegistryStore {
  readonly dir: string;
  readonly path: string;
  readonly #writer: Database.Database;
  readonly #reader: Database.Database;
  /** Changes made by this process run one after another (a transaction may wait for a signature). */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, REGISTRY_DB);
    ensureDir(dir);
    // An empty file is a new database: made 0600 first, its -wal and -shm files get the same mode.
    try {
      writeFileSync(this.path, "", { mode: SECRET_MODE, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    // After the migration the writer never blocks the event loop: #begin waits for the write lock.
    this.#writer = connect(this.path, BUSY_TIMEOUT_MS);
    this.#writer.exec(SCHEMA);
    migrateLegacyRegistry(dir, this.#writer, (snapData) => this.#insertAll(snapData));
    this.#writer.pragma("busy_timeout = 0");
    this.#reader = connect(this.path, BUSY_TIMEOUT_MS);
  }

  /** The store of a PKI dir, opened once per process. */
  static open(dir: string): RegistryStore {
    const key = resolve(dir);
    let store = open.get(key);
    if (!store || !existsSync(store.path)) {
      store?.close();
      store = new RegistryStore(key);
      open.set(key, store);
    }
    return store;
  }

  /** The committed registry, read in one snapshot. */
  read(): RegistryData {
    return this.#reader.transaction(() => load(this.#reader).data)();
  }

  /**
   * One atomic read-check-write: `change` gets the registry as it is under the write lock and changes it in
   * place (or throws: nothing is written). Files it writes (keys, certificates, CRLs) belong before the rows.
   */
  update<T>(change: (reg: RegistryData) => T | Promise<T>): Promise<T> {
    const run = this.#queue.then(() => this.#transact(change));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #transact<T>(change: (reg: RegistryData) => T | Promise<T>): Promise<T> {
    const db = this.#writer;
    await this.#begin();
    try {
      const snap = load(db);
      const result = await change(snap.data);
      save(db, snap);
      db.prepare("INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1").run();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }

  /**
   * BEGIN IMMEDIATE, retried while another process holds the write lock. SQLite's own busy handler would
   * sleep the whole process (a broker would stop serving) and in steps of up to 100 ms.
   */
  async #begin(): Promise<void> {
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (;;) {
      try {
        this.#writer.exec("BEGIN IMMEDIATE");
        return;
      } catch (error) {
        const busy = (error as { code?: string }).code === "SQLITE_BUSY";
        if (!busy) throw error;
        if (Date.now() > deadline) throw new Error(`the registry ${this.path} stayed locked by another process for ${BUSY_TIMEOUT_MS / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * BUSY_RETRY_MAX_MS));
      }
    }
  }

  #insertAll(data: RegistryData): void {
    const empty = load(this.#writer);
    save(this.#writer, { ...empty, data });
  }

  /** Increases with every committed change, from any process: a cheap "did anything change?". */
  generation(): number {
    const row = this.#reader.prepare("SELECT value FROM meta WHERE key = 'generation'").get() as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  thingState(name: string): { state: ThingState; kind: "device" | "service" } | undefined {
    const row = this.#reader.prepare("SELECT state, kind FROM things WHERE name = ?").get(name) as { state: ThingState; kind: string | null } | undefined;
    return row && { state: row.state, kind: row.kind === "service" ? "service" : "device" };
  }

  /** The first client certificate recorded with this fingerprint (normalized), with its thing. */
  clientCertificate(fingerprint256: string): { state: ThingState; thing: string } | undefined {
    return this.#reader
      .prepare("SELECT state, thing FROM certificates WHERE fingerprint256 = ? AND kind = 'client' ORDER BY id LIMIT 1")
      .get(fingerprint256) as { state: ThingState; thing: string } | undefined;
  }

  /** Policy names attached to `thing`, in attachment order. */
  attachedPolicies(thing: string): string[] {
    const row = this.#reader.prepare("SELECT policies FROM attachments WHERE thing = ?").get(thing) as { policies: string } | undefined;
    return row ? (JSON.parse(row.policies) as string[]) : [];
  }

  /** Fingerprints (as recorded) of the thing's client certificates that are not revoked. */
  unrevokedFingerprints(thing: string): string[] {
    const rows = this.#reader
      .prepare("SELECT fingerprint256 FROM certificates WHERE thing = ? AND kind = 'client' AND state != 'REVOKED'")
      .all(thing) as { fingerprint256: string }[];
    return rows.map((r) => r.fingerprint256);
  }

  close(): void {
    this.#reader?.close();
    this.#writer.close();
    if (open.get(this.dir) === this) open.delete(this.dir);
  }
}
