// Reader of Espressif's esp_secure_cert partition (TLV format of esp_secure_cert_mgr): the device's
// certificate, private key and CA, written once per board at the factory. Each entry is a 12-byte
// little-endian header (magic 0xBA5EBA11, flags, 3 reserved, type, subtype, u16 length), the data, zero
// padding to a multiple of 16 bytes, and a CRC-32 of header + data + padding. Entries follow each other
// from offset 0; the first word that is not the magic ends the list (erased flash reads 0xFF).
// Entries may be DER or PEM (Espressif's tool writes PEM text with a trailing NUL).

import { base64Decode, readCertificate } from "./der";
import { utf8Decode } from "./utf8";

export const TLV_MAGIC = 0xba5eba11;
export const TLV_HEADER_BYTES = 12;
export const TLV_FOOTER_BYTES = 4;
export const TLV_ALIGNMENT = 16;

/** The TLV types this firmware uses (esp_secure_cert_tlv_config.h). */
export const TlvType = Object.freeze({
  caCert: 0,
  deviceCert: 1,
  privateKey: 2,
  /** ESP_SECURE_CERT_USER_DATA_1: the board's setup access point password (UTF-8). */
  setupPassword: 51,
});

export interface TlvEntry {
  type: number;
  subtype: number;
  flags: number;
  /** Offset of the entry's header in the partition. */
  offset: number;
  data: Uint8Array;
}

export type TlvList = { ok: true; entries: TlvEntry[] } | { ok: false; reason: string };

export interface SecureCertIdentity {
  /** Device certificate, DER. */
  certificate: Uint8Array;
  /** Private key, PKCS#8 DER (a PKCS#1 RSA key is wrapped). */
  privateKey: Uint8Array;
  /** CA certificate for the broker, DER. */
  ca: Uint8Array;
  /** Password of the board's setup access point; undefined when the partition has none. */
  setupPassword: string | undefined;
}

/**
 * What the partition holds: `empty` when it was never written (erased flash), `invalid` when it was
 * written but cannot be used (the reason says why), `ok` with the identity.
 */
export type SecureCertRead =
  | { status: "empty" }
  | { status: "invalid"; reason: string }
  | { status: "ok"; identity: SecureCertIdentity };

let table: Uint32Array | undefined;

/** CRC-32 (IEEE, reflected) with zlib's convention for the running value: crc32(b, crc32(a)) = crc32(a + b). */
export function crc32(bytes: Uint8Array, previous = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** The CRC of an entry as ESP-IDF computes it: esp_crc32_le(UINT32_MAX, …) (zlib.crc32(data, 0xffffffff)). */
export function tlvCrc(bytes: Uint8Array): number {
  return crc32(bytes, 0xffffffff);
}

export function tlvPadding(length: number): number {
  return (TLV_ALIGNMENT - (length % TLV_ALIGNMENT)) % TLV_ALIGNMENT;
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

function erased(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

/** Every entry of the partition, each checked against its CRC. An empty list means erased flash. */
export function readTlvEntries(partition: Uint8Array): TlvList {
  const entries: TlvEntry[] = [];
  let at = 0;
  while (at + 4 <= partition.length && u32(partition, at) === TLV_MAGIC) {
    if (at + TLV_HEADER_BYTES > partition.length) return { ok: false, reason: `truncated: the entry header at offset ${at} ends past the ${partition.length}-byte image` };
    const flags = partition[at + 4]!;
    const type = partition[at + 8]!;
    const subtype = partition[at + 9]!;
    const length = partition[at + 10]! | (partition[at + 11]! << 8);
    const covered = TLV_HEADER_BYTES + length + tlvPadding(length);
    const end = at + covered + TLV_FOOTER_BYTES;
    if (end > partition.length) {
      return { ok: false, reason: `truncated: entry type ${type} at offset ${at} needs ${end - at} bytes, the image ends after ${partition.length - at}` };
    }
    const stored = u32(partition, at + covered);
    const computed = tlvCrc(partition.subarray(at, at + covered));
    if (stored !== computed) {
      return { ok: false, reason: `bad CRC in entry type ${type} subtype ${subtype} at offset ${at} (stored ${hex(stored)}, computed ${hex(computed)})` };
    }
    entries.push({ type, subtype, flags, offset: at, data: partition.subarray(at + TLV_HEADER_BYTES, at + TLV_HEADER_BYTES + length) });
    at = end;
  }
  if (entries.length === 0 && !erased(partition.subarray(0, Math.min(partition.length, TLV_HEADER_BYTES)))) {
    const found = partition.length >= 4 ? hex(u32(partition, 0)) : `${partition.length} bytes`;
    return { ok: false, reason: `not an esp_secure_cert TLV image: bad magic at offset 0 (${found}, expected ${hex(TLV_MAGIC)})` };
  }
  return { ok: true, entries };
}

const TYPE_NAMES: { [type: number]: string } = { 0: "CA certificate", 1: "device certificate", 2: "private key", 51: "setup password" };

function typeName(type: number): string {
  return `${TYPE_NAMES[type] ?? "entry"} (type ${type})`;
}

type Decoded = { ok: true; der: Uint8Array; label: string | undefined } | { ok: false; reason: string };

/** The length of the outer DER element at 0, or -1 when it does not fit. */
function derLength(bytes: Uint8Array): number {
  if (bytes.length < 2 || bytes[0] !== 0x30) return -1;
  let length = bytes[1]!;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || 2 + count > bytes.length) return -1;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[2 + i]!;
    header += count;
  }
  return header + length <= bytes.length ? header + length : -1;
}

/** An entry's bytes as DER: PEM text (one block, trailing NULs allowed) or DER (trailing zero padding allowed). */
function decodeEntry(entry: TlvEntry): Decoded {
  const what = typeName(entry.type);
  const bytes = entry.data;
  if (bytes[0] === 0x2d /* "-" */) {
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    const text = utf8Decode(bytes.subarray(0, end));
    const match = text === undefined ? null : /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----\s*$/.exec(text);
    const der = match ? base64Decode(match[2]!.replace(/[\r\n]/g, "")) : undefined;
    if (!match || !der || derLength(der) !== der.length) return { ok: false, reason: `${what} is not valid PEM` };
    return { ok: true, der, label: match[1] };
  }
  const length = derLength(bytes);
  if (length < 0) return { ok: false, reason: `${what} is neither DER nor PEM` };
  for (let i = length; i < bytes.length; i++) if (bytes[i] !== 0) return { ok: false, reason: `${what} has bytes after its DER value` };
  return { ok: true, der: bytes.subarray(0, length), label: undefined };
}

const RSA_OID = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]; // 1.2.840.113549.1.1.1 rsaEncryption
const RSA_ENCRYPTION = [...RSA_OID, 0x05, 0x00]; // with its NULL parameters

function derHeader(tag: number, length: number): number[] {
  if (length < 0x80) return [tag, length];
  const bytes: number[] = [];
  for (let v = length; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [tag, 0x80 | bytes.length, ...bytes];
}

/** PKCS#1 RSAPrivateKey → PKCS#8 PrivateKeyInfo (the SDK's TLS parses PKCS#8 only). */
function wrapPkcs1(pkcs1: Uint8Array): Uint8Array {
  const octets = derHeader(0x04, pkcs1.length);
  const algorithm = [...derHeader(0x30, RSA_ENCRYPTION.length), ...RSA_ENCRYPTION];
  const bodyLength = 3 + algorithm.length + octets.length + pkcs1.length;
  const head = [...derHeader(0x30, bodyLength), 0x02, 0x01, 0x00, ...algorithm, ...octets];
  const out = new Uint8Array(head.length + pkcs1.length);
  out.set(head);
  out.set(pkcs1, head.length);
  return out;
}

/** The key as PKCS#8 RSA, or why it cannot be used by the firmware's TLS. */
function rsaPkcs8(decoded: { der: Uint8Array; label: string | undefined }): { ok: true; der: Uint8Array } | { ok: false; reason: string } {
  const { der, label } = decoded;
  // Both start SEQUENCE { INTEGER 0, …: PKCS#8 goes on with the algorithm (a SEQUENCE), PKCS#1 with INTEGER n.
  const body = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  const second = der[body] === 0x02 && der[body + 1] === 0x01 ? body + 3 : -1;
  if (label === "EC PRIVATE KEY") return { ok: false, reason: "private key (type 2) is an EC key: the firmware's TLS needs an RSA key" };
  if (label !== undefined && label !== "PRIVATE KEY" && label !== "RSA PRIVATE KEY") {
    return { ok: false, reason: `private key (type 2) is a PEM "${label}", not a private key` };
  }
  if (second > 0 && der[second] === 0x02 && label !== "PRIVATE KEY") return { ok: true, der: wrapPkcs1(der) };
  if (second < 0 || der[second] !== 0x30 || label === "RSA PRIVATE KEY") return { ok: false, reason: "private key (type 2) is not a PKCS#8 or PKCS#1 key" };
  for (let i = 0; i < RSA_OID.length; i++) {
    if (der[second + 2 + i] !== RSA_OID[i]) return { ok: false, reason: "private key (type 2) is not an RSA key: the firmware's TLS needs one" };
  }
  return { ok: true, der };
}

/**
 * Flags as esp_secure_cert_mgr reads them (bits 7-6: HMAC encryption 0b10 or key derivation 0b01; bits 5-3:
 * 0b001 key in the ECDSA peripheral). Older images leave flags 0xFF (erased), which means plain.
 */
function plainEntry(flags: number): boolean {
  const storage = flags & 0xc0;
  return storage !== 0x80 && storage !== 0x40 && (flags & 0x38) !== 0x08;
}

/**
 * The device identity in an esp_secure_cert partition image (subtype 0 of each type). Encrypted or
 * peripheral-bound keys (flags: HMAC encryption, DS/ECDSA peripheral) are refused: this firmware reads plain keys.
 */
export function readSecureCertIdentity(partition: Uint8Array): SecureCertRead {
  const list = readTlvEntries(partition);
  if (!list.ok) return { status: "invalid", reason: list.reason };
  if (list.entries.length === 0) return { status: "empty" };
  const find = (type: number) => list.entries.find((e) => e.type === type && e.subtype === 0);
  const parts: Uint8Array[] = [];
  for (const type of [TlvType.deviceCert, TlvType.privateKey, TlvType.caCert]) {
    const entry = find(type);
    if (!entry) {
      const ds = type === TlvType.privateKey && list.entries.some((e) => e.type >= 3 && e.type <= 9);
      return { status: "invalid", reason: `no ${typeName(type)} entry${ds ? " (the image keeps the key in the DS peripheral, which this firmware does not use)" : ""}` };
    }
    if (!plainEntry(entry.flags)) return { status: "invalid", reason: `${typeName(type)} has flags 0x${entry.flags.toString(16)}: HMAC-encrypted or peripheral-bound entries are not supported` };
    const decoded = decodeEntry(entry);
    if (!decoded.ok) return { status: "invalid", reason: decoded.reason };
    if (type === TlvType.privateKey) {
      const key = rsaPkcs8(decoded);
      if (!key.ok) return { status: "invalid", reason: key.reason };
      parts.push(key.der);
    } else {
      if (!readCertificate(decoded.der)) return { status: "invalid", reason: `${typeName(type)} is not an X.509 certificate` };
      parts.push(decoded.der);
    }
  }
  let setupPassword: string | undefined;
  const password = find(TlvType.setupPassword);
  if (password) {
    let end = password.data.length;
    while (end > 0 && password.data[end - 1] === 0) end--;
    setupPassword = utf8Decode(password.data.subarray(0, end));
    if (setupPassword === undefined || setupPassword.length === 0) return { status: "invalid", reason: "setup password (type 51) is not UTF-8 text" };
  }
  return { status: "ok", identity: { certificate: parts[0]!, privateKey: parts[1]!, ca: parts[2]!, setupPassword } };
}
