import { describe, expect, it } from "vitest";
import { base64Encode, sameBytes } from "../../../modules/core/der";
import { crc32, readSecureCertIdentity, readTlvEntries, tlvCrc, TlvType } from "../../../modules/core/secure-cert";
import { certificate, tlv } from "./der-builder";

const T0 = Date.UTC(2026, 0, 1);
const DEVICE = certificate({ subject: "pizza-button-42", notBefore: T0, notAfter: T0 + 1e10 });
const CA = certificate({ subject: "Pizza Root CA", issuer: "Pizza Root CA", notBefore: T0, notAfter: T0 + 1e10 });
const RSA_OID = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_OID = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/** RSAPrivateKey-shaped (version 0, then integers); the numbers are stand-ins. */
const PKCS1 = new Uint8Array(tlv(0x30, [...tlv(0x02, [0]), ...tlv(0x02, [0x00, 0xc3, 0x51]), ...tlv(0x02, [1, 0, 1])]));
const pkcs8 = (oid: number[], inner: Uint8Array) =>
  new Uint8Array(tlv(0x30, [...tlv(0x02, [0]), ...tlv(0x30, [...tlv(0x06, oid), 0x05, 0x00]), ...tlv(0x04, [...inner])]));
const KEY = pkcs8(RSA_OID, PKCS1);

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function pem(label: string, der: Uint8Array, nul = true): Uint8Array {
  const body = base64Encode(der).replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return ascii(`-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n${nul ? "\0" : ""}`);
}

interface Entry {
  type: number;
  subtype?: number;
  flags?: number;
  data: Uint8Array;
}

/** An image as esp_secure_cert_mgr lays it out, erased (0xFF) to `size`. */
function image(entries: Entry[], size = 8192): Uint8Array {
  const out = new Uint8Array(size).fill(0xff);
  let at = 0;
  for (const e of entries) {
    const padded = e.data.length + ((16 - (e.data.length % 16)) % 16);
    const body = new Uint8Array(12 + padded);
    const view = new DataView(body.buffer);
    view.setUint32(0, 0xba5eba11, true);
    body[4] = e.flags ?? 0;
    body[8] = e.type;
    body[9] = e.subtype ?? 0;
    view.setUint16(10, e.data.length, true);
    body.set(e.data, 12);
    out.set(body, at);
    new DataView(out.buffer).setUint32(at + body.length, tlvCrc(body), true);
    at += body.length + 4;
  }
  return out;
}

const identityEntries = (key: Uint8Array = KEY): Entry[] => [
  { type: TlvType.deviceCert, data: DEVICE },
  { type: TlvType.privateKey, data: key },
  { type: TlvType.caCert, data: CA },
];

function reason(bytes: Uint8Array): string {
  const read = readSecureCertIdentity(bytes);
  return read.status === "invalid" ? read.reason : `not refused: ${read.status}`;
}

describe("crc32", () => {
  it("is CRC-32/IEEE (check value of 123456789), and the TLV CRC is zlib's crc32(data, 0xffffffff)", () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
    expect(tlvCrc(ascii("123456789"))).toBe(0xd202d277);
    expect(crc32(ascii("6789"), crc32(ascii("12345")))).toBe(0xcbf43926);
  });
});

describe("readSecureCertIdentity", () => {
  it("reads DER entries: certificate, PKCS#8 key, CA and the setup password", () => {
    const read = readSecureCertIdentity(image([...identityEntries(), { type: TlvType.setupPassword, data: ascii("k7m3p9x2q4w8r6t5y2u3") }]));
    expect(read.status).toBe("ok");
    if (read.status !== "ok") return;
    expect(sameBytes(read.identity.certificate, DEVICE)).toBe(true);
    expect(sameBytes(read.identity.privateKey, KEY)).toBe(true);
    expect(sameBytes(read.identity.ca, CA)).toBe(true);
    expect(read.identity.setupPassword).toBe("k7m3p9x2q4w8r6t5y2u3");
  });

  it("reads PEM entries with a trailing NUL (Espressif's tool) and wraps a PKCS#1 RSA key as PKCS#8", () => {
    const read = readSecureCertIdentity(
      image([
        { type: TlvType.deviceCert, data: pem("CERTIFICATE", DEVICE) },
        { type: TlvType.caCert, data: pem("CERTIFICATE", CA, false) },
        { type: TlvType.privateKey, data: pem("RSA PRIVATE KEY", PKCS1) },
      ]),
    );
    expect(read.status).toBe("ok");
    if (read.status !== "ok") return;
    expect(sameBytes(read.identity.certificate, DEVICE)).toBe(true);
    expect(sameBytes(read.identity.ca, CA)).toBe(true);
    expect(sameBytes(read.identity.privateKey, KEY)).toBe(true); // the same PKCS#8 as the DER one
    expect(read.identity.setupPassword).toBeUndefined();
  });

  it("accepts flags 0xFF (older images leave them erased) and takes subtype 0 of each type", () => {
    const entries = identityEntries().map((e) => ({ ...e, flags: 0xff }));
    const read = readSecureCertIdentity(image([{ type: TlvType.deviceCert, subtype: 1, data: CA }, ...entries]));
    expect(read.status === "ok" && sameBytes(read.identity.certificate, DEVICE)).toBe(true);
  });

  it("says empty for erased flash (a board whose partition was never written)", () => {
    expect(readSecureCertIdentity(new Uint8Array(8192).fill(0xff))).toEqual({ status: "empty" });
    expect(readTlvEntries(new Uint8Array(8192).fill(0xff))).toEqual({ ok: true, entries: [] });
  });

  it("refuses a bad magic, a bad CRC and a truncated image, saying where", () => {
    const good = image(identityEntries());
    const zeros = new Uint8Array(8192);
    expect(reason(zeros)).toMatch(/bad magic at offset 0 \(0x00000000, expected 0xba5eba11\)/);
    const flipped = good.slice();
    flipped[12 + 40] ^= 0x01; // a byte of the device certificate
    expect(reason(flipped)).toMatch(/^bad CRC in entry type 1 subtype 0 at offset 0 \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/);
    expect(reason(good.subarray(0, 100))).toMatch(/^truncated: entry type 1 at offset 0 needs \d+ bytes, the image ends after 100$/);
    expect(reason(good.subarray(0, 2))).toMatch(/bad magic at offset 0 \(2 bytes/);
  });

  it("refuses an image without a private key, certificate or CA, naming what is missing", () => {
    const [cert, key, ca] = identityEntries();
    expect(reason(image([cert!, ca!]))).toBe("no private key (type 2) entry");
    expect(reason(image([key!, ca!]))).toBe("no device certificate (type 1) entry");
    expect(reason(image([cert!, key!]))).toBe("no CA certificate (type 0) entry");
    expect(reason(image([cert!, ca!, { type: 3, data: new Uint8Array(16) }]))).toMatch(/DS peripheral/);
  });

  it("refuses keys the firmware's TLS cannot use and entries that are not what their type says", () => {
    expect(reason(image(identityEntries(pkcs8(EC_OID, new Uint8Array([1, 2, 3])))))).toMatch(/not an RSA key/);
    expect(reason(image(identityEntries(pem("EC PRIVATE KEY", PKCS1))))).toMatch(/EC key/);
    expect(reason(image(identityEntries(pem("CERTIFICATE", DEVICE))))).toMatch(/PEM "CERTIFICATE", not a private key/);
    expect(reason(image(identityEntries(ascii(`-----BEGIN ${"PRIVATE KEY"}-----\n!!!\n-----END ${"PRIVATE KEY"}-----\n`))))).toMatch(/not valid PEM/);
    expect(reason(image([{ type: 1, data: KEY }, ...identityEntries().slice(1)]))).toBe("device certificate (type 1) is not an X.509 certificate");
    expect(reason(image([{ type: 1, data: ascii("hello") }, ...identityEntries().slice(1)]))).toBe("device certificate (type 1) is neither DER nor PEM");
    expect(reason(image([{ type: 1, data: new Uint8Array([...DEVICE, 7]) }, ...identityEntries().slice(1)]))).toMatch(/bytes after its DER value/);
  });

  it("refuses HMAC-encrypted or peripheral-bound entries (this firmware reads plain keys)", () => {
    const [cert, key, ca] = identityEntries();
    expect(reason(image([cert!, { ...key!, flags: 0x80 }, ca!]))).toMatch(/flags 0x80: HMAC-encrypted or peripheral-bound/);
    expect(reason(image([cert!, { ...key!, flags: 0x08 }, ca!]))).toMatch(/flags 0x8/);
  });

  it("refuses a setup password that is not UTF-8 text", () => {
    expect(reason(image([...identityEntries(), { type: TlvType.setupPassword, data: new Uint8Array([0xc3, 0x28]) }]))).toMatch(/setup password/);
  });
});
