// A thing's certificate in the PKI dir: the files a device or service uses (cert, chain, CA, key) and
// the registry rows that bind the certificate to the thing. Every way of obtaining a certificate
// (create, CSR, renewal, bring-your-own CA, AWS import) ends here.
import { existsSync } from "node:fs";
import { describePublicKey, fingerprint256, normalizeSerial, x509 } from "./crypto";
import { fail } from "./errors";
import { writePublic } from "./files";
import { layout } from "./layout";
import { isIdentityName, isServiceName, serviceOfInstance } from "./reserved";
import type { CertRecord, IssuedBy, RegistryData } from "./registry";
import { BROKER_THING, now, type PkiContext } from "./context";

export interface ThingFiles {
  name: string;
  /** Leaf certificate (PEM). */
  certPath: string;
  /** Private key (PKCS#8 PEM, 0600). Empty string when the key is not held here (CSR-issued things). */
  keyPath: string;
  /** Leaf + intermediate (PEM): what a client should present as `cert`. */
  chainPath: string;
  /** CA certificate the device uses to verify the broker it connects to (our root; AWS's CA for imports). */
  caPath: string;
}

export function thingFiles(ctx: PkiContext, name: string): ThingFiles | undefined {
  if (!isIdentityName(name) || !existsSync(ctx.path(layout.thingCert(name)))) return undefined;
  const keyPath = ctx.path(layout.thingKey(name));
  return {
    name,
    certPath: ctx.path(layout.thingCert(name)),
    keyPath: existsSync(keyPath) ? keyPath : "",
    chainPath: ctx.path(layout.thingChain(name)),
    caPath: ctx.path(layout.thingCa(name)),
  };
}

export function assertCanIssue(reg: RegistryData, name: string): void {
  const existing = reg.things[name];
  if (existing?.kind === "service" && !isServiceName(name) && serviceOfInstance(name) === undefined) fail(`"${name}" is a service identity`);
  if (existing && existing.state !== "REVOKED") {
    fail(`thing ${name} already exists (${existing.state}); revoke it first to issue it a new certificate`);
  }
}

/** Write the thing's certificate files and registry entries (inside the caller's registry transaction). */
export function recordThingCert(
  ctx: PkiContext,
  reg: RegistryData,
  name: string,
  cert: x509.X509Certificate,
  issuedBy: IssuedBy,
  issuerCaId: string | undefined,
  caPemForDevice?: string,
  kind: "device" | "service" = "device",
): void {
  const pem = cert.toString("pem") + "\n";
  const serial = normalizeSerial(cert.serialNumber);
  // A certificate belongs to one thing: the broker finds the thing by the certificate's fingerprint.
  const fp = fingerprint256(cert.rawData);
  const holder = reg.certificates.find((c) => c.fingerprint256 === fp && c.state !== "REVOKED");
  if (holder) fail(`this certificate is already registered to ${holder.thing === BROKER_THING ? "the broker" : `thing ${holder.thing}`}`);
  writePublic(ctx.path(layout.thingCertHistory(name, serial)), pem);
  writePublic(ctx.path(layout.thingCert(name)), pem);
  writePublic(ctx.path(layout.thingChain(name)), ctx.chainPem(pem, issuerCaId, reg));
  writePublic(ctx.path(layout.thingCa(name)), caPemForDevice ?? ctx.rootPem(reg));
  const t = now();
  const prev = reg.things[name];
  // A renewal adds a certificate to a thing and changes nothing else about it (its state least of all).
  if (issuedBy !== "renewal" || !prev) {
    reg.things[name] = { name, state: "ACTIVE", ...(kind === "service" ? { kind } : {}), createdAt: prev?.createdAt ?? t, updatedAt: t };
  }
  reg.certificates.push(certificateRecord(cert, { thing: name, kind: "client", issuerCaId, issuedBy, certFile: layout.thingCertHistory(name, serial) }));
}

/** The registry row of a certificate, ACTIVE, with what is read from the certificate itself. */
export function certificateRecord(
  cert: x509.X509Certificate,
  row: { thing: string; kind: CertRecord["kind"]; issuerCaId: string | undefined; issuedBy: IssuedBy; certFile: string },
): CertRecord {
  return {
    serial: normalizeSerial(cert.serialNumber),
    fingerprint256: fingerprint256(cert.rawData),
    thing: row.thing,
    kind: row.kind,
    subject: cert.subject,
    issuer: cert.issuer,
    ...(row.issuerCaId ? { issuerCaId: row.issuerCaId } : {}),
    issuedBy: row.issuedBy,
    keyType: describePublicKey(cert.publicKey.rawData).label,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    state: "ACTIVE",
    certFile: row.certFile,
  };
}
