// Issuing client certificates from this PKI's CA: things and services with a key made here, devices
// that send a CSR (their key never comes here), renewals with the same key, and load-test fleets signed
// elsewhere with the issuing CA and recorded in one write.
import { readFileSync } from "node:fs";
import {
  assertAcceptableKey,
  commonName,
  describePublicKey,
  fingerprint256,
  generateKeyPair,
  parseCertificate,
  parseCsr,
  privateKeyToPem,
  type KeyType,
} from "./crypto";
import { fail } from "./errors";
import { writePublic, writeSecret } from "./files";
import { layout } from "./layout";
import { createEndEntity, validity } from "./profiles";
import { INSTANCED_SERVICES, isServiceName, MAX_INSTANCE, SERVICE_NAMES, serviceInstanceName } from "./reserved";
import type { CertRecord, RegistryData } from "./registry";
import { DEFAULT_VALID_DAYS, now, type PkiContext } from "./context";
import { assertDeviceName, assertThingName } from "./names";
import { assertCanIssue, certificateRecord, recordThingCert, thingFiles, type ThingFiles } from "./thing-cert";

export interface SignedCsr {
  name: string;
  certPem: string;
  certPath: string;
  chainPath: string;
  caPath: string;
}

export interface IssueOptions {
  keyType?: KeyType;
  notBefore?: Date;
  notAfter?: Date;
  validDays?: number;
}

export async function createThing(ctx: PkiContext, name: string, opts: IssueOptions): Promise<ThingFiles> {
  assertDeviceName(name);
  return issueWithKey(ctx, name, opts, "device");
}

/**
 * A reserved service identity (e.g. the restaurant): key and certificate like createThing, recorded as
 * a service. Only known service names; the broker gives service rights to this certificate only. With
 * `instance`, one instance of a service that runs several (`restaurant.N`, reserved.ts): its own
 * certificate, CN and registry entry, so each instance connects and is revoked on its own.
 */
export async function createService(ctx: PkiContext, name: string, opts: { keyType?: KeyType; validDays?: number; instance?: number }): Promise<ThingFiles> {
  assertThingName(name);
  if (!isServiceName(name)) fail(`"${name}" is not a service this product knows (services: ${SERVICE_NAMES.join(", ")}); devices use "thing create"`);
  if (opts.instance === undefined) return issueWithKey(ctx, name, opts, "service");
  if (!INSTANCED_SERVICES.includes(name)) fail(`"${name}" runs as one instance; --instance is for ${INSTANCED_SERVICES.join(", ")}`);
  if (!Number.isSafeInteger(opts.instance) || opts.instance < 1 || opts.instance > MAX_INSTANCE) fail(`--instance must be a whole number 1..${MAX_INSTANCE}, not ${opts.instance}`);
  return issueWithKey(ctx, serviceInstanceName(name, opts.instance), opts, "service");
}

async function issueWithKey(ctx: PkiContext, name: string, opts: IssueOptions, kind: "device" | "service"): Promise<ThingFiles> {
  const before = ctx.registry();
  ctx.requireCa(before);
  assertCanIssue(before, name); // early, before the key is made; checked again below
  const keyType = opts.keyType ?? "rsa";
  const keys = await generateKeyPair(keyType);
  const caId = ctx.issuingCaId(before);
  const cert = await createEndEntity({
    issuer: await ctx.issuer(caId, before),
    publicKey: keys.publicKey,
    subjectKeyType: keyType,
    commonName: name,
    kind: "client",
    ...validity(opts.validDays ?? DEFAULT_VALID_DAYS.thing, opts.notBefore, opts.notAfter),
  });
  const keyPem = await privateKeyToPem(keys.privateKey);
  // Signed outside the write lock; recorded only if nobody took the name (or changed the CA) meanwhile.
  await ctx.store.update((reg) => {
    assertCanIssue(reg, name);
    if (ctx.issuingCaId(reg) !== caId) fail(`the issuing CA of ${ctx.dir} changed while ${name} was being issued; run the command again`);
    recordThingCert(ctx, reg, name, cert, "create", caId, undefined, kind);
    writeSecret(ctx.path(layout.thingKey(name)), keyPem);
  });
  return thingFiles(ctx, name)!;
}

/**
 * Records device certificates that this PKI's issuing CA signed outside createThing (a load-test fleet
 * issued in memory) with one registry write, so the broker knows them by fingerprint like any other.
 * Their certificates go to one PEM file (`bundleFile`, relative to the PKI dir); no key is stored.
 */
export async function recordFleet(ctx: PkiContext, members: readonly { name: string; certPem: string }[], bundleFile: string): Promise<void> {
  await ctx.store.update((reg) => {
    ctx.requireCa(reg);
    const caId = ctx.issuingCaId(reg);
    writePublic(ctx.path(bundleFile), members.map((m) => m.certPem.trim() + "\n").join(""));
    const t = now();
    for (const { name, certPem } of members) {
      assertDeviceName(name);
      assertCanIssue(reg, name);
      const cert = parseCertificate(certPem, `certificate of ${name}`);
      if (commonName(cert.subjectName) !== name) fail(`certificate of ${name}: its CN is "${commonName(cert.subjectName) ?? ""}"`);
      reg.things[name] = { name, state: "ACTIVE", createdAt: t, updatedAt: t };
      reg.certificates.push(certificateRecord(cert, { thing: name, kind: "client", issuerCaId: caId, issuedBy: "create", certFile: bundleFile }));
    }
  });
}

export async function signCsr(
  ctx: PkiContext,
  csrPem: string,
  opts: { notBefore?: Date; notAfter?: Date; validDays?: number; source?: string },
): Promise<SignedCsr> {
  const source = opts.source ?? "CSR";
  const csr = parseCsr(csrPem, source);
  if (!(await csr.verify())) fail(`${source}: the CSR signature does not verify (corrupted or tampered)`);
  const name = commonName(csr.subjectName);
  if (!name) fail(`${source}: the CSR subject has no CN; the CN must be the thing name`);
  assertDeviceName(name);
  const keyInfo = describePublicKey(csr.publicKey.rawData);
  assertAcceptableKey(keyInfo, source);
  const cert = await ctx.store.update(async (reg) => {
    ctx.requireCa(reg);
    assertCanIssue(reg, name);
    const caId = ctx.issuingCaId(reg);
    // Only the subject's public key and CN are taken from the CSR; the extensions are ours.
    const cert = await createEndEntity({
      issuer: await ctx.issuer(caId, reg),
      publicKey: csr.publicKey,
      subjectKeyType: keyInfo.keyType as KeyType,
      commonName: name,
      kind: "client",
      ...validity(opts.validDays ?? DEFAULT_VALID_DAYS.thing, opts.notBefore, opts.notAfter),
    });
    recordThingCert(ctx, reg, name, cert, "csr", caId);
    return cert;
  });
  const files = thingFiles(ctx, name)!;
  return { name, certPem: cert.toString("pem") + "\n", certPath: files.certPath, chainPath: files.chainPath, caPath: files.caPath };
}

/**
 * Renewal with the same key, inside a registry transaction (tools/pki/renew.ts decides when it is
 * allowed): a new certificate for the public key and subject of the thing's certificate `old`, from the
 * CA that issued that one, valid for `lifetimeMs` from now. The old certificate stays ACTIVE until it expires.
 */
export async function reissueIn(
  ctx: PkiContext,
  reg: RegistryData,
  old: CertRecord,
  lifetimeMs: number,
): Promise<{ certPem: string; chainPem: string; fingerprint256: string }> {
  if (!old.issuerCaId) fail(`thing ${old.thing} has no certificate ${old.fingerprint256} issued by this PKI`);
  const oldCert = parseCertificate(readFileSync(ctx.path(old.certFile), "utf8"), old.certFile);
  const keyInfo = describePublicKey(oldCert.publicKey.rawData);
  const cert = await createEndEntity({
    issuer: await ctx.issuer(old.issuerCaId, reg),
    publicKey: oldCert.publicKey,
    subjectKeyType: keyInfo.keyType as KeyType,
    commonName: old.thing,
    kind: "client",
    ...endingAfter(validity(lifetimeMs / 86_400_000), Date.parse(old.notAfter)),
  });
  recordThingCert(ctx, reg, old.thing, cert, "renewal", old.issuerCaId, undefined, reg.things[old.thing]?.kind === "service" ? "service" : "device");
  const certPem = cert.toString("pem") + "\n";
  return { certPem, chainPem: ctx.chainPem(certPem, old.issuerCaId, reg), fingerprint256: fingerprint256(cert.rawData) };
}

/**
 * X.509 times count whole seconds: a renewal made within a second of its predecessor's issue would end at
 * the same second, and the device only takes a certificate that ends later than the one it holds.
 */
function endingAfter(v: { notBefore: Date; notAfter: Date }, previousEnd: number): { notBefore: Date; notAfter: Date } {
  return v.notAfter.getTime() >= previousEnd + 1_000 ? v : { notBefore: v.notBefore, notAfter: new Date(previousEnd + 1_000) };
}
