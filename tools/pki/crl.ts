// Certificate revocation lists: the CRLs this PKI signs for its own CAs, the ones registered CAs' owners
// publish (imported, never signed here), and the bundles (ca/trust.pem, crl.pem) mosquitto reads.
import { existsSync, readFileSync } from "node:fs";
import { crlToPem, parseCertificate, parseCrl, pemBlocks, sameName, x509 } from "./crypto";
import { fail } from "./errors";
import { writePublic } from "./files";
import { layout } from "./layout";
import { createCrl, CRL_VALID_DAYS } from "./profiles";
import type { CaRecord, RegistryData } from "./registry";
import type { PkiContext } from "./context";

/** Re-sign CRLs at open() when less than this many days remain before nextUpdate. */
const CRL_REFRESH_DAYS = CRL_VALID_DAYS / 2;

/** Re-sign the CRL of every CA we own (an empty CRL when nothing is revoked) and rewrite the bundles. */
export async function writeCrls(ctx: PkiContext): Promise<string> {
  await ctx.store.update((reg) => writeCrlsIn(ctx, reg));
  return ctx.path(layout.crlBundle);
}

/** writeCrls inside a registry transaction. */
export async function writeCrlsIn(ctx: PkiContext, reg: RegistryData): Promise<void> {
  ctx.requireCa(reg);
  for (const ca of reg.cas) {
    if (!ca.keyFile || !ca.crlFile) continue;
    const entries = reg.certificates
      .filter((c) => c.issuerCaId === ca.id && c.state === "REVOKED")
      .map((c) => ({ serial: c.serial, revokedAt: new Date(c.revokedAt ?? c.notBefore) }));
    ca.crlNumber = (ca.crlNumber ?? 0) + 1;
    const crl = await createCrl({ issuer: await ctx.issuer(ca.id, reg), number: ca.crlNumber, entries });
    writePublic(ctx.path(ca.crlFile), crlToPem(crl));
  }
  writeBundles(ctx, reg);
}

export function writeBundles(ctx: PkiContext, reg: RegistryData): void {
  writePublic(ctx.path(layout.trustBundle), reg.cas.map((c) => ctx.caPem(c)).join(""));
  const crls = reg.cas.filter((c) => c.crlFile && existsSync(ctx.path(c.crlFile)));
  writePublic(ctx.path(layout.crlBundle), crls.map((c) => readFileSync(ctx.path(c.crlFile!), "utf8").trim() + "\n").join(""));
}

export async function refreshCrlsIfDue(ctx: PkiContext): Promise<void> {
  const reg = ctx.registry();
  const due = reg.cas.some((ca) => {
    if (!ca.keyFile || !ca.crlFile) return false;
    const path = ctx.path(ca.crlFile);
    if (!existsSync(path)) return true;
    try {
      const next = new x509.X509Crl(readFileSync(path, "utf8")).nextUpdate;
      return !next || next.getTime() - Date.now() < CRL_REFRESH_DAYS * 86_400_000;
    } catch {
      return true;
    }
  });
  if (due) await writeCrls(ctx);
}

/** Add or replace the CRL(s) of registered CAs (their owners publish them; we cannot sign them). */
export async function importCrl(ctx: PkiContext, crlPem: string): Promise<string[]> {
  return ctx.store.update(async (reg) => {
    const registered = reg.cas
      .filter((c) => c.role === "registered")
      .map((rec) => ({ rec, cert: parseCertificate(readFileSync(ctx.path(rec.certFile), "utf8"), rec.certFile) }));
    if (registered.length === 0) fail("no registered CA: register it first with \"ca register\"");
    const crls = await matchCrls(crlPem, registered);
    for (const { rec } of registered) {
      const crl = crls.get(rec.id);
      if (!crl) continue;
      rec.crlFile = layout.registeredCrl(rec.id);
      writePublic(ctx.path(rec.crlFile), crl);
    }
    writeBundles(ctx, reg);
    return registered.filter(({ rec }) => crls.has(rec.id)).map(({ rec }) => rec.subject);
  });
}

/** Every CRL in the text must be signed by one of the candidates, be current, and not repeat a CA. */
export async function matchCrls(crlPem: string, candidates: { rec: CaRecord; cert: x509.X509Certificate }[]): Promise<Map<string, string>> {
  const blocks = pemBlocks(crlPem).filter((b) => b.label === "X509 CRL" || b.label === "CRL");
  if (blocks.length === 0) fail("the CRL file is not a PEM CRL (no X509 CRL block)");
  const out = new Map<string, string>();
  for (const block of blocks) {
    const crl = parseCrl(block.pem, "the CRL file");
    let owner: (typeof candidates)[number] | undefined;
    for (const c of candidates) if (sameName(c.cert.subjectName, crl.issuerName) && (await crl.verify({ publicKey: c.cert }).catch(() => false))) owner = c;
    if (!owner) fail(`the CRL of ${crl.issuer} is not signed by ${candidates.map((c) => c.rec.subject).join(" or ")}`);
    if (crl.nextUpdate && crl.nextUpdate.getTime() < Date.now()) {
      fail(`the CRL of ${crl.issuer} expired on ${crl.nextUpdate.toISOString()} (nextUpdate); node:tls refuses every certificate when a CRL has expired`);
    }
    if (out.has(owner.rec.id)) fail(`the CRL file holds two CRLs of ${owner.rec.subject}`);
    out.set(owner.rec.id, crlToPem(crl));
  }
  return out;
}
