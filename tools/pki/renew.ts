// Renewal: a certificate that is close to its end replaced by a fresh one, keeping what the others rely on.
// - The broker: the same names (subjectAltName), a new key; the running broker reloads it (trust-reload.ts).
// - A thing: the same public key and subject, from the CA that issued the certificate it holds, asked by the
//   device itself over MQTT (services/renewal). Only a thing whose current certificate is ACTIVE may renew.
import { readFileSync } from "node:fs";
import { parseCertificate, x509, normalizeFingerprint, normalizeSerial, type KeyType } from "./crypto";
import { fail } from "./errors";
import { readRegistry } from "./registry";
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
  | "not-issued-here";

export type ThingRenewal =
  | { ok: true; certPem: string; fingerprint256: string; reused: boolean }
  | { ok: false; refusal: ThingRenewalRefusal; reason: string };

/**
 * A device's renewal request: `thing` is who asked (the broker lets only that thing publish on its renew
 * topic), `held` the certificate it holds now, by serial (what a device reads from its DER) or fingerprint. Refused unless that certificate is the thing's, ACTIVE,
 * unexpired and issued by a CA this PKI owns. A repeated request (the answer was lost) gets the certificate
 * already issued for that key, not another one.
 */
export async function renewThingCertificate(
  pki: Pki,
  thing: string,
  held: { serial: string } | { fingerprint: string },
  opts: { validDays?: number; now?: number } = {},
): Promise<ThingRenewal> {
  const refuse = (refusal: ThingRenewalRefusal, reason: string): ThingRenewal => ({ ok: false, refusal, reason });
  const reg = readRegistry(pki.dir);
  const record = reg.things[thing];
  if (!record) return refuse("unknown-thing", `no thing ${thing} in the registry`);
  if (record.state !== "ACTIVE") return refuse("thing-not-active", `thing ${thing} is ${record.state}`);
  const current =
    "serial" in held
      ? reg.certificates.find((c) => c.kind === "client" && c.thing === thing && c.serial === normalizeSerial(held.serial))
      : reg.certificates.find((c) => c.kind === "client" && c.thing === thing && c.fingerprint256 === normalizeFingerprint(held.fingerprint));
  const which = "serial" in held ? `serial ${held.serial}` : `fingerprint ${held.fingerprint}`;
  if (!current) return refuse("unknown-certificate", `no certificate with ${which} for thing ${thing}`);
  const fp = current.fingerprint256;
  if (current.state !== "ACTIVE") return refuse("certificate-not-active", `certificate ${fp} is ${current.state}`);
  if (Date.parse(current.notAfter) <= (opts.now ?? Date.now())) return refuse("certificate-expired", `certificate ${fp} expired on ${current.notAfter}`);
  const ca = reg.cas.find((c) => c.id === current.issuerCaId);
  if (!ca?.keyFile) return refuse("not-issued-here", `certificate ${fp} was not issued by a CA this PKI holds the key of (${current.issuedBy})`);

  // A renewal of the same key that is newer than the presented one: the device asked again (lost answer).
  const currentKey = parseCertificate(readFileSync(`${pki.dir}/${current.certFile}`, "utf8"), current.certFile).publicKey.rawData;
  const later = reg.certificates
    .filter((c) => c.thing === thing && c.state === "ACTIVE" && c.issuedBy === "renewal" && Date.parse(c.notAfter) > Date.parse(current.notAfter))
    .map((c) => ({ c, cert: parseCertificate(readFileSync(`${pki.dir}/${c.certFile}`, "utf8"), c.certFile) }))
    .filter(({ cert }) => Buffer.from(cert.publicKey.rawData).equals(Buffer.from(currentKey)))
    .sort((a, b) => Date.parse(b.c.notAfter) - Date.parse(a.c.notAfter))[0];
  if (later) {
    const certPem = later.cert.toString("pem") + "\n";
    return { ok: true, certPem, fingerprint256: later.c.fingerprint256, reused: true };
  }
  const issued = await pki.reissueThingCertificate(thing, fp, opts.validDays ? { validDays: opts.validDays } : {});
  return { ok: true, certPem: issued.certPem, fingerprint256: issued.fingerprint256, reused: false };
}
