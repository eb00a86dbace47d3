// Certificate profiles: which extensions each kind of certificate carries, and CRL creation.
// CA: basicConstraints CA:TRUE critical with pathLen, keyUsage keyCertSign+cRLSign critical, SKI/AKI.
// Client (device, restaurant): CA:FALSE, digitalSignature (+keyEncipherment for RSA: the Moddable TLS
// stack also offers plain RSA key exchange), EKU clientAuth. Server (broker): same key usages, EKU
// serverAuth, subjectAltName DNS/IP.
import { isIP } from "node:net";
import { fail } from "./errors";
import { randomSerial, signingAlgorithm, x509, type CryptoKey, type CryptoKeyPair, type KeyType } from "./crypto";

export interface Issuer {
  cert: x509.X509Certificate;
  key: CryptoKey;
  keyType: KeyType;
}

const DAY = 86_400_000;
/** Backdate notBefore a little so a device whose clock is slightly behind accepts a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60_000;

export function validity(days: number, notBefore?: Date, notAfter?: Date): { notBefore: Date; notAfter: Date } {
  const nb = notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const na = notAfter ?? new Date(nb.getTime() + days * DAY);
  if (na.getTime() <= nb.getTime()) fail("notAfter must be later than notBefore");
  return { notBefore: nb, notAfter: na };
}

async function keyIdExtensions(subjectKey: x509.PublicKeyType, issuer?: Issuer): Promise<x509.Extension[]> {
  const ski = await x509.SubjectKeyIdentifierExtension.create(subjectKey);
  const aki = issuer
    ? await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey)
    : new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return [ski, aki];
}

export async function createSelfSignedCa(opts: {
  keys: CryptoKeyPair;
  keyType: KeyType;
  subject: string;
  pathLength: number;
  notBefore: Date;
  notAfter: Date;
}): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: opts.subject,
    issuer: opts.subject,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: opts.keys.publicKey,
    signingKey: opts.keys.privateKey,
    signingAlgorithm: signingAlgorithm(opts.keyType),
    extensions: [
      new x509.BasicConstraintsExtension(true, opts.pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ...(await keyIdExtensions(opts.keys.publicKey)),
    ],
  });
}

export async function createSubordinateCa(opts: {
  issuer: Issuer;
  publicKey: CryptoKey;
  subject: string;
  pathLength: number;
  notBefore: Date;
  notAfter: Date;
}): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: opts.subject,
    issuer: opts.issuer.cert.subjectName,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: opts.publicKey,
    signingKey: opts.issuer.key,
    signingAlgorithm: signingAlgorithm(opts.issuer.keyType),
    extensions: [
      new x509.BasicConstraintsExtension(true, opts.pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ...(await keyIdExtensions(opts.publicKey, opts.issuer)),
    ],
  });
}

export type EndEntityKind = "client" | "server";

/** Escape a value for an RFC 4514 string name. Thing names are [A-Za-z0-9_-] and need none; hosts may. */
function dnValue(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, "\\$1");
}

export async function createEndEntity(opts: {
  issuer: Issuer;
  publicKey: x509.PublicKeyType;
  subjectKeyType: KeyType;
  commonName: string;
  kind: EndEntityKind;
  notBefore: Date;
  notAfter: Date;
  hosts?: string[];
  ips?: string[];
}): Promise<x509.X509Certificate> {
  const usages =
    x509.KeyUsageFlags.digitalSignature | (opts.subjectKeyType === "rsa" ? x509.KeyUsageFlags.keyEncipherment : 0);
  const eku = opts.kind === "client" ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension([eku], false),
    ...(await keyIdExtensions(opts.publicKey, opts.issuer)),
  ];
  if (opts.kind === "server") {
    const names: x509.JsonGeneralName[] = [
      ...(opts.hosts ?? []).map((value) => ({ type: "dns" as const, value })),
      ...(opts.ips ?? []).map((value) => {
        if (!isIP(value)) fail(`not an IP address: ${value}`);
        return { type: "ip" as const, value };
      }),
    ];
    if (names.length === 0) fail("a server certificate needs at least one --host or --ip");
    extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  }
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${dnValue(opts.commonName)}`,
    issuer: opts.issuer.cert.subjectName,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: opts.publicKey,
    signingKey: opts.issuer.key,
    signingAlgorithm: signingAlgorithm(opts.issuer.keyType),
    extensions,
  });
}

/** DER of the cRLNumber extension value: an INTEGER (RFC 5280 5.2.3). */
function crlNumberExtension(n: number): x509.Extension {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return new x509.Extension("2.5.29.20", false, new Uint8Array([0x02, bytes.length, ...bytes]));
}

export const CRL_VALID_DAYS = 90;

export async function createCrl(opts: {
  issuer: Issuer;
  number: number;
  entries: { serial: string; revokedAt: Date }[];
  now?: Date;
}): Promise<x509.X509Crl> {
  const thisUpdate = opts.now ?? new Date();
  return x509.X509CrlGenerator.create({
    issuer: opts.issuer.cert.subjectName,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + CRL_VALID_DAYS * DAY),
    signingAlgorithm: signingAlgorithm(opts.issuer.keyType),
    signingKey: opts.issuer.key,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(opts.issuer.cert.publicKey), crlNumberExtension(opts.number)],
    entries: opts.entries.map((e) => ({
      serialNumber: e.serial,
      revocationDate: e.revokedAt, // no reasonCode: RFC 5280 says omit it rather than say "unspecified"
    })),
  });
}
