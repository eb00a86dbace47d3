// Open connections are checked again when the registry or the CRLs change: a certificate that became
// REVOKED (registry or CRL) or whose thing became INACTIVE must not keep acting on a connection it opened
// before. The CRL check matches the certificate's issuer name (DER) and serial against every CRL entry.
import { normalizeSerial, x509 } from "../../tools/pki/crypto";

/** Issuer name (DER, hex) → revoked serials (normalized), from PEM CRLs. A CRL that does not parse is skipped. */
export function revokedSerials(crls: readonly string[]): Map<string, Set<string>> {
  const index = new Map<string, Set<string>>();
  for (const pem of crls) {
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(pem);
    } catch {
      continue; // node:tls refused it already in updateTrust; nothing to match against
    }
    const issuer = Buffer.from(crl.issuerName.toArrayBuffer()).toString("hex");
    const serials = index.get(issuer) ?? new Set<string>();
    for (const entry of crl.entries) serials.add(normalizeSerial(entry.serialNumber));
    index.set(issuer, serials);
  }
  return index;
}

/** Is this DER certificate on one of the indexed CRLs? */
export function isOnCrl(certificateDer: Buffer | undefined, revoked: Map<string, Set<string>>): boolean {
  if (!certificateDer || revoked.size === 0) return false;
  try {
    const cert = new x509.X509Certificate(certificateDer);
    const issuer = Buffer.from(cert.issuerName.toArrayBuffer()).toString("hex");
    return revoked.get(issuer)?.has(normalizeSerial(cert.serialNumber)) ?? false;
  } catch {
    return false;
  }
}
