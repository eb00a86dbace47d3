// What every part of the PKI works on: the PKI dir, its registry store, and the CA material (certificates
// and signing keys, loaded once). The Pki facade (pki.ts) owns one and hands it to the modules that
// issue, register, revoke and export, so none of them imports the facade back.
import { readFileSync } from "node:fs";
import { importSigningKey, loadPrivateKey, parseCertificate } from "./crypto";
import { fail } from "./errors";
import { readUserFile } from "./files";
import { abs } from "./layout";
import type { Issuer } from "./profiles";
import type { CaRecord, RegistryData } from "./registry";
import type { RegistryStore } from "./store";

export const DEFAULT_VALID_DAYS = { root: 3650, intermediate: 1825, thing: 730, server: 397 };
/** The registry's holder of the broker's server certificate (not a thing name: "@" is not allowed in one). */
export const BROKER_THING = "@broker";

export function now(): string {
  return new Date().toISOString();
}

export class PkiContext {
  readonly dir: string;
  readonly store: RegistryStore;
  private readonly issuers = new Map<string, Issuer>();

  constructor(options: { dir: string; store: RegistryStore }) {
    this.dir = options.dir;
    this.store = options.store;
  }

  path(rel: string): string {
    return abs(this.dir, rel);
  }

  /** The committed registry (read-only: changes go through `this.store.update`). */
  registry(): RegistryData {
    return this.store.read();
  }

  requireCa(reg = this.registry()): void {
    if (!reg.cas.some((c) => c.role === "root")) fail(`no CA in ${this.dir}: run "pki ca init" first`);
  }

  /** The CA that signs client certificates: the intermediate when there is one. */
  issuingCaId(reg: RegistryData): string {
    return reg.cas.some((c) => c.role === "intermediate") ? "intermediate" : "root";
  }

  /** Keep a CA's signing material just made (ca init), so it is not read back from disk. */
  rememberIssuer(id: string, issuer: Issuer): void {
    this.issuers.set(id, issuer);
  }

  async issuer(id: string, reg = this.registry()): Promise<Issuer> {
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

  caPem(rec: CaRecord): string {
    return readFileSync(this.path(rec.certFile), "utf8").trim() + "\n";
  }

  rootPem(reg = this.registry()): string {
    return this.caPem(reg.cas.find((c) => c.role === "root")!);
  }

  /** Leaf + the intermediate when it issued the leaf. */
  chainPem(leafPem: string, issuerCaId: string | undefined, reg: RegistryData): string {
    const parts = [leafPem.trim() + "\n"];
    const rec = reg.cas.find((c) => c.id === issuerCaId);
    if (rec && rec.role === "intermediate") parts.push(this.caPem(rec));
    return parts.join("");
  }
}
