// The registry's records: CAs, things and every certificate issued or recorded, with states, and the
// policies attached to each thing. They live in the registry store (tools/pki/store.ts), where every change
// is one transaction.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { LEGACY_REGISTRY_FILE } from "./migrate";
import { REGISTRY_DB, RegistryStore } from "./store";

import type { RegistryData } from "./records";

export type * from "./records";

/** The file that holds the registry in a PKI dir (tools/pki/store.ts). */
export const REGISTRY_FILE = REGISTRY_DB;

/** True when `dir` holds a registry (the store, or a registry.json it has not migrated yet). */
export function hasRegistry(dir: string): boolean {
  return existsSync(join(dir, REGISTRY_DB)) || existsSync(join(dir, LEGACY_REGISTRY_FILE));
}

/** The committed registry of a PKI dir (an empty one when the dir has none yet). */
export function readRegistry(dir: string): RegistryData {
  return RegistryStore.open(dir).read();
}
