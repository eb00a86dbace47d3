// Bring your own CA (option 3): trusting another CA's certificates (with the CRLs its owner publishes),
// recording a certificate it issued for a thing, and the name limits such a CA may carry.
import { readFileSync } from "node:fs";
import { assertAcceptableKey, commonName, describePublicKey, fingerprint256, parseCertificate, parseCertificates, sameName, x509 } from "./crypto";
import { fail } from "./errors";
import { writePublic } from "./files";
import { layout } from "./layout";
import type { CaRecord, RegistryData } from "./registry";
import type { PkiContext } from "./context";
import { caRecord } from "./ca";
import { matchCrls, writeBundles } from "./crl";
import { assertDeviceName, assertNameAllowed, assertNamePattern } from "./names";
import { assertCanIssue, recordThingCert } from "./thing-cert";
import { trustedCas, verify } from "./trust";

export interface RegisteredCa {
  subject: string;
  fingerprint256: string;
  /** False: certificates of this CA are refused by node:tls with `crl` until its CRL is imported. */
  hasCrl: boolean;
}

export interface RegisterCaOptions {
  crlPem?: string;
  source?: string;
  names?: string;
}

/**
 * Trust another CA (option 3). With the embedded broker (node:tls with `crl`), its certificates are
 * accepted only once the CA's CRL is registered too (`crlPem` here, or importCrl later).
 */
export async function registerCa(ctx: PkiContext, caCertPem: string, opts: RegisterCaOptions): Promise<RegisteredCa[]> {
  const source = opts.source ?? "CA certificate";
  if (opts.names !== undefined) assertNamePattern(opts.names);
  const certs = parseCertificates(caCertPem, source);
  return ctx.store.update(async (reg) => {
    ctx.requireCa(reg);
    const trusted = reg.cas.map((c) => parseCertificate(readFileSync(ctx.path(c.certFile), "utf8"), c.certFile));
    const added = checkNewCas(reg, certs, source, opts.names);
    // node:tls (OpenSSL) needs a path to a self-signed root among the trusted certificates.
    const pool = [...trusted, ...added.map((a) => a.cert)];
    for (const { cert } of added) {
      if (!(await chainsToSelfSigned(cert, pool))) {
        fail(`${source}: ${cert.subject} does not chain to a self-signed root; put the whole chain (root included) in the file`);
      }
    }
    const crls = opts.crlPem !== undefined ? await matchCrls(opts.crlPem, added) : new Map<string, string>();
    for (const { rec, cert } of added) {
      writePublic(ctx.path(rec.certFile), cert.toString("pem") + "\n");
      const crl = crls.get(rec.id);
      if (crl) {
        rec.crlFile = layout.registeredCrl(rec.id);
        writePublic(ctx.path(rec.crlFile), crl);
      }
      reg.cas.push(rec);
    }
    writeBundles(ctx, reg);
    return added.map(({ rec }) => ({ subject: rec.subject, fingerprint256: rec.fingerprint256, hasCrl: crls.has(rec.id) }));
  });
}

/** The CAs of a `ca register` file as registry records: each new, a CA, allowed to sign, current, of an acceptable key. */
function checkNewCas(reg: RegistryData, certs: x509.X509Certificate[], source: string, names: string | undefined): { rec: CaRecord; cert: x509.X509Certificate }[] {
  const known = new Set(reg.cas.map((c) => c.fingerprint256));
  const added: { rec: CaRecord; cert: x509.X509Certificate }[] = [];
  for (const cert of certs) {
    const fp = fingerprint256(cert.rawData);
    if (known.has(fp)) fail(`${source}: ${cert.subject} is already trusted`);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    if (!bc?.ca) fail(`${source}: ${cert.subject} is not a CA certificate (basicConstraints CA:TRUE missing)`);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    if (ku && !(ku.usages & x509.KeyUsageFlags.keyCertSign)) fail(`${source}: ${cert.subject} may not sign certificates (keyUsage lacks keyCertSign)`);
    if (cert.notAfter.getTime() < Date.now()) fail(`${source}: ${cert.subject} expired on ${cert.notAfter.toISOString()}`);
    assertAcceptableKey(describePublicKey(cert.publicKey.rawData), source);
    const id = `registered-${fp.replace(/:/g, "").slice(0, 16).toLowerCase()}`;
    const rec = caRecord(id, "registered", cert, layout.registeredCert(id));
    if (names !== undefined) rec.names = names;
    added.push({ rec, cert });
    known.add(fp);
  }
  return added;
}

/** Record a certificate issued by a registered CA for a thing (option 3), so the thing has a registry state. */
export async function registerThingCertificate(ctx: PkiContext, name: string, certPem: string, source: string): Promise<void> {
  assertDeviceName(name);
  const cert = parseCertificate(certPem, source);
  const cn = commonName(cert.subjectName);
  if (cn !== name) fail(`${source}: the certificate CN is "${cn ?? ""}", not "${name}" (the CN is the MQTT client id)`);
  const result = await verify(ctx, cert.toString("pem"), { purpose: "client" });
  if (!result.ok) fail(`${source}: ${result.message}`);
  const names = await issuingCaNames(ctx, cert);
  await ctx.store.update((reg) => {
    const anchorFp = result.chain[result.chain.length - 1]!.fingerprint256;
    const anchor = reg.cas.find((c) => c.fingerprint256 === anchorFp);
    const direct = reg.cas.find((c) => c.fingerprint256 === result.chain[1]?.fingerprint256);
    if (anchor?.role !== "registered") fail(`${source}: issued by this PKI's own CA; use "thing create" or "ca sign" instead`);
    assertNameAllowed(names, name, source);
    assertCanIssue(reg, name);
    recordThingCert(ctx, reg, name, cert, "byo-ca", direct?.id, undefined);
  });
}

/**
 * The registered CAs above `cert` (found by issuer name and signature) that were limited to a name
 * pattern with `ca register --names`. Whatever path a certificate of theirs comes in by (thing register,
 * import aws), it may only bind a thing whose name matches.
 */
export async function issuingCaNames(ctx: PkiContext, cert: x509.X509Certificate): Promise<{ subject: string; names: string }[]> {
  const pool = trustedCas(ctx).filter(({ rec }) => rec.role === "registered");
  const limits: { subject: string; names: string }[] = [];
  let current = cert;
  for (let depth = 0; depth < 8; depth++) {
    const parent = await findIssuer(current, pool.map((c) => c.cert));
    const rec = parent && pool.find((c) => c.cert === parent)!.rec;
    if (!parent || !rec) break;
    if (rec.names !== undefined) limits.push({ subject: rec.subject, names: rec.names });
    if (parent === current || sameName(parent.subjectName, parent.issuerName)) break;
    current = parent;
  }
  return limits;
}

async function chainsToSelfSigned(cert: x509.X509Certificate, pool: x509.X509Certificate[]): Promise<boolean> {
  let current = cert;
  for (let depth = 0; depth < 8; depth++) {
    if (sameName(current.subjectName, current.issuerName) && (await current.verify({ signatureOnly: true }).catch(() => false))) return true;
    const parent = await findIssuer(current, pool);
    if (!parent) return false;
    current = parent;
  }
  return false;
}

export async function findIssuer(cert: x509.X509Certificate, pool: x509.X509Certificate[]): Promise<x509.X509Certificate | undefined> {
  for (const candidate of pool) {
    if (candidate === cert || !sameName(candidate.subjectName, cert.issuerName)) continue;
    if (await cert.verify({ publicKey: candidate.publicKey, signatureOnly: true }).catch(() => false)) return candidate;
  }
  return undefined;
}
