// Certificate verification against this PKI's trust: builds the chain to a trusted self-signed root,
// then checks validity windows, CA constraints, key usages, key strength, CRLs and registry state.
// The first failure found (leaf first) is the reason reported.
import {
  commonName,
  describePublicKey,
  fingerprint256,
  normalizeSerial,
  parseCertificate,
  sameName,
  x509,
} from "./crypto";
import type { CaRecord, ThingState } from "./registry";

export type VerifyFailure =
  | "unknown-issuer"
  | "bad-signature"
  | "expired"
  | "not-yet-valid"
  | "revoked"
  | "inactive"
  | "wrong-key-usage"
  | "weak-key";

export interface CertSummary {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  key: string;
  fingerprint256: string;
  isCa: boolean;
  /** Extended key usages by name (clientAuth, serverAuth, …; an OID when it has no name); absent: no EKU. */
  extendedKeyUsage?: string[];
  /** Subject alternative names as "DNS:localhost", "IP:127.0.0.1", …; absent: none. */
  subjectAltNames?: string[];
  /** How this PKI knows the certificate: root, intermediate, registered (CAs), or undefined (leaf). */
  trust?: CaRecord["role"];
}

export interface VerifyResult {
  ok: boolean;
  reason?: VerifyFailure;
  /** One line: "OK" or what failed and on which certificate. */
  message: string;
  /** Leaf first, trust anchor last (as far as it could be built). */
  chain: CertSummary[];
}

export interface VerifyOptions {
  /** Verification time (default now). */
  at?: Date;
  /** Required extended key usage of the leaf; default: clientAuth or serverAuth. */
  purpose?: "client" | "server" | "any";
}

interface Trusted {
  rec: CaRecord;
  cert: x509.X509Certificate;
  crl?: x509.X509Crl;
}

function summarize(cert: x509.X509Certificate, trust?: CaRecord["role"]): CertSummary {
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serial: normalizeSerial(cert.serialNumber),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    key: describePublicKey(cert.publicKey.rawData).label,
    fingerprint256: fingerprint256(cert.rawData),
    isCa: cert.getExtension(x509.BasicConstraintsExtension)?.ca === true,
    ...extensions(cert),
    ...(trust ? { trust } : {}),
  };
}

const EKU_NAMES: Record<string, string> = Object.fromEntries(
  Object.entries(x509.ExtendedKeyUsage).map(([name, oid]) => [oid, name]),
);

/** An extended key usage OID by its RFC 5280 name (clientAuth for 1.3.6.1.5.5.7.3.2), else the OID. */
export function ekuName(oid: string): string {
  return EKU_NAMES[oid] ?? oid;
}

const SAN_LABELS: Record<string, string> = { dns: "DNS", ip: "IP", email: "email", url: "URI", dn: "DirName", guid: "GUID", upn: "UPN", id: "RID" };

function extensions(cert: x509.X509Certificate): Pick<CertSummary, "extendedKeyUsage" | "subjectAltNames"> {
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map((u) => ekuName(String(u)));
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((n) => `${SAN_LABELS[n.type] ?? n.type}:${n.value}`);
  return { ...(eku ? { extendedKeyUsage: eku } : {}), ...(san && san.length ? { subjectAltNames: san } : {}) };
}

async function signedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (!sameName(issuer.subjectName, cert.issuerName)) return false;
  return cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }).catch(() => false);
}

function isSelfIssued(cert: x509.X509Certificate): boolean {
  return sameName(cert.subjectName, cert.issuerName);
}

export async function verifyCertificate(
  certPem: string,
  ctx: VerifyOptions & { trusted: Trusted[]; certificateState: (fp: string) => ThingState | undefined },
): Promise<VerifyResult> {
  const at = ctx.at ?? new Date();
  const leaf = parseCertificate(certPem, "certificate");
  const leafFp = fingerprint256(leaf.rawData);
  const byFp = new Map(ctx.trusted.map((t) => [t.rec.fingerprint256, t]));

  // Build: leaf → … → self-signed trusted root.
  const path: { cert: x509.X509Certificate; trusted?: Trusted }[] = [{ cert: leaf, ...(byFp.get(leafFp) ? { trusted: byFp.get(leafFp)! } : {}) }];
  const failWith = (reason: VerifyFailure, message: string): VerifyResult => ({
    ok: false,
    reason,
    message: `${reason}: ${message}`,
    chain: path.map((p) => summarize(p.cert, p.trusted?.rec.role)),
  });

  for (let depth = 0; ; depth++) {
    const current = path[path.length - 1]!;
    if (current.trusted && isSelfIssued(current.cert)) {
      if (!(await signedBy(current.cert, current.cert))) return failWith("bad-signature", `${current.cert.subject} has a bad self-signature`);
      break;
    }
    if (depth > 8) return failWith("unknown-issuer", "chain too long");
    const sameNameCas = ctx.trusted.filter((t) => sameName(t.cert.subjectName, current.cert.issuerName));
    let parent: Trusted | undefined;
    for (const t of sameNameCas) if (await signedBy(current.cert, t.cert)) parent = t;
    if (!parent) {
      if (sameNameCas.length > 0) return failWith("bad-signature", `${current.cert.subject}: signature does not verify with the key of ${current.cert.issuer}`);
      if (isSelfIssued(current.cert)) return failWith("unknown-issuer", `${current.cert.subject} is a self-signed certificate this PKI does not trust`);
      return failWith("unknown-issuer", `issuer ${current.cert.issuer} of ${current.cert.subject} is not a trusted or registered CA`);
    }
    path.push({ cert: parent.cert, trusted: parent });
  }

  // Validity windows, leaf first.
  for (const { cert } of path) {
    if (at.getTime() > cert.notAfter.getTime()) return failWith("expired", `${cert.subject} expired on ${cert.notAfter.toISOString()}`);
    if (at.getTime() < cert.notBefore.getTime()) return failWith("not-yet-valid", `${cert.subject} is not valid before ${cert.notBefore.toISOString()}`);
  }

  // CA constraints for every issuer in the path.
  for (let i = 1; i < path.length; i++) {
    const cert = path[i]!.cert;
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    if (!bc?.ca) return failWith("wrong-key-usage", `${cert.subject} issued a certificate but is not a CA (basicConstraints)`);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    if (ku && !(ku.usages & x509.KeyUsageFlags.keyCertSign)) return failWith("wrong-key-usage", `${cert.subject} lacks keyUsage keyCertSign`);
    // CAs below this one in the path (not counting the leaf) must fit its pathLen.
    const below = i - 1;
    if (bc.pathLength !== undefined && below > bc.pathLength) return failWith("wrong-key-usage", `${cert.subject} allows ${bc.pathLength} CA(s) below it (pathLen)`);
  }

  // Key usage of the leaf (a CA given to verify is checked as a CA above, or is the anchor itself).
  const leafIsCa = leaf.getExtension(x509.BasicConstraintsExtension)?.ca === true;
  if (!leafIsCa) {
    const ku = leaf.getExtension(x509.KeyUsagesExtension);
    if (ku && !(ku.usages & x509.KeyUsageFlags.digitalSignature)) return failWith("wrong-key-usage", `${leaf.subject} lacks keyUsage digitalSignature (TLS needs it)`);
    const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String);
    const purpose = ctx.purpose ?? "any";
    const want =
      purpose === "client" ? [x509.ExtendedKeyUsage.clientAuth] : purpose === "server" ? [x509.ExtendedKeyUsage.serverAuth] : [x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth];
    if (eku && !eku.some((u) => (want as string[]).includes(u))) {
      return failWith("wrong-key-usage", `${leaf.subject} has extendedKeyUsage ${eku.map(ekuName).join(",")}, needs ${purpose === "any" ? "clientAuth or serverAuth" : purpose + "Auth"}`);
    }
  }

  // Key strength along the path.
  for (const { cert } of path) {
    const k = describePublicKey(cert.publicKey.rawData);
    if ((k.keyType === "rsa" && k.bits < 2048) || (k.keyType === "ec" && k.bits < 256) || (k.keyType !== "rsa" && k.keyType !== "ec")) {
      return failWith("weak-key", `${cert.subject} has a ${k.label} key (minimum RSA-2048 or EC P-256)`);
    }
  }

  // Revocation: the issuer's CRL, then the registry.
  for (let i = 0; i + 1 < path.length; i++) {
    const cert = path[i]!.cert;
    const crl = path[i + 1]!.trusted?.crl;
    const entry = crl?.findRevoked(cert);
    if (entry) return failWith("revoked", `${cert.subject} (serial ${normalizeSerial(cert.serialNumber)}) is on the CRL of ${cert.issuer} since ${entry.revocationDate.toISOString()}`);
  }
  const state = ctx.certificateState(leafFp);
  if (state === "REVOKED") return failWith("revoked", `${leaf.subject} is revoked in the registry`);
  if (state === "INACTIVE") return failWith("inactive", `${leaf.subject} is deactivated in the registry (thing activate ${commonName(leaf.subjectName) ?? ""} to allow it)`);

  return { ok: true, message: "OK", chain: path.map((p) => summarize(p.cert, p.trusted?.rec.role)) };
}
