// PKI library: a local CA (root, optional intermediate), things with client certificates obtained
// three ways (create, CSR, bring-your-own CA), a registry with ACTIVE/INACTIVE/REVOKED states, CRLs,
// a broker server certificate, and trust material for node:tls / mosquitto.
//
// Public API (target in PLAN.md "PKI library"; differences are additions unless noted):
//   Pki.open(dir): Promise<Pki>                       creates dir (0700) if missing; refreshes CRLs close to nextUpdate
//   pki.hasCa(): boolean
//   pki.initCa({ intermediate?, validDays?, keyType? }): Promise<void>   fails if a CA exists
//   pki.createThing(name, { keyType?, notBefore?, notAfter?, validDays? }): Promise<ThingFiles>
//   pki.createBrokerCert({ hosts, ips, validDays?, keyType? }): Promise<ServerFiles>  { certPath, keyPath, caPath }
//   pki.brokerFiles(): ServerFiles | undefined
//       The broker certificate is signed by the ROOT (not the intermediate): the device trusts one CA
//       file (ca.der) and the server chain is one signature deep, the least work for an ESP32.
//   pki.signCsr(csrPem, { notBefore?, notAfter?, validDays?, source? }): Promise<SignedCsr>
//       (SignedCsr = { name, certPem, certPath, chainPath, caPath }: a superset of the target's { certPem })
//   pki.registerCa(caCertPem, { crlPem? }): Promise<RegisteredCa[]>  PEM may hold the CA and its parents
//   pki.importCrl(crlPem): Promise<string[]>           CRLs of registered CAs (we hold no key to sign them)
//   pki.registerThingCertificate(name, certPem): Promise<void>   records a BYO-CA certificate (issuedBy byo-ca)
//   pki.importAws({ name, certPem, keyPem, caPem }): Promise<ThingFiles>
//   pki.setThingState(name, state): Promise<void>      REVOKED regenerates the CRLs; REVOKED is final
//   pki.writeCrls(): Promise<string>                   re-signs every owned CA's CRL; returns the bundle path
//   pki.trustMaterial(): TrustMaterial                 { ca, crl, caFile, crlFile, missingCrl } — sync, fresh from disk
//   pki.thingState(name) / pki.certificateState(fingerprint256)   sync, fresh from disk
//   pki.listThings(), pki.thingFiles(name), pki.verify(certPem, opts), pki.exportModdable(name, opts)
//   createCsr(name, { outDir, keyType? }): Promise<{ keyPath, csrPath }>   device side; never touches a PKI dir
// Pki is a facade: it owns the PKI dir and its store and delegates each job to its module — ca.ts (own CA),
// issue.ts and broker-cert.ts (issuance), thing-cert.ts (a thing's files and rows), byo-ca.ts (registered
// CAs), aws-import.ts, crl.ts, trust.ts, state.ts (registry state), moddable.ts (export), csr.ts (device side).
// See dev.ts for ensureDevPki(dir). Import @peculiar/x509 through ./crypto (`x509`): the library
// needs the reflect-metadata polyfill loaded before it, which ./crypto does.
import { resolve } from "node:path";
import type { KeyType, x509 } from "./crypto";
import { fail } from "./errors";
import { ensureDir } from "./files";
import { RegistryStore } from "./store";
import { openPolicyStore, type PolicyStore } from "./policy-store";
import type { CaRecord, CertRecord, RegistryData, ThingState } from "./registry";
import { exportModdable, type ModdableExport, type ModdableFiles } from "./moddable";
import type { VerifyOptions, VerifyResult } from "./verify";
import { PkiContext } from "./context";
import { initCa, type CaOptions } from "./ca";
import { createThing, createService, recordFleet, reissueIn, signCsr, type IssueOptions, type SignedCsr } from "./issue";
import { brokerFiles, createBrokerCert, type BrokerCertOptions, type ServerFiles } from "./broker-cert";
import { thingFiles, type ThingFiles } from "./thing-cert";
import { registerCa, registerThingCertificate, type RegisterCaOptions, type RegisteredCa } from "./byo-ca";
import { importAws, type AwsThing } from "./aws-import";
import { importCrl, refreshCrlsIfDue, writeCrls } from "./crl";
import { trustedCas, trustMaterial, verify, type TrustMaterial } from "./trust";
import {
  certificateBinding,
  certificateState,
  listThings,
  setRenewalLifetime,
  setThingState,
  thingState,
  type CertificateBinding,
  type ThingSummary,
} from "./state";

export type { KeyType } from "./crypto";
export type { ThingState, IssuedBy, CaRecord, CertRecord } from "./registry";
export type { VerifyResult, VerifyOptions, VerifyFailure } from "./verify";
export type { ModdableFiles } from "./moddable";
export type { ThingFiles } from "./thing-cert";
export type { SignedCsr } from "./issue";
export type { ServerFiles } from "./broker-cert";
export type { TrustMaterial } from "./trust";
export type { RegisteredCa } from "./byo-ca";
export type { CertificateBinding, ThingSummary } from "./state";
export { PkiError } from "./errors";
export { findIssuer } from "./byo-ca";
export { createCsr } from "./csr";

export class Pki {
  readonly dir: string;
  /** The PKI dir's registry store: every change to it is one transaction. */
  readonly store: RegistryStore;
  /** Policies attached to this PKI's things (kept in the same store). */
  readonly policies: PolicyStore;
  /** The dir, the store and the CA material, handed to the modules that do the work. */
  private readonly ctx: PkiContext;

  private constructor(dir: string) {
    this.dir = resolve(dir);
    this.store = RegistryStore.open(this.dir);
    this.policies = openPolicyStore(this.store);
    this.ctx = new PkiContext({ dir: this.dir, store: this.store });
  }

  static async open(dir: string): Promise<Pki> {
    ensureDir(resolve(dir));
    const pki = new Pki(dir);
    if (pki.hasCa()) await refreshCrlsIfDue(pki.ctx);
    return pki;
  }

  hasCa(): boolean {
    return this.ctx.registry().cas.some((c) => c.role === "root");
  }

  // ---------------------------------------------------------------- CA, issuance

  async initCa(opts: CaOptions = {}): Promise<void> {
    return initCa(this.ctx, opts);
  }

  async createThing(name: string, opts: IssueOptions = {}): Promise<ThingFiles> {
    return createThing(this.ctx, name, opts);
  }

  /** A reserved service identity (e.g. the restaurant): see issue.ts createService. */
  async createService(name: string, opts: { keyType?: KeyType; validDays?: number; instance?: number } = {}): Promise<ThingFiles> {
    return createService(this.ctx, name, opts);
  }

  /** Device certificates signed by the issuing CA elsewhere (a load-test fleet), recorded in one write. */
  async recordFleet(members: readonly { name: string; certPem: string }[], bundleFile: string): Promise<void> {
    return recordFleet(this.ctx, members, bundleFile);
  }

  thingFiles(name: string): ThingFiles | undefined {
    return thingFiles(this.ctx, name);
  }

  async signCsr(csrPem: string, opts: { notBefore?: Date; notAfter?: Date; validDays?: number; source?: string } = {}): Promise<SignedCsr> {
    return signCsr(this.ctx, csrPem, opts);
  }

  /** Renewal with the same key, inside a registry transaction (see issue.ts reissueIn). */
  async reissueIn(reg: RegistryData, old: CertRecord, lifetimeMs: number): Promise<{ certPem: string; chainPem: string; fingerprint256: string }> {
    return reissueIn(this.ctx, reg, old, lifetimeMs);
  }

  async createBrokerCert(opts: BrokerCertOptions): Promise<ServerFiles> {
    return createBrokerCert(this.ctx, opts);
  }

  brokerFiles(): ServerFiles | undefined {
    return brokerFiles(this.ctx);
  }

  // ---------------------------------------------------------------- bring your own CA, AWS import

  async registerCa(caCertPem: string, opts: RegisterCaOptions = {}): Promise<RegisteredCa[]> {
    return registerCa(this.ctx, caCertPem, opts);
  }

  async importCrl(crlPem: string): Promise<string[]> {
    return importCrl(this.ctx, crlPem);
  }

  async registerThingCertificate(name: string, certPem: string, source = "certificate"): Promise<void> {
    return registerThingCertificate(this.ctx, name, certPem, source);
  }

  async importAws(opts: AwsThing): Promise<ThingFiles> {
    return importAws(this.ctx, opts);
  }

  // ---------------------------------------------------------------- states, CRLs, trust

  async setThingState(name: string, state: ThingState): Promise<void> {
    return setThingState(this.ctx, name, state);
  }

  async setRenewalLifetime(name: string, days: number | undefined): Promise<void> {
    return setRenewalLifetime(this.ctx, name, days);
  }

  thingState(name: string): ThingState | undefined {
    return thingState(this.ctx, name);
  }

  certificateState(fp: string): ThingState | undefined {
    return certificateState(this.ctx, fp);
  }

  certificateBinding(fp: string): CertificateBinding | undefined {
    return certificateBinding(this.ctx, fp);
  }

  listThings(): ThingSummary[] {
    return listThings(this.ctx);
  }

  async writeCrls(): Promise<string> {
    return writeCrls(this.ctx);
  }

  trustMaterial(): TrustMaterial {
    return trustMaterial(this.ctx);
  }

  trustedCas(): { rec: CaRecord; cert: x509.X509Certificate; crl?: x509.X509Crl }[] {
    return trustedCas(this.ctx);
  }

  async verify(certPem: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
    return verify(this.ctx, certPem, opts);
  }

  async exportModdable(name: string, opts: ModdableExport): Promise<ModdableFiles> {
    const files = this.thingFiles(name);
    if (!files) fail(`unknown thing ${name} (no certificate in ${this.dir})`);
    return exportModdable(files, opts);
  }
}
