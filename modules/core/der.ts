// A minimal DER reader for X.509 certificates: just the fields the button needs to renew its own certificate
// (serial, issuer, validity, subject, subjectPublicKeyInfo), as raw bytes or epoch milliseconds. It checks
// the structure strictly (definite lengths within their parent, the expected tags in order) and returns
// undefined for anything else; it does not check the signature (the TLS handshake with the broker does).

import { utf8Decode } from "./utf8";

/** Fields of one certificate. Names and the key are their full DER encodings (tag and length included). */
export interface CertificateFields {
  /** Serial number, lower-case hex of its content octets (as the PKI registry writes it, leading zeros kept). */
  serial: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  subjectPublicKeyInfo: Uint8Array;
  notBefore: number;
  notAfter: number;
}

export interface Tlv {
  tag: number;
  /** Start of the whole element (tag byte). */
  start: number;
  /** Start and end of the content. */
  body: number;
  end: number;
}

/** One DER element at `at`, within `limit`; undefined when it is malformed or runs past `limit`. */
export function readTlv(der: Uint8Array, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined;
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // high tag numbers: not in a certificate's TBS fields
  let length = der[at + 1]!;
  let body = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || body + count > limit) return undefined; // indefinite or absurd lengths
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[body + i]!;
    body += count;
  }
  const end = body + length;
  if (end > limit) return undefined;
  return { tag, start: at, body, end };
}

function digits(der: Uint8Array, from: number, count: number): number | undefined {
  let n = 0;
  for (let i = 0; i < count; i++) {
    const c = der[from + i]!;
    if (c < 0x30 || c > 0x39) return undefined;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** UTCTime (YYMMDDHHMMSSZ, 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ) → epoch ms. */
function readTime(der: Uint8Array, t: Tlv): number | undefined {
  const len = t.end - t.body;
  let year: number | undefined;
  let p = t.body;
  if (t.tag === 0x17 && len === 13) {
    const yy = digits(der, p, 2);
    if (yy === undefined) return undefined;
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    p += 2;
  } else if (t.tag === 0x18 && len === 15) {
    year = digits(der, p, 4);
    p += 4;
  } else return undefined;
  if (der[t.end - 1] !== 0x5a /* Z */) return undefined;
  const month = digits(der, p, 2);
  const day = digits(der, p + 2, 2);
  const hour = digits(der, p + 4, 2);
  const minute = digits(der, p + 6, 2);
  const second = digits(der, p + 8, 2);
  if (year === undefined || month === undefined || day === undefined || hour === undefined || minute === undefined || second === undefined) return undefined;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i]! < 16 ? "0" : "") + bytes[i]!.toString(16);
  return s;
}

/** The fields of a DER X.509 certificate, or undefined when `der` is not one (or has trailing bytes). */
export function readCertificate(der: Uint8Array): CertificateFields | undefined {
  const cert = readTlv(der, 0, der.length);
  if (!cert || cert.tag !== 0x30 || cert.end !== der.length) return undefined;
  const tbs = readTlv(der, cert.body, cert.end);
  if (!tbs || tbs.tag !== 0x30) return undefined;
  let at = tbs.body;
  const next = (): Tlv | undefined => {
    const t = readTlv(der, at, tbs.end);
    if (t) at = t.end;
    return t;
  };
  let el = next();
  if (el && el.tag === 0xa0) el = next(); // [0] version
  if (!el || el.tag !== 0x02 || el.end === el.body) return undefined;
  const serial = hex(der.subarray(el.body, el.end));
  const signature = next();
  const issuer = next();
  const validity = next();
  const subject = next();
  const spki = next();
  if (!signature || signature.tag !== 0x30 || !issuer || issuer.tag !== 0x30 || !validity || validity.tag !== 0x30) return undefined;
  if (!subject || subject.tag !== 0x30 || !spki || spki.tag !== 0x30) return undefined;
  const nb = readTlv(der, validity.body, validity.end);
  const na = nb && readTlv(der, nb.end, validity.end);
  if (!nb || !na || na.end !== validity.end) return undefined;
  const notBefore = readTime(der, nb);
  const notAfter = readTime(der, na);
  if (notBefore === undefined || notAfter === undefined) return undefined;
  return {
    serial,
    issuer: der.slice(issuer.start, issuer.end),
    subject: der.slice(subject.start, subject.end),
    subjectPublicKeyInfo: der.slice(spki.start, spki.end),
    notBefore,
    notAfter,
  };
}

const SET = 0x31;
const CN_OID = [0x55, 0x04, 0x03]; // 2.5.4.3
const STRING_TAGS = [0x0c, 0x13, 0x16, 0x14]; // UTF8String, PrintableString, IA5String, TeletexString

/**
 * The (last) CN of a DER certificate's subject, or undefined (no CN, or not a certificate). The thing name
 * defaults to it, so a device whose certificate arrives in a mod or a preference needs no per-device build.
 */
export function subjectCommonName(der: Uint8Array): string | undefined {
  const fields = readCertificate(der);
  return fields ? nameCommonName(fields.subject) : undefined;
}

/** The last CN attribute of a DER Name (SEQUENCE OF SET OF AttributeTypeAndValue), or undefined. */
function nameCommonName(name: Uint8Array): string | undefined {
  const outer = readTlv(name, 0, name.length);
  if (!outer || outer.tag !== 0x30) return undefined;
  let cn: string | undefined;
  for (let rdnAt = outer.body; rdnAt < outer.end; ) {
    const rdn = readTlv(name, rdnAt, outer.end);
    if (!rdn || rdn.tag !== SET) return undefined;
    for (let atvAt = rdn.body; atvAt < rdn.end; ) {
      const atv = readTlv(name, atvAt, rdn.end);
      if (!atv || atv.tag !== 0x30) return undefined;
      const oid = readTlv(name, atv.body, atv.end);
      const value = oid && readTlv(name, oid.end, atv.end);
      if (!oid || !value) return undefined;
      if (oid.tag === 0x06 && sameBytes(name.subarray(oid.body, oid.end), new Uint8Array(CN_OID)) && STRING_TAGS.indexOf(value.tag) >= 0) {
        cn = utf8Decode(name.subarray(value.body, value.end));
      }
      atvAt = atv.end;
    }
    rdnAt = rdn.end;
  }
  return cn;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64Encode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63]! : "=";
    out += i + 2 < bytes.length ? ALPHABET[n & 63]! : "=";
  }
  return out;
}

/** Strict standard base64 (padding required, no whitespace); undefined when `text` is not. */
export function base64Decode(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charAt(i + j);
      const last = i + 4 === text.length;
      const v = c === "=" && last && j >= 4 - pad ? 0 : ALPHABET.indexOf(c);
      if (v < 0) return undefined;
      n = n * 64 + v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
