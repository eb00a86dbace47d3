// First use of a PKI dir made before the registry store: registry.json (and policies/attachments.json) are
// copied into registry.db in one transaction and then renamed to *.migrated, never deleted. A registry.json
// that shows up again after that (an older tool wrote it) stops every command with a clear error instead of
// being ignored: changes in it would otherwise be lost silently.
import type Database from "better-sqlite3";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { fail } from "./errors";
import type { RegistryData } from "./records";

export const LEGACY_REGISTRY_FILE = "registry.json";
export const LEGACY_ATTACHMENTS_FILE = "policies/attachments.json";
export const MIGRATED_SUFFIX = ".migrated";

interface LegacyAttachments {
  version: 1;
  things: Record<string, string[]>;
  defaulted?: string[];
}

function parseJson<T>(path: string, check: (data: T) => boolean): T {
  let data: T;
  try {
    data = JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    fail(`${path} is not valid JSON; restore it from a backup, then run the command again (it moves it into the registry store)`);
  }
  if (!check(data)) fail(`${path} has an unknown format; it was not moved into the registry store`);
  return data;
}

/** The legacy files as one registry (not yet written anywhere). */
function readLegacy(dir: string): RegistryData {
  const reg = parseJson<RegistryData>(
    join(dir, LEGACY_REGISTRY_FILE),
    (d) => d?.version === 1 && Array.isArray(d.cas) && Array.isArray(d.certificates) && typeof d.things === "object" && d.things !== null,
  );
  const attachmentsPath = join(dir, LEGACY_ATTACHMENTS_FILE);
  const attachments = existsSync(attachmentsPath)
    ? parseJson<LegacyAttachments>(attachmentsPath, (d) => d?.version === 1 && typeof d.things === "object" && d.things !== null)
    : undefined;
  return {
    version: 1,
    cas: reg.cas,
    things: reg.things,
    certificates: reg.certificates,
    attachments: attachments?.things ?? {},
    // A store written before defaults were recorded: every thing it knew has had its default (a thing
    // without a policy was detached on purpose and stays so).
    defaulted: attachments ? (attachments.defaulted ?? Object.keys(reg.things)) : [],
  };
}

function keepRenamed(path: string): void {
  if (!existsSync(path)) return;
  let target = `${path}${MIGRATED_SUFFIX}`;
  if (existsSync(target)) target = `${path}${MIGRATED_SUFFIX}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  try {
    renameSync(path, target);
  } catch (error) {
    // Another process opening the store at the same moment renamed it first.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

export function migrateLegacyRegistry(dir: string, db: Database.Database, insertAll: (data: RegistryData) => void): void {
  const legacy = join(dir, LEGACY_REGISTRY_FILE);
  if (!existsSync(legacy)) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    const migratedFrom = db.prepare("SELECT value FROM meta WHERE key = 'migrated-from'").get() as { value: string } | undefined;
    const used = (db.prepare("SELECT (SELECT count(*) FROM cas) + (SELECT count(*) FROM things) AS n").get() as { n: number }).n > 0;
    // Another process may have migrated it a moment ago: the file is then gone (or about to be renamed).
    if (existsSync(legacy) && !migratedFrom) {
      if (used) fail(`${legacy} and the registry store ${join(dir, "registry.db")} both exist; the store is the registry: move ${legacy} away after checking it holds nothing the store lacks`);
      insertAll(readLegacy(dir));
      db.prepare("INSERT INTO meta (key, value) VALUES ('migrated-from', ?)").run(`${LEGACY_REGISTRY_FILE} at ${new Date().toISOString()}`);
    } else if (existsSync(legacy) && migratedFrom && !existsSync(`${legacy}${MIGRATED_SUFFIX}`)) {
      // Migrated, but the rename did not happen (the process ended in between): finish it below.
    } else if (existsSync(legacy)) {
      fail(
        `${legacy} appeared after the registry moved to ${join(dir, "registry.db")} (${migratedFrom!.value}); an older version of the tools wrote it. ` +
          `Its changes are not in the store: apply them again with this version, then move ${legacy} away`,
      );
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw error;
  }
  keepRenamed(legacy);
  keepRenamed(join(dir, LEGACY_ATTACHMENTS_FILE));
}
