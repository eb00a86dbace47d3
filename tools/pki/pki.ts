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
// See dev.ts for ensureDevPki(dir). Import @peculiar/x509 through ./crypto (`x509`): the library
// needs the reflect-metadata polyfill loaded before it, which ./crypto does.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { isValidThingName } from "../../modules/core/config";
import { wildcardMatch } from "../policy/glob";
import { isServiceName, reservedNameProblem, SERVICE_NAMES } from "./reserved";
import {
  assertAcceptableKey,
  commonName,
  crlToPem,
  describePublicKey,
  fingerprint256,
  generateKeyPair,
  importSigningKey,
  loadPrivateKey,
  normalizeFingerprint,
  normalizeSerial,
  parseCertificate,
  parseCertificates,
  parseCrl,
  parseCsr,
  pemBlocks,
  privateKeyToPem,
  sameName,
  signingAlgorithm,
  x509,
  type KeyType,
} from "./crypto";
import { fail } from "./errors";
import { ensureDir, readUserFile, writePublic, writeSecret } from "./files";
import { abs, layout } from "./layout";
import { createCrl, createEndEntity, createSelfSignedCa, createSubordinateCa, CRL_VALID_DAYS, validity, type Issuer } from "./profiles";
import { RegistryStore } from "./store";
import { openPolicyStore, type PolicyStore } from "./policy-store";
import {
  type CaRecord,
  type CertRecord,
  type IssuedBy,
  type RegistryData,
  type ThingState,
} from "./registry";
import { exportModdable, type ModdableExport, type ModdableFiles } from "./moddable";
import { verifyCertificate, type VerifyOptions, type VerifyResult } from "./verify";

export type { KeyType } from "./crypto";
export type { ThingState, IssuedBy, CaRecord, CertRecord } from "./registry";
export type { VerifyResult, VerifyOptions, VerifyFailure } from "./verify";
export type { ModdableFiles } from "./moddable";
export { PkiError } from "./errors";

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

export interface SignedCsr {
  name: string;
  certPem: string;
  certPath: string;
  chainPath: string;
  caPath: string;
}

export interface ServerFiles {
  certPath: string;
  keyPath: string;
  /** The root CA, for clients verifying the broker. */
  caPath: string;
}

export interface TrustMaterial {
  /** PEMs of every trusted CA: root, intermediate, registered CAs. For node:tls `ca`. */
  ca: string[];
  /** PEMs of every CRL we hold: one per owned CA (always), plus those given for registered CAs. For node:tls `crl`. */
  crl: string[];
  /** The same as files, for mosquitto `cafile` / `crlfile`. */
  caFile: string;
  crlFile: string;
  /**
   * Subjects of trusted CAs without a CRL (registered without --crl). node:tls with `crl` set refuses
   * every certificate from such a CA ("unable to get certificate CRL"): register its CRL.
   */
  missingCrl: string[];
}

export interface RegisteredCa {
  subject: string;
  fingerprint256: string;
  /** False: certificates of this CA are refused by node:tls with `crl` until its CRL is imported. */
  hasCrl: boolean;
}

/** The thing a certificate is registered to, as the broker binds a connection to it (by fingerprint). */
export interface CertificateBinding {
  thing: string;
  /** "service" for a reserved service identity (the restaurant), else "device". */
  kind: "device" | "service";
  /** The certificate's own state. */
  state: ThingState;
  /** The thing's state (deactivate/activate act on the thing). */
  thingState: ThingState;
}

export interface ThingSummary {
  name: string;
  state: ThingState;
  kind?: "service";
  issuedBy?: IssuedBy;
  serial?: string;
  fingerprint256?: string;
  keyType?: string;
  notAfter?: string;
  issuer?: string;
  certificates: number;
}

const DEFAULT_VALID_DAYS = { root: 3650, intermediate: 1825, thing: 730, server: 397 };
const BROKER_THING = "@broker";
/** Re-sign CRLs at open() when less than this many days remain before nextUpdate. */
const CRL_REFRESH_DAYS = CRL_VALID_DAYS / 2;

function assertThingName(name: string): void {
  if (!isValidThingName(name)) fail(`invalid thing name "${name}": use 1-128 characters from A-Z a-z 0-9 _ -`);
}

/** A device's name: valid and not reserved for a service. */
function assertDeviceName(name: string): void {
  assertThingName(name);
  const reserved = reservedNameProblem(name);
  if (reserved) fail(reserved);
}

/** A registered CA's name pattern: thing-name characters and the wildcards * and ?. */
function assertNamePattern(pattern: string): void {
  if (!/^[A-Za-z0-9_*?-]{1,128}$/.test(pattern)) fail(`invalid --names pattern "${pattern}": thing-name characters (A-Z a-z 0-9 _ -) and the wildcards * ?`);
}

function now(): string {
  return new Date().toISOString();
}

function installationTag(): string {
  return Math.random().toString(16).slice(2, 8);
}

export class Pki {
  readonly dir: string;
  /** The PKI dir's registry store: every change to it is one transaction. */
  readonly store: RegistryStore;
  /** Policies attached to this PKI's things (kept in the same store). */
  readonly policies: PolicyStore;
  private issuers = new Map<string, Issuer>();

  private constructor(dir: string) {
    this.dir = resolve(dir);
    this.store = RegistryStore.open(this.dir);
    this.policies = openPolicyStore(this.store);
  }

  static async open(dir: string): Promise<Pki> {
    ensureDir(resolve(dir));
    const pki = new Pki(dir);
    if (pki.hasCa()) await pki.refreshCrlsIfDue();
    return pki;
  }

  private path(rel: string): string {
    return abs(this.dir, rel);
  }

  /** The committed registry (read-only: changes go through `this.store.update`). */
  private registry(): RegistryData {
    return this.store.read();
  }

  hasCa(): boolean {
    return this.registry().cas.some((c) => c.role === "root");
  }

  private requireCa(reg = this.registry()): void {
    if (!reg.cas.some((c) => c.role === "root")) fail(`no CA in ${this.dir}: run "pki ca init" first`);
  }

  // ---------------------------------------------------------------- CA

  async initCa(opts: { intermediate?: boolean; validDays?: number; keyType?: KeyType } = {}): Promise<void> {
    await this.store.update((reg) => this.initCaIn(reg, opts));
  }

  private async initCaIn(reg: RegistryData, opts: { intermediate?: boolean; validDays?: number; keyType?: KeyType }): Promise<void> {
    if (reg.cas.some((c) => c.role === "root")) {
      const kind = reg.cas.some((c) => c.role === "intermediate") ? "a root and an intermediate that issues devices" : "a root that issues devices";
      fail(
        `a CA already exists in ${this.dir} (${kind}; npm run simulate and npm run broker create one on first use): keep using it, ` +
          `every command works with it. To start over, e.g. with --intermediate, move ${this.dir} away first ` +
          `(it holds every device's key; devices it issued are no longer trusted), or pass --pki-dir <another dir>`,
      );
    }
    const keyType = opts.keyType ?? "rsa";
    const tag = installationTag();
    const rootKeys = await generateKeyPair(keyType);
    const rootValid = validity(opts.validDays ?? DEFAULT_VALID_DAYS.root);
    const rootCert = await createSelfSignedCa({
      keys: rootKeys,
      keyType,
      subject: `CN=pizza-button Root CA ${tag}, O=pizza-button local PKI`,
      pathLength: opts.intermediate ? 1 : 0,
      ...rootValid,
    });
    writeSecret(this.path(layout.rootKey), await privateKeyToPem(rootKeys.privateKey));
    writePublic(this.path(layout.rootCert), rootCert.toString("pem") + "\n");
    reg.cas.push(this.caRecord("root", "root", rootCert, layout.rootCert, layout.rootKey, layout.rootCrl));
    this.issuers.set("root", { cert: rootCert, key: rootKeys.privateKey, keyType });

    if (opts.intermediate) {
      const keys = await generateKeyPair(keyType);
      const days = Math.min(opts.validDays ?? DEFAULT_VALID_DAYS.intermediate, DEFAULT_VALID_DAYS.intermediate);
      const cert = await createSubordinateCa({
        issuer: this.issuers.get("root")!,
        publicKey: keys.publicKey,
        subject: `CN=pizza-button Device CA ${tag}, O=pizza-button local PKI`,
        pathLength: 0,
        notBefore: rootValid.notBefore,
        notAfter: new Date(Math.min(rootValid.notAfter.getTime(), rootValid.notBefore.getTime() + days * 86_400_000)),
      });
      writeSecret(this.path(layout.intermediateKey), await privateKeyToPem(keys.privateKey));
      writePublic(this.path(layout.intermediateCert), cert.toString("pem") + "\n");
      reg.cas.push(
        this.caRecord("intermediate", "intermediate", cert, layout.intermediateCert, layout.intermediateKey, layout.intermediateCrl),
      );
      this.issuers.set("intermediate", { cert, key: keys.privateKey, keyType });
    }
    await this.writeCrlsIn(reg);
  }

  private caRecord(
    id: string,
    role: CaRecord["role"],
    cert: x509.X509Certificate,
    certFile: string,
    keyFile?: string,
    crlFile?: string,
  ): CaRecord {
    return {
      id,
      role,
      subject: cert.subject,
      fingerprint256: fingerprint256(cert.rawData),
      certFile,
      ...(keyFile ? { keyFile } : {}),
      ...(crlFile ? { crlFile, crlNumber: 0 } : {}),
      addedAt: now(),
    };
  }

  /** The CA that signs client certificates: the intermediate when there is one. */
  private issuingCaId(reg: RegistryData): string {
    return reg.cas.some((c) => c.role === "intermediate") ? "intermediate" : "root";
  }

  private async issuer(id: string, reg = this.registry()): Promise<Issuer> {
    const cached = this.issuers.get(id);
    if (cached) return cached;
    const rec = reg.cas.find((c) => c.id === id);
    if (!rec?.keyFile) fail(`CA ${id} has no private key in ${this.dir}`);
    const key = loadPrivateKey(readUserFile(this.path(rec.keyFile), "CA private key"), rec.keyFile);
    const cert = parseCertificate(readFileSync(this.path(rec.certFile), "utf8"), rec.certFile);
    const issuer: Issuer = { cert, key: await importSigningKey(key), keyType: key.keyType };
    this.issuers.set(id, issuer);
    return issuer;
  }

  private caPem(rec: CaRecord): string {
    return readFileSync(this.path(rec.certFile), "utf8").trim() + "\n";
  }

  private rootPem(reg = this.registry()): string {
    return this.caPem(reg.cas.find((c) => c.role === "root")!);
  }

  /** Leaf + the intermediate when it issued the leaf. */
  private chainPem(leafPem: string, issuerCaId: string | undefined, reg: RegistryData): string {
    const parts = [leafPem.trim() + "\n"];
    const rec = reg.cas.find((c) => c.id === issuerCaId);
    if (rec && rec.role === "intermediate") parts.push(this.caPem(rec));
    return parts.join("");
  }

  // ---------------------------------------------------------------- things

  private assertCanIssue(reg: RegistryData, name: string): void {
    const existing = reg.things[name];
    if (existing?.kind === "service" && !isServiceName(name)) fail(`"${name}" is a service identity`);
    if (existing && existing.state !== "REVOKED") {
      fail(`thing ${name} already exists (${existing.state}); revoke it first to issue it a new certificate`);
    }
  }

  async createThing(
    name: string,
    opts: { keyType?: KeyType; notBefore?: Date; notAfter?: Date; validDays?: number } = {},
  ): Promise<ThingFiles> {
    assertDeviceName(name);
    return this.issueWithKey(name, opts, "device");
  }

  /**
   * A reserved service identity (e.g. the restaurant): key and certificate like createThing, recorded as
   * a service. Only known service names; the broker gives service rights to this certificate only.
   */
  async createService(name: string, opts: { keyType?: KeyType; validDays?: number } = {}): Promise<ThingFiles> {
    assertThingName(name);
    if (!isServiceName(name)) fail(`"${name}" is not a service this product knows (services: ${SERVICE_NAMES.join(", ")}); devices use "thing create"`);
    return this.issueWithKey(name, opts, "service");
  }

  private async issueWithKey(
    name: string,
    opts: { keyType?: KeyType; notBefore?: Date; notAfter?: Date; validDays?: number },
    kind: "device" | "service",
  ): Promise<ThingFiles> {
    const before = this.registry();
    this.requireCa(before);
    this.assertCanIssue(before, name); // early, before the key is made; checked again below
    const keyType = opts.keyType ?? "rsa";
    const keys = await generateKeyPair(keyType);
    const caId = this.issuingCaId(before);
    const cert = await createEndEntity({
      issuer: await this.issuer(caId, before),
      publicKey: keys.publicKey,
      subjectKeyType: keyType,
      commonName: name,
      kind: "client",
      ...validity(opts.validDays ?? DEFAULT_VALID_DAYS.thing, opts.notBefore, opts.notAfter),
    });
    const keyPem = await privateKeyToPem(keys.privateKey);
    // Signed outside the write lock; recorded only if nobody took the name (or changed the CA) meanwhile.
    await this.store.update((reg) => {
      this.assertCanIssue(reg, name);
      if (this.issuingCaId(reg) !== caId) fail(`the issuing CA of ${this.dir} changed while ${name} was being issued; run the command again`);
      this.recordThingCert(reg, name, cert, "create", caId, undefined, kind);
      writeSecret(this.path(layout.thingKey(name)), keyPem);
    });
    return this.thingFiles(name)!;
  }

  /** Write the thing's certificate files and registry entries, then save the registry. */
  private recordThingCert(
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
    writePublic(this.path(layout.thingCertHistory(name, serial)), pem);
    writePublic(this.path(layout.thingCert(name)), pem);
    writePublic(this.path(layout.thingChain(name)), this.chainPem(pem, issuerCaId, reg));
    writePublic(this.path(layout.thingCa(name)), caPemForDevice ?? this.rootPem(reg));
    const t = now();
    const prev = reg.things[name];
    // A renewal adds a certificate to a thing and changes nothing else about it (its state least of all).
    if (issuedBy !== "renewal" || !prev) {
      reg.things[name] = { name, state: "ACTIVE", ...(kind === "service" ? { kind } : {}), createdAt: prev?.createdAt ?? t, updatedAt: t };
    }
    reg.certificates.push({
      serial,
      fingerprint256: fingerprint256(cert.rawData),
      thing: name,
      kind: "client",
      subject: cert.subject,
      issuer: cert.issuer,
      ...(issuerCaId ? { issuerCaId } : {}),
      issuedBy,
      keyType: describePublicKey(cert.publicKey.rawData).label,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      state: "ACTIVE",
      certFile: layout.thingCertHistory(name, serial),
    });
  }

  /**
   * Records device certificates that this PKI's issuing CA signed outside createThing (a load-test fleet
   * issued in memory) with one registry write, so the broker knows them by fingerprint like any other.
   * Their certificates go to one PEM file (`bundleFile`, relative to the PKI dir); no key is stored.
   */
  async recordFleet(members: readonly { name: string; certPem: string }[], bundleFile: string): Promise<void> {
    await this.store.update((reg) => {
    this.requireCa(reg);
    const caId = this.issuingCaId(reg);
    writePublic(this.path(bundleFile), members.map((m) => m.certPem.trim() + "\n").join(""));
    const t = now();
    for (const { name, certPem } of members) {
      assertDeviceName(name);
      this.assertCanIssue(reg, name);
      const cert = parseCertificate(certPem, `certificate of ${name}`);
      if (commonName(cert.subjectName) !== name) fail(`certificate of ${name}: its CN is "${commonName(cert.subjectName) ?? ""}"`);
      reg.things[name] = { name, state: "ACTIVE", createdAt: t, updatedAt: t };
      reg.certificates.push({
        serial: normalizeSerial(cert.serialNumber),
        fingerprint256: fingerprint256(cert.rawData),
        thing: name,
        kind: "client",
        subject: cert.subject,
        issuer: cert.issuer,
        issuerCaId: caId,
        issuedBy: "create",
        keyType: describePublicKey(cert.publicKey.rawData).label,
        notBefore: cert.notBefore.toISOString(),
        notAfter: cert.notAfter.toISOString(),
        state: "ACTIVE",
        certFile: bundleFile,
      });
    }
    });
  }

  thingFiles(name: string): ThingFiles | undefined {
    if (!isValidThingName(name) || !existsSync(this.path(layout.thingCert(name)))) return undefined;
    const keyPath = this.path(layout.thingKey(name));
    return {
      name,
      certPath: this.path(layout.thingCert(name)),
      keyPath: existsSync(keyPath) ? keyPath : "",
      chainPath: this.path(layout.thingChain(name)),
      caPath: this.path(layout.thingCa(name)),
    };
  }

  async signCsr(
    csrPem: string,
    opts: { notBefore?: Date; notAfter?: Date; validDays?: number; source?: string } = {},
  ): Promise<SignedCsr> {
    const source = opts.source ?? "CSR";
    const csr = parseCsr(csrPem, source);
    if (!(await csr.verify())) fail(`${source}: the CSR signature does not verify (corrupted or tampered)`);
    const name = commonName(csr.subjectName);
    if (!name) fail(`${source}: the CSR subject has no CN; the CN must be the thing name`);
    assertDeviceName(name);
    const keyInfo = describePublicKey(csr.publicKey.rawData);
    assertAcceptableKey(keyInfo, source);
    const cert = await this.store.update(async (reg) => {
    this.requireCa(reg);
    this.assertCanIssue(reg, name);
    const caId = this.issuingCaId(reg);
    // Only the subject's public key and CN are taken from the CSR; the extensions are ours.
    const cert = await createEndEntity({
      issuer: await this.issuer(caId, reg),
      publicKey: csr.publicKey,
      subjectKeyType: keyInfo.keyType as KeyType,
      commonName: name,
      kind: "client",
      ...validity(opts.validDays ?? DEFAULT_VALID_DAYS.thing, opts.notBefore, opts.notAfter),
    });
    this.recordThingCert(reg, name, cert, "csr", caId);
    return cert;
    });
    const files = this.thingFiles(name)!;
    return { name, certPem: cert.toString("pem") + "\n", certPath: files.certPath, chainPath: files.chainPath, caPath: files.caPath };
  }

  /**
   * Renewal with the same key, inside a registry transaction (tools/pki/renew.ts decides when it is
   * allowed): a new certificate for the public key and subject of the thing's certificate `old`, from the
   * CA that issued that one, valid for `lifetimeMs` from now. The old certificate stays ACTIVE until it expires.
   */
  async reissueIn(reg: RegistryData, old: CertRecord, lifetimeMs: number): Promise<{ certPem: string; chainPem: string; fingerprint256: string }> {
    if (!old.issuerCaId) fail(`thing ${old.thing} has no certificate ${old.fingerprint256} issued by this PKI`);
    const oldCert = parseCertificate(readFileSync(this.path(old.certFile), "utf8"), old.certFile);
    const keyInfo = describePublicKey(oldCert.publicKey.rawData);
    const cert = await createEndEntity({
      issuer: await this.issuer(old.issuerCaId, reg),
      publicKey: oldCert.publicKey,
      subjectKeyType: keyInfo.keyType as KeyType,
      commonName: old.thing,
      kind: "client",
      ...endingAfter(validity(lifetimeMs / 86_400_000), Date.parse(old.notAfter)),
    });
    this.recordThingCert(reg, old.thing, cert, "renewal", old.issuerCaId, undefined, reg.things[old.thing]?.kind === "service" ? "service" : "device");
    const certPem = cert.toString("pem") + "\n";
    return { certPem, chainPem: this.chainPem(certPem, old.issuerCaId, reg), fingerprint256: fingerprint256(cert.rawData) };
  }

  async createBrokerCert(opts: { hosts: string[]; ips: string[]; validDays?: number; keyType?: KeyType }): Promise<ServerFiles> {
    this.requireCa();
    const keyType = opts.keyType ?? "rsa";
    const keys = await generateKeyPair(keyType);
    await this.store.update(async (reg) => {
    const cert = await createEndEntity({
      issuer: await this.issuer("root", reg),
      publicKey: keys.publicKey,
      subjectKeyType: keyType,
      commonName: opts.hosts[0] ?? opts.ips[0] ?? "broker",
      kind: "server",
      hosts: opts.hosts,
      ips: opts.ips,
      ...validity(opts.validDays ?? DEFAULT_VALID_DAYS.server),
    });
    writeSecret(this.path(layout.brokerKey), await privateKeyToPem(keys.privateKey));
    writePublic(this.path(layout.brokerCert), cert.toString("pem") + "\n");
    writePublic(this.path(layout.brokerCa), this.rootPem(reg));
    reg.certificates.push({
      serial: normalizeSerial(cert.serialNumber),
      fingerprint256: fingerprint256(cert.rawData),
      thing: BROKER_THING,
      kind: "server",
      subject: cert.subject,
      issuer: cert.issuer,
      issuerCaId: "root",
      issuedBy: "create",
      keyType: describePublicKey(cert.publicKey.rawData).label,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      state: "ACTIVE",
      certFile: layout.brokerCert,
    });
    });
    return this.brokerFiles()!;
  }

  brokerFiles(): ServerFiles | undefined {
    if (!existsSync(this.path(layout.brokerCert)) || !existsSync(this.path(layout.brokerKey))) return undefined;
    return { certPath: this.path(layout.brokerCert), keyPath: this.path(layout.brokerKey), caPath: this.path(layout.brokerCa) };
  }

  // ---------------------------------------------------------------- bring your own CA, AWS import

  /**
   * Trust another CA (option 3). With the embedded broker (node:tls with `crl`), its certificates are
   * accepted only once the CA's CRL is registered too (`crlPem` here, or importCrl later).
   */
  async registerCa(caCertPem: string, opts: { crlPem?: string; source?: string; names?: string } = {}): Promise<RegisteredCa[]> {
    const source = opts.source ?? "CA certificate";
    if (opts.names !== undefined) assertNamePattern(opts.names);
    const certs = parseCertificates(caCertPem, source);
    return this.store.update(async (reg) => {
      this.requireCa(reg);
      const known = new Set(reg.cas.map((c) => c.fingerprint256));
      const trusted = reg.cas.map((c) => parseCertificate(readFileSync(this.path(c.certFile), "utf8"), c.certFile));
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
        const rec = this.caRecord(id, "registered", cert, layout.registeredCert(id));
        if (opts.names !== undefined) rec.names = opts.names;
        added.push({ rec, cert });
        known.add(fp);
      }
      // node:tls (OpenSSL) needs a path to a self-signed root among the trusted certificates.
      const pool = [...trusted, ...added.map((a) => a.cert)];
      for (const { cert } of added) {
        if (!(await chainsToSelfSigned(cert, pool))) {
          fail(`${source}: ${cert.subject} does not chain to a self-signed root; put the whole chain (root included) in the file`);
        }
      }
      const crls = opts.crlPem !== undefined ? await matchCrls(opts.crlPem, added) : new Map<string, string>();
      for (const { rec, cert } of added) {
        writePublic(this.path(rec.certFile), cert.toString("pem") + "\n");
        const crl = crls.get(rec.id);
        if (crl) {
          rec.crlFile = layout.registeredCrl(rec.id);
          writePublic(this.path(rec.crlFile), crl);
        }
        reg.cas.push(rec);
      }
      this.writeBundles(reg);
      return added.map(({ rec }) => ({ subject: rec.subject, fingerprint256: rec.fingerprint256, hasCrl: crls.has(rec.id) }));    });
  }


  /** Add or replace the CRL(s) of registered CAs (their owners publish them; we cannot sign them). */
  async importCrl(crlPem: string): Promise<string[]> {
    return this.store.update(async (reg) => {
      const registered = reg.cas
        .filter((c) => c.role === "registered")
        .map((rec) => ({ rec, cert: parseCertificate(readFileSync(this.path(rec.certFile), "utf8"), rec.certFile) }));
      if (registered.length === 0) fail("no registered CA: register it first with \"ca register\"");
      const crls = await matchCrls(crlPem, registered);
      for (const { rec } of registered) {
        const crl = crls.get(rec.id);
        if (!crl) continue;
        rec.crlFile = layout.registeredCrl(rec.id);
        writePublic(this.path(rec.crlFile), crl);
      }
      this.writeBundles(reg);
      return registered.filter(({ rec }) => crls.has(rec.id)).map(({ rec }) => rec.subject);    });
  }


  /** Record a certificate issued by a registered CA for a thing (option 3), so the thing has a registry state. */
  async registerThingCertificate(name: string, certPem: string, source = "certificate"): Promise<void> {
    assertDeviceName(name);
    const cert = parseCertificate(certPem, source);
    const cn = commonName(cert.subjectName);
    if (cn !== name) fail(`${source}: the certificate CN is "${cn ?? ""}", not "${name}" (the CN is the MQTT client id)`);
    const result = await this.verify(cert.toString("pem"), { purpose: "client" });
    if (!result.ok) fail(`${source}: ${result.message}`);
    const names = await this.issuingCaNames(cert);
    await this.store.update((reg) => {
      const anchorFp = result.chain[result.chain.length - 1]!.fingerprint256;
      const anchor = reg.cas.find((c) => c.fingerprint256 === anchorFp);
      const direct = reg.cas.find((c) => c.fingerprint256 === result.chain[1]?.fingerprint256);
      if (anchor?.role !== "registered") fail(`${source}: issued by this PKI's own CA; use "thing create" or "ca sign" instead`);
      assertNameAllowed(names, name, source);
      this.assertCanIssue(reg, name);
      this.recordThingCert(reg, name, cert, "byo-ca", direct?.id, undefined);
    });
  }

  /**
   * The registered CAs above `cert` (found by issuer name and signature) that were limited to a name
   * pattern with `ca register --names`. Whatever path a certificate of theirs comes in by (thing register,
   * import aws), it may only bind a thing whose name matches.
   */
  private async issuingCaNames(cert: x509.X509Certificate): Promise<{ subject: string; names: string }[]> {
    const pool = this.trustedCas().filter(({ rec }) => rec.role === "registered");
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

  async importAws(opts: { name: string; certPem: string; keyPem: string; caPem: string }): Promise<ThingFiles> {
    assertDeviceName(opts.name);
    const cert = parseCertificate(opts.certPem, "--cert");
    const ca = parseCertificate(opts.caPem, "--ca");
    if (!ca.getExtension(x509.BasicConstraintsExtension)?.ca) {
      fail(`--ca: ${ca.subject} is not a CA certificate (basicConstraints CA:TRUE missing); give the CA of the AWS IoT endpoint (AmazonRootCA1.pem)`);
    }
    if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) fail(`--cert: ${cert.subject} is a CA certificate, not a device certificate`);
    const key = loadPrivateKey(opts.keyPem, "--key");
    if (!Buffer.from(cert.publicKey.rawData).equals(key.spki)) fail("--key does not belong to --cert (public keys differ)");
    assertAcceptableKey(describePublicKey(cert.publicKey.rawData), "--cert");
    assertNameAllowed(await this.issuingCaNames(cert), opts.name, "--cert");
    await this.store.update((reg) => {
      this.assertCanIssue(reg, opts.name);
      this.recordThingCert(reg, opts.name, cert, "aws-import", undefined, ca.toString("pem") + "\n");
      writeSecret(this.path(layout.thingKey(opts.name)), x509.PemConverter.encode(new Uint8Array(key.pkcs8).buffer as ArrayBuffer, "PRIVATE KEY"));
    });
    return this.thingFiles(opts.name)!;
  }

  // ---------------------------------------------------------------- states, CRLs, trust

  async setThingState(name: string, state: ThingState): Promise<void> {
    return this.store.update(async (reg) => {
      const thing = reg.things[name];
      if (!thing) fail(`unknown thing ${name}`);
      if (thing.state === "REVOKED" && state !== "REVOKED") {
        fail(`thing ${name} is revoked; revocation is final: issue a new certificate with "thing create" or "ca sign"`);
      }
      const t = now();
      for (const c of reg.certificates) {
        if (c.thing !== name || c.state === "REVOKED") continue;
        c.state = state;
        if (state === "REVOKED") c.revokedAt = t;
      }
      thing.state = state;
      thing.updatedAt = t;
      // The CRLs are signed from this transaction's rows, so a revocation and its CRL commit together.
      if (state === "REVOKED") await this.writeCrlsIn(reg);
    });
  }


  /** The lifetime of the thing's renewed certificates (`thing lifetime`); undefined: the held one's. */
  async setRenewalLifetime(name: string, days: number | undefined): Promise<void> {
    if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650)) fail(`a renewal lifetime is 1 to 3650 days, not ${days}`);
    await this.store.update((reg) => {
      const thing = reg.things[name];
      if (!thing) fail(`unknown thing ${name}`);
      if (days === undefined) delete thing.renewalDays;
      else thing.renewalDays = days;
      thing.updatedAt = now();
    });
  }

  thingState(name: string): ThingState | undefined {
    return this.store.thingState(name)?.state;
  }

  /** State of one certificate by SHA-256 fingerprint (Node's fingerprint256 format or plain hex). */
  certificateState(fp: string): ThingState | undefined {
    return this.store.clientCertificate(normalizeFingerprint(fp))?.state;
  }

  /** The thing a client certificate is registered to (by SHA-256 fingerprint), or undefined if none. */
  certificateBinding(fp: string): CertificateBinding | undefined {
    const cert = this.store.clientCertificate(normalizeFingerprint(fp));
    const thing = cert && this.store.thingState(cert.thing);
    if (!cert || !thing) return undefined;
    return { thing: cert.thing, kind: thing.kind, state: cert.state, thingState: thing.state };
  }

  listThings(): ThingSummary[] {
    const reg = this.registry();
    return Object.values(reg.things)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((t) => {
        const certs = reg.certificates.filter((c) => c.thing === t.name);
        const last = certs[certs.length - 1];
        return {
          name: t.name,
          state: t.state,
          ...(t.kind === "service" ? { kind: t.kind } : {}),
          certificates: certs.length,
          ...(last
            ? { issuedBy: last.issuedBy, serial: last.serial, fingerprint256: last.fingerprint256, keyType: last.keyType, notAfter: last.notAfter, issuer: last.issuer }
            : {}),
        };
      });
  }

  /** Re-sign the CRL of every CA we own (an empty CRL when nothing is revoked) and rewrite the bundles. */
  async writeCrls(): Promise<string> {
    await this.store.update((reg) => this.writeCrlsIn(reg));
    return this.path(layout.crlBundle);
  }

  /** writeCrls inside a registry transaction. */
  private async writeCrlsIn(reg: RegistryData): Promise<void> {
    this.requireCa(reg);
    for (const ca of reg.cas) {
      if (!ca.keyFile || !ca.crlFile) continue;
      const entries = reg.certificates
        .filter((c) => c.issuerCaId === ca.id && c.state === "REVOKED")
        .map((c) => ({ serial: c.serial, revokedAt: new Date(c.revokedAt ?? c.notBefore) }));
      ca.crlNumber = (ca.crlNumber ?? 0) + 1;
      const crl = await createCrl({ issuer: await this.issuer(ca.id, reg), number: ca.crlNumber, entries });
      writePublic(this.path(ca.crlFile), crlToPem(crl));
    }
    this.writeBundles(reg);
  }

  private writeBundles(reg: RegistryData): void {
    writePublic(this.path(layout.trustBundle), reg.cas.map((c) => this.caPem(c)).join(""));
    const crls = reg.cas.filter((c) => c.crlFile && existsSync(this.path(c.crlFile)));
    writePublic(this.path(layout.crlBundle), crls.map((c) => readFileSync(this.path(c.crlFile!), "utf8").trim() + "\n").join(""));
  }

  private async refreshCrlsIfDue(): Promise<void> {
    const reg = this.registry();
    const due = reg.cas.some((ca) => {
      if (!ca.keyFile || !ca.crlFile) return false;
      const path = this.path(ca.crlFile);
      if (!existsSync(path)) return true;
      try {
        const next = new x509.X509Crl(readFileSync(path, "utf8")).nextUpdate;
        return !next || next.getTime() - Date.now() < CRL_REFRESH_DAYS * 86_400_000;
      } catch {
        return true;
      }
    });
    if (due) await this.writeCrls();
  }

  trustMaterial(): TrustMaterial {
    const reg = this.registry();
    this.requireCa(reg);
    const crl: string[] = [];
    const missingCrl: string[] = [];
    for (const c of reg.cas) {
      if (c.crlFile && existsSync(this.path(c.crlFile))) crl.push(readFileSync(this.path(c.crlFile), "utf8"));
      else missingCrl.push(c.subject);
    }
    return {
      ca: reg.cas.map((c) => this.caPem(c)),
      crl,
      caFile: this.path(layout.trustBundle),
      crlFile: this.path(layout.crlBundle),
      missingCrl,
    };
  }

  /** Trusted CA certificates with their CRLs, for verification. */
  trustedCas(): { rec: CaRecord; cert: x509.X509Certificate; crl?: x509.X509Crl }[] {
    const reg = this.registry();
    return reg.cas.map((rec) => ({
      rec,
      cert: parseCertificate(readFileSync(this.path(rec.certFile), "utf8"), rec.certFile),
      ...(rec.crlFile && existsSync(this.path(rec.crlFile)) ? { crl: new x509.X509Crl(readFileSync(this.path(rec.crlFile), "utf8")) } : {}),
    }));
  }

  async verify(certPem: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
    return verifyCertificate(certPem, {
      ...opts,
      trusted: this.trustedCas(),
      certificateState: (fp) => this.certificateState(fp),
    });
  }

  async exportModdable(name: string, opts: ModdableExport): Promise<ModdableFiles> {
    const files = this.thingFiles(name);
    if (!files) fail(`unknown thing ${name} (no certificate in ${this.dir})`);
    return exportModdable(files, opts);
  }
}

/**
 * X.509 times count whole seconds: a renewal made within a second of its predecessor's issue would end at
 * the same second, and the device only takes a certificate that ends later than the one it holds.
 */
function endingAfter(v: { notBefore: Date; notAfter: Date }, previousEnd: number): { notBefore: Date; notAfter: Date } {
  return v.notAfter.getTime() >= previousEnd + 1_000 ? v : { notBefore: v.notBefore, notAfter: new Date(previousEnd + 1_000) };
}

/** A CA limited to a name pattern (ca register --names) may only bind things that match it. */
function assertNameAllowed(limits: { subject: string; names: string }[], name: string, source: string): void {
  for (const ca of limits) {
    if (!wildcardMatch(ca.names, name)) fail(`${source}: ${ca.subject} may only issue things named "${ca.names}", not "${name}"`);
  }
}

/** Every CRL in the text must be signed by one of the candidates, be current, and not repeat a CA. */
async function matchCrls(crlPem: string, candidates: { rec: CaRecord; cert: x509.X509Certificate }[]): Promise<Map<string, string>> {
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

/**
 * Device side of option 2: a key pair and a PKCS#10 CSR with CN = thing name, written to outDir
 * (key 0600). Needs no PKI dir: the key never goes where the CA is.
 */
export async function createCsr(name: string, opts: { outDir: string; keyType?: KeyType }): Promise<{ keyPath: string; csrPath: string }> {
  assertDeviceName(name);
  const keyType = opts.keyType ?? "rsa";
  const keys = await generateKeyPair(keyType);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${name}`,
    keys,
    signingAlgorithm: signingAlgorithm(keyType),
  });
  const outDir = resolve(opts.outDir);
  ensureDir(outDir);
  const keyPath = resolve(outDir, `${name}.key.pem`);
  const csrPath = resolve(outDir, `${name}.csr.pem`);
  writeSecret(keyPath, await privateKeyToPem(keys.privateKey));
  writePublic(csrPath, csr.toString("pem") + "\n");
  return { keyPath, csrPath };
}
