// Subject common name of a DER X.509 certificate. The thing name is the certificate's CN (AWS IoT rule),
// so a device whose certificate arrives in a mod or a preference needs no per-device build: it reads its
// name from the certificate. A small DER walk, pure TypeScript, total (undefined on anything malformed).

import { utf8Decode } from "../core/utf8";

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

function readTlv(der: Uint8Array, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined;
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || start + count > limit) return undefined; // no indefinite or huge lengths
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) return undefined;
  return { tag, start, end };
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = 0x06;
const CN_OID = Object.freeze([0x55, 0x04, 0x03]); // 2.5.4.3
const STRING_TAGS = Object.freeze([0x0c, 0x13, 0x16, 0x14]); // UTF8String, PrintableString, IA5String, TeletexString

function isCnOid(der: Uint8Array, oid: Tlv): boolean {
  if (oid.tag !== OID || oid.end - oid.start !== CN_OID.length) return false;
  for (let i = 0; i < CN_OID.length; i++) if (der[oid.start + i] !== CN_OID[i]) return false;
  return true;
}

/** Returns the (last) CN of the certificate's subject, or undefined. */
export function subjectCommonName(der: Uint8Array): string | undefined {
  const cert = readTlv(der, 0, der.length);
  if (!cert || cert.tag !== SEQUENCE) return undefined;
  const tbs = readTlv(der, cert.start, cert.end);
  if (!tbs || tbs.tag !== SEQUENCE) return undefined;

  // tbsCertificate: [0] version (optional), serialNumber, signature, issuer, validity, subject, …
  let at = tbs.start;
  let field = readTlv(der, at, tbs.end);
  if (field && field.tag === 0xa0) {
    at = field.end;
    field = readTlv(der, at, tbs.end);
  }
  for (let skip = 0; skip < 4; skip++) {
    // serialNumber, signature, issuer, validity
    if (!field) return undefined;
    at = field.end;
    field = readTlv(der, at, tbs.end);
  }
  const subject = field;
  if (!subject || subject.tag !== SEQUENCE) return undefined;

  let name: string | undefined;
  for (let rdnAt = subject.start; rdnAt < subject.end; ) {
    const rdn = readTlv(der, rdnAt, subject.end);
    if (!rdn || rdn.tag !== SET) return undefined;
    for (let atvAt = rdn.start; atvAt < rdn.end; ) {
      const atv = readTlv(der, atvAt, rdn.end);
      if (!atv || atv.tag !== SEQUENCE) return undefined;
      const oid = readTlv(der, atv.start, atv.end);
      if (!oid) return undefined;
      const value = readTlv(der, oid.end, atv.end);
      if (!value) return undefined;
      if (isCnOid(der, oid) && STRING_TAGS.includes(value.tag)) {
        name = utf8Decode(der.subarray(value.start, value.end));
      }
      atvAt = atv.end;
    }
    rdnAt = rdn.end;
  }
  return name;
}
