// Key pairs, PEM parsing and certificate facts, on Node's WebCrypto through @peculiar/x509.
// node:crypto KeyObjects are used only to read key files in any PEM flavour (PKCS#1, SEC1, PKCS#8)
// and to report key sizes; all signing goes through WebCrypto.
// @peculiar/x509 uses tsyringe, which needs a Reflect metadata polyfill loaded before it.
import "reflect-metadata";
import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { fail } from "./errors";

// The project's tsconfig has no DOM lib: name WebCrypto types through node:crypto.
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

x509.cryptoProvider.set(webcrypto as never);

export const subtle = webcrypto.subtle;

export type KeyType = "rsa" | "ec";

const RSA_ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const EC_ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** Signing algorithm for a key: sha256WithRSAEncryption or ecdsa-with-SHA256. */
export function signingAlgorithm(keyType: KeyType): Algorithm | EcdsaParams {
  return keyType === "rsa" ? { name: RSA_ALG.name, hash: "SHA-256" } as Algorithm : { name: "ECDSA", hash: "SHA-256" } as EcdsaParams;
}

export async function generateKeyPair(keyType: KeyType, rsaBits = 2048): Promise<CryptoKeyPair> {
  const alg =
    keyType === "rsa"
      ? { ...RSA_ALG, modulusLength: rsaBits, publicExponent: new Uint8Array([1, 0, 1]) }
      : { name: EC_ALG.name, namedCurve: EC_ALG.namedCurve };
  return (await subtle.generateKey(alg as webcrypto.RsaHashedKeyGenParams, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** PKCS#8 PEM of an extractable private key. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

export interface LoadedPrivateKey {
  keyType: KeyType;
  /** Unencrypted PKCS#8 DER. */
  pkcs8: Buffer;
  /** SubjectPublicKeyInfo DER of the matching public key. */
  spki: Buffer;
}

/** Parse a private key in any unencrypted PEM form (PKCS#8, PKCS#1 RSA, SEC1 EC) or PKCS#8 DER. */
export function loadPrivateKey(data: string | Buffer, source: string): LoadedPrivateKey {
  let key;
  try {
    const text = typeof data === "string" ? data : data.toString("latin1");
    key = text.includes("-----BEGIN")
      ? createPrivateKey({ key: text, format: "pem" })
      : createPrivateKey({ key: Buffer.from(data as Buffer), format: "der", type: "pkcs8" });
  } catch (e) {
    const msg = String((e as Error).message ?? e);
    if (/passphrase|encrypted/i.test(msg)) fail(`${source}: encrypted private keys are not supported; decrypt it first`);
    fail(`${source} is not a private key`);
  }
  const kind = key.asymmetricKeyType;
  if (kind !== "rsa" && kind !== "ec") fail(`${source}: unsupported key type ${kind} (use RSA or EC P-256)`);
  return {
    keyType: kind,
    pkcs8: key.export({ type: "pkcs8", format: "der" }) as Buffer,
    spki: createPublicKey(key).export({ type: "spki", format: "der" }) as Buffer,
  };
}

export async function importSigningKey(key: LoadedPrivateKey): Promise<CryptoKey> {
  const alg = key.keyType === "rsa" ? RSA_ALG : { name: EC_ALG.name, namedCurve: keyCurve(key.spki) };
  return subtle.importKey("pkcs8", new Uint8Array(key.pkcs8), alg as webcrypto.RsaHashedImportParams, false, ["sign"]);
}

function keyCurve(spki: Buffer): string {
  const curve = createPublicKey({ key: spki, format: "der", type: "spki" }).asymmetricKeyDetails?.namedCurve;
  const names: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };
  const name = curve ? names[curve] : undefined;
  if (!name) fail(`unsupported EC curve ${curve ?? "?"} (use P-256)`);
  return name;
}

export interface KeyInfo {
  keyType: KeyType | string;
  /** RSA modulus bits, or EC field size. */
  bits: number;
  /** e.g. "RSA-2048", "EC P-256". */
  label: string;
}

export function describePublicKey(spki: ArrayBuffer | Buffer): KeyInfo {
  const key = createPublicKey({ key: Buffer.from(spki as ArrayBuffer), format: "der", type: "spki" });
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") return { keyType: "rsa", bits: d.modulusLength ?? 0, label: `RSA-${d.modulusLength}` };
  if (key.asymmetricKeyType === "ec") {
    const curve = d.namedCurve ?? "?";
    const bits = curve === "prime256v1" ? 256 : curve === "secp384r1" ? 384 : curve === "secp521r1" ? 521 : 0;
    const label = curve === "prime256v1" ? "EC P-256" : curve === "secp384r1" ? "EC P-384" : `EC ${curve}`;
    return { keyType: "ec", bits, label };
  }
  return { keyType: key.asymmetricKeyType ?? "unknown", bits: 0, label: key.asymmetricKeyType ?? "unknown" };
}

/** Refuse keys too weak to issue for. */
export function assertAcceptableKey(info: KeyInfo, source: string): void {
  if (info.keyType === "rsa" && info.bits < 2048) fail(`${source}: RSA key of ${info.bits} bits is too small (minimum 2048)`);
  if (info.keyType === "ec" && info.bits < 256) fail(`${source}: unsupported EC key ${info.label} (use P-256 or P-384)`);
  if (info.keyType !== "rsa" && info.keyType !== "ec") fail(`${source}: unsupported key type ${info.label}`);
}

/** Node's format for TLSSocket.getPeerCertificate().fingerprint256: upper-case hex pairs joined by ':'. */
export function fingerprint256(der: ArrayBuffer | Uint8Array): string {
  const hex = createHash("sha256").update(new Uint8Array(der as ArrayBuffer)).digest("hex").toUpperCase();
  return hex.match(/../g)!.join(":");
}

/** Accept "AB:CD:…", "abcd…" and compare canonically. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-fA-F]/g, "").toUpperCase();
  return hex.match(/../g)?.join(":") ?? "";
}

/** A random positive serial number of 16 bytes (RFC 5280: positive, at most 20 octets, unpredictable). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, no leading zero octet
  return b.toString("hex");
}

/** Serial numbers as lower-case hex without leading zero octets, for comparisons. */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/^(00)+(?=..)/, "");
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

export function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, pem: m[0] }));
}

/** All certificates in a PEM text; fails with what was found instead when there is none. */
export function parseCertificates(text: string, source: string): x509.X509Certificate[] {
  const blocks = pemBlocks(text);
  const certs = blocks.filter((b) => b.label === "CERTIFICATE");
  if (certs.length === 0) {
    const found = blocks.length ? `found ${[...new Set(blocks.map((b) => b.label))].join(", ")}` : "no PEM block found";
    fail(`${source} is not a PEM certificate (${found})`);
  }
  return certs.map((b) => {
    try {
      return new x509.X509Certificate(b.pem);
    } catch {
      fail(`${source}: a CERTIFICATE block does not parse as an X.509 certificate`);
    }
  });
}

export function parseCertificate(text: string, source: string): x509.X509Certificate {
  return parseCertificates(text, source)[0]!;
}

export function parseCsr(text: string, source: string): x509.Pkcs10CertificateRequest {
  const blocks = pemBlocks(text);
  const csr = blocks.find((b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST");
  if (!csr) {
    const found = blocks.length ? `found ${[...new Set(blocks.map((b) => b.label))].join(", ")}` : "no PEM block found";
    fail(`${source} is not a PEM certificate request (${found})`);
  }
  try {
    return new x509.Pkcs10CertificateRequest(csr.pem.replace("NEW CERTIFICATE REQUEST", "CERTIFICATE REQUEST").replace("NEW CERTIFICATE REQUEST", "CERTIFICATE REQUEST"));
  } catch {
    fail(`${source}: the CERTIFICATE REQUEST block does not parse as PKCS#10`);
  }
}

export function certDer(cert: x509.X509Certificate): Buffer {
  return Buffer.from(cert.rawData);
}

/** The CN of a name, or undefined. */
export function commonName(name: x509.Name): string | undefined {
  return name.getField("CN")[0];
}

export function sameName(a: x509.Name, b: x509.Name): boolean {
  return Buffer.from(a.toArrayBuffer()).equals(Buffer.from(b.toArrayBuffer()));
}

export { x509 };

/** OpenSSL (and so node:tls and mosquitto) reads CRLs only under the "X509 CRL" PEM label; the library writes "CRL". */
export function crlToPem(crl: x509.X509Crl): string {
  return x509.PemConverter.encode(crl.rawData, "X509 CRL") + "\n";
}

export function parseCrl(text: string, source: string): x509.X509Crl {
  const block = pemBlocks(text).find((b) => b.label === "X509 CRL" || b.label === "CRL");
  if (!block) fail(`${source} is not a PEM CRL (no X509 CRL block)`);
  try {
    return new x509.X509Crl(block.pem);
  } catch {
    fail(`${source} does not parse as an X.509 CRL`);
  }
}
