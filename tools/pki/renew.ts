// Renewal: a certificate that is close to its end replaced by a fresh one, keeping what the others rely on.
// - The broker: the same names (subjectAltName), a new key; the running broker reloads it (trust-reload.ts).
// - A thing: the same public key and subject, from the CA that issued the certificate it holds, asked by the
//   device itself over MQTT (services/renewal). Only a thing whose current certificate is ACTIVE may renew.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RENEWAL_WINDOW_DAYS } from "../../modules/core/renewal";
import { parseCertificate, x509, normalizeFingerprint, normalizeSerial, type KeyType } from "./crypto";
import { fail } from "./errors";
import type { CertRecord, RegistryData } from "./registry";
import type { Pki, ServerFiles } from "./pki";

/** `broker cert --renew`: a new broker certificate for the names of the current one. */
export async function renewBrokerCert(pki: Pki, opts: { validDays?: number; keyType?: KeyType } = {}): Promise<ServerFiles & { hosts: string[]; ips: string[] }> {
  const files = pki.brokerFiles();
  if (!files) fail(`no broker certificate in ${pki.dir} to renew: create one with "broker cert --host … --ip …"`);
  const cert = parseCertificate(readFileSync(files.certPath, "utf8"), files.certPath);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const hosts = names.filter((n) => n.type === "dns").map((n) => n.value);
  const ips = names.filter((n) => n.type === "ip").map((n) => n.value);
  if (hosts.length + ips.length === 0) fail(`${files.certPath} names no host or address (subjectAltName); issue one with "broker cert --host … --ip …"`);
  const keyType: KeyType = opts.keyType ?? (cert.publicKey.algorithm.name === "ECDSA" ? "ec" : "rsa");
  const renewed = await pki.createBrokerCert({ hosts, ips, keyType, ...(opts.validDays ? { validDays: opts.validDays } : {}) });
  return { ...renewed, hosts, ips };
}

export type ThingRenewalRefusal =
  | "unknown-thing"
  | "thing-not-active"
  | "unknown-certificate"
  | "certificate-not-active"
  | "certificate-expired"
  | "not-issued-here"
  | "not-due";

export type ThingRenewal =
  | { ok: true; certPem: string; fingerprint256: string; reused: boolean }
  | { ok: false; refusal: ThingRenewalRefusal; reason: string };

const DAY = 86_400_000;

export interface ThingRenewalOptions {
  now?: number;
  /** Renew only when fewer than this many days are left (the device's own rule). */
  windowDays?: number;
}

/**
 * A device's renewal request: `thing` is who asked (the broker lets only that thing publish on its renew
 * topic), `held` the certificate it holds now, by serial (what a device reads from its DER) or fingerprint.
 * Refused unless that certificate is the thing's, ACTIVE, unexpired, issued by a CA this PKI owns and
 * within the renewal window. A repeated request (the answer was lost) gets the certificate already issued
 * for that key, not another one. The new certificate lasts as long as the held one did (or the thing's
 * renewal lifetime, `thing lifetime`). Checked and recorded in one registry transaction, so a renewal can
 * neither undo nor miss a deactivation or revocation made at the same moment.
 */
export async function renewThingCertificate(pki: Pki, thing: string, held: { serial: string } | { fingerprint: string }, opts: ThingRenewalOptions = {}): Promise<ThingRenewal> {
  const now = opts.now ?? Date.now();
  return pki.store.update(async (reg) => {
    const decision = renewalDecision(pki.dir, reg, thing, held, now, opts.windowDays ?? RENEWAL_WINDOW_DAYS);
    if ("refusal" in decision) return { ok: false as const, ...decision };
    if (decision.earlier) return { ok: true as const, certPem: decision.earlier.pem, fingerprint256: decision.earlier.fingerprint256, reused: true };
    const current = decision.current;
    const days = reg.things[thing]?.renewalDays;
    const lifetimeMs = days !== undefined ? days * DAY : Date.parse(current.notAfter) - Date.parse(current.notBefore);
    const issued = await pki.reissueIn(reg, current, lifetimeMs);
    pruneReplaced(reg, thing, now);
    return { ok: true as const, certPem: issued.certPem, fingerprint256: issued.fingerprint256, reused: false };
  });
}

type Decision =
  | { refusal: ThingRenewalRefusal; reason: string }
  | { current: CertRecord; earlier?: { pem: string; fingerprint256: string } };

function renewalDecision(dir: string, reg: RegistryData, thing: string, held: { serial: string } | { fingerprint: string }, now: number, windowDays: number): Decision {
  const record = reg.things[thing];
  if (!record) return { refusal: "unknown-thing", reason: `no thing ${thing} in the registry` };
  if (record.state !== "ACTIVE") return { refusal: "thing-not-active", reason: `thing ${thing} is ${record.state}` };
  const current =
    "serial" in held
      ? reg.certificates.find((c) => c.kind === "client" && c.thing === thing && c.serial === normalizeSerial(held.serial))
      : reg.certificates.find((c) => c.kind === "client" && c.thing === thing && c.fingerprint256 === normalizeFingerprint(held.fingerprint));
  const which = "serial" in held ? `serial ${held.serial}` : `fingerprint ${held.fingerprint}`;
  if (!current) return { refusal: "unknown-certificate", reason: `no certificate with ${which} for thing ${thing}` };
  const fp = current.fingerprint256;
  if (current.state !== "ACTIVE") return { refusal: "certificate-not-active", reason: `certificate ${fp} is ${current.state}` };
  if (Date.parse(current.notAfter) <= now) return { refusal: "certificate-expired", reason: `certificate ${fp} expired on ${current.notAfter}` };
  const ca = reg.cas.find((c) => c.id === current.issuerCaId);
  if (!ca?.keyFile) return { refusal: "not-issued-here", reason: `certificate ${fp} was not issued by a CA this PKI holds the key of (${current.issuedBy})` };

  // A renewal of the same key that is newer than the presented one: the device asked again (lost answer).
  const read = (c: CertRecord) => parseCertificate(readFileSync(join(dir, c.certFile), "utf8"), c.certFile);
  const currentKey = Buffer.from(read(current).publicKey.rawData);
  const later = reg.certificates
    .filter((c) => c.thing === thing && c.state === "ACTIVE" && c.issuedBy === "renewal" && Date.parse(c.notAfter) > Date.parse(current.notAfter))
    .map((c) => ({ c, cert: read(c) }))
    .filter(({ cert }) => Buffer.from(cert.publicKey.rawData).equals(currentKey))
    .sort((a, b) => Date.parse(b.c.notAfter) - Date.parse(a.c.notAfter))[0];
  if (later) return { current, earlier: { pem: later.cert.toString("pem") + "\n", fingerprint256: later.c.fingerprint256 } };
  const left = Date.parse(current.notAfter) - now;
  if (left > windowDays * DAY) {
    return { refusal: "not-due", reason: `certificate ${fp} has ${Math.floor(left / DAY)} days left; renewal opens ${windowDays} days before it ends` };
  }
  return { current };
}

/**
 * Certificates of `thing` that a renewal replaced and that have expired leave the registry: they can no
 * longer connect, and keeping them would make the registry grow with every renewal. Their files stay in
 * things/<name>/certs/ as history.
 */
function pruneReplaced(reg: RegistryData, thing: string, now: number): void {
  const mine = reg.certificates.filter((c) => c.thing === thing && c.kind === "client");
  const newest = Math.max(...mine.map((c) => Date.parse(c.notAfter)));
  reg.certificates = reg.certificates.filter(
    (c) => !(c.thing === thing && c.kind === "client" && c.state === "ACTIVE" && Date.parse(c.notAfter) <= now && Date.parse(c.notAfter) < newest),
  );
}
