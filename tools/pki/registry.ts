// The registry: one JSON file in the PKI dir listing CAs, things and every certificate issued or
// recorded, with states. Read fresh from disk on every query (thing and certificate states: re-read when
// registryStamp shows the file changed) so a long-running broker sees `thing deactivate` from another
// process at once.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fail } from "./errors";
import { writePublic } from "./files";

export type ThingState = "ACTIVE" | "INACTIVE" | "REVOKED";
export type IssuedBy = "create" | "csr" | "byo-ca" | "aws-import" | "renewal";
export type CaRole = "root" | "intermediate" | "registered";

export interface CaRecord {
  /** "root", "intermediate", or "registered-<first 16 hex of fingerprint>". */
  id: string;
  role: CaRole;
  subject: string;
  fingerprint256: string;
  /** Paths relative to the PKI dir. */
  certFile: string;
  /** Only for CAs this PKI owns. */
  keyFile?: string;
  /** Owned CAs: the CRL we sign. Registered CAs: the CRL their owner gave us, if any. */
  crlFile?: string;
  crlNumber?: number;
  /**
   * Registered CAs only: the thing names this CA may issue for (`*` and `?` wildcards), e.g. "acme-*".
   * Absent: any thing name that is not reserved.
   */
  names?: string;
  addedAt: string;
}

export interface CertRecord {
  serial: string;
  fingerprint256: string;
  /** Thing name (or "broker" for the server certificate, with kind "server"). */
  thing: string;
  kind: "client" | "server";
  subject: string;
  issuer: string;
  /** Registry id of the issuing CA when it is known to this PKI. */
  issuerCaId?: string;
  issuedBy: IssuedBy;
  keyType: string;
  notBefore: string;
  notAfter: string;
  state: ThingState;
  certFile: string;
  revokedAt?: string;
}

export interface ThingRecord {
  name: string;
  state: ThingState;
  /** "service": a reserved service identity (service create), e.g. the restaurant. Absent: a device. */
  kind?: "service";
  createdAt: string;
  updatedAt: string;
}

export interface RegistryData {
  version: 1;
  cas: CaRecord[];
  things: Record<string, ThingRecord>;
  certificates: CertRecord[];
}

export const REGISTRY_FILE = "registry.json";

export function emptyRegistry(): RegistryData {
  return { version: 1, cas: [], things: {}, certificates: [] };
}

export function readRegistry(dir: string): RegistryData {
  const path = join(dir, REGISTRY_FILE);
  if (!existsSync(path)) return emptyRegistry();
  let data: RegistryData;
  try {
    data = JSON.parse(readFileSync(path, "utf8")) as RegistryData;
  } catch {
    fail(`registry ${path} is not valid JSON; restore it from a backup`);
  }
  if (data?.version !== 1 || !Array.isArray(data.cas) || !Array.isArray(data.certificates) || typeof data.things !== "object") {
    fail(`registry ${path} has an unknown format`);
  }
  return data;
}

/**
 * Identifies one version of the registry file without reading it: every write replaces the file (temp file
 * + rename: a new inode), so device, inode, size and times change. undefined when there is no registry yet.
 */
export function registryStamp(dir: string): { key: string; mtimeMs: number } | undefined {
  try {
    const st = statSync(join(dir, REGISTRY_FILE), { bigint: true });
    return { key: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`, mtimeMs: Number(st.mtimeMs) };
  } catch {
    return undefined;
  }
}

export function writeRegistry(dir: string, data: RegistryData): void {
  writePublic(join(dir, REGISTRY_FILE), JSON.stringify(data, null, 2) + "\n");
}
