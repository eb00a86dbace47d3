// The registry's records: CAs, things and every certificate issued or recorded, with states, and the
// policies attached to each thing (types only: the store, the migration and the PKI all read them).
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
  /** Lifetime of a renewed certificate, set by the operator (`thing lifetime`). Absent: the held one's. */
  renewalDays?: number;
  createdAt: string;
  updatedAt: string;
}

export interface RegistryData {
  version: 1;
  cas: CaRecord[];
  things: Record<string, ThingRecord>;
  certificates: CertRecord[];
  /** Policy names attached to each thing, in attachment order (the documents are files in policies/). */
  attachments: Record<string, string[]>;
  /** Things whose default policy was considered once: a later detach is never undone. */
  defaulted: string[];
}
