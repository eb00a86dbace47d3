// The release key as the firmware holds it, and the exact block a valid signature decodes to. The board
// checks a release signature with the SDK's RSA public operation (signature^e mod n) and then compares the
// WHOLE decoded block with the one built here: EMSA-PKCS1-v1_5 (RFC 8017 §9.2) for SHA-256. A lenient
// parse of the padding and the DigestInfo (what the SDK's pkcs1_5.js does) would accept blocks a forger can
// shape; a byte-for-byte comparison accepts exactly one.

import { base64Decode, readTlv } from "./der";

/** An RSA public key: big-endian modulus (no leading zero) and public exponent. */
export interface RsaPublicKey {
  modulus: Uint8Array;
  exponent: Uint8Array;
}

/** The DER of OID 1.2.840.113549.1.1.1 (rsaEncryption). */
const RSA_ENCRYPTION = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/** DigestInfo prefix for SHA-256 (RFC 8017 §9.2, note 1), followed by the 32-byte hash. */
const SHA256_DIGEST_INFO = [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];
export const MIN_RELEASE_KEY_BITS = 2048;

function unsignedInteger(der: Uint8Array, body: number, end: number): Uint8Array | undefined {
  if (end <= body || der[body]! & 0x80) return undefined; // empty or negative
  let start = body;
  while (start < end - 1 && der[start] === 0) start++;
  return der.slice(start, end);
}

/**
 * The RSA key in a SubjectPublicKeyInfo (the release key's public half, release-key.pub.der), or why it is
 * not one: only rsaEncryption keys of at least 2048 bits with an odd exponent are release keys.
 */
export function readReleaseKey(spki: Uint8Array): { ok: true; key: RsaPublicKey } | { ok: false; reason: string } {
  const bad = { ok: false as const, reason: "not a DER SubjectPublicKeyInfo of an RSA key" };
  const outer = readTlv(spki, 0, spki.length);
  if (!outer || outer.tag !== 0x30 || outer.end !== spki.length) return bad;
  const algorithm = readTlv(spki, outer.body, outer.end);
  if (!algorithm || algorithm.tag !== 0x30) return bad;
  for (let i = 0; i < RSA_ENCRYPTION.length; i++) if (spki[algorithm.body + i] !== RSA_ENCRYPTION[i]) return bad;
  const bits = readTlv(spki, algorithm.end, outer.end);
  if (!bits || bits.tag !== 0x03 || bits.end !== outer.end || spki[bits.body] !== 0) return bad;
  const sequence = readTlv(spki, bits.body + 1, bits.end);
  if (!sequence || sequence.tag !== 0x30 || sequence.end !== bits.end) return bad;
  const n = readTlv(spki, sequence.body, sequence.end);
  if (!n || n.tag !== 0x02) return bad;
  const e = readTlv(spki, n.end, sequence.end);
  if (!e || e.tag !== 0x02 || e.end !== sequence.end) return bad;
  const modulus = unsignedInteger(spki, n.body, n.end);
  const exponent = unsignedInteger(spki, e.body, e.end);
  if (!modulus || !exponent) return bad;
  const size = modulus.length * 8 - Math.clz32(modulus[0]!) + 24;
  if (size < MIN_RELEASE_KEY_BITS) return { ok: false, reason: `an RSA key of ${size} bits: release keys have at least ${MIN_RELEASE_KEY_BITS}` };
  if ((exponent[exponent.length - 1]! & 1) === 0 || (exponent.length === 1 && exponent[0]! < 3)) return { ok: false, reason: "the RSA public exponent is not an odd number above 1" };
  return { ok: true, key: { modulus, exponent } };
}

/** The release key from its build setting (base64 of release-key.pub.der), or why it is unusable. */
export function releaseKeyFromSetting(text: string): { ok: true; key: RsaPublicKey } | { ok: false; reason: string } {
  const der = base64Decode(text.trim());
  if (!der) return { ok: false, reason: "is not base64 (the release key's release-key.pub.der, base64-encoded)" };
  return readReleaseKey(der);
}

/**
 * The encoded message a valid RSASSA-PKCS1-v1_5 / SHA-256 signature decodes to, as `modulusBytes` bytes:
 * 00 01 FF…FF 00 ‖ DigestInfo(SHA-256) ‖ hash.
 */
export function expectedSignatureBlock(sha256: Uint8Array, modulusBytes: number): Uint8Array {
  if (sha256.length !== 32) throw new Error("expectedSignatureBlock: a SHA-256 hash has 32 bytes");
  const tail = SHA256_DIGEST_INFO.length + 32;
  if (modulusBytes < tail + 11) throw new Error("expectedSignatureBlock: modulus too small");
  const block = new Uint8Array(modulusBytes);
  block[1] = 0x01;
  for (let i = 2; i < modulusBytes - tail - 1; i++) block[i] = 0xff;
  block.set(SHA256_DIGEST_INFO, modulusBytes - tail);
  block.set(sha256, modulusBytes - 32);
  return block;
}
